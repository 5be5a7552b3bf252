"""A clone's model bytes fetched: only the objects of one folder from the DVC remote, checked
out and verified (`pull`, `get`, `resolve`), and exported. Apart from clone_fetch.py (resolve,
signatures, verify in place) so that reads that fetch nothing (`show`) load no DVC layer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from artreg.adapters import repair
from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import ProgressFn, compare_files, hash_files
from artreg.errors import IntegrityError, NotFoundError, ToolError
from artreg.reading import outputs
from artreg.reading.fetch import copy_verified, export_targets
from artreg.reading.resolve import Resolved
from artreg.sources import clone_fetch


def pointers(root: Path, resolved: Resolved) -> list[str]:
    """Repo-relative `.dvc` pointers of the folder, checked against the tag's commit."""
    folder = resolved.folder.path(root)
    absent = clone_fetch.absent_from_checkout(root, resolved)
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
    clone_fetch.check_signature(root, resolved, records)  # before any byte is fetched
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
        clone_fetch.check_exact(root, resolved)
        return 0  # every file was just checked against the manifest (signature checked first)
    retired = clone_fetch.retired_error(root, resolved) if missing else None
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
        retired = clone_fetch.retired_error(root, resolved)
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
    clone_fetch.verify(root, resolved, progress, records=records)
    return fetched


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
