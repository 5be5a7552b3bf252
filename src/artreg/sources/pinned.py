"""A lock file read as a registry reads: its pinned stages listed (`list`, `show NAME`), a pin's
requirements as its tag says them, and a pinned artifact with every requirement the lock pins
(`get --with-requirements`). What a lock does not pin it does not answer: a clear refusal names
the missing pin and the `artreg lock add` that pins it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from artreg.errors import ArtregError, NotFoundError
from artreg.reading.cache import Cache
from artreg.registry import state
from artreg.registry.layout import StageDir
from artreg.registry.records import Registry
from artreg.registry.tags import parse_spec, semver_key
from artreg.sources.base import Pin
from artreg.sources.listing import ArtifactSummary, StageEntry
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


def overview(
    path: Path, pins: Mapping[str, Pin], cache_dir: Path | str | None, names: list[str] | None
) -> dict[str, ArtifactSummary]:
    """Every name the lock pins a stage of (or `names`), with the stages it pins."""
    stages: dict[str, dict[str, StageEntry]] = {}
    for key, pin in sorted(pins.items()):
        stage = parse_spec(key, any_stage=True)[1]
        if stage is None or (names is not None and pin.name not in names):
            continue  # a version pin holds no stage
        folder = StageDir.parse(pin.folder)
        stages.setdefault(pin.name, {})[stage] = StageEntry(
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
                f"{path} pins no stage of {name} (it pins: {', '.join(sorted(pins)) or 'nothing'})",
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
