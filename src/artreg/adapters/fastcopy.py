"""Copies that the kernel makes (a reflink, else `copy_file_range`, else `sendfile`), never a
read-write loop in Python, and the link types that let a registry write each byte once.

A DVC remote that is a folder on this machine gets its objects from the cache this way before
DVC's push runs (artreg.adapters.dvc.remote.push), so DVC finds them there and transfers nothing itself:
DVC copies large files through Python, a block at a time. Nothing here imports DVC; the object
databases are DVC's own, passed in.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

# What `artreg init` writes into `.dvc/config` (DVC's `cache.type`): the work tree's file shares
# the cache object's bytes (a reflink where the file system has them, else a hard link), and
# DVC keeps both read-only; a copy only where neither works (another file system).
LINKED_CACHE = "reflink,hardlink,copy"
LINKING = frozenset({"hardlink", "symlink"})  # link types every local file system has
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_STEP = 1 << 30  # bytes per copy_file_range/sendfile call (each is one system call)


def advice(types: Sequence[str]) -> str | None:
    """What `artreg doctor` suggests for a registry whose `cache.type` copies each file where
    the file system cannot clone blocks (ext4, for one): None when it names a link type."""
    if any(t in LINKING for t in types):
        return None
    return (
        f"cache.type is {','.join(types)}, which copies where blocks cannot be cloned: each "
        "release then writes every byte twice (work tree and DVC cache); `dvc config cache.type "
        f"{LINKED_CACHE}` and committing .dvc/config writes it once (DVC keeps linked files "
        "read-only; see README)"
    )


def kernel_copy(src: Path | str, dst: Path | str) -> str:
    """Copy `src` to the new file `dst` without the bytes passing through Python: a reflink
    (shares the blocks) where the file system can, else `copy_file_range`, else `sendfile`.
    Returns which one did it."""
    fin = os.open(src, os.O_RDONLY)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            return _copy_fds(fin, fout, os.fstat(fin).st_size)
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _copy_fds(fin: int, fout: int, size: int) -> str:
    steps = [how for how, _, _ in copy_steps(fin, fout, size, _STEP)]
    return steps[-1] if steps else "copy_file_range"


def copy_steps(fin: int, fout: int, size: int, step: int) -> Iterator[tuple[str, int, int]]:
    """Copy `size` bytes from the start of descriptor `fin` to the start of `fout` in the
    kernel (a reflink of the whole file, else `copy_file_range`, else `sendfile`, `step` bytes a
    call), yielding (how, offset, count) as each part lands, so a reader can follow the copy."""
    try:
        fcntl.ioctl(fout, FICLONE, fin)
        yield "reflink", 0, size
        return
    except OSError:
        pass
    how = "copy_file_range"
    done = 0
    while done < size:
        try:
            if how == "copy_file_range":
                n = os.copy_file_range(fin, fout, min(step, size - done), done, done)
            else:
                n = os.sendfile(fout, fin, done, min(step, size - done))
        except OSError as exc:
            # EXDEV (another file system on older kernels), ENOSYS, EOPNOTSUPP, EINVAL: the
            # file systems cannot do it; sendfile (copying in the kernel) always can.
            if how == "sendfile" or exc.errno not in _UNSUPPORTED:
                raise
            how = "sendfile"
            os.lseek(fout, done, os.SEEK_SET)
            continue
        if n == 0:
            raise OSError(errno.EIO, f"the source shrank while being copied (at byte {done})")
        yield how, done, n
        done += n


_UNSUPPORTED = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM})


def seed_objects(source: Any, target: Any, oids: Iterable[str]) -> int:
    """Copy each object `source` holds and `target` lacks (both DVC local object databases: a
    cache and a remote folder) by `kernel_copy`, read-only and under DVC's folder modes, each
    renamed into place only when complete. Returns how many were copied."""
    copied = 0
    for oid in sorted(set(oids)):
        src, dst = source.oid_to_path(oid), target.oid_to_path(oid)
        if not os.path.isfile(src) or os.path.exists(dst):
            continue  # DVC's push reports what the cache lacks; what the remote has stays
        target.makedirs(os.path.dirname(dst))
        tmp = f"{dst}.{os.urandom(8).hex()}.tmp"
        try:
            kernel_copy(src, tmp)
            target.protect(tmp)  # read-only, as DVC keeps the objects it pushes
            os.replace(tmp, dst)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        copied += 1
    return copied
