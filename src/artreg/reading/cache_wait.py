"""Waiting for a consumer-cache lock, said and bounded: a download stalled on a slow remote (or
a stopped `get`) holds its snapshot's lock, and every other consumer of that version, and
`cache prune`, waits for it. Whoever waits is told who holds the lock (its pid, what it does:
the holder writes that into an exclusive lock's file) and gives up after ARTREG_CACHE_WAIT
seconds (default 600) with LockBusy (exit 4), as a writer does at the registry's lock.

The notice goes to whatever the entry point installs in `NOTICES` (the CLI: stderr, on a
terminal); the core never prints.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from artreg.adapters import locking, settings
from artreg.errors import InputError, LockBusy

ENV_CACHE_WAIT = "ARTREG_CACHE_WAIT"
DEFAULT_WAIT = 600.0

NOTICES: list[Callable[[str], None]] = []  # where "waiting for ..." goes (none: nowhere)


def cache_wait() -> float:
    """Seconds to wait for a consumer-cache lock (ARTREG_CACHE_WAIT, default 600)."""
    raw = settings.cache_wait()
    try:
        wait = float(raw) if raw else DEFAULT_WAIT
    except ValueError:
        wait = -1.0
    if not wait >= 0:  # also NaN
        raise InputError(
            f"{ENV_CACHE_WAIT}={raw!r} is not a number of seconds",
            hint=f"set {ENV_CACHE_WAIT} to how long to wait for another artreg process's "
            "cache lock (0: not at all), or unset it",
        )
    return wait


@contextmanager
def hold_cache_lock(
    path: Path,
    shared: bool,
    what: str,
    cannot_open: Callable[[OSError, Path], Exception] | None = None,
) -> Iterator[None]:
    """Hold `path`'s flock for the block (`what` it guards, said to a waiter); when another
    process holds it, say so and wait up to cache_wait() seconds, then raise LockBusy."""
    with ExitStack() as stack:
        try:
            fd = stack.enter_context(
                locking.hold(path, shared=shared, wait=0, cannot_open=cannot_open)
            )
        except locking.Busy:
            wait = cache_wait()
            who = _holder(path)
            for notice in NOTICES:
                notice(f"{who} holds the consumer cache's lock on {what}; waiting up to {wait:g} s")
            try:
                fd = stack.enter_context(
                    locking.hold(path, shared=shared, wait=wait, cannot_open=cannot_open)
                )
            except locking.Busy:
                raise LockBusy(
                    f"{path}: {who} held the consumer cache's lock on {what} for the whole "
                    f"{wait:g} s this command waited",
                    hint=f"let it finish (or stop it: killing it loses nothing), then run the "
                    f"command again; {ENV_CACHE_WAIT}=SECONDS waits longer",
                ) from None
        if not shared:  # one holder: its note names it to whoever waits
            os.ftruncate(fd, 0)
            # the name gethostname() gives, without loading socket into every command
            note = {"pid": os.getpid(), "host": os.uname().nodename, "since": time.time()}
            os.write(fd, json.dumps({**note, "what": what}).encode())
        yield


def _holder(path: Path) -> str:
    """Who holds `path`'s lock, as its note says (a shared lock's holders write none)."""
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        note = None
    if not isinstance(note, dict) or "pid" not in note:
        return "another artreg process"
    return f"another artreg process (pid {note['pid']} on {note.get('host', '?')})"
