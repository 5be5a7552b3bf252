"""A clone's own reads: resolve a name to a folder and model file by the tags, check the
folder's signature against the trust policy committed at HEAD, verify it in place. Fetching
its bytes (pull) and exporting them is clone_pull.py, which `show` never loads.

Reading never runs GTO or imports dvc: one `git for-each-ref` gives the state, one `git show`
reads the manifest *as committed at the tag*, so a manifest edited in the work tree cannot vouch
for altered bytes. DVC is imported only when bytes must be fetched. `clone.CloneSource` (through
`clone_reads`) and the URL source (over its cache repository) call these.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from artreg.adapters import schemas
from artreg.adapters.files import parse_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import FileDigest, ProgressFn, compare_files
from artreg.artifacts.signing.verify import describe
from artreg.errors import ArtregError, IntegrityError, NotFoundError
from artreg.reading import exact_folder, trust_ratchet
from artreg.reading.cache import records_root
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
        retired = retired_error(root, resolved) or absent_from_checkout(root, resolved)
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


def _explain_pending(root: Path, exc: NotFoundError) -> None:
    """A change interrupted before its tags (a killed release) is what a pending journal
    records: then what is not found yet is completed by `artreg recover`, so the hint says so."""
    # Start-up time: the write side (the transaction journal) loads only for this refusal
    from artreg.publishing.transaction import lock_holder, state_dir

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


def retired_error(root: Path, resolved: Resolved) -> NotFoundError | None:
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
