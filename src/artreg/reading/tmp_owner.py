"""The consumer cache's temporary entries (`tmp/`: a download's partial file, a snapshot's
staging folder), each held under an flock (adapters.locking) by the process writing it, for as
long as it writes it: the kernel releases it when the process dies, kill -9 included. Making
an entry first removes every entry no live process holds (a killed download's leftovers).
Entries are made and swept under `locks/tmp.lock` (shared to make one, exclusive to sweep),
so a sweep never sees an entry between its creation and its lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from artreg.adapters import locking


@contextlib.contextmanager
def entry(tmp: Path, locks: Path, suffix: str, folder: bool = False) -> Iterator[Path]:
    """A new entry in `tmp` (an empty file, or a folder), held locked for the block, made
    after the leftovers of dead writers were removed."""
    locks.mkdir(parents=True, exist_ok=True)
    guard = locks / "tmp.lock"
    with contextlib.ExitStack() as stack:
        with locking.hold(guard, wait=None):
            sweep(tmp)
        with locking.hold(guard, shared=True, wait=None):
            path = tmp / f"{os.urandom(12).hex()}{suffix}"
            if folder:
                path.mkdir()
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            stack.enter_context(locking.hold(path, create=False))
        yield path


def sweep(tmp: Path) -> list[str]:
    """Remove every entry of `tmp` no process holds (callers hold `tmp.lock` exclusively);
    returns their names."""
    removed = []
    for path in sorted(tmp.iterdir()) if tmp.is_dir() else []:
        try:
            if locking.is_held(path):
                continue
        except OSError:
            pass  # unreadable: a leftover all the same
        _remove(path)
        removed.append(path.name)
    return removed


def _remove(path: Path) -> None:
    """Remove a file, or a staging folder (read-only once complete)."""
    if path.is_dir() and not path.is_symlink():
        for here, _dirs, _files in os.walk(path):
            os.chmod(here, stat.S_IRWXU)
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
