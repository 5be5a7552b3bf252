"""artreg's one file lock (adapters/locking.py), held by real processes: exclusive and shared,
a bounded wait that gives up, a folder, and a holder killed with SIGKILL leaving no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from artreg.adapters import locking
from artreg.errors import InputError

HOLDER = """
import sys, time
from pathlib import Path
from artreg.adapters.locking import hold
with hold(Path(sys.argv[1]), shared=sys.argv[2] == "shared", create=sys.argv[3] == "file"):
    print("held", flush=True)
    time.sleep(120)
"""


@contextmanager
def held_by_another_process(
    path: Path, shared: bool = False, folder: bool = False
) -> Iterator[subprocess.Popen[str]]:
    args = [path, "shared" if shared else "exclusive", "folder" if folder else "file"]
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, *map(str, args)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_held_lock_is_busy_after_the_wait_and_free_once_its_holder_is_killed(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "lock"
    with held_by_another_process(lock) as holder:
        assert locking.is_held(lock)
        started = time.monotonic()
        with pytest.raises(locking.Busy), locking.hold(lock, wait=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up runs: the kernel releases the lock
        holder.wait()
        assert not locking.is_held(lock)
        with locking.hold(lock, wait=0) as fd:
            os.write(fd, b"mine")
    assert lock.read_bytes() == b"mine"  # the file stays; what it says is the holder's business


def test_shared_holders_share_and_an_exclusive_one_waits_for_them(tmp_path: Path) -> None:
    lock = tmp_path / "cache.lock"
    with held_by_another_process(lock, shared=True):
        with locking.hold(lock, shared=True, wait=0):
            pass
        with pytest.raises(locking.Busy), locking.hold(lock, wait=0):
            pass
    with locking.hold(lock, wait=0):
        pass


def test_a_folder_is_locked_without_creating_anything_in_it(tmp_path: Path) -> None:
    folder = tmp_path / "consumer"
    folder.mkdir()
    with (
        held_by_another_process(folder, folder=True),
        pytest.raises(locking.Busy),
        locking.hold(folder, create=False, wait=0),
    ):
        pass
    assert list(folder.iterdir()) == []
    assert not locking.is_held(tmp_path / "missing")


def test_a_lock_that_cannot_be_opened_is_the_callers_error(tmp_path: Path) -> None:
    def unwritable(exc: OSError, path: Path) -> Exception:
        return InputError(f"{path}: cannot be written ({exc.strerror})")

    where = tmp_path / "no-such-folder" / "lock"
    with (
        pytest.raises(InputError, match="no-such-folder/lock: cannot be written"),
        locking.hold(where, cannot_open=unwritable),
    ):
        pass
