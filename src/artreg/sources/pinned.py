"""A lock file read as a registry reads: its pinned stages listed (`list`, `show NAME`), a pin's
requirements as its tag says them, and a pinned artifact with every requirement the lock pins
(`get --with-requirements`). What a lock does not pin it does not answer: a clear refusal names
the missing pin and the `artreg lock add` that pins it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from artreg.errors import ArtregError, NotFoundError
from artreg.reading.cache import Cache
from artreg.reading.resolve import held_stage
from artreg.registry import state
from artreg.registry.layout import StageDir
from artreg.registry.records import Registry
from artreg.registry.tags import parse_spec, semver_key
from artreg.sources.base import Pin
from artreg.sources.listing import ArtifactSummary, StageEntry
from artreg.sources.listing import overview as listing_overview
from artreg.sources.remote import RemoteRegistry


def requires_in(registry: Registry, pin: Pin) -> tuple[str, ...]:
    """NAME@vX.Y.Z the tag `pin` was resolved through says it needs."""
    if pin.name not in registry.artifacts:
        return ()
    for event in registry.get(pin.name).events:
        if event.tag == pin.tag:
            return tuple(str(r) for r in event.requires)
    return ()


def requires_of(pin: Pin, cache_dir: Path | str | None) -> tuple[str, ...]:
    """A pin's requirements from its tag as this cache's repository of the registry holds it
    (fetched when the pin was made): nothing crosses the network."""
    repo = RemoteRegistry(pin.registry, Cache.open(cache_dir)).repo
    if not (repo / "HEAD").is_file():
        return ()
    try:
        return requires_in(state.load(repo, [pin.name], folders="none"), pin)
    except ArtregError:
        return ()


def held_of(pin: Pin, cache_dir: Path | str | None) -> str | None:
    """The stage a version pin's version holds, as the registry's tags in this cache's
    repository say it (fetched when the pin was made, or read since): nothing crosses the
    network."""
    repo = RemoteRegistry(pin.registry, Cache.open(cache_dir)).repo
    if not (repo / "HEAD").is_file() or pin.version is None:
        return None
    try:
        return held_stage(state.load(repo, [pin.name], folders="none"), pin.name, pin.version)
    except ArtregError:
        return None


def held_entry(pin: Pin, cache_dir: Path | str | None) -> tuple[str, StageEntry] | None:
    """The stage a version pin's version holds and its entry, as the registry listed it when
    this cache last read its tags (None: it holds none, or the cache cannot tell)."""
    stage = held_of(pin, cache_dir)
    if stage is None:
        return None
    repo = RemoteRegistry(pin.registry, Cache.open(cache_dir)).repo
    try:
        listed = listing_overview(repo, deprecated=True, names=[pin.name])
    except ArtregError:
        return None
    entry = listed[pin.name].stages.get(stage) if pin.name in listed else None
    return (stage, entry) if entry is not None else None


def overview(
    path: Path, pins: Mapping[str, Pin], cache_dir: Path | str | None, names: list[str] | None
) -> dict[str, ArtifactSummary]:
    """Every name the lock pins a stage of (or `names`), with the stages it pins."""
    stages: dict[str, dict[str, StageEntry]] = {}
    # Stage pins first: a version pin shows under the stage its version holds (as the registry
    # lists it) where no stage pin of that stage says otherwise.
    ordered = sorted(pins.items(), key=lambda kv: ("#" not in kv[0], kv[0]))
    for key, pin in ordered:
        if names is not None and pin.name not in names:
            continue
        held = stages.setdefault(pin.name, {})
        stage = parse_spec(key, any_stage=True)[1]
        if stage is None:
            found = held_entry(pin, cache_dir)
            if found is not None and found[0] not in held:
                held[found[0]] = found[1]
            continue
        folder = StageDir.parse(pin.folder)
        held[stage] = StageEntry(
            version=f"v{pin.version}" if pin.version else None,
            id=folder.entry if folder else None,
            folder=pin.folder,
            commit=pin.commit,
            tag=pin.tag,
            requires=requires_of(pin, cache_dir),
        )
    for name in names or ():
        if name not in stages:
            raise NotFoundError(
                f"{path} pins nothing of {name} (it pins: {', '.join(sorted(pins)) or 'nothing'})",
                hint=f"pin it with `artreg lock add URL {name}#production --file {path}`, or "
                "read the registry itself (--repo URL)",
            )
    result = {}
    for name, held in stages.items():
        versions = [p.version for p in pins.values() if p.name == name and p.version]
        latest = max(versions, key=semver_key) if versions else None
        result[name] = ArtifactSummary(name, f"v{latest}" if latest else None, False, held)
    return result


def closure(
    path: Path, pins: Mapping[str, Pin], top: Pin, cache_dir: Path | str | None
) -> dict[str, Pin]:
    """`top` and, transitively, every artifact it requires, each at a version the lock pins;
    NotFoundError naming the first requirement it does not pin."""
    found = {top.name: top}
    todo = [top]
    while todo:
        pin = todo.pop()
        for requirement in requires_of(pin, cache_dir):
            name, _, version = parse_spec(requirement)
            if name in found:
                continue
            same = [
                p
                for p in pins.values()
                if p.name == name and p.version == (version or "").removeprefix("v")
            ]
            if not same:
                raise NotFoundError(
                    f"{path}: {pin.spec} requires {requirement}, which the lock does not pin: a "
                    "lock file serves only what it pins",
                    hint=f"pin it with `artreg lock add {pin.registry} {requirement} --file "
                    f"{path}`, or drop --with-requirements",
                )
            found[name] = same[0]
            todo.append(same[0])
    return found
