"""A registry named by URL (and the cache alone, offline), read without a clone into the
consumer cache.

A warm call is one `git ls-remote` and a stat per file (verification records): when the name's
tags are what this machine saw last time, the last answer stands. Otherwise the tags are folded
in the cache repository by the code a clone uses, the folder's manifest and model.sig are
fetched as blobs, the signature is checked against the trust policy at the registry's HEAD, and
the model's objects are streamed from the DVC remote into a verified snapshot (remote.py,
remote_bytes.py). A version is held to the bytes this cache served before, and a folder gc
retired is refused as retired (pins.py). Offline (ARTREG_OFFLINE=1), the last answer and its
snapshot are all there is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from artreg.adapters.hashing import FileDigest
from artreg.errors import ArtregError, InputError, IntegrityError, NotFoundError
from artreg.reading.cache import Cache
from artreg.reading.outputs import local_work_tree
from artreg.reading.resolve import (
    check_spec,
    deprecation,
    deregistration,
    held_stage,
    pick,
    selector,
    spec_of,
)
from artreg.reading.trust_ratchet import Accepted
from artreg.registry import fold as folding
from artreg.registry import state
from artreg.registry.layout import PARAMS_FILE, SIGNATURE_FILE
from artreg.registry.policy import committed_sections, settings_from
from artreg.registry.records import Registry
from artreg.registry.requirements import closure
from artreg.registry.tags import validate_name
from artreg.sources import cached_reads, clone_fetch, pins, remote_signed
from artreg.sources.asof import load_as_of
from artreg.sources.base import (
    ENV_OFFLINE,
    Entry,
    Exported,
    Fetched,
    Listing,
    Pin,
    Served,
    ServeOptions,
    load_pin,
    url_ttl,
)
from artreg.sources.cached_state import as_of_note, cached_closure, cached_pin, cached_show
from artreg.sources.exporting import export_pins
from artreg.sources.fingerprint import fingerprint_of
from artreg.sources.listing import ArtifactSummary, with_signatures
from artreg.sources.listing import overview as fold_overview
from artreg.sources.pinned import requires_in
from artreg.sources.remote import RemoteRegistry, accept_remote


class UrlSource:
    """A registry URL (`offline`: the consumer cache alone, nothing crosses the network)."""

    root: Path | None = None

    def __init__(
        self,
        url: str | os.PathLike[str],
        cache_dir: Path | str | None,
        offline: bool = False,
        why: str = "offline",
    ) -> None:
        self.reg = RemoteRegistry(url, Cache.open(cache_dir))
        self.offline = offline
        self.why = why  # "offline", or "--no-fetch": the cache alone answers, as offline
        self.kind = "offline" if offline else "url"
        self.label = self.reg.url
        self.notes: list[str] = []

    def prepare(self, tags: bool = True) -> str | None:
        return None  # the cache repository fetches what each read needs

    def accept_trust(self) -> Accepted:
        """`artreg trust accept URL`: the policy at the registry's HEAD, weaker or not."""
        self._online("`trust accept`")
        return accept_remote(self.reg)

    def address(self) -> str:
        return self.reg.url

    def _online(self, what: str) -> None:
        if self.offline:
            raise NotFoundError(
                f"{self.why}: {what} of {self.label} needs the registry's tags",
                hint=f"{run_online(self.why)}; {self.why}, `get`/`resolve` answer from what "
                "the cache holds",
            )

    # --- list and show -------------------------------------------------------------------

    def overview(self, *, deprecated: bool = False, as_of: str | None = None) -> Listing:
        if self.offline and as_of is None:
            when = self._recalled("list", "the listing")
            registry = state.load(self.reg.repo, None, folders="none")
            data = fold_overview(self.reg.repo, registry=registry, deprecated=deprecated)
            return Listing(data, notes=[self._as_of(when)])
        self._online("the listing")
        if as_of is not None:  # every tag and its date, as `history` reads them from a URL
            self.reg.fetch_history(None)
            registry, moment = load_as_of(self.reg.repo, as_of)
            data = self._overview(registry, None, deprecated)
            return Listing(data, f"as of {moment.describe()}\n")
        data = self._overview(self.reg.state(None), None, deprecated)
        cached_reads.remember(self.reg.repo, "list")
        return Listing(data)

    def _overview(
        self, registry: Registry, names: list[str] | None, deprecated: bool
    ) -> dict[str, ArtifactSummary]:
        if names and not any(n in registry.artifacts for n in names):
            registry.get(names[0])  # the NotFoundError naming it
        self.reg.folders(folding.current_events(registry))
        return fold_overview(self.reg.repo, registry=registry, deprecated=deprecated, names=names)

    def show(self, name: str) -> ArtifactSummary:
        """Every stage of `name`, each folder's signature as in a clone (offline: as the
        cached tags say, cached_state.py)."""
        name = validate_name(name)
        if self.offline:
            summary = cached_show(self.reg, name)
            if summary is None:
                self._online("`show`")
            assert summary is not None
            self.notes.append(as_of_note(self.reg, self.why))
            return summary
        tags, head = self.reg.remote_refs([name])
        registry = self.reg.state([name], tags)
        summary = self._overview(registry, [name], deprecated=True)[name]
        fingerprint = fingerprint_of(tags)
        return with_signatures(
            summary,
            lambda stage, version: self.reg.signature_status(
                resolve_remote(self.reg, name, stage, version, registry, fingerprint), head
            ),
        )

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        """The pin and its signature's status (offline: the last answer, unchecked)."""
        if self.offline:
            pin, _ = current_pin(self.reg, name, stage, version, offline=True, why=self.why)
            self.notes.append(as_of_note(self.reg, self.why))
            return Entry(pin, None)
        name = validate_name(name)
        tags, head = self.reg.remote_refs([name])
        registry = self.reg.state([name], tags)
        pin = resolve_remote(
            self.reg, name, stage, version, registry, fingerprint_of(tags), head, history=True
        )
        if version is not None:  # the stage it holds now, as a clone says it
            pin = replace(pin, stage=held_stage(registry, name, pin.version))
        remote_signed.check(self.reg, pin, head, tags)  # refused as `get` refuses it
        signature = self.reg.signature_status(pin, head)
        tomb = pins.retirement(self.reg, pin.folder, head)  # shown as a clone shows it
        retired = tomb.date[:10] if tomb else ""
        deprecated = deprecation(registry, name)
        return Entry(
            pin,
            signature,
            retired,
            requires=requires_in(registry, pin),
            deprecated=deprecated,
            deregistered=deregistration(registry, name, version),
        )

    # --- the model's bytes ---------------------------------------------------------------

    def _pin(
        self, name: str, stage: str | None, version: str | None, options: ServeOptions
    ) -> tuple[Pin, Callable[[], None]]:
        if options.as_of is not None:
            raise InputError(
                "as_of= reads a registry's history, which a registry URL is not cloned for",
                hint="pass repo= a clone of the registry",
            )
        if self.offline:
            self.notes.append(as_of_note(self.reg, self.why))
        return current_pin(
            self.reg, name, stage, version, self.offline, options.accept_moved_tag, self.why
        )

    def _closure(
        self, name: str, stage: str | None, version: str | None, options: ServeOptions
    ) -> dict[str, Pin]:
        """`name` and everything it requires, each resolved now (no last answer stands for a
        closure: any of its names' tags may have moved); offline, by the cached tags."""
        top, _ = self._pin(name, stage, version, replace(options, with_requirements=False))
        if not self.offline:
            return resolve_closure(self.reg, name, None if version else stage, version)
        every = cached_closure(self.reg, top)  # the cached state's closure, checked as online
        if every is None:
            self._online("--with-requirements")
        assert every is not None
        for pin in every.values():
            self.reg.check_signature(pin, None, fetch=False)
            remote_signed.check(self.reg, pin, None)
        return every

    def serve(
        self, name: str, stage: str | None, version: str | None, *, options: ServeOptions
    ) -> dict[str, Served]:
        if options.with_requirements:
            every = self._closure(name, stage, version, options)
            return {
                n: materialize(self.reg, pin, options, offline=self.offline, why=self.why)
                for n, pin in every.items()
            }
        pin, save = self._pin(name, stage, version, options)
        fetched = materialize(self.reg, pin, options, offline=self.offline, why=self.why)
        save()
        return {pin.name: fetched}

    def export(
        self, name: str, stage: str | None, version: str | None, out: Path, *, options: ServeOptions
    ) -> Exported:
        """The model file(s) copied out of the cache, verified (exporting.export_pins)."""
        tree = local_work_tree(self.label)
        if options.with_requirements:
            every = self._closure(name, stage, version, options)
            return export_pins(every, out, self._fetch(options, lambda: None), options, tree)
        pin, save = self._pin(name, stage, version, options)
        return export_pins({pin.name: pin}, out, self._fetch(options, save), options, tree)

    def _fetch(self, options: ServeOptions, save: Callable[[], None]) -> Callable[[Pin], Fetched]:
        def fetch(pin: Pin) -> Fetched:
            fetched = materialize(
                self.reg, pin, options, offline=self.offline, full=False, why=self.why
            )
            save()
            return fetched

        return fetch

    def history_root(self, name: str | None, files: bool = False) -> Path:
        what = f"history:{name}"
        if self.offline and name is not None and not files:
            self.notes.append(self._as_of(self._recalled(what, "the history")))
            return self.reg.repo
        self._online("the history")
        self.reg.fetch_history(None if name is None else validate_name(name), files)
        if name is not None:
            cached_reads.remember(self.reg.repo, what)
        return self.reg.repo

    def _recalled(self, what: str, told: str) -> str:
        """When an online read of `what` last filled the cache; refused if it never did."""
        when = cached_reads.recalled(self.reg.repo, what) if self.reg.repo.is_dir() else None
        if when is None:
            raise NotFoundError(
                f"{self.why}: {told} of {self.label} was never read online with this cache",
                hint=f"{run_online(self.why)} once: `artreg {what.split(':')[0]}"
                f"{' ' + what.split(':', 1)[1] if ':' in what else ''} --repo {self.label}`; "
                f"then {self.why} answers it from the cache",
            )
        return when

    def _as_of(self, when: str) -> str:
        return (
            f"{self.why}: answered from the consumer cache, as {self.label} was when this cache "
            f"last read it in full ({when} UTC)"
        )

    def cached(self, name: str, stage: str | None, version: str | None) -> bool:
        pin, _ = current_pin(self.reg, name, stage, version, self.offline, why=self.why)
        files = {rel: pin.files[rel] for rel in pin.selected()}
        return self.reg.cache.snapshot_ready(self.reg.key, pin.folder, files, full=True) is not None


def run_online(why: str) -> str:
    """What lifts the refusal of `why` ("offline" or "--no-fetch")."""
    if why == "offline":
        return f"run once online (unset {ENV_OFFLINE})"
    return f"run it again without {why}"


# --- resolving a name ----------------------------------------------------------------------


def resolve_remote(
    reg: RemoteRegistry,
    name: str,
    stage: str | None,
    version: str | None,
    registry: Registry,
    fingerprint: str,
    head: str | None = None,
    *,
    history: bool = False,
) -> Pin:
    """What `name` resolves to (GTO's rules, by the code a clone uses), with its manifest;
    model.sig, and params.yaml at `head` when its trust policy is to be read, come in the same
    fetches (the signature check reads them next). `history`: a deprecated name answers too
    (`show`), as in a clone."""
    event, _, _ = pick(registry, name, stage if not version else None, version, history=history)
    reg.folders([event])
    if event.folder is not None:
        folder = event.folder.relpath
        wanted = {event.commit: [f"{folder}/manifest.json", f"{folder}/{SIGNATURE_FILE}"]}
        if head and reg.trust_record(head) is None:
            wanted.setdefault(head, []).append(PARAMS_FILE)
        reg.files_of(wanted, deep=[folder])
    resolved = clone_fetch.resolve(
        reg.repo,
        name,
        stage=None if version else stage,
        version=version,
        registry=registry,
        history=history,
    )
    return Pin.of(resolved, reg.url, fingerprint)


def resolve_closure(
    reg: RemoteRegistry, name: str, stage: str | None, version: str | None
) -> dict[str, Pin]:
    """`name` and everything it requires, transitively, each required name at the production
    version that satisfies it (params.yaml's `requirements.compatibility` at the registry's
    HEAD), all from one state of the tags; every signature checked as for one name."""
    _, head = reg.remote_refs([])
    registry = reg.state(None)
    top = resolve_remote(reg, name, stage, version, registry, "", head)
    rule = "exact"
    if head:
        reg.files_of({head: [PARAMS_FILE]})
        rule = settings_from(committed_sections(reg.repo, head), head).compatibility
    events = registry.get(top.name).events
    requires = [r for event in events if event.tag == top.tag for r in event.requires]
    needed = closure(registry, top.name, requires, rule)
    found = {top.name: top}
    for dep in needed:
        found[dep] = resolve_remote(reg, dep, "production", None, registry, "", head)
    for pin in found.values():
        reg.check_signature(pin, head)
        remote_signed.check(reg, pin, head)  # the tags reg.state just fetched
    return found


def current_pin(
    reg: RemoteRegistry,
    name: str,
    stage: str | None,
    version: str | None,
    offline: bool,
    accept_moved_tag: bool = False,
    why: str = "offline",
) -> tuple[Pin, Callable[[], None]]:
    """What `name` resolves to: the last answer when the name's tags are unchanged (or when
    offline), else resolved anew, its signature checked against the trust policy at the
    registry's HEAD, its version held to the bytes this cache served before (pins.py); with a
    function that records a new answer once it served."""
    name, stage, version = check_spec(name, stage, version)
    record = reg.cache.resolution(reg.key, name, selector(stage, version))
    last = load_pin(reg.cache.read_json(record))
    if offline:
        if last is None:  # another spec's answer, or a requirement's, may have fetched it
            last = cached_pin(reg, name, stage, version)
        if last is None:
            raise NotFoundError(
                f"{why}: {spec_of(name, stage, version)} of {reg.url} was never resolved with "
                f"the cache {reg.cache.root}",
                hint=f"{run_online(why)}, or pin it in a lock file (`artreg lock add {reg.url} "
                f"{spec_of(name, stage, version)}`) and read it with `--lock artreg.lock` "
                "(lock= in Python)",
            )
        reg.check_signature(last, None, fetch=False)
        remote_signed.check(reg, last, None)
        return last, lambda: None
    try:
        tags, head = _remote_refs(reg, name)
    except ArtregError as exc:
        if last is not None and exc.hint:  # moved or gone: the cache still answers offline
            when = time.strftime("%Y-%m-%d", time.gmtime(os.stat(record).st_mtime))
            exc.hint += (
                f"; or read what the cache holds: {ENV_OFFLINE}=1 answers "
                f"{spec_of(name, stage, version)} from the cache as of {when}"
            )
        raise
    fingerprint = fingerprint_of(tags)
    if last is not None and last.fingerprint == fingerprint and last.registry == reg.url:
        reg.check_signature(last, head)
        remote_signed.check(reg, last, head, tags)
        return last, pins.hold_version(reg, last, accept_moved_tag)
    pin = resolve_remote(reg, name, stage, version, reg.state([name], tags), fingerprint, head)
    reg.check_signature(pin, head)
    remote_signed.check(reg, pin, head, tags)
    hold = pins.hold_version(reg, pin, accept_moved_tag)  # before any byte is fetched

    def save() -> None:
        reg.cache.write_json(record, {**pin.to_json(), "fingerprint": fingerprint})
        hold()

    return pin, save


# Inside one process, a URL's last `git ls-remote` per name, kept ARTREG_URL_TTL seconds.
_ASKED: dict[tuple[str, str], tuple[float, dict[str, tuple[str, str]], str]] = {}


def _remote_refs(reg: RemoteRegistry, name: str) -> tuple[dict[str, tuple[str, str]], str]:
    """The name's tags and HEAD (one `git ls-remote`), or the answer this process had within
    ARTREG_URL_TTL seconds (default 0: always ask)."""
    ttl = url_ttl()
    known = _ASKED.get((reg.url, name))
    if ttl > 0 and known is not None and 0 <= time.monotonic() - known[0] < ttl:
        return dict(known[1]), known[2]
    asked = time.monotonic()
    tags, head = reg.remote_refs([name])
    if ttl > 0:
        if len(_ASKED) >= 64:
            _ASKED.clear()
        _ASKED[(reg.url, name)] = (asked, tags, head)
    return dict(tags), head


def resolve_pin(
    url: str | os.PathLike[str],
    name: str,
    stage: str | None = None,
    version: str | None = None,
    cache_dir: Path | str | None = None,
) -> Pin:
    """What `name` resolves to in the registry at `url` now (tags and manifest, no model bytes),
    its signature checked against the trust policy at the registry's HEAD: a lock file pins
    only what a consumer may load."""
    name = validate_name(name)
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    tags, head = reg.remote_refs([name])
    pin = resolve_remote(
        reg, name, stage, version, reg.state([name], tags), fingerprint_of(tags), head
    )
    reg.check_signature(pin, head)
    remote_signed.check(reg, pin, head, tags)  # a lock pins only what a consumer may load
    return pin


# --- fetching into the cache -----------------------------------------------------------------


def materialize(
    reg: RemoteRegistry,
    pin: Pin,
    options: ServeOptions,
    *,
    offline: bool = False,
    full: bool | None = None,
    pinned: bool = False,
    why: str = "offline",
) -> Fetched:
    """The files as a verified snapshot in the cache, fetched first if they are not (a lock's
    pin, `pinned`, even when retired: see pins.build_or_explain)."""
    cache = reg.cache
    full = options.full if full is None else full
    files = {rel: pin.files[rel] for rel in pin.selected()}
    snap = _ready(cache, reg.key, pin, files, full, offline)
    if snap is not None:
        return Fetched(pin, snap, 0)
    if offline:
        raise NotFoundError(
            f"{why}: {pin.spec} of {pin.registry} is {pin.folder} ({pin.tag}), but its files "
            f"are not in the cache {cache.root}",
            hint=f"{run_online(why)} to fetch them",
        )
    with cache.building(), cache.lock("snapshot", f"{reg.key}/{pin.folder}"):
        snap = _ready(cache, reg.key, pin, files, full, offline)  # another process's work
        if snap is not None:
            return Fetched(pin, snap, 0)
        remote = (options.remote, options.remote_config)
        snap, downloaded = pins.build_or_explain(reg, pin, files, pinned, remote, options.progress)
    return Fetched(pin, snap, downloaded)


def _ready(
    cache: Cache, key: str, pin: Pin, files: Mapping[str, FileDigest], full: bool, offline: bool
) -> Path | None:
    """The verified snapshot, or None to build it: a file altered in the cache is fetched
    again (once) when online; offline, the refusal stands."""
    try:
        return cache.snapshot_ready(key, pin.folder, files, full)
    except IntegrityError:
        if offline:
            raise
        return None
