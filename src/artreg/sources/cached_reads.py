"""Which whole-registry reads (`list`, `history NAME`) the consumer cache can answer offline: an
online read of a registry URL records here when it last read every tag (`list`) or a name's
tags with the registry's history (`history`, `log`), so an offline one answers from that copy,
saying as of when, and refuses truthfully otherwise."""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

_FILE = "artreg-reads.json"  # in the cache's repository of the registry, next to its tags


def remember(repo: Path, what: str) -> None:
    """Record that `what` ("list", "history:NAME") was just read online into `repo`."""
    seen = _load(repo)
    seen[what] = time.time()
    tmp = repo / f".{_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(seen, sort_keys=True))
    os.replace(tmp, repo / _FILE)  # whole or not at all, whatever else reads it


def recalled(repo: Path, what: str) -> str | None:
    """When `what` was last read online into `repo` (UTC, to the minute), or None if never."""
    at = _load(repo).get(what)
    if at is None:
        return None
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M")


def _load(repo: Path) -> dict[str, float]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((repo / _FILE).read_text())
        if isinstance(data, dict):
            return {str(k): float(v) for k, v in data.items()}
    return {}
