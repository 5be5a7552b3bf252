"""The consumer cache alone (ARTREG_OFFLINE=1, or offline=True): the last answer recorded for a
registry, and the snapshot it served, whatever the registry was given as (a URL, a bare
repository's path, or a path that is gone); nothing crosses the network.

A clone's answers are recorded under its key too, so a clone that is gone still says what a name
resolved to; its files were the clone's own, never copied into the cache, and are refused as
such."""

from __future__ import annotations

import os
from pathlib import Path

from artreg.errors import NotFoundError
from artreg.reading.resolve import check_spec, selector
from artreg.sources.base import Entry, Exported, Pin, Served, ServeOptions, load_pin
from artreg.sources.url import UrlSource


class OfflineSource(UrlSource):
    """A registry read from the cache alone, by its key (`registry_key` of its URL or path)."""

    def __init__(self, url: str | os.PathLike[str], cache_dir: Path | str | None) -> None:
        super().__init__(url, cache_dir, offline=True)

    def _from_clone(self, name: str, stage: str | None, version: str | None) -> Pin | None:
        """The answer a clone at this path recorded for `name`, if that is what is recorded."""
        name, stage, version = check_spec(name, stage, version)
        cache = self.reg.cache
        data = cache.read_json(cache.resolution(self.reg.key, name, selector(stage, version)))
        return load_pin(data) if isinstance(data, dict) and data.get("source") == "clone" else None

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        pin = self._from_clone(name, stage, version)
        return Entry(pin, None) if pin is not None else super().entry(name, stage, version)

    def serve(
        self, name: str, stage: str | None, version: str | None, *, options: ServeOptions
    ) -> dict[str, Served]:
        pin = self._from_clone(name, None if version else stage, version)
        if pin is not None:
            raise NotFoundError(
                f"offline: {pin.spec} of {self.label} was last served from that clone's work "
                f"tree ({pin.folder}, {pin.tag}), and the clone is gone: the consumer cache "
                "keeps no copy of a clone's files",
                hint="restore the clone, or read the registry once online by its URL (the cache "
                "then keeps its files)",
            )
        return super().serve(name, stage, version, options=options)

    def export(
        self, name: str, stage: str | None, version: str | None, out: Path, *, options: ServeOptions
    ) -> Exported:
        if self._from_clone(name, None if version else stage, version) is not None:
            self.serve(name, stage, version, options=options)  # the refusal
        return super().export(name, stage, version, out, options=options)
