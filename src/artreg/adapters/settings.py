"""Every `ARTREG_*` environment variable artreg reads, each parsed by one function here.

Functions, not module constants: a variable is read when it is asked for (tests set them with
`monkeypatch.setenv`, and nothing happens at import time). Only this module reads `ARTREG_*`
from `os.environ` (tests/e2e/test_structure.py checks it); it imports nothing of artreg.
"""

from __future__ import annotations

import os


def approved_by() -> str | None:
    """$ARTREG_APPROVED_BY: who approved a release, as CI names them (unparsed; None if unset)."""
    return os.environ.get("ARTREG_APPROVED_BY")


def fault_raise_at() -> str | None:
    """$ARTREG_RAISE_AT: the fault point (artreg.adapters.faults) at which to raise, for tests."""
    return os.environ.get("ARTREG_RAISE_AT")


def fault_raise_errno() -> str | None:
    """$ARTREG_RAISE_ERRNO: the errno name (e.g. ENOSPC) of the OSError to raise there."""
    return os.environ.get("ARTREG_RAISE_ERRNO")


def fault_pause_at() -> tuple[str, int] | None:
    """$ARTREG_PAUSE_AT=<name>[:<n>]: the fault point at which to pause, and at which time the
    process reaches it (default the first); None when unset or empty."""
    target = os.environ.get("ARTREG_PAUSE_AT")
    if not target:
        return None
    wanted, sep, nth = target.rpartition(":")
    if not sep or not nth.isdigit():
        wanted, nth = target, "1"
    return wanted, int(nth or 1)


def fault_pause_file() -> str | None:
    """$ARTREG_PAUSE_FILE: where a paused process writes its pid (None or empty: nowhere)."""
    return os.environ.get("ARTREG_PAUSE_FILE")
