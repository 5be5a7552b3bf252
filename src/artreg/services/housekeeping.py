"""Lifecycle housekeeping in GTO's vocabulary: deprecate an artifact, deregister a version,
unassign a stage. Each is a tag (what gto and DVC Studio read) plus a commit that refreshes
registry.json, made as one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.errors import InputError, NotFoundError
from artreg.publishing import index
from artreg.publishing.publish import actor, with_pending
from artreg.publishing.transaction import transaction
from artreg.registry import fold as folding
from artreg.registry.layout import REGISTRY_JSON
from artreg.registry.records import Event
from artreg.registry.retirements import current_on_retired, read_retired
from artreg.registry.tags import (
    Action,
    format_tag,
    next_counter,
    next_tag_time,
    parse_spec,
    parse_tag,
    tag_message,
    validate_name,
    validate_semver,
    validate_stage,
)
from artreg.sources import state


@dataclass(frozen=True)
class Housekeeping:
    """What a deprecation, deregistration or unassignment made."""

    tag: str
    target: str  # the commit the tag points at
    commit: str  # the commit that refreshed registry.json
    warnings: tuple[str, ...] = ()  # production artifacts whose requirement this took away


def _apply(
    root: Path,
    name: str,
    action: Action,
    target: str | None,
    title: str,
    stage: str | None = None,
    version: str | None = None,
    wait: float = 0.0,
) -> Housekeeping:
    who = actor(root)
    with transaction(root, new_dirs=[], touched=[REGISTRY_JSON], wait=wait) as txn:
        events = state.load(root, folders="none").events
        tag = format_tag(action, name, stage, version, next_counter(events, name))
        stamp = next_tag_time(events)
        message = tag_message(title, kind=action.value, by=who)
        pointed = target or gitrun.head(root)
        assert pointed is not None
        parsed = parse_tag(tag)
        assert parsed is not None
        pending = Event(tag, parsed, pointed, stamp, who, "", message, True)
        warnings = _dependants(root, events, pending) + _onto_retired(root, events, pending)
        index.write(root, with_pending(root, events, [pending]))
        gitwrite.add(root, [REGISTRY_JSON])
        # Unassign and deregister tag the version's own commit, as GTO resolves them by it;
        # a deprecation marks the registry as of the new commit.
        txn.before_commit(title, [tag], message, stamp, False, target=target)
        commit = gitwrite.commit(root, f"{title}\n\ntags: {tag}", [REGISTRY_JSON], allow_empty=True)
        txn.committed(commit)
        txn.make_tags()
        pointed = target or commit
    return Housekeeping(tag, pointed, commit, warnings)


def _dependants(root: Path, events: list[Event], pending: Event) -> tuple[str, ...]:
    """The production artifacts whose requirement `pending` takes out of production: the
    change is made all the same (retiring a model must stay possible), with a warning naming
    each dependant, which `artreg verify` then reports until it is resolved."""
    from artreg.registry.policy import load_compatibility
    from artreg.registry.requirements import newly_broken, way_out

    rule = load_compatibility(root)
    after = folding.fold([*events, pending])
    return tuple(
        f"{b.name} {b.version} in production requires {b.unmet.requirement}, which "
        f"{pending.tag} takes out of production ({b.unmet.why}); "
        + way_out(after, b.unmet.requirement, rule, b.name)
        for b in newly_broken(folding.fold(events), after, rule)
    )


def _onto_retired(root: Path, events: list[Event], pending: Event) -> tuple[str, ...]:
    """The stages `pending` makes fall back to a folder gc retired: warned, not refused, for
    the same reason as `_dependants` (taking a bad model away must stay possible); `artreg
    verify` fails until another version is promoted there."""
    retired = read_retired(root)
    if not retired:
        return ()
    before = set(current_on_retired(folding.fold(events), retired))
    after = current_on_retired(folding.fold([*events, pending]), retired)
    return tuple(f"after {pending.tag}, {line}" for line in after if line not in before)


def deprecate(root: Path, name: str, wait: float = 0.0) -> Housekeeping:
    """`name@deprecated`: the artifact no longer resolves and is hidden from listings."""
    name = validate_name(name)
    artifact = state.load(root, folders="none").get(name)
    if artifact.deprecated:
        raise InputError(f"{name} is deprecated already", hint="nothing to do")
    return _apply(root, name, Action.DEPRECATE, None, f"artreg: deprecate {name}", wait=wait)


def deregister(root: Path, name: str, version: str, wait: float = 0.0) -> Housekeeping:
    """`name@vX.Y.Z!`: the version no longer resolves (its folder stays, immutable)."""
    name, version = validate_name(name), validate_semver(version)
    found = state.load(root, folders="none").get(name).find_version(version)
    if found is None:
        raise NotFoundError(
            f"{name} has no active version {version}", hint="see `artreg show NAME`"
        )
    return _apply(
        root,
        name,
        Action.DEREGISTER,
        found.commit,
        f"artreg: deregister {name} v{version}",
        version=version,
        wait=wait,
    )


def unassign(root: Path, name: str, stage: str, wait: float = 0.0) -> Housekeeping:
    """`name#stage!`: the stage no longer resolves to the version that held it."""
    name = validate_name(name)
    validate_stage(stage)
    holder = state.load(root, folders="none").get(name).stage(stage)
    if holder is None:
        raise NotFoundError(f"{name} has nothing in stage {stage}", hint="see `artreg show NAME`")
    return _apply(
        root,
        name,
        Action.UNASSIGN,
        holder.commit,
        f"artreg: unassign {stage} from {name} {holder.label}",
        stage=stage,
        wait=wait,
    )


def retire(root: Path, spec: str, wait: float = 0.0) -> Housekeeping:
    """`artreg deprecate NAME@vX.Y.Z` deregisters that version; `NAME` deprecates the artifact."""
    name, stage, version = parse_spec(spec)
    if stage is not None:
        raise InputError(f"{spec}: use `artreg unassign {spec}` for a stage", hint="see --help")
    if version:
        return deregister(root, name, version.removeprefix("v"), wait=wait)
    return deprecate(root, name, wait=wait)


def unassign_spec(root: Path, spec: str, wait: float = 0.0) -> Housekeeping:
    """`artreg unassign NAME#STAGE`."""
    name, stage, version = parse_spec(spec)
    if stage is None:
        raise InputError(
            f"{spec}: give NAME#STAGE"
            + (f" (to retire version {version}, use `artreg deprecate {spec}`)" if version else ""),
            hint="e.g. artreg unassign encoder#production",
        )
    return unassign(root, name, stage, wait=wait)
