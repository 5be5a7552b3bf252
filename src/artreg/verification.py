"""Verification records: a file hashed once is trusted while its inode's stat is unchanged.

A record maps (device, inode) to the (size, mtime_ns, ctime_ns) the file had when it was hashed
and the sha256 found. Any write changes mtime and ctime, and ctime cannot be set from user space,
so an unchanged stat means unchanged bytes, except within the timestamp granularity of the file
system: like git's "racily clean" index entries, a file changed less than `RACY_NS` before it was
hashed gets no record, and the next call hashes it again. Records live in the consumer cache
(`$ARTREG_CACHE/verified`) and are shared by every process on the machine; they hold facts
(these bytes hash to this), never expectations, so a record of a tampered file fails fast too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from artreg.hashing import FileDigest, ProgressFn, hash_file

RECORDS = "verified"
RACY_NS = 2_000_000_000  # coarse file-system clocks tick in milliseconds; keep a wide margin


def _state(st: os.stat_result) -> str:
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def _record_path(root: Path, st: os.stat_result) -> Path:
    return root / RECORDS / f"{st.st_dev}-{st.st_ino}"


def recorded(root: Path, st: os.stat_result) -> str | None:
    """The sha256 recorded for the file with exactly this stat, if any."""
    try:
        text = _record_path(root, st).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    state, _, sha = text.strip().rpartition(" ")
    return sha if state == _state(st) and len(sha) == 64 else None


def remember(root: Path, st: os.stat_result, sha256: str) -> None:
    """Record that the file with stat `st` hashes to `sha256` (skipped for racy files)."""
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:
        return
    target = _record_path(root, st)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.urandom(12).hex()}.tmp")
        tmp.write_text(f"{_state(st)} {sha256}\n", encoding="ascii")
        os.replace(tmp, target)
    except OSError:
        pass  # an unwritable cache only costs the next call a rehash


def digest(
    path: Path, root: Path | None, full: bool = False, progress: ProgressFn | None = None
) -> FileDigest:
    """sha256 and size of `path`: from its record when the stat is unchanged (and not `full`),
    else hashed, and recorded when the file did not change while it was read."""
    st = os.stat(path)
    if root is not None and not full:
        sha = recorded(root, st)
        if sha is not None:
            return FileDigest(sha, st.st_size)
    got = hash_file(path, progress)
    if root is not None:
        after = os.stat(path)
        if (after.st_dev, after.st_ino, _state(after)) == (st.st_dev, st.st_ino, _state(st)):
            remember(root, after, got.sha256)
    return got


def digests(
    paths: list[Path],
    root: Path | None,
    full: bool = False,
    progress: ProgressFn | None = None,
) -> list[FileDigest]:
    """`digest` of many files; the ones that need hashing are hashed on every core."""
    if len(paths) <= 1:
        return [digest(p, root, full, progress) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(paths), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: digest(p, root, full, progress), paths))


def default_root() -> Path | None:
    """Where records live: the consumer cache; None when it cannot be used."""
    from artreg.consumer_cache import cache_root

    try:
        return cache_root()
    except Exception:  # no usable cache folder: hash every time, as before
        return None


def validate_once(kind: str, document: bytes, validate: Callable[[], None]) -> None:
    """Run `validate` (a schema check) unless these exact bytes passed it before on this
    machine: a committed manifest never changes, and importing the validator costs more than
    the rest of a warm call."""
    import hashlib

    from artreg import __version__

    root = default_root()
    key = hashlib.sha256(f"{kind} {__version__}\n".encode() + document).hexdigest()
    mark = None if root is None else root / "validated" / key
    if mark is not None and mark.is_file():
        return
    validate()  # raises on an invalid document: nothing is recorded then
    if mark is not None:
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()
        except OSError:
            pass
