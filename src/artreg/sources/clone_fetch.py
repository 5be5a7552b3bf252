"""A clone's own reads: resolve a name to a folder and model file by the tags, check the
folder's signature against the trust policy committed at HEAD, pull it, verify it, export it.

Reading never runs GTO or imports dvc: one `git for-each-ref` gives the state, one `git show`
reads the manifest *as committed at the tag*, so a manifest edited in the work tree cannot vouch
for altered bytes. DVC is imported only when bytes must be fetched. `clone.CloneSource` (through
`clone_reads`) and the URL source (over its cache repository) call these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from artreg.adapters import repair, schemas
from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.files import parse_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import FileDigest, ProgressFn, compare_files, hash_files
from artreg.artifacts.signing.verify import describe
from artreg.errors import ArtregError, IntegrityError, NotFoundError, ToolError
from artreg.publishing.transaction import lock_holder, state_dir
from artreg.reading import exact_folder, outputs, trust_ratchet
from artreg.reading.cache import records_root
from artreg.reading.fetch import copy_verified, export_targets
from artreg.reading.resolve import Resolved, check_spec, folder_of, pick, served_instead
from artreg.reading.signatures import check_signed
from artreg.reading.signed_tags import check_clone
from artreg.registry import state
from artreg.registry.documents import Manifest
from artreg.registry.policy import load_compatibility, load_trust
from artreg.registry.records import Registry
from artreg.registry.requirements import closure
from artreg.registry.retirements import read_retired


def resolve(
    root: Path,
    name: str,
    stage: str | None = None,
    version: str | None = None,
    registry: Registry | None = None,
    *,
    signer: bool = True,
    history: bool = False,
) -> Resolved:
    """What `name` (at a stage, or a version; default: production) resolves to, per the tags.
    `signer=False` only for `show`, which reports the promotion's signer on a line of its own;
    `history` for `show` and `lineage`, which answer for a deprecated name too."""
    name, stage, version = check_spec(name, stage, version)
    registry = registry or state.load(root, [name], folders="none")
    try:
        record, stage, version = pick(registry, name, stage, version, history=history)
    except NotFoundError as exc:
        _explain_pending(root, exc)
        raise
    if signer:  # params.yaml rights.signed: refused, never older
        check_clone(root, record.tag, name, version, record.commit)
    state.resolve_folders(root, [record])
    folder_of(record, name)
    folder = record.folder
    assert folder is not None
    raw = gitread.show_file(root, record.commit, f"{folder.relpath}/manifest.json")
    if raw is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json is missing at {record.commit[:12]} (tag {record.tag})",
            hint="the tag points at a commit without the folder; run `artreg verify`",
        )
    manifest = parse_json(
        raw.decode("utf-8"), f"{folder.relpath}/manifest.json@{record.commit[:12]}"
    )
    schemas.validate_once(
        raw, manifest, "manifest", f"{folder.relpath}/manifest.json", records_root()
    )
    record_ = Manifest.from_json(manifest)
    files = {rel: FileDigest(f.sha256, f.size) for rel, f in record_.files.items()}
    if record_.primary not in files:
        raise IntegrityError(
            f"{folder.relpath}/manifest.json: its model file {record_.primary!r} is not among "
            "the files it lists with a sha256",
            hint="the folder was not made by artreg or was altered; do not use it",
        )
    return Resolved(
        name,
        stage,
        version,
        record.tag,
        record.commit,
        folder,
        record_.primary,
        files,
        record_.dvc_files,
        record.requires,
    )


def resolve_with_requirements(
    root: Path,
    name: str,
    stage: str | None = None,
    version: str | None = None,
    registry: Registry | None = None,
) -> dict[str, Resolved]:
    """`name` and everything it requires, transitively, each required name at the production
    version that satisfies it (params.yaml's `requirements.compatibility`), all from one
    registry state. An unmet requirement or a cycle raises RequirementUnmet (exit 1)."""
    registry = registry or state.load(root, folders="none")
    top = resolve(root, name, stage=stage, version=version, registry=registry)
    needed = closure(registry, top.name, top.requires, load_compatibility(root))
    found = {top.name: top}
    for dep in needed:
        found[dep] = resolve(root, dep, stage="production", registry=registry)
    return found


def pointers(root: Path, resolved: Resolved) -> list[str]:
    """Repo-relative `.dvc` pointers of the folder, checked against the tag's commit."""
    folder = resolved.folder.path(root)
    absent = absent_from_checkout(root, resolved)
    if absent is not None:
        raise absent
    found = [str(p.relative_to(root)) for p in dvccache.pointer_files(root, folder)]
    for pointer in found:
        dvccache.read_pointer(root / pointer)  # refuses pointers that leave their folder
    changed = gitrun.git(
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


def absent_from_checkout(root: Path, resolved: Resolved) -> NotFoundError | None:
    """The refusal for a folder the checked-out commit does not hold (None when it does), with
    the way out that works from here: `git pull` only when the promotion lies ahead of HEAD;
    restoring the folder when this branch removed it after the promotion (a revert)."""
    rel, promo = resolved.folder.relpath, resolved.commit[:12]
    if gitrun.git(root, "ls-files", "--", rel).strip():  # in the index: HEAD's, or restored
        return None
    if gitread.is_ancestor(root, resolved.commit, "HEAD"):
        log = ["log", "-1", "--format=%h", "--diff-filter=D", "HEAD", "--", rel]
        removed = gitrun.git(root, *log).strip() or "a later commit"
        return NotFoundError(
            f"{rel}: removed from this branch by {removed} after its promotion in {promo}, "
            f"while {resolved.tag} still names it",
            hint=f"restore the folder with `git checkout {promo} -- {rel}` (and commit it), "
            f"then run `artreg pull {resolved.name}`",
        )
    where = f"{rel}: not in this checkout (it was promoted in {promo}"
    if gitread.is_ancestor(root, "HEAD", resolved.commit):
        return NotFoundError(
            f"{where}, ahead of it)",
            hint=f"update the checkout: `git pull`, or `git merge --ff-only {promo}`",
        )
    return NotFoundError(
        f"{where}, on another line of history)",
        hint=f"switch to a branch that holds it (`git branch -a --contains {promo}`), or "
        f"merge it: `git merge {promo}`",
    )


def check_signature(root: Path, resolved: Resolved, records: Path | None = None) -> None:
    """Where params.yaml's trust policy (as committed at HEAD) requires it, the model.sig
    committed with the folder must be made by a trusted key over the model the manifest
    records: checked against the committed manifest, so no model byte is read for it. A
    policy weaker than the one this clone applied before is refused (trust_ratchet; the
    record is kept in the consumer cache `records`, default the machine's)."""
    policy = load_trust(root)
    trust_ratchet.check_clone(root, policy, records if records is not None else records_root())
    if not policy.requires(resolved.folder.stage):
        return
    folder = resolved.folder
    check_signed(
        root, policy, resolved.commit, folder.relpath, folder.stage, resolved.files,
        resolved.dvc_files,
    )  # fmt: skip


def signature_status(root: Path, resolved: Resolved) -> dict[str, Any] | None:
    """What `show` says of the folder's signature (None: unsigned, and none required)."""
    folder = resolved.folder
    return describe(
        root, resolved.commit, folder.relpath, folder.stage, resolved.files, resolved.dvc_files
    )


def verify(
    root: Path,
    resolved: Resolved,
    progress: ProgressFn | None = None,
    *,
    records: Path | None = None,
    full: bool = True,
) -> None:
    """Hash every file of the folder (on all cores) against the committed manifest, after
    checking its signature where the trust policy requires one (with `records` and not
    `full`: files unchanged since they were last hashed are not rehashed)."""
    check_signature(root, resolved, records)
    result = compare_files(resolved.folder.path(root), resolved.files, progress, records, full)
    missing = result.missing
    if missing:
        retired = _retired(root, resolved) or absent_from_checkout(root, resolved)
        if retired is not None:
            raise retired
        raise NotFoundError(
            f"{resolved.folder.relpath}: not pulled yet: {', '.join(missing[:5])}"
            + (" …" if len(missing) > 5 else ""),
            hint=f"run `artreg pull {resolved.name}`",
        )
    bad = [
        f"{resolved.folder.relpath}/{rel}: expected sha256 {resolved.files[rel].sha256}, found {got.sha256}"
        for rel, got in result.mismatched
    ]
    if bad:
        raise IntegrityError(
            "; ".join(bad),
            hint="the bytes differ from what was promoted; `artreg pull --force` restores them "
            "from the cache or remote, and fails again if those were altered too",
        )
    check_exact(root, resolved)


def pull(
    root: Path,
    resolved: Resolved,
    remote: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    *,
    records: Path | None = None,
    full: bool = True,
    repaired: list[str] | None = None,
) -> int:
    """Fetch only this artifact's objects, refuse unsafe ones, check out, verify every hash.

    Returns the number of objects fetched. A work-tree copy that differs from the manifest is
    an error (exit 1) unless `force`, which restores it, and the DVC cache object it was linked
    to when that was altered too (said in `repaired`). Every file is hashed once (or, with
    `records` and not `full`, trusted by its verification record while unchanged).
    """
    check_signature(root, resolved, records)  # before any byte is fetched
    found = pointers(root, resolved)
    compared = compare_files(resolved.folder.path(root), resolved.files, progress, records, full)
    missing, bad = compared.missing, [rel for rel, _ in compared.mismatched]
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
        check_exact(root, resolved)
        return 0  # every file was just checked against the manifest (signature checked first)
    retired = _retired(root, resolved) if missing else None
    if retired is not None:  # DVC skips its pointers (.dvcignore), warning "failed to collect"
        raise retired
    if bad:  # a linked file changed in place changes its cache object: DVC would trust that
        fixed = repair.cache_objects(
            root, resolved.folder.path(root), {rel: resolved.files[rel] for rel in bad},
            resolved.dvc_files, remote,
        )  # fmt: skip
        (repaired if repaired is not None else []).extend(r.describe() for r in fixed)
    in_remote = _local_remote_copies(root, resolved, missing, remote)
    try:
        try:
            fetched = dvcremote.fetch_checked_checkout(root, found, remote=remote)
        except ToolError:
            _explain_checkout_failure(root, resolved, found)
            raise
    except (NotFoundError, ToolError) as exc:
        retired = _retired(root, resolved)
        if retired is not None:
            raise retired from exc
        discarded = [(rel, obj) for rel, obj in in_remote.items() if not obj.is_file()]
        if discarded:
            raise IntegrityError(
                "; ".join(
                    f"{resolved.folder.relpath}/{rel}: the remote holds altered bytes for md5 "
                    f"{obj.parent.name}{obj.name} ({obj}): DVC found their hash wrong and "
                    "removed them from the remote while fetching"
                    for rel, obj in discarded
                ),
                hint="push the right bytes from a clone that has them (`dvc push`), then "
                "pull again",
            ) from exc
        raise
    verify(root, resolved, progress, records=records)
    return fetched


def _explain_pending(root: Path, exc: NotFoundError) -> None:
    """A change interrupted before its tags (a killed release) is what a pending journal
    records: then what is not found yet is completed by `artreg recover`, so the hint says so."""
    with contextlib.suppress(ArtregError, OSError):
        if (state_dir(root) / "transaction.json").exists() and lock_holder(root) is None:
            exc.hint = (
                "an artreg command was interrupted mid-change (its tags may be missing): run "
                "`artreg recover`, then ask again"
            )


def check_exact(root: Path, resolved: Resolved) -> None:
    """Raise IntegrityError when the model folder served holds a file the manifest does not
    list (a loader would read it too)."""
    folder = resolved.folder
    served = exact_folder.served_folder(folder.stage, resolved.primary, resolved.files)
    if served is not None:
        target, listed = served
        exact_folder.check(
            folder.path(root) / target,
            listed,
            f"{folder.relpath}/{target}",
            "remove it: a model folder holds only what its manifest vouches for "
            "(`artreg verify` lists every such file)",
        )


def _local_remote_copies(
    root: Path, resolved: Resolved, missing: list[str], remote: str | None
) -> dict[str, Path]:
    """Each missing file's object in a local DVC remote, where it is now: DVC deletes such an
    object when its hash is wrong, so one gone after a failed fetch held altered bytes (told
    apart from one never pushed without hashing anything twice)."""
    found: dict[str, Path] = {}
    base = resolved.folder.path(root)
    for rel in missing:
        if rel not in resolved.dvc_files:
            continue
        obj = dvccache.cached_object(root, base, rel)
        copy = dvcremote.local_remote_object(root, obj, remote) if obj is not None else None
        if copy is not None and copy.is_file():
            found[rel] = copy
    return found


def _retired(root: Path, resolved: Resolved) -> NotFoundError | None:
    """The error for a folder gc retired (its objects were deleted on purpose), else None."""
    tomb = read_retired(root).get(resolved.folder.relpath)
    if tomb is None:
        return None
    return NotFoundError(
        f"{tomb.message} ({tomb.by}); its data is no longer in the DVC remote",
        hint=f"use {_instead(root, resolved)} instead; its tags and files in git remain for "
        "the record",
    )


def _instead(root: Path, resolved: Resolved) -> str:
    """Another version of the name to use, named as a URL's refusal names it (pins.py)."""
    registry = state.load(root, [resolved.name], folders="none")
    found = served_instead(registry, resolved.name, resolved.version)
    if found is not None:
        return f"{found[0]} ({found[1]})"
    return "a version the policy keeps (`artreg gc` lists them)"


def _explain_checkout_failure(root: Path, resolved: Resolved, found: list[str]) -> None:
    """DVC refused to check out: say which cached object is missing or altered, with hashes."""
    for rel, expected in resolved.files.items():
        if rel not in resolved.dvc_files:
            continue
        obj = dvccache.cached_object(root, root / resolved.folder.relpath, rel)
        where = f"{resolved.folder.relpath}/{rel}"
        if obj is None or not obj.is_file():
            # DVC treats an altered object in a local remote as missing; look, to say which.
            remote_obj = dvcremote.local_remote_object(root, obj) if obj is not None else None
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
    fetch: bool = True,
) -> list[Path]:
    """Copy the artifact's model file(s) to `out`, verified (like `dvc artifacts get`: a model
    folder's files go into `out` itself).

    Every target is checked before anything is fetched or written, so a refusal leaves no
    partial copy and no pulled files behind; the copy goes through a staging folder in `out`
    (outputs.py). Absent bytes are pulled unless `fetch` is False.
    """
    targets = export_targets(out, resolved.primary, resolved.files, work_tree=root)
    if not fetch:
        absent = [rel for rel in targets if not (resolved.folder.path(root) / rel).is_file()]
        if absent:
            raise NotFoundError(
                f"{resolved.folder.relpath}/{absent[0]}: not pulled, and --no-fetch forbids "
                "fetching it",
                hint=f"run `artreg pull {resolved.name}"
                + (f"@v{resolved.version}" if resolved.version else f"#{resolved.stage}")
                + "` (or leave out --no-fetch)",
            )
    pull(root, resolved, remote=remote, progress=progress)
    return copy_verified(resolved.folder.path(root), targets, resolved.files, progress, out=out)


def export_all(
    root: Path,
    resolved: Mapping[str, Resolved],
    out: Path,
    remote: str | None = None,
    progress: ProgressFn | None = None,
    fetch: bool = True,
) -> dict[str, list[Path]]:
    """`get --with-requirements`: each artifact's model into `out/NAME/` (what `get NAME -o
    out/NAME` writes), verified. Every target is checked first and every artifact pulled before
    anything is copied; then all are written as one: every file, or none."""
    targets = {
        name: outputs.targets(out / name, r.primary, r.files) for name, r in resolved.items()
    }
    expected = {t: r.files[rel] for n, r in resolved.items() for rel, t in targets[n].items()}
    outputs.check(out, [t for each in targets.values() for t in each.values()], root, expected)
    for name, r in resolved.items():
        if not fetch:
            absent = [rel for rel in targets[name] if not (r.folder.path(root) / rel).is_file()]
            if absent:
                raise NotFoundError(
                    f"{r.folder.relpath}/{absent[0]}: not pulled, and --no-fetch forbids "
                    "fetching it",
                    hint=f"run `artreg pull {r.name} --with-requirements` (or leave out --no-fetch)",
                )
        pull(root, r, remote=remote, progress=progress)
    copies = [
        (r.folder.path(root) / rel, target, r.files[rel])
        for name, r in resolved.items()
        for rel, target in targets[name].items()
    ]
    written = iter(outputs.write_verified(out, copies, progress))
    return {name: [next(written) for _ in targets[name]] for name in resolved}
