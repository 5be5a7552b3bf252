"""artreg's one file lock: flock(2) on an open descriptor, for the registry's transaction, the
consumer cache, consumer lock-file writes and `get`'s staging folders.

flock, not a lock file's existence: the kernel releases it when the holder dies (kill -9
included), so there is no stale lock to detect and no race in taking one over. The file stays in
place; what it holds is the holder's business (the registry lock writes who holds it).
filelock is not used: it has no shared lock and cannot lock a folder, and it truncates the file
at each attempt, which would erase the holder's note that a waiting command reports.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL = 0.1  # seconds between attempts while waiting a bounded time


class Busy(Exception):
    """Another process held the lock for the whole wait."""


@contextmanager
def hold(
    path: Path,
    *,
    shared: bool = False,
    wait: float | None = None,
    create: bool = True,
    mode: int = 0o644,
    cannot_open: Callable[[OSError, Path], Exception] | None = None,
) -> Iterator[int]:
    """Hold an flock on `path` for the block and yield its descriptor (open for writing when
    `create`: the file is made if needed; else read-only, as a folder must be). `wait` None
    waits as long as it takes; a number of seconds (0: one attempt) then raises Busy. An error
    opening `path` becomes `cannot_open(error, path)` when given."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT if create else os.O_RDONLY, mode)
    except OSError as exc:
        if cannot_open is None:
            raise
        raise cannot_open(exc, path) from exc
    try:
        _acquire(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, wait)
        yield fd
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def is_held(path: Path) -> bool:
    """Whether another process holds `path`'s lock right now (a missing file is not held)."""
    try:
        with hold(path, wait=0, create=False):
            return False
    except Busy:
        return True
    except FileNotFoundError:
        return False


def _acquire(fd: int, kind: int, wait: float | None) -> None:
    if wait is None:
        fcntl.flock(fd, kind)
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise Busy(fd) from None
            time.sleep(POLL)
