"""A registry clone listed the full way: tags by one `git for-each-ref`, the registry folded
(`list`). `show` (resolving folders, checking signatures) is clone_show.py; serving model bytes
(pull, verify, export) and the trust record, clone_serve.py: `clone.CloneSource` loads each
only for the commands that run it, and none when the clone's last answer stands."""

from __future__ import annotations

from pathlib import Path

from artreg.registry import clone_history
from artreg.sources.asof import load_as_of
from artreg.sources.base import Listing
from artreg.sources.listing import incomplete_clone, overview


class CloneReads:
    """A clone's listing (`fetch` False: nothing crosses the network)."""

    def __init__(self, root: Path, cache_dir: Path | str | None, fetch: bool = True) -> None:
        self.path = root
        self.cache_dir = cache_dir
        self.fetch = fetch

    def prepare(self, tags: bool = True) -> str | None:
        """Fetch what a shallow or (with `tags`) tagless clone lacks; the note saying so."""
        return clone_history.complete_history(self.path, fetch=self.fetch, check_tags=tags)

    def overview(self, *, deprecated: bool = False, as_of: str | None = None) -> Listing:
        # Whether the clone lacks its tags is asked only when the listing comes out empty:
        # asking first costs a second `git for-each-ref` over every tag.
        notes = [n for n in [self.prepare(tags=bool(as_of))] if n]
        registry, heading = None, ""
        if as_of:
            registry, moment = load_as_of(self.path, as_of)
            heading = f"as of {moment.describe()}\n"
        data = overview(self.path, registry=registry, deprecated=deprecated)
        if not data and not as_of:
            note = self.prepare()
            if note:
                notes.append(note)
                data = overview(self.path, deprecated=deprecated)
        incomplete = incomplete_clone(self.path, empty=not data)
        if incomplete:
            notes.append(f"{incomplete[0]}: run `{incomplete[1]}`")
        suffix = " in this clone" if incomplete and not data else ""
        return Listing(data, heading, suffix, notes)
