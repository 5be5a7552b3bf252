"""`artreg verify`: the registry's CI check. Every problem found is listed; none means exit 0.

Checks: metadata and manifests valid against their schemas; every file's sha256 (for the files
present); promoted folders unchanged since the commit that created them, and none deleted; every
tag's commit holds its folder and a dvc.yaml pointing into it; registry.json and dvc.yaml up to
date; no large or model file tracked by git; no credential in a tracked DVC config; no
unfinished transaction; model signatures where params.yaml's trust policy requires them;
optionally every DVC object present in the remote, and git signatures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from artreg import dvcrepo, gitrepo, index, schemas
from artreg.documents import parse_json, parse_yaml
from artreg.errors import ArtregError
from artreg.hashing import hash_files
from artreg.layout import ARTIFACTS_DIR, REGISTRY_JSON, STAGES, StageDir
from artreg.registry import RegistryState, load_state
from artreg.tags import Action

LARGE_FILE_BYTES = 2 << 20  # anything this big belongs in DVC, not git
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".onnx", ".h5", ".pkl")
CREDENTIAL_KEYS = re.compile(
    r"^\s*(access_key_id|secret_access_key|session_token|password|account_key|"
    r"connection_string|sas_token|gdrive_client_secret|token|key)\s*=",
    re.IGNORECASE,
)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n


def stage_folders(root: Path) -> list[StageDir]:
    """Every stage folder in the work tree (those holding a manifest.json)."""
    found = []
    for stage in STAGES:
        for manifest in sorted((root / ARTIFACTS_DIR / stage).glob("*/*/manifest.json")):
            folder = StageDir.parse(str(manifest.parent.relative_to(root)))
            if folder is not None:
                found.append(folder)
    return found


def creation_commits(root: Path) -> dict[str, str]:
    """Folder → the commit that added its manifest.json: one `git log` call."""
    out = gitrepo.git(
        root,
        "log",
        "--format=commit %H",
        "--diff-filter=A",
        "--name-only",
        "--",
        f"{ARTIFACTS_DIR}/*/*/*/manifest.json",
    )
    created: dict[str, str] = {}
    commit = ""
    for line in out.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.strip():
            created[line.rsplit("/", 1)[0]] = commit  # log is newest first: keep the oldest
    return created


def _check_folder(root: Path, folder: StageDir, report: Report) -> None:
    base = folder.path(root)
    try:
        manifest = parse_json(
            (base / "manifest.json").read_text("utf-8"), f"{folder.relpath}/manifest.json"
        )
        schemas.validate(manifest, "manifest", f"{folder.relpath}/manifest.json")
        if (base / "metadata.json").is_file():
            meta = parse_json(
                (base / "metadata.json").read_text("utf-8"), f"{folder.relpath}/metadata.json"
            )
            schemas.validate(meta, "metadata", f"{folder.relpath}/metadata.json")
    except ArtregError as exc:
        report.problems.append(str(exc.message))
        return
    report.count("folders")
    if manifest["primary"] not in manifest["files"]:
        report.problems.append(
            f"{folder.relpath}/manifest.json: model file {manifest['primary']!r} is not listed in files"
        )
    listed = set(manifest["files"])
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = path.relative_to(base).as_posix()
        if (
            rel in listed
            or rel == "manifest.json"
            or rel.endswith(".dvc")
            or path.name == ".gitignore"
        ):
            continue
        report.problems.append(
            f"{folder.relpath}/{rel}: not listed in the manifest (no sha256 vouches for it)"
        )
    present = [rel for rel in manifest["files"] if (base / rel).is_file()]
    for rel in manifest["files"]:
        if rel not in present and not manifest["files"][rel].get("dvc"):
            report.problems.append(
                f"{folder.relpath}/{rel}: listed in the manifest, missing from git"
            )
    digests = hash_files([base / rel for rel in present])
    report.count("files hashed", len(present))
    for rel, got in zip(present, digests, strict=True):
        want = manifest["files"][rel]
        if (got.sha256, got.size) != (want["sha256"], want["size"]):
            report.problems.append(
                f"{folder.relpath}/{rel}: sha256 {got.sha256} does not match the manifest's {want['sha256']}"
            )
    for pointer in base.rglob("*.dvc"):
        try:
            dvcrepo.read_pointer(pointer)
        except ArtregError as exc:
            report.problems.append(exc.message)


def _check_immutability(
    root: Path, folders: list[StageDir], state: RegistryState, report: Report, only_given: bool
) -> None:
    created = creation_commits(root)
    present = {f.relpath for f in stage_folders(root)}
    for folder in folders:
        commit = created.get(folder.relpath)
        if commit is None:
            continue  # not committed yet (a promotion in progress is reported by the journal)
        changed = gitrepo.git(root, "diff", "--name-status", commit, "--", folder.relpath).strip()
        report.count("folders compared with their creation")
        if changed:
            report.problems.append(
                f"{folder.relpath}: changed since it was promoted in {commit[:12]} "
                f"(promoted folders are immutable): " + "; ".join(changed.splitlines()[:10])
            )
    if only_given:
        return
    for relpath, commit in created.items():
        if relpath not in present:
            report.problems.append(f"{relpath}: promoted in {commit[:12]} and since deleted")
    # Folders that a tag names must exist even if git never saw them created here (shallow, etc.).
    for artifact in state.artifacts.values():
        for record in artifact.events:
            named = index.folder_of(root, record)
            if named and named.relpath not in present and named.relpath not in created:
                report.problems.append(
                    f"{folder.relpath}: tag {record.tag} names it, but it is missing"
                )


def _check_tags(root: Path, state: RegistryState, report: Report) -> None:
    for artifact in state.artifacts.values():
        for record in artifact.events:
            if record.parsed.action not in (Action.ASSIGN, Action.REGISTER):
                continue
            report.count("tags")
            folder = index.folder_of(root, record)
            if folder is None:
                report.problems.append(f"tag {record.tag}: cannot tell which folder it promoted")
                continue
            if gitrepo.show_file(root, record.commit, f"{folder.relpath}/manifest.json") is None:
                report.problems.append(
                    f"tag {record.tag}: its commit {record.commit[:12]} does not hold {folder.relpath}"
                )
                continue
            dvc_yaml = gitrepo.show_file(root, record.commit, "dvc.yaml")
            try:
                data = parse_yaml((dvc_yaml or b"").decode("utf-8"), "dvc.yaml") or {}
                path = str(data["artifacts"][record.parsed.name]["path"])
            except (ArtregError, KeyError, TypeError):
                path = ""
            if not path.startswith(folder.relpath + "/") and path != folder.relpath:
                report.problems.append(
                    f"tag {record.tag}: dvc.yaml at {record.commit[:12]} points "
                    f"artifacts.{record.parsed.name}.path at {path or 'nothing'}, not into {folder.relpath}"
                )


def _check_index_and_dvc_yaml(root: Path, state: RegistryState, report: Report) -> None:
    try:
        if index.stale(root, state):
            report.problems.append(
                f"{REGISTRY_JSON}: out of date; run `artreg index` and commit it"
            )
    except ArtregError as exc:
        report.problems.append(exc.message)
    try:
        data = parse_yaml((root / "dvc.yaml").read_text("utf-8"), "dvc.yaml") or {}
    except (OSError, ArtregError) as exc:
        report.problems.append(f"dvc.yaml: cannot be read: {exc}")
        return
    artifacts = data.get("artifacts") or {}
    for name in state.artifacts:
        if name not in artifacts:
            report.problems.append(f"dvc.yaml: no artifacts.{name} entry, though tags name it")
    for name, entry in artifacts.items():
        path = str((entry or {}).get("path", ""))
        folder = StageDir.parse(path)
        if folder is None or folder.name != name or not folder.path(root).is_dir():
            report.problems.append(
                f"dvc.yaml: artifacts.{name}.path {path!r} is not a folder of {name}"
            )


def _check_git_contents(root: Path, report: Report) -> None:
    out = gitrepo.git(root, "ls-files", "-z", "-s", "--", ARTIFACTS_DIR)
    blobs = [line.split(maxsplit=3)[3] for line in out.split("\0") if line.strip()]
    sizes = {}
    if blobs:
        listing = gitrepo.git(
            root, "ls-tree", "-r", "-l", "-z", "HEAD", "--", ARTIFACTS_DIR, check=False
        )
        for entry in listing.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 4 and parts[3].isdigit():
                sizes[path] = int(parts[3])
    for path in blobs:
        if path.lower().endswith(MODEL_SUFFIXES):
            report.problems.append(f"{path}: a model file is tracked by git; track it with DVC")
        elif sizes.get(path, 0) > LARGE_FILE_BYTES:
            report.problems.append(
                f"{path}: {sizes[path]:,} bytes tracked by git; large files belong in DVC"
            )
    config = root / ".dvc" / "config"
    if config.is_file():
        for number, line in enumerate(config.read_text("utf-8").splitlines(), 1):
            if CREDENTIAL_KEYS.match(line):
                report.problems.append(
                    f".dvc/config:{number}: a credential ({line.split('=')[0].strip()}) in a tracked file; "
                    "move it to .dvc/config.local or the environment, and rotate it"
                )


def _check_journal(root: Path, report: Report) -> None:
    from artreg.transaction import state_dir

    journal = state_dir(root) / "transaction.json"
    if journal.exists():
        report.problems.append(
            f"{journal}: an artreg command was interrupted mid-change; run `artreg recover`"
        )


def _check_remote(
    root: Path, folders: Iterable[StageDir], report: Report, remote: str | None
) -> None:
    pointers = [str(p.relative_to(root)) for f in folders for p in f.path(root).rglob("*.dvc")]
    if not pointers:
        return
    try:
        missing = dvcrepo.missing_in_remote(root, pointers, remote)
    except ArtregError as exc:
        report.problems.append(exc.message)
        return
    report.count("pointers checked in the remote", len(pointers))
    for path in missing:
        report.problems.append(f"{path}: its data is not in the DVC remote; run `dvc push`")


def _check_model_signatures(root: Path, folders: list[StageDir], report: Report) -> None:
    """Folders of the stages params.yaml's trust policy (at HEAD) requires signed: each model.sig
    must be made by a trusted key over the model its manifest records."""
    from artreg.config import load_trust

    try:
        policy = load_trust(root)
    except ArtregError as exc:
        report.problems.append(exc.message)
        return
    required = [f for f in folders if policy.requires(f.stage)]
    if not required:
        return
    from artreg import signing
    from artreg.hashing import FileDigest

    for folder in required:
        base = folder.path(root)
        try:
            manifest = parse_json((base / "manifest.json").read_text("utf-8"), folder.relpath)
            entries = manifest["files"]
            files = {rel: FileDigest(e["sha256"], e["size"]) for rel, e in entries.items()}
        except (ArtregError, OSError, KeyError, TypeError):
            continue  # _check_folder reports an unreadable manifest
        sig = base / signing.SIGNATURE_FILE
        raw = sig.read_bytes() if signing.SIGNATURE_FILE in files and sig.is_file() else None
        model = [rel for rel, e in entries.items() if e.get("dvc")]
        try:
            signing.check_folder(root, policy, folder.relpath, folder.stage, files, model, raw)
        except ArtregError as exc:
            report.problems.append(exc.message + (f" (fix: {exc.hint})" if exc.hint else ""))
            continue
        report.count("model signatures")


def _check_signatures(root: Path, state: RegistryState, report: Report) -> None:
    for artifact in state.artifacts.values():
        for record in artifact.events:
            report.count("signatures")
            if not gitrepo.verify_signature(root, "tag", record.tag):
                report.problems.append(f"tag {record.tag}: no valid signature")
            if not gitrepo.verify_signature(root, "commit", record.commit):
                report.problems.append(
                    f"commit {record.commit[:12]} (tag {record.tag}): no valid signature"
                )


def verify_registry(
    root: Path,
    remote: bool = False,
    remote_name: str | None = None,
    signed: bool = False,
    changed: list[str] | None = None,
) -> Report:
    """Run every check; `changed` limits the folder checks to folders holding those files."""
    report = Report()
    state = load_state(root)
    folders = stage_folders(root)
    if changed is not None:
        touched = {f for f in (StageDir.parse(p) for p in changed) if f is not None}
        folders = [f for f in folders if f in touched]
        created = creation_commits(root)
        present = {f.relpath for f in stage_folders(root)}
        for gone in sorted(
            t.relpath for t in touched if t.relpath in created and t.relpath not in present
        ):
            report.problems.append(f"{gone}: promoted in {created[gone][:12]} and since deleted")
    for folder in folders:
        _check_folder(root, folder, report)
    _check_immutability(root, folders, state, report, only_given=changed is not None)
    if changed is None:
        _check_tags(root, state, report)
    _check_index_and_dvc_yaml(root, state, report)
    _check_git_contents(root, report)
    _check_journal(root, report)
    _check_model_signatures(root, folders, report)
    if remote:
        _check_remote(root, folders, report, remote_name)
    if signed:
        _check_signatures(root, state, report)
    return report


def folder_problems(root: Path, folder: StageDir) -> list[str]:
    """What is wrong with one stage folder: schema, hashes, unlisted files, changes since creation."""
    report = Report()
    _check_folder(root, folder, report)
    _check_immutability(root, [folder], RegistryState(), report, only_given=True)
    return report.problems
