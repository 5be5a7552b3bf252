"""A registry clone. A read whose last answer stands (clone_warm.py: one `git for-each-ref`, a
record, the cached trust record, a stat per file) is answered here; everything else is read the
full way by clone_reads.py (list), clone_show.py (show) or clone_serve.py (bytes), which this
module loads only then: a warm `get_artifact_path` costs what it costs from a URL's cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from artreg.registry import clone_history
from artreg.sources.base import Entry, Exported, Listing, Served, ServeOptions

if TYPE_CHECKING:
    from artreg.reading.trust_ratchet import Accepted
    from artreg.sources.clone_reads import CloneReads
    from artreg.sources.clone_serve import CloneServe
    from artreg.sources.clone_show import CloneShow
    from artreg.sources.listing import ArtifactSummary


class CloneSource:
    """A clone's work tree (`fetch` False: --no-fetch or offline, nothing crosses the network)."""

    kind = "clone"

    def __init__(self, root: Path, cache_dir: Path | str | None, fetch: bool = True) -> None:
        self.root: Path | None = root
        self.path = root
        self.label = str(root)
        self.cache_dir = cache_dir
        self.fetch = fetch
        self.notes: list[str] = []
        self._reads: CloneReads | None = None
        self._shown: CloneShow | None = None
        self._serving: CloneServe | None = None

    # Start-up time: each part of the full read path loads only for the commands that run it
    # (the only imports of this module inside functions, with clone_warm's in `serve`): the
    # fold for `list`, resolving and signatures for `show`, the DVC layer and verification for
    # a read that serves bytes (and for the trust record, `trust accept`).
    def _cold(self) -> CloneReads:
        if self._reads is None:
            from artreg.sources.clone_reads import CloneReads

            self._reads = CloneReads(self.path, self.cache_dir, self.fetch)
        return self._reads

    def _show(self) -> CloneShow:
        if self._shown is None:
            from artreg.sources.clone_show import CloneShow

            self._shown = CloneShow(self.path)
        return self._shown

    def _serve(self) -> CloneServe:
        if self._serving is None:
            from artreg.sources.clone_serve import CloneServe

            self._serving = CloneServe(self.path, self.cache_dir, self.fetch)
        return self._serving

    def prepare(self, tags: bool = True) -> str | None:
        """Fetch what a shallow or (with `tags`) tagless clone lacks; the note saying so."""
        return clone_history.complete_history(self.path, fetch=self.fetch, check_tags=tags)

    def accept_trust(self) -> Accepted:
        return self._serve().accept_trust()

    def address(self) -> str:
        return str(self.path)  # a lock file pins it by its file:// URL (sources.lock.add)

    def overview(self, *, deprecated: bool = False, as_of: str | None = None) -> Listing:
        return self._cold().overview(deprecated=deprecated, as_of=as_of)

    def show(self, name: str) -> ArtifactSummary:
        return self._show().show(name)

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        return self._show().entry(name, stage, version)

    def serve(
        self, name: str, stage: str | None, version: str | None, *, options: ServeOptions
    ) -> dict[str, Served]:
        """The clone's last answer when it stands and its files are intact; else each resolved
        folder pulled (or, without `options.pull`, verified where it is), and the answer
        recorded for the next call."""
        # Start-up time: the consumer cache, hashing and the trust record load only for a
        # read that serves bytes (`list` and `show` never use a last answer).
        from artreg.sources import clone_warm

        last = clone_warm.last_answer(self.path, self.cache_dir, name, stage, version, options)
        if last is not None:
            warm = last.served(last.cache_root if options.records else None, options.full)
            if warm is not None:
                return {name: warm}
        served = self._serve().serve(name, stage, version, options=options)
        if last is not None:
            last.save(served[name].resolved)
        result: dict[str, Served] = dict(served)
        return result

    def export(
        self, name: str, stage: str | None, version: str | None, out: Path, *, options: ServeOptions
    ) -> Exported:
        return self._serve().export(name, stage, version, out, options=options)

    def cached(self, name: str, stage: str | None, version: str | None) -> bool:
        return self._serve().cached(name, stage, version)

    def history_root(self, name: str | None, files: bool = False) -> Path:
        return self.path  # its history completed by `prepare`
