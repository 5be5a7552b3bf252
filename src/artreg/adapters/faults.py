"""Named points in the write path where a test can stop the process and kill it (SIGKILL).

With ARTREG_PAUSE_AT=<name>[:<n>] set, the n-th (default first) time the process reaches point
<name> it writes its pid to $ARTREG_PAUSE_FILE and sleeps, so that a second process can kill it
exactly there. With ARTREG_RAISE_AT=<name>, reaching it raises RuntimeError instead: an
unexpected bug at that point, for tests of the internal-error path (exit 3, nothing changed);
with ARTREG_RAISE_ERRNO=<code> too (e.g. ENOSPC), the OSError the system would raise there.
Unset (always, outside tests), a point costs two lookups of the environment (adapters.settings).
"""

from __future__ import annotations

import errno
import os
import time

from artreg.adapters import settings

_seen: dict[str, int] = {}


def point(name: str) -> None:
    """A place where a crash must leave a state that `artreg recover` can repair."""
    if settings.fault_raise_at() == name:
        code = getattr(errno, settings.fault_raise_errno() or "-", None)
        if code is not None:
            raise OSError(code, os.strerror(code))
        raise RuntimeError(f"injected fault at {name}")
    target = settings.fault_pause_at()
    if target is None:
        return
    wanted, nth = target
    if wanted != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] != nth:
        return
    marker = settings.fault_pause_file()
    if marker:
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
    time.sleep(60)  # the test kills us here; if it does not, carry on (it will notice)
