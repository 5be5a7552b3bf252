"""Lock files git left in a consumer cache's registry repository (`git/<key>.git`).

git guards its files with `<file>.lock` files it creates and removes itself; a git process
killed mid-fetch (Ctrl-C reaching artreg, which then kills the git it waits for; a kill -9)
leaves one behind, and every later fetch there fails. Every artreg process that runs git in
that repository holds the cache's "git" lock for it (sources/remote.py), so while this process
holds it no other artreg git process runs there: a git lock file found then is stale and is
removed, with a notice (`NOTICES`, installed by the CLI: stderr); one left by this process's
own interrupted git is removed before the interrupt goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

NOTICES: list[Callable[[str], None]] = []  # where "removed a stale lock file" goes

# Where git puts the lock files of a bare repository a fetch writes: the repository's own files
# (shallow, packed-refs, HEAD, config), its refs, and objects/info (commit-graph, alternates).
_TOP_LEVEL = ("", "objects/info")
_TREES = ("refs",)


def stale_locks(repo: Path) -> list[Path]:
    """Every git lock file (a regular file named *.lock) in the places git writes in `repo`."""
    found: list[Path] = []
    for rel in _TOP_LEVEL:
        try:
            with os.scandir(repo / rel) as entries:
                found += [Path(e.path) for e in entries if _is_lock(e)]
        except OSError:
            continue
    for rel in _TREES:
        for dirpath, _dirs, files in os.walk(repo / rel):
            found += [Path(dirpath, f) for f in files if f.endswith(".lock")]
    return sorted(found)


def _is_lock(entry: os.DirEntry[str]) -> bool:
    return entry.name.endswith(".lock") and entry.is_file(follow_symlinks=False)


def remove_stale(repo: Path) -> list[Path]:
    """Remove the lock files git left in `repo` (the caller holds the cache's git lock on it);
    returns those removed. One that cannot be removed stays: git's error then names it."""
    removed = []
    for path in stale_locks(repo):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue
        removed.append(path)
    return removed


@contextmanager
def owned(repo: Path) -> Iterator[None]:
    """The block runs git in `repo` while this process holds the cache's git lock on it: lock
    files a dead git process left are removed first (and said), and those of a git this block
    ran that an interrupt or error cut short are removed on the way out."""
    for path in remove_stale(repo):
        for notice in NOTICES:
            notice(
                f"removed {path}: a lock file git left when it was interrupted (no other "
                "artreg process works in that cache repository now)"
            )
    try:
        yield
    except BaseException:
        remove_stale(repo)  # the git child is dead by now: subprocess waits for it
        raise
