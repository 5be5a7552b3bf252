"""A registry clone read the full way: tags by one `git for-each-ref`, manifests by `git show`
as committed at the tag, model bytes from the work tree, the DVC cache, or exactly their objects
fetched from the DVC remote (clone_fetch.py), verified in place. `clone.CloneSource` loads
this module only when the clone's last answer does not stand."""

from __future__ import annotations

from pathlib import Path

from artreg.adapters.dvc import remote as dvcremote
from artreg.errors import InputError, NotFoundError
from artreg.reading.cache import records_root
from artreg.reading.resolve import Resolved
from artreg.reading.trust_ratchet import Accepted, accept_clone
from artreg.registry import clone_history
from artreg.registry.tags import validate_name
from artreg.sources import clone_fetch
from artreg.sources.asof import load_as_of
from artreg.sources.base import Entry, Exported, Listing, Local, ServeOptions
from artreg.sources.listing import (
    ArtifactSummary,
    incomplete_clone,
    overview,
    show_artifact,
    show_entry,
)
from artreg.sources.promoted import check_as_promoted


class CloneReads:
    """The read commands over a clone's work tree (`fetch` False: nothing crosses the network)."""

    def __init__(self, root: Path, cache_dir: Path | str | None, fetch: bool = True) -> None:
        self.path = root
        self.cache_dir = cache_dir
        self.fetch = fetch

    def prepare(self, tags: bool = True) -> str | None:
        """Fetch what a shallow or (with `tags`) tagless clone lacks; the note saying so."""
        return clone_history.complete_history(self.path, fetch=self.fetch, check_tags=tags)

    def accept_trust(self) -> Accepted:
        """`artreg trust accept [CLONE]`: the policy at HEAD, weaker or not."""
        cache_root = records_root(self.cache_dir)
        if cache_root is None:
            raise InputError(
                "no consumer cache folder can be named, so no trust record can be kept",
                hint="set ARTREG_CACHE to a writable folder",
            )
        return accept_clone(self.path, cache_root)

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

    def show(self, name: str) -> ArtifactSummary:
        return show_artifact(self.path, name)

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        resolved, signature, retired, deprecated, gone = show_entry(self.path, name, stage, version)
        check_as_promoted(self.path, resolved)
        return Entry(
            Local(self.path, resolved),
            signature,
            retired or "",
            deprecated=deprecated,
            deregistered=gone,
        )

    def _resolve(
        self, name: str, stage: str | None, version: str | None, options: ServeOptions
    ) -> dict[str, Resolved]:
        registry = None
        if options.as_of is not None:
            names = None if options.with_requirements else [validate_name(name)]
            registry, _ = load_as_of(self.path, options.as_of, names)
        if options.with_requirements:
            every = clone_fetch.resolve_with_requirements(
                self.path, name, stage=stage, version=version, registry=registry
            )
        else:
            every = {
                name: clone_fetch.resolve(
                    self.path, name, stage=stage, version=version, registry=registry
                )
            }
        for resolved in every.values():
            check_as_promoted(self.path, resolved)
        return every

    def serve(
        self, name: str, stage: str | None, version: str | None, *, options: ServeOptions
    ) -> dict[str, Local]:
        """Each resolved folder pulled (or, without `options.pull`, verified where it is)."""
        records = records_root(self.cache_dir) if options.records else None
        served: dict[str, Local] = {}
        for each, resolved in self._resolve(name, stage, version, options).items():
            fetched = 0
            if options.pull and self._offline(options):  # checked where it is, never fetched
                _refuse_absent_offline(self.path, resolved)
                clone_fetch.verify(
                    self.path, resolved, options.progress, records=records, full=options.full
                )
            elif options.pull:
                fetched = clone_fetch.pull(
                    self.path,
                    resolved,
                    remote=options.remote,
                    records=records,
                    full=options.full,
                    progress=options.progress,
                )
            elif options.check:
                clone_fetch.verify(
                    self.path, resolved, options.progress, records=records, full=options.full
                )
            served[each] = Local(self.path, resolved, fetched)
        return served

    def export(
        self, name: str, stage: str | None, version: str | None, out: Path, *, options: ServeOptions
    ) -> Exported:
        every = self._resolve(name, stage, version, options)
        offline = self._offline(options)
        if options.pull and offline:
            for resolved in every.values():
                _refuse_absent_offline(self.path, resolved)
        fetch = options.pull and not offline
        if options.with_requirements:
            exported = clone_fetch.export_all(
                self.path, every, out, remote=options.remote, fetch=fetch
            )
            return [(Local(self.path, r), exported[n]) for n, r in every.items()]
        resolved = every[name]
        written = clone_fetch.export(self.path, resolved, out, remote=options.remote, fetch=fetch)
        return [(Local(self.path, resolved), written)]

    def _offline(self, options: ServeOptions) -> bool:
        """Offline and the DVC remote across a network: files are never fetched. A remote that
        is a local folder (an air-gapped site's, a bundle's) is read offline too."""
        return not self.fetch and not dvcremote.remote_is_local(self.path, options.remote)

    def cached(self, name: str, stage: str | None, version: str | None) -> bool:
        resolved = clone_fetch.resolve(
            self.path, name, stage=None if version else stage, version=version
        )
        clone_fetch.verify(self.path, resolved)
        return True


def _refuse_absent_offline(root: Path, resolved: Resolved) -> None:
    """Offline (ARTREG_OFFLINE, offline=True) nothing crosses the network, the DVC remote
    included: files not in the work tree are refused as such (exit 2), never "retry" (exit 4),
    which offline could never make succeed."""
    folder = resolved.folder.path(root)
    absent = sorted(rel for rel in resolved.files if not (folder / rel).is_file())
    if absent:
        spec = f"@v{resolved.version}" if resolved.version else f"#{resolved.stage}"
        raise NotFoundError(
            f"offline: {resolved.folder.relpath}/{absent[0]} is not in this clone's work tree "
            f"({len(absent)} file(s) not pulled), and offline mode never contacts the DVC remote",
            hint=f"run `artreg pull {resolved.name}{spec}` while online (ARTREG_OFFLINE unset)",
        )
