"""Consuming models: resolve a name to a folder and model file, pull it, verify it, export it.

Reading never runs GTO or imports dvc: one `git for-each-ref` gives the state, one `git show`
reads the manifest *as committed at the tag*, so a manifest edited in the work tree cannot vouch
for altered bytes. DVC is imported only when bytes must be fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import dvcrepo, gitrepo, schemas
from artreg.documents import parse_json
from artreg.errors import InputError, IntegrityError, NotFoundError, ToolError
from artreg.hashing import FileDigest, ProgressFn, copy_and_hash, hash_files
from artreg.index import folder_of
from artreg.layout import STAGES, StageDir, model_files, validate_name
from artreg.registry import RegistryState, load_state
from artreg.tags import TagRecord


@dataclass(frozen=True)
class Resolved:
    """One artifact as the registry names it: where it is and what its bytes must be."""

    name: str
    stage: str | None
    version: str | None
    tag: str
    commit: str
    folder: StageDir
    primary: str  # the model file, relative to the folder
    files: dict[str, FileDigest]  # every file of the manifest, as committed
    dvc_files: frozenset[str]

    @property
    def model(self) -> str:
        return f"{self.folder.relpath}/{self.primary}"

    def as_dict(self, root: Path) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "version": self.version,
            "tag": self.tag,
            "commit": self.commit,
            "folder": self.folder.relpath,
            "model": self.model,
            "path": str(root / self.model),
            "sha256": self.files[self.primary].sha256,
            "size": self.files[self.primary].size,
        }


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """`NAME`, `NAME@vX.Y.Z` or `NAME#STAGE` → (name, stage, version)."""
    if "@" in spec:
        name, _, version = spec.partition("@")
        return validate_name(name), None, version
    if "#" in spec:
        name, _, stage = spec.partition("#")
        return validate_name(name), stage, None
    return validate_name(spec), None, None


def _record_for(
    state: RegistryState, name: str, stage: str | None, version: str | None
) -> tuple[TagRecord, str | None, str | None]:
    artifact = state.get(name)
    if artifact.deprecated:
        raise NotFoundError(
            f"{name} is deprecated (tag {artifact.events[-1].tag})",
            hint="use another artifact, or remove the deprecation tag if it was a mistake",
        )
    if version is not None:
        found = artifact.find_version(version)
        if found is None:
            released = ", ".join(
                f"v{v.version}" for v in artifact.active_versions() if v.registered
            )
            raise NotFoundError(
                f"{name} has no active version {version} (active: {released or 'none'})",
                hint="a deregistered version no longer resolves; pick an active one",
            )
        return found.direct[-1], None, found.version
    stage = stage or "production"
    holder = artifact.stage(stage)
    if holder is None:
        assigned = ", ".join(artifact.stages()) or "none"
        raise NotFoundError(
            f"{name} has nothing in stage {stage!r} (assigned stages: {assigned})",
            hint="an unassigned stage no longer resolves; promote something to it first",
        )
    assignment = holder.assignment(stage)
    assert assignment is not None
    return assignment, stage, holder.version if holder.registered else None


def resolve(
    root: Path,
    name: str,
    stage: str | None = None,
    version: str | None = None,
    state: RegistryState | None = None,
) -> Resolved:
    """What `name` (at a stage, or a version; default: production) resolves to, per the tags."""
    if stage is not None and version is not None:
        raise InputError("give a stage or a version, not both", hint="e.g. --stage production")
    if stage is not None and stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}", hint=f"use one of: {', '.join(STAGES)}")
    name = validate_name(name)
    state = state or load_state(root, [name])
    record, stage, version = _record_for(state, name, stage, version)
    folder = folder_of(root, record)
    if folder is None:
        raise NotFoundError(
            f"tag {record.tag} does not say which folder it promoted, and dvc.yaml at "
            f"{record.commit[:12]} has no artifacts.{name}.path",
            hint="the tag was not made by artreg; re-promote with artreg",
        )
    raw = gitrepo.show_file(root, record.commit, f"{folder.relpath}/manifest.json")
    if raw is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json is missing at {record.commit[:12]} (tag {record.tag})",
            hint="the tag points at a commit without the folder; run `artreg verify`",
        )
    manifest = parse_json(
        raw.decode("utf-8"), f"{folder.relpath}/manifest.json@{record.commit[:12]}"
    )
    from artreg.verification import validate_once

    validate_once(
        "manifest",
        raw,
        lambda: schemas.validate(manifest, "manifest", f"{folder.relpath}/manifest.json"),
    )
    files = {rel: FileDigest(e["sha256"], e["size"]) for rel, e in manifest["files"].items()}
    if manifest["primary"] not in files:
        raise IntegrityError(
            f"{folder.relpath}/manifest.json: its model file {manifest['primary']!r} is not among "
            "the files it lists with a sha256",
            hint="the folder was not made by artreg or was altered; do not use it",
        )
    dvc_files = frozenset(rel for rel, e in manifest["files"].items() if e.get("dvc"))
    return Resolved(
        name,
        stage,
        version,
        record.tag,
        record.commit,
        folder,
        manifest["primary"],
        files,
        dvc_files,
    )


def pointers(root: Path, resolved: Resolved) -> list[str]:
    """Repo-relative `.dvc` pointers of the folder, checked against the tag's commit."""
    folder = resolved.folder.path(root)
    if not folder.is_dir():
        raise NotFoundError(
            f"{resolved.folder.relpath}: not in this checkout (it was promoted in {resolved.commit[:12]})",
            hint="update the checkout (`git pull`) to a commit that holds the folder",
        )
    found = sorted(str(p.relative_to(root)) for p in folder.rglob("*.dvc"))
    for pointer in found:
        dvcrepo.read_pointer(root / pointer)  # refuses pointers that leave their folder
    changed = gitrepo.git(
        root, "diff", "--name-only", resolved.commit, "--", resolved.folder.relpath
    ).split()
    if changed:
        raise IntegrityError(
            f"{resolved.folder.relpath}: changed since its promotion in {resolved.commit[:12]}: "
            + ", ".join(changed),
            hint="promoted folders are immutable; restore them with "
            f"`git checkout {resolved.commit[:12]} -- {resolved.folder.relpath}`",
        )
    return found


def _digests(
    paths: list[Path], progress: ProgressFn | None, records: Path | None, full: bool
) -> list[FileDigest]:
    """Hash the files, or, with a records folder and not `full`, trust unchanged ones' records."""
    if records is None:
        return hash_files(paths, progress)
    from artreg.verification import digests

    return digests(paths, records, full, progress)


def verify(
    root: Path,
    resolved: Resolved,
    progress: ProgressFn | None = None,
    *,
    records: Path | None = None,
    full: bool = True,
) -> None:
    """Hash every file of the folder (on all cores) against the committed manifest (with
    `records` and not `full`: files unchanged since they were last hashed are not rehashed)."""
    folder = resolved.folder.path(root)
    paths = [folder / rel for rel in resolved.files]
    missing = [rel for rel, p in zip(resolved.files, paths, strict=True) if not p.is_file()]
    if missing:
        raise NotFoundError(
            f"{resolved.folder.relpath}: not pulled yet: {', '.join(missing[:5])}"
            + (" …" if len(missing) > 5 else ""),
            hint=f"run `artreg pull {resolved.name}`",
        )
    actual = _digests(paths, progress, records, full)
    bad = [
        f"{resolved.folder.relpath}/{rel}: expected sha256 {exp.sha256}, found {got.sha256}"
        for rel, exp, got in zip(resolved.files, resolved.files.values(), actual, strict=True)
        if (got.sha256, got.size) != (exp.sha256, exp.size)
    ]
    if bad:
        raise IntegrityError(
            "; ".join(bad),
            hint="the bytes differ from what was promoted; `artreg pull --force` restores them "
            "from the cache or remote, and fails again if those were altered too",
        )


def _missing_or_bad(
    root: Path,
    resolved: Resolved,
    records: Path | None,
    full: bool,
    progress: ProgressFn | None = None,
) -> tuple[list[str], list[str]]:
    folder = resolved.folder.path(root)
    present = [rel for rel in resolved.files if (folder / rel).is_file()]
    digests = _digests([folder / rel for rel in present], progress, records, full)
    bad = [
        rel
        for rel, got in zip(present, digests, strict=True)
        if (got.sha256, got.size) != (resolved.files[rel].sha256, resolved.files[rel].size)
    ]
    missing = [rel for rel in resolved.files if rel not in present]
    return missing, bad


def pull(
    root: Path,
    resolved: Resolved,
    remote: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    *,
    records: Path | None = None,
    full: bool = True,
) -> int:
    """Fetch only this artifact's objects, refuse unsafe ones, check out, verify every hash.

    Returns the number of objects fetched. A work-tree copy that differs from the manifest is
    an error (exit 1) unless `force`, which restores it. Every file is hashed once (or, with
    `records` and not `full`, trusted by its verification record while unchanged).
    """
    found = pointers(root, resolved)
    missing, bad = _missing_or_bad(root, resolved, records, full, progress)
    if bad and not force:
        folder = resolved.folder.relpath
        raise IntegrityError(
            "; ".join(
                f"{folder}/{rel}: work-tree copy does not match sha256 {resolved.files[rel].sha256}"
                for rel in bad
            ),
            hint=f"run `artreg pull {resolved.name} --force` to restore the promoted bytes",
        )
    if not missing and not bad:
        return 0  # every file was just checked against the manifest
    try:
        fetched = dvcrepo.fetch_checked_checkout(root, found, remote=remote)
    except ToolError:
        _explain_checkout_failure(root, resolved, found)
        raise
    verify(root, resolved, progress, records=records)
    return fetched


def _explain_checkout_failure(root: Path, resolved: Resolved, found: list[str]) -> None:
    """DVC refused to check out: say which cached object is missing or altered, with hashes."""
    for rel, expected in resolved.files.items():
        if rel not in resolved.dvc_files:
            continue
        obj = dvcrepo.cached_object(root, root / resolved.folder.relpath, rel)
        where = f"{resolved.folder.relpath}/{rel}"
        if obj is None or not obj.is_file():
            # DVC treats an altered object in a local remote as missing; look, to say which.
            remote_obj = dvcrepo.local_remote_object(root, obj) if obj is not None else None
            if remote_obj is not None and remote_obj.is_file():
                got = hash_files([remote_obj])[0]
                raise IntegrityError(
                    f"{where}: the remote object {remote_obj} has sha256 {got.sha256}, "
                    f"expected sha256 {expected.sha256}",
                    hint="the remote holds altered bytes; push the right ones from a clone that has them",
                )
            raise NotFoundError(
                f"{where}: its object is in neither the DVC cache nor the remote "
                "(DVC also discards an object of a local remote whose hash is wrong)",
                hint="push it from a clone that has it (`dvc push`), then pull again",
            )
        got = hash_files([obj])[0]
        if got.sha256 != expected.sha256:
            raise IntegrityError(
                f"{where}: the DVC cache object {obj} has sha256 {got.sha256}, "
                f"expected sha256 {expected.sha256}",
                hint=f"delete {obj} and pull again; if the remote copy is altered too, report it",
            )


def export(
    root: Path,
    resolved: Resolved,
    out: Path,
    remote: str | None = None,
    progress: ProgressFn | None = None,
) -> list[Path]:
    """Copy the artifact's model file(s) to `out`, verified (like `dvc artifacts get`)."""
    pull(root, resolved, remote=remote, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    folder = resolved.folder.path(root)
    primary = resolved.primary
    written = []
    for rel in model_files(primary, resolved.files):
        target = out / (rel if "/" in primary else Path(rel).name)
        if target.exists():
            raise InputError(f"{target}: exists already", hint="choose an empty output folder")
        digest = copy_and_hash(folder / rel, target, progress)
        if digest.sha256 != resolved.files[rel].sha256:
            target.unlink()
            raise IntegrityError(f"{rel}: changed while being copied", hint="run the command again")
        written.append(target)
    return written


def overview(
    root: Path,
    state: RegistryState | None = None,
    deprecated: bool = False,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Every name (or `names`) with its latest version and what each stage holds (gto show)."""
    state = state or load_state(root, names)
    result: dict[str, Any] = {}
    for name in sorted(state.artifacts):
        artifact = state.artifacts[name]
        if artifact.deprecated and not deprecated:
            continue
        latest = artifact.latest()
        stages = {}
        for stage, holder in artifact.stages().items():
            record = holder.assignment(stage)
            assert record is not None
            folder = folder_of(root, record)
            stages[stage] = {
                "version": f"v{holder.version}" if holder.registered else None,
                "id": folder.entry if folder else None,
                "folder": folder.relpath if folder else None,
                "commit": holder.commit,
                "tag": record.tag,
            }
        result[name] = {
            "latest": f"v{latest.version}" if latest else None,
            "deprecated": artifact.deprecated,
            "stages": stages,
        }
    return result


def history(root: Path, name: str, state: RegistryState | None = None) -> list[dict[str, Any]]:
    """Every tag event of `name`, newest first, with who, when and which folder."""
    from artreg.index import iso

    name = validate_name(name)
    state = state or load_state(root, [name])
    artifact = state.get(name)
    events = []
    for record in reversed(artifact.events):
        folder = folder_of(root, record)
        events.append(
            {
                "tag": record.tag,
                "action": record.parsed.action.value,
                "stage": record.parsed.stage,
                "version": record.parsed.version,
                "commit": record.commit,
                "date": iso(record.timestamp),
                "by": f"{record.tagger} {record.tagger_email}".strip(),
                "folder": folder.relpath if folder else None,
            }
        )
    return events
