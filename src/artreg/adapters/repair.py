"""Repairing a DVC cache object that a linked work-tree file shares.

Registries `artreg init` makes link the work tree to DVC's cache (`cache.type:
reflink,hardlink,copy`): a work-tree file may be the cache object's inode (or a symlink to
it). Made writable and changed in place, the file changes the object too, and every other
stage folder linked to it; DVC trusts an object that is read-only again and reports nothing
(`dvc status -c` says in sync, `dvc pull --force` up to date). So when a work-tree file was
found altered, the object is hashed (only then: nothing is hashed when nothing is wrong); a
bad object is removed with every work-tree file linked to it, fetched again from the remote,
checked against the committed md5 and sha256, and linked back where it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.dvc import repo as dvcrepo
from artreg.adapters.hashing import FileDigest, copy_and_hash
from artreg.errors import IntegrityError, NotFoundError


def linked_files(root: Path, obj: Path) -> list[Path]:
    """Every work-tree file of the registry at `root` that is the cache object `obj` itself: a
    hard link to its inode, or a symlink resolving to it (none when the object is absent)."""
    try:
        target = obj.stat()
    except OSError:
        return []
    key, real = (target.st_dev, target.st_ino), os.path.realpath(obj)
    wanted = target.st_nlink - 1  # the object's own name is not in the work tree
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        if folder == str(root):  # not .git, .dvc (DVC's cache, state) nor a remote folder there
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                if os.path.realpath(path) == real:
                    found.append(Path(path))
            elif (st.st_dev, st.st_ino) == key:
                found.append(Path(path))
                wanted -= 1
                if wanted <= 0 and not _may_symlink(root):
                    return found
    return found


def _may_symlink(root: Path) -> bool:
    return "symlink" in dvcrepo.cache_types(root)


def shares_object(root: Path, folder: Path, rel: str) -> Path | None:
    """The cache object that work-tree file `rel` of `folder` is (same inode, or a symlink to
    it), else None: a change to such a file is a change to the object. One stat each."""
    path = folder / rel
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_nlink < 2 and not path.is_symlink():
        return None
    obj = dvccache.cached_object(root, folder, rel)
    try:
        same = obj is not None and os.path.samefile(obj, path)
    except OSError:
        return None
    return obj if same else None


def restore_hint(root: Path, folder: Path, rel: str) -> str:
    """How to restore altered work-tree file `rel` of `folder`: `dvc checkout`, unless the file
    is its cache object (altered with it, which DVC trusts while it is read-only)."""
    where = (folder / rel).relative_to(root).as_posix()
    obj = shares_object(root, folder, rel)
    if obj is None:
        return f"the file was altered after its promotion; restore it with `dvc checkout {where}`"
    return (
        f"the file was altered after its promotion, and with it the DVC cache object {obj} it "
        "is linked to (which `dvc checkout` trusts): run `artreg pull --force` for a version or "
        "stage holding it (`artreg pull NAME@vX.Y.Z --force`, `artreg pull NAME#validated "
        "--force`), which fetches the object again and re-links every file"
    )


@dataclass(frozen=True)
class Repaired:
    """One cache object found altered, replaced by the remote's bytes and linked back."""

    where: str  # the file of the folder being pulled, repo-relative
    obj: Path
    relinked: tuple[str, ...]  # the work-tree files linked to it again, repo-relative

    def describe(self) -> str:
        """What `artreg pull` says it repaired."""
        others = [p for p in self.relinked if p != self.where]
        also = f"; also re-linked {', '.join(others)}" if others else ""
        return (
            f"{self.where}: the DVC cache object {self.obj} was altered with it (a linked "
            f"file changed in place); replaced it with the remote's verified bytes{also}"
        )


def cache_objects(
    root: Path,
    folder: Path,
    altered: Mapping[str, FileDigest],
    dvc_files: Collection[str],
    remote: str | None = None,
) -> list[Repaired]:
    """For the work-tree files `altered` of `folder` (each with the digest the committed
    manifest records), replace every cache object that does not hold those bytes: remove it and
    each work-tree file linked to it, fetch it again from the remote, check its md5 and sha256,
    and link those files back. A remote without good bytes is an IntegrityError (exit 1)."""
    repaired: list[Repaired] = []
    tracked = [rel for rel in altered if rel in dvc_files]
    if not tracked:
        return repaired
    cache = dvccache.cache_dir(root)
    for rel in tracked:
        obj = dvccache.cached_object(root, folder, rel, cache)
        if obj is None or not obj.is_file():
            continue  # nothing cached: DVC's fetch brings the object as for any pull
        expected = altered[rel]
        if _good(obj, expected):
            continue  # the file alone changed (a copy or a reflink): DVC's checkout restores it
        where = (folder / rel).relative_to(root).as_posix()
        linked = linked_files(root, obj)
        for path in linked:
            path.unlink()  # none keeps serving the altered bytes, whatever happens next
        obj.unlink()
        # absent from the remote, or altered there (left in place): refused just below
        with contextlib.suppress(NotFoundError, IntegrityError):
            dvcremote.fetch_objects(root, [where], remote=remote)
        if not obj.is_file() or not _good(obj, expected):
            obj.unlink(missing_ok=True)
            name = dvcremote.remote_name(root, remote) or "(none)"
            url = dvcrepo.remote_url(root, remote) or ""
            raise IntegrityError(
                f"{where}: the DVC cache object {obj} was altered with the work-tree file and "
                f"was removed, and the DVC remote {name} ({url}) does not hold good bytes "
                f"either (sha256 {expected.sha256}, md5 {obj.parent.name}{obj.name})",
                hint="push the right bytes from a clone that has them (`dvc push`), then run "
                "the command again; the files linked to the object were removed: "
                + ", ".join(p.relative_to(root).as_posix() for p in linked),
            )
        relinked = sorted(p.relative_to(root).as_posix() for p in linked)
        elsewhere = [p for p in linked if folder not in p.parents]  # the pull re-links its own
        pointers = sorted({pointer for p in elsewhere if (pointer := _pointer_of(root, p))})
        if pointers:
            dvcremote.fetch_checked_checkout(root, pointers, remote=remote)
        repaired.append(Repaired(where, obj, tuple(relinked)))
    return repaired


def _good(obj: Path, expected: FileDigest) -> bool:
    """Whether the object holds the committed bytes: its md5 is its own name (DVC's address)
    and its sha256 the manifest's, both from one read."""
    got = copy_and_hash(obj, None, md5=True)
    return (
        got.sha256 == expected.sha256
        and got.size == expected.size
        and got.md5 == obj.parent.name + obj.name
    )


def _pointer_of(root: Path, path: Path) -> str | None:
    """The repo-relative `.dvc` file tracking a work-tree file (its own, or its folder's)."""
    current = path
    while current != root and root in current.parents:
        pointer = current.with_name(current.name + ".dvc")
        if pointer.is_file():
            return pointer.relative_to(root).as_posix()
        current = current.parent
    return None
