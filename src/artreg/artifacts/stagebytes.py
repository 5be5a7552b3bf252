"""A committed stage folder's bytes, verified: the work-tree copy, else the DVC cache object,
else exactly that object fetched from the DVC remote, each hashed against the manifest as
committed. The one fetch-and-verify every reader and writer of stage bytes goes through (a
clone's pull and export, promotion, verify, bundles, OCI export); it knows DVC's layout and the
stage folders, nothing of tags or of where the registry was read from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from artreg.adapters import repair
from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.dvc import repo as dvcrepo
from artreg.adapters.hashing import ProgressFn, Recorded, compare_files, hash_files
from artreg.errors import IntegrityError, NotFoundError
from artreg.registry.layout import StageDir


def stage_file(
    root: Path,
    folder: StageDir,
    rel: str,
    expected: Recorded,
    *,
    dvc: bool,
    fetch: bool = True,
    remote: str | None = None,
    progress: ProgressFn | None = None,
    check: bool = True,
) -> Path:
    """The verified bytes of file `rel` of a committed stage folder: its work-tree copy, else
    its DVC cache object, fetched (exactly that object) from the remote when the cache lacks it.
    With `check=False` the bytes are not hashed here: the caller copies them through the one
    copy-and-hash pass and compares that digest with `expected` (modelfolder.build).

    The one fetch-and-verify every command that reads stage bytes goes through. `expected` comes
    from the manifest as committed, so the bytes returned match what was promoted. Nothing is
    written to the work tree: a command that refuses later leaves the checkout as it was.
    With `fetch=False` an absent file is refused with the command that fetches it.
    """
    where = f"{folder.relpath}/{rel}"
    path = folder.path(root) / rel
    if path.is_file():
        if not check:
            return path
        for _, actual in compare_files(folder.path(root), {rel: expected}, progress).mismatched:
            raise IntegrityError(
                f"{where}: sha256 is {actual.sha256}, the manifest records {expected.sha256}",
                hint=repair.restore_hint(root, folder.path(root), rel),
            )
        return path
    if not dvc:
        raise NotFoundError(
            f"{where}: listed in the manifest but missing from the work tree (git tracks it)",
            hint=f"restore it with `git checkout -- {where}`",
        )
    cache = _dvc_cache(root)
    obj = dvccache.cached_object(root, folder.path(root), rel, cache)
    if obj is None or not obj.is_file():
        if not fetch:
            raise NotFoundError(
                f"{where}: its bytes are in neither the work tree nor the DVC cache, and "
                "--no-fetch forbids fetching them",
                hint=f"run `dvc fetch {where}` (or leave out --no-fetch), then run the command again",
            )
        dvcremote.fetch_objects(root, [where], remote=remote)
        obj = dvccache.cached_object(root, folder.path(root), rel, cache)
        if obj is None or not obj.is_file():
            raise NotFoundError(
                f"{where}: its object is in neither the DVC cache nor the remote",
                hint="push it from a clone that has it (`dvc push`), then run the command again",
            )
    if not check:
        return obj
    got = hash_files([obj], progress)[0]
    if got.sha256 != expected.sha256 or got.size != expected.size:
        raise IntegrityError(
            f"{where}: the DVC cache object {obj} has sha256 {got.sha256}, "
            f"the manifest records {expected.sha256}",
            hint=f"delete {obj} and run the command again; if the remote's copy is altered "
            "too, push the right bytes from a clone that has them",
        )
    return obj


# The DVC cache folder of a registry, by the state of its DVC configuration files: stage_file
# runs for every file of a folder, and asking DVC opens its repository each time.
_CACHES: dict[tuple[Path, tuple[int, int, int] | None, tuple[int, int, int] | None], Path] = {}


def _dvc_cache(root: Path) -> Path:
    """`dvccache.cache_dir(root)`, asked again only when `.dvc/config` or its `.local` changed."""

    def stamp(path: Path) -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    config = root / dvcrepo.DVC_DIR / "config"
    key = (root.absolute(), stamp(config), stamp(config.with_name("config.local")))
    found = _CACHES.get(key)
    if found is None:
        if len(_CACHES) >= 16:
            _CACHES.clear()
        found = _CACHES[key] = dvccache.cache_dir(root)
    return found


def prefetch(
    root: Path, folder: StageDir, files: Mapping[str, Recorded], dvc: Collection[str]
) -> None:
    """Fetch in one DVC call the objects of those `files` of a committed folder (DVC-tracked:
    in `dvc`) that are in neither the work tree nor the cache, so that `stage_file` then
    finds each without fetching one at a time."""
    base = folder.path(root)
    tracked = [rel for rel in files if rel in dvc and not (base / rel).is_file()]
    if not tracked:
        return
    cache = _dvc_cache(root)
    absent = []
    for rel in tracked:
        obj = dvccache.cached_object(root, base, rel, cache)
        if obj is None or not obj.is_file():
            absent.append(f"{folder.relpath}/{rel}")
    if absent:
        dvcremote.fetch_objects(root, absent)
