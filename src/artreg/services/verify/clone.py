"""`artreg verify`: the registry's CI check. Every problem found is listed; none means exit 0.

Checks: metadata and manifests valid against their schemas; every file's sha256 (for the files
present); promoted folders unchanged since the commit that created them, and none deleted; every
tag's commit holds its folder and a dvc.yaml pointing into it; registry.json and dvc.yaml up to
date; an untagged promotion (a pull request's) takes no released version and no folder the base
branch holds from another promotion; no large or model file tracked by git; no credential in a
tracked DVC config; no unfinished transaction; model signatures where params.yaml's trust policy
requires them; every production artifact's requirements in production at a compatible
version; optionally every DVC object present in the remote, and git signatures.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path

from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.files import parse_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git.history import default_base
from artreg.artifacts.integrity import Report, check_folder, check_immutability
from artreg.artifacts.signing import verify as signature
from artreg.artifacts.stagebytes import stage_file
from artreg.errors import (
    ArtregError,
    InputError,
    IntegrityError,
    LockBusy,
    NotFoundError,
    RemoteUnavailable,
    ToolError,
)
from artreg.publishing import policy_changes, requests, rights_check, stage_moves
from artreg.publishing.merged_promotions import untagged_approval_problems
from artreg.publishing.release_verify import check_index_and_dvc_yaml, check_tags, reachable
from artreg.publishing.transaction import lock_holder, state_dir
from artreg.reading.trust_ratchet import weakening_history
from artreg.registry import state
from artreg.registry.documents import Manifest, ManifestFile
from artreg.registry.layout import (
    ARTIFACTS_DIR,
    NOT_IN_GIT_SUFFIXES,
    PARAMS_FILE,
    REGISTRY_JSON,
    SIGNATURE_FILE,
    StageDir,
    stage_folders,
)
from artreg.registry.policy import (
    committed_sections,
    load_compatibility,
    load_trust,
    recheck_folders,
)
from artreg.registry.records import Registry
from artreg.registry.requirements import broken, way_out
from artreg.registry.retirements import current_on_retired, read_retired, retired_on_default
from artreg.registry.stages import parse_stages, undeclared
from artreg.registry.tags import Action

LARGE_FILE_BYTES = 2 << 20  # anything this big belongs in DVC, not git
CREDENTIAL_KEYS = re.compile(
    r"^\s*(access_key_id|secret_access_key|session_token|password|account_key|"
    r"connection_string|sas_token|gdrive_client_secret|token|key)\s*=",
    re.IGNORECASE,
)


def check_lightweight_tags(registry: Registry, report: Report) -> None:
    """Tags in GTO's grammar that are lightweight: artreg and GTO write annotated tags only and
    ignore these, so one that replaced a promotion tag silently takes that promotion back.
    Named in every stage; registry.json, written from the annotated tags, is then out of date
    for a reason re-indexing would only make permanent, so its hint says so instead."""
    light = [e.tag for e in registry.events if not e.annotated]
    for tag in light:
        report.problems.append(
            f"tag {tag}: a lightweight tag, not made by artreg or GTO (they write annotated "
            "tags and ignore lightweight ones, so the stage falls back to what held it before); "
            f"delete it (`git tag -d '{tag}'`, and on the remote) and restore the annotated tag "
            "from a clone or remote that has it, or make the promotion again with artreg"
        )
    if light:
        stale = f"{REGISTRY_JSON}: out of date"
        report.problems = [
            f"{stale}, as the lightweight tag(s) {', '.join(light)} are ignored: do not run "
            "`artreg index` over them; restore the annotated tags first"
            if problem.startswith(stale)
            else problem
            for problem in report.problems
        ]


def undeclared_stages(root: Path, registry: Registry) -> list[str]:
    """Stages that resolve although params.yaml (as committed at HEAD) declares none such."""
    head = gitrun.head(root)
    source = f"{PARAMS_FILE}@{head[:12]}" if head else PARAMS_FILE
    try:
        sections = committed_sections(root, head) if head else {}
        return undeclared(registry, parse_stages(sections.get("stages"), source), source)
    except ArtregError as exc:  # a params.yaml that does not parse is a finding, not a stop
        return [exc.message]


def check_requirements(root: Path, registry: Registry, report: Report) -> None:
    """Every production artifact's requirements in production at a compatible version (the
    rule of params.yaml at HEAD): a dependency deprecated, deregistered or unassigned since
    the release leaves its dependant unable to run as released, which is a failed check."""
    try:
        rule = load_compatibility(root)
    except ArtregError as exc:
        report.problems.append(exc.message)
        return
    for record in registry.tagged_events():
        if record.unreadable_requires:
            report.problems.append(
                f"tag {record.tag}: its requires line names "
                + ", ".join(repr(r) for r in record.unreadable_requires)
                + ", not NAME@vX.Y.Z, so that requirement is not checked"
            )
    held = [a.stage("production") for a in registry.artifacts.values() if not a.deprecated]
    report.count(
        "requirements of production artifacts",
        sum(len(v.requires("production")) for v in held if v is not None),
    )
    for problem in broken(registry, rule):
        report.problems.append(
            f"{problem}; {way_out(registry, problem.unmet.requirement, rule, problem.name)}"
        )


def _check_git_contents(root: Path, report: Report) -> None:
    out = gitrun.git(root, "ls-files", "-z", "-s", "--", ARTIFACTS_DIR)
    blobs = [line.split(maxsplit=3)[3] for line in out.split("\0") if line.strip()]
    sizes = {}
    if blobs:
        listing = gitrun.git(
            root, "ls-tree", "-r", "-l", "-z", "HEAD", "--", ARTIFACTS_DIR, check=False
        )
        for entry in listing.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 4 and parts[3].isdigit():
                sizes[path] = int(parts[3])
    for path in blobs:
        if path.lower().endswith(NOT_IN_GIT_SUFFIXES):
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


def _refuse_while_changing(root: Path) -> None:
    """A live writer's half-made change (its journal, a stale registry.json) is not a
    problem to report: say who is changing the registry, retryable, as every writer does."""
    holder = lock_holder(root)
    if holder is not None:
        who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
        raise LockBusy(
            f"{root}: another artreg command ({who}) is changing this registry",
            hint="wait for it to finish, then run `artreg verify` again",
        )


def _check_journal(root: Path, report: Report) -> None:
    journal = state_dir(root) / "transaction.json"
    if journal.exists():
        report.problems.append(
            f"{journal}: an artreg command was interrupted mid-change; run `artreg recover`"
        )


def _check_remote(
    root: Path, folders: Iterable[StageDir], report: Report, remote: str | None
) -> None:
    pointers = [
        str(p.relative_to(root))
        for f in folders
        for p in dvccache.pointer_files(root, f.path(root))
    ]
    if not pointers:
        return
    try:
        missing = dvcremote.missing_in_remote(root, pointers, remote)
    except RemoteUnavailable:
        raise  # an unreachable remote says nothing about the registry: exit 4, not a problem
    except ArtregError as exc:
        report.problems.append(exc.message)
        return
    report.count("pointers checked in the remote", len(pointers))
    for path in missing:
        report.problems.append(f"{path}: its data is not in the DVC remote; run `dvc push`")


def _check_absent_bytes(
    root: Path,
    folders: Iterable[StageDir],
    report: Report,
    fetch: bool,
    remote: str | None,
    deprecated: frozenset[str] = frozenset(),
) -> None:
    """Hash the DVC-tracked files that are not in the work tree too, from their cache objects,
    against the manifest as committed. Absent data is not bad data: without `fetch` the files
    in neither the work tree nor the cache are listed per folder, with the command that fetches
    them; with `fetch` exactly those objects are fetched and hashed. A remote that cannot be
    reached (no credentials, no network) raises RemoteUnavailable: it says nothing about the
    registry, so it is never one of its problems."""
    created = gitread.creation_commits(root)
    absent: list[tuple[StageDir, str, ManifestFile]] = []
    for folder in folders:
        commit = created.get(folder.relpath)
        manifest = (
            gitread.json_at(root, commit, f"{folder.relpath}/manifest.json") if commit else None
        )
        if manifest is None:
            continue  # not committed yet, or reported by the folder checks
        try:
            files = Manifest.from_json(manifest).files
        except (ArtregError, KeyError, TypeError, ValueError):
            continue  # the schema check of the folder reports it
        base = folder.path(root)
        absent += [
            (folder, rel, e) for rel, e in files.items() if e.dvc and not (base / rel).is_file()
        ]

    if not absent:
        return
    cache = dvccache.cache_dir(root)

    def cached(folder: StageDir, rel: str) -> bool:
        obj = dvccache.cached_object(root, folder.path(root), rel, cache)
        return obj is not None and obj.is_file()

    lacking = [f"{folder.relpath}/{rel}" for folder, rel, _ in absent if not cached(folder, rel)]
    if lacking and fetch:
        # One DVC session for all of them; an object missing from the remote is narrowed down
        # file by file below, an unreachable remote stops the check (RemoteUnavailable).
        with contextlib.suppress(NotFoundError, ToolError, IntegrityError):
            dvcremote.fetch_objects(root, lacking, remote=remote)
    not_present: dict[StageDir, list[str]] = {}
    for folder, rel, entry in absent:
        if not fetch and not cached(folder, rel):
            not_present.setdefault(folder, []).append(rel)
            report.count("files not present locally")
            continue
        try:
            stage_file(root, folder, rel, entry, dvc=True, fetch=fetch, remote=remote)
        except RemoteUnavailable:
            raise
        except ArtregError as exc:
            report.problems.append(exc.message)
            continue
        report.count("files hashed from the DVC cache")
    for folder, rels in not_present.items():
        report.notes.append(
            f"{folder.relpath}: data not present locally ({len(rels)} file(s), not checked): "
            f"fetch it with `{_fetch_command(folder, rels, deprecated)}`, or check every folder with "
            "`artreg verify --fetch`"
        )


def _fetch_command(folder: StageDir, rels: list[str], deprecated: frozenset[str]) -> str:
    """The command that brings a folder's absent files here: a release by its version, any
    other folder (or a release of a `deprecated` name, which `pull` refuses) by its files."""
    if folder.stage == "production" and folder.name not in deprecated:
        return f"artreg pull {folder.name}@{folder.entry}"
    return "dvc fetch " + " ".join(f"{folder.relpath}/{rel}" for rel in rels)


def _check_model_signatures(root: Path, folders: list[StageDir], report: Report) -> None:
    """Folders of the stages params.yaml's trust policy (at HEAD) requires signed: each
    model.sig must be made by a trusted key over the model its manifest records."""
    try:
        policy = load_trust(root)
    except ArtregError as exc:
        report.problems.append(exc.message)
        return
    required = [f for f in folders if policy.requires(f.stage)]
    if not required:
        return

    for folder in required:
        base = folder.path(root)
        try:
            text = (base / "manifest.json").read_text("utf-8")
            manifest = Manifest.from_json(parse_json(text, f"{folder.relpath}/manifest.json"))
        except (ArtregError, OSError, KeyError, TypeError):
            continue  # check_folder reports an unreadable manifest
        sig = base / SIGNATURE_FILE
        listed = SIGNATURE_FILE in manifest.files and sig.is_file()
        raw = sig.read_bytes() if listed else None
        try:
            signature.check_folder(
                root, policy, folder.relpath, folder.stage, manifest.files, manifest.dvc_files, raw
            )
        except ArtregError as exc:
            report.problems.append(exc.message + (f" (fix: {exc.hint})" if exc.hint else ""))
            continue
        report.count("model signatures")


def check_policy_weakenings(root: Path, report: Report) -> None:
    """Commits that made the trust policy weaker (trust_ratchet.weakenings: a stage no longer
    requiring signatures, a trusted key added or replaced, params.yaml gone): consumers refuse
    them until accepted, and the registry's check reports each one not acknowledged."""
    try:
        found = weakening_history(root)
        head = gitrun.head(root)
        trust = committed_sections(root, head).get("trust") if head else None
    except ArtregError as exc:
        report.problems.append(exc.message)
        return
    acknowledged = tuple((trust or {}).get("acknowledged") or ())
    for line, changes in found:
        commit, _, subject = line.partition(" ")
        report.count("commits weakening the trust policy")
        if not _weakening_acknowledged(commit, acknowledged):
            report.problems.append(
                f"commit {commit[:12]} ({subject}) weakens the trust policy: {'; '.join(changes)}"
                f" (consumers refuse it until they run `artreg trust accept`); if it was meant, "
                f"acknowledge it: list {commit[:12]} under trust.acknowledged in params.yaml, "
                "in a reviewed commit"
            )


def _weakening_acknowledged(commit: str, acknowledged: tuple[str, ...]) -> bool:
    """A weakening the registry's maintainers acknowledged: listed, as committed at HEAD,
    under trust.acknowledged. (The registry names no allowed signers yet; once it does, a
    commit signed by one is acknowledged too.)"""
    return any(commit.startswith(prefix) for prefix in acknowledged)


def _check_signatures(root: Path, registry: Registry, report: Report) -> None:
    for record in registry.tagged_events():
        report.count("signatures")
        if not gitread.verify_signature(root, "tag", record.tag):
            report.problems.append(f"tag {record.tag}: no valid signature")
        if not gitread.verify_signature(root, "commit", record.commit):
            report.problems.append(
                f"commit {record.commit[:12]} (tag {record.tag}): no valid signature"
            )


def _check_untagged(root: Path, registry: Registry, report: Report, base: str | None) -> None:
    """Promotions here that no tag names yet (a promotion branch before its merge, or the
    default branch before `artreg tag`): their version must be free, and `base` (what the pull
    request merges into) must not hold the same folder from another promotion."""
    tagged = reachable(root, registry).tagged_folders()
    untagged = [f for f in stage_folders(root) if f.relpath not in tagged]
    if not untagged:
        return
    if base is None:
        try:
            base = default_base(root)
        except ArtregError:
            base = None
    elif not gitrun.ref_exists(root, base):
        raise InputError(
            f"--base {base}: no such branch or commit here",
            hint="fetch it first (`git fetch origin`), or pass an existing ref, e.g. origin/main",
        )
    released = {
        (e.parsed.name, e.parsed.version): e
        for e in registry.events
        if e.parsed.action is Action.REGISTER
    }
    created = gitread.creation_commits(root)
    for folder in untagged:
        report.count("untagged promotions")
        if folder.stage == "production":
            first = released.get((folder.name, folder.entry.removeprefix("v")))
            if first is not None:
                report.problems.append(
                    f"{folder.relpath}: {first.tag} was already released by commit "
                    f"{first.commit[:12]}; versions are never reused: release another version"
                )
                continue
        if base is None:
            continue
        theirs = gitread.creation_commit(root, base, f"{folder.relpath}/manifest.json")
        if (
            theirs
            and theirs != created.get(folder.relpath)
            and not gitread.is_ancestor(root, theirs, "HEAD")
        ):
            subject = gitrun.git(root, "log", "-1", "--format=%s", theirs).strip()
            report.problems.append(
                f"{folder.relpath}: {base} already holds it from another promotion, commit "
                f"{theirs[:12]} ({subject}); promoted folders are never overwritten: "
                "promote under another id or version"
            )


def verify_registry(
    root: Path,
    remote: bool = False,
    remote_name: str | None = None,
    signed: bool = False,
    changed: list[str] | None = None,
    fetch: bool = False,
    base: str | None = None,
) -> Report:
    """Run every check; `changed` (files as given on a command line: absolute, or relative to
    the current folder) limits the folder checks to folders holding those files. DVC-tracked
    files in neither the work tree nor the DVC cache are listed in the notes, not checked;
    with `fetch` they are fetched (only those) and hashed too. `base` is the branch a pull
    request merges into (default: the default branch)."""
    _refuse_while_changing(root)
    if changed is not None:
        changed = [inside(root, f) for f in changed]
    report = Report()
    registry = state.load(root, folders="all")
    folders = stage_folders(root)
    if changed is not None:
        touched = {f for f in (StageDir.parse(p) for p in changed) if f is not None}
        folders = [f for f in folders if f in touched]
        created = gitread.creation_commits(root)
        present = {f.relpath for f in stage_folders(root)}
        for gone in sorted(
            t.relpath for t in touched if t.relpath in created and t.relpath not in present
        ):
            report.problems.append(f"{gone}: promoted in {created[gone][:12]} and since deleted")
    for folder in folders:
        check_folder(root, folder, report)
    # gc deleted (or marked to delete) the objects of retired folders on purpose (committed
    # tombstones): their absent files are retired, not missing, here and in the remote.
    retired = read_retired(root)
    # A branch forked before a gc on the default branch lacks its tombstones, not its effect.
    main, on_main = retired_on_default(root)
    elsewhere = {k: t for k, t in on_main.items() if k not in retired}
    live = [f for f in folders if f.relpath not in retired and f.relpath not in elsewhere]
    deprecated = frozenset(n for n, a in registry.artifacts.items() if a.deprecated)
    _check_absent_bytes(root, live, report, fetch, remote_name, deprecated)
    check_immutability(root, folders, registry, report, only_given=changed is not None)
    # Gates as committed when each folder was promoted: an uncommitted, loosened gate shows.
    report.problems += recheck_folders(root, folders, gitread.creation_commits(root))
    if changed is None:
        check_tags(root, registry, report)
        _check_untagged(root, registry, report, base)
        check_requirements(root, registry, report)
        report.problems += undeclared_stages(root, registry)
    check_index_and_dvc_yaml(root, reachable(root, registry), report)
    check_lightweight_tags(registry, report)
    _check_git_contents(root, report)
    _check_journal(root, report)
    if retired:
        tombs = [retired[f.relpath] for f in folders if f.relpath in retired]
        report.count("folders retired by gc", len(tombs))
        report.notes += [t.message for t in tombs]
    # A tombstone is final, so a stage resolving to one is broken for every consumer: whether
    # gc or a hand edit put it there, and whether or not its objects are still around.
    report.problems += current_on_retired(registry, retired)
    for t in (elsewhere[f.relpath] for f in folders if f.relpath in elsewhere):
        report.count(f"folders retired on {main}", 1)
        report.notes.append(
            f"{t.folder}: retired on {main} by gc on {t.date[:10]}: merge {main} "
            "(its data is gone from the DVC remote)"
        )
    _check_model_signatures(root, folders, report)
    if changed is None:
        check_policy_weakenings(root, report)
        # params.yaml rights (issue 26): signers, promoters, approvers, policy loosenings.
        rights_check.check_registry(root, registry, report)
        policy_changes.check(root, report, base)  # loosenings: a pull request's, and history's
        report.problems += untagged_approval_problems(root, registry)  # what `tag` refuses
        report.problems += stage_moves.problems(root, registry)  # deregistered, unassigned
        try:
            report.notes += requests.awaiting_tags(root, registry)
        except ArtregError as exc:  # a request file that does not parse
            report.problems.append(exc.message)
    if remote:
        _check_remote(root, live, report, remote_name)
    if signed:
        _check_signatures(root, registry, report)
    # Several checks read the same broken file (params.yaml at HEAD): each problem once.
    report.problems = list(dict.fromkeys(report.problems))
    return report


def inside(root: Path, file: str) -> str:
    """A path given on the command line, relative to the registry root; refuse one outside."""
    path = Path(file).resolve() if Path(file).is_absolute() else (Path.cwd() / file).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise InputError(
            f"{file}: outside the registry {root}", hint="pass files of the registry"
        ) from None
