"""Offline (or `--no-fetch`) answers from the registry state this consumer cache holds: the
tags, manifests and signatures its repository of the registry fetched in earlier online reads
(`git/<key>.git`), read by the code a clone uses, nothing fetched. Any spec those objects answer
is answered, not only the literal one resolved before: NAME@vX.Y.Z of a version served by
NAME#STAGE, NAME alone, a requirement fetched by `get --with-requirements` (and that closure
again), `show NAME`. The
answer is the registry as of the cache's last fetch, and says so."""

from __future__ import annotations

from datetime import datetime, timezone

from artreg.errors import ArtregError
from artreg.reading.resolve import pick
from artreg.reading.signatures import describe
from artreg.registry import state
from artreg.registry.policy import committed_sections, settings_from
from artreg.registry.records import Registry
from artreg.registry.requirements import closure
from artreg.sources import clone_fetch
from artreg.sources.base import Pin
from artreg.sources.listing import ArtifactSummary, with_signatures
from artreg.sources.listing import overview as fold_overview
from artreg.sources.remote import RemoteRegistry


def cached_registry(reg: RemoteRegistry, name: str) -> Registry | None:
    """`name`'s tags as the cache's repository holds them (None: it holds none of them)."""
    if not (reg.repo / "HEAD").is_file():
        return None
    registry = state.load(reg.repo, [name], folders="none")
    return registry if name in registry.artifacts else None


def cached_pin(
    reg: RemoteRegistry, name: str, stage: str | None, version: str | None
) -> Pin | None:
    """What `name` resolves to by the cached tags (GTO's rules: a deprecated or unknown
    version is refused as online), or None when the cache lacks the tags or the manifest."""
    registry = cached_registry(reg, name)
    if registry is None:
        return None
    stage = None if version else stage
    pick(registry, name, stage, version)  # the refusal the registry's state gives
    try:
        resolved = clone_fetch.resolve(reg.repo, name, stage, version, registry)
    except ArtregError:  # a manifest never fetched into this cache: nothing to answer from
        return None
    return Pin.of(resolved, reg.url, "")


def cached_show(reg: RemoteRegistry, name: str) -> ArtifactSummary | None:
    """`show NAME` from the cached tags, each stage's signature status by the trust policy
    read last (a stage whose objects the cache lacks says "not checked")."""
    registry = cached_registry(reg, name)
    if registry is None:
        return None
    summary = fold_overview(reg.repo, registry=registry, deprecated=True, names=[name])[name]
    policy, _ = reg.trust(None)

    def status(stage: str | None, version: str | None) -> dict[str, object] | None:
        pin = cached_pin(reg, name, stage, version)
        if pin is None:
            raise ArtregError("its manifest was never fetched into this cache")
        return describe(reg.repo, pin.commit, pin.folder, pin, policy)

    return with_signatures(summary, status)


def as_of_note(reg: RemoteRegistry, why: str) -> str:
    """What an answer from the cache says of its age: the time of the cache's last fetch."""
    fetched = [p.stat().st_mtime for p in (reg.repo / "FETCH_HEAD", reg.repo) if p.exists()]
    when = datetime.fromtimestamp(max(fetched or [0]), timezone.utc).strftime("%Y-%m-%d %H:%M")
    return (
        f"{why}: answered from the consumer cache, as {reg.url} was when this cache last read "
        f"it ({when} UTC)"
    )


def cached_closure(reg: RemoteRegistry, top: Pin) -> dict[str, Pin] | None:
    """`top` and everything it requires, each required name at the cached production version
    that satisfies it (the compatibility rule of params.yaml as the trust policy was last read
    at the registry's HEAD), as `get --with-requirements` resolves online; None when the cache
    lacks a tag or manifest it needs."""
    if not (reg.repo / "HEAD").is_file():
        return None
    registry = state.load(reg.repo, None, folders="none")
    if top.name not in registry.artifacts:
        return None
    head = reg.trust(None)[0].rev
    rule = (
        settings_from(committed_sections(reg.repo, head), head).compatibility if head else "exact"
    )
    requires = [r for e in registry.get(top.name).events if e.tag == top.tag for r in e.requires]
    found = {top.name: top}
    for dep in closure(registry, top.name, requires, rule):
        pin = cached_pin(reg, dep, "production", None)
        if pin is None:
            return None
        found[dep] = pin
    return found
