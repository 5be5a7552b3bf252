"""The registry as it was at a moment (`list --as-of`, `as_of=`): DATE, an ISO time,
@UNIX_SECONDS or a commit, and the tags whose creator date is at or before it, folded by GTO's
rules (`fold`). A clone's read (its own tags, its commits), so it sits with the sources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from artreg.adapters.git import read as gitread
from artreg.adapters.git import tagstream
from artreg.errors import InputError
from artreg.registry import state
from artreg.registry.fold import fold
from artreg.registry.records import Event, Registry, iso

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


@dataclass(frozen=True)
class Moment:
    """A point in time a query is answered at, and what the user gave for it."""

    timestamp: int
    given: str
    commit: str | None = None

    def describe(self) -> str:
        if self.commit:
            return f"{iso(self.timestamp)}, the date of commit {self.commit[:12]}"
        return iso(self.timestamp)


def parse_moment(root: Path, when: str | datetime) -> Moment:
    """DATE (YYYY-MM-DD: the end of that day, UTC), an ISO 8601 date and time (UTC unless it
    says otherwise), `@UNIX_SECONDS`, or a COMMIT (its committer date)."""
    if isinstance(when, datetime):
        moment = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        return Moment(int(moment.timestamp()), moment.isoformat())
    text = when.strip()
    hint = (
        "give YYYY-MM-DD (the end of that day, UTC), an ISO 8601 date and time such as "
        "2024-05-01T12:00:00Z, @UNIX_SECONDS, or a commit (sha, branch or tag)"
    )
    if text.startswith("@") and text[1:].isdigit():
        return Moment(int(text[1:]), text)
    if _DATE.match(text) or _DATETIME.match(text):
        try:
            if _DATE.match(text):
                day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
                return Moment(int(day.timestamp()) + 86399, text)
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise InputError(f"--as-of {when!r}: not a valid date or time", hint=hint) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return Moment(int(parsed.timestamp()), text)
    found = gitread.commit_time(root, text)
    if found is None:
        raise InputError(
            f"--as-of {when!r}: neither a date nor a commit of the registry at {root}", hint=hint
        )
    return Moment(found[1], text, commit=found[0])


def state_as_of(events: Sequence[Event], timestamp: int, partial: bool = False) -> Registry:
    """The registry from the tags that existed at `timestamp` (creator date <= it)."""
    return fold([e for e in events if e.timestamp <= timestamp], partial=partial)


def load_as_of(
    root: Path, when: str | datetime, names: Sequence[str] | None = None
) -> tuple[Registry, Moment]:
    """The registry at `root` (of all names, or `names`) as of `when`, with the folders of its
    current stages resolved, as `state.load` leaves them."""
    moment = parse_moment(root, when)
    out = gitread.for_each_ref(root, tagstream.FOR_EACH_REF_FORMAT, names)
    registry = state_as_of(state.parse_for_each_ref(out), moment.timestamp, partial=bool(names))
    state.complete(root, registry, "current")
    return registry, moment
