"""Reading a verification record (written by artreg.adapters.hashing, where the rules are): the
sha256 a file hashed to while its stat stays what it was. Imports nothing but `os`, so a warm
read answered from records (artreg.sources.warm_memo) loads no hashing machinery."""

from __future__ import annotations

import os

RECORDS = "verified"


def state(st: os.stat_result) -> str:
    """What a record binds its sha256 to: size, mtime and ctime (the inode names the record)."""
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def record_path(records: str | os.PathLike[str], st: os.stat_result) -> str:
    """The record of the file with stat `st` under the cache folder `records`."""
    return os.path.join(records, RECORDS, f"{st.st_dev}-{st.st_ino}")


def recorded(records: str | os.PathLike[str], st: os.stat_result) -> str | None:
    """The sha256 recorded for the file with exactly this stat, if any."""
    try:
        with open(record_path(records, st), encoding="ascii") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return None
    found, _, sha = text.strip().rpartition(" ")
    return sha if found == state(st) and len(sha) == 64 else None
