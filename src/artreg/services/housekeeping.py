"""Lifecycle housekeeping in GTO's vocabulary: deprecate an artifact, deregister a version,
unassign a stage. Each is a tag (what gto and DVC Studio read) plus a commit that refreshes
registry.json, made as one transaction.

Each of them can move a stage (the stage falls back to the version that held it before, or no
longer resolves), so in a stage params.yaml's rights watch it is checked like a promotion into
that stage: signed (`--sign`) where rights.signed lists it, by one of its promoters, before
anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.errors import InputError, NotFoundError
from artreg.publishing import index
from artreg.publishing.publish import actor, with_pending
from artreg.publishing.rights import promoter, rights_at
from artreg.publishing.transaction import transaction
from artreg.registry import fold as folding
from artreg.registry import rollbacks, state
from artreg.registry.layout import REGISTRY_JSON
from artreg.registry.policy import load_compatibility
from artreg.registry.records import Artifact, Event, Version
from artreg.registry.requirements import newly_broken, way_out
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
    sign: bool = False,
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
        _check_rights(root, events, pending, sign)
        warnings = _dependants(root, events, pending) + _onto_retired(root, events, pending)
        index.write(root, with_pending(root, events, [pending]))
        gitwrite.add(root, [REGISTRY_JSON])
        # Unassign and deregister tag the version's own commit, as GTO resolves them by it;
        # a deprecation marks the registry as of the new commit.
        txn.before_commit(title, [tag], message, stamp, sign, target=target)
        commit = gitwrite.commit(
            root, f"{title}\n\ntags: {tag}", [REGISTRY_JSON], sign=sign, allow_empty=True
        )
        txn.committed(commit)
        txn.make_tags()
        pointed = target or commit
    return Housekeeping(tag, pointed, commit, warnings)


def _check_rights(root: Path, events: list[Event], pending: Event, sign: bool) -> None:
    """Refuse (exit 2, nothing written yet) `pending` where it moves a stage the rights at HEAD
    watch and is unsigned there (rights.signed) or made by someone not one of its promoters."""
    rights = rights_at(root, gitrun.head(root))
    if not rights.configured:
        return
    name = pending.parsed.name
    watched = sorted({*rights.signed, *rights.stages})
    before = folding.fold(events).artifacts.get(name)
    after = folding.fold([*events, pending]).artifacts.get(name)

    def holder(artifact: Artifact | None, stage: str) -> str | None:
        if artifact is None or artifact.deprecated:
            return None
        found = artifact.stage(stage)
        return found.version if found is not None else None

    moved = [s for s in watched if holder(before, s) != holder(after, s)]
    if not moved:
        return
    what = f"{pending.tag} moves {', '.join(moved)} of {name}"
    for stage in moved:
        if rights.requires_signature(stage) and not sign:
            raise InputError(
                f"{what}: {rights.source} rights.signed lists {stage}, so its tags must be "
                "signed, and this one is not",
                hint="run it again with --sign, as a promoter of the stage",
            )
    who = promoter(root, rights, sign)
    for stage in moved:
        problem = rights.promoter_problem(stage, who)
        if problem:
            raise InputError(f"{what}: {problem}", hint="have a promoter of the stage do it")


def _dependants(root: Path, events: list[Event], pending: Event) -> tuple[str, ...]:
    """The production artifacts whose requirement `pending` takes out of production: the
    change is made all the same (retiring a model must stay possible), with a warning naming
    each dependant, which `artreg verify` then reports until it is resolved."""
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


def deprecate(root: Path, name: str, wait: float = 0.0, sign: bool = False) -> Housekeeping:
    """`name@deprecated`: the artifact no longer resolves and is hidden from listings."""
    name = validate_name(name)
    artifact = state.load(root, folders="none").get(name)
    if artifact.deprecated:
        raise InputError(f"{name} is deprecated already", hint="nothing to do")
    title = f"artreg: deprecate {name}"
    return _apply(root, name, Action.DEPRECATE, None, title, wait=wait, sign=sign)


def deregister(
    root: Path, name: str, version: str, wait: float = 0.0, sign: bool = False
) -> Housekeeping:
    """`name@vX.Y.Z!`: the version no longer resolves (its folder stays, immutable)."""
    name, version = validate_name(name), validate_semver(version)
    artifact = state.load(root, folders="none").get(name)
    found = artifact.find_version(version)
    if found is None:
        raise NotFoundError(
            f"{name} has no active version {version}", hint="see `artreg show NAME`"
        )
    _refuse_rolled_away_fallback(artifact, found, f"deregistering v{version}")
    return _apply(
        root,
        name,
        Action.DEREGISTER,
        found.commit,
        f"artreg: deregister {name} v{version}",
        version=version,
        wait=wait,
        sign=sign,
    )


def unassign(
    root: Path, name: str, stage: str, wait: float = 0.0, sign: bool = False
) -> Housekeeping:
    """`name#stage!`: the stage no longer resolves to the version that held it."""
    name = validate_name(name)
    validate_stage(stage)
    artifact = state.load(root, folders="none").get(name)
    holder = artifact.stage(stage)
    if holder is None:
        raise NotFoundError(f"{name} has nothing in stage {stage}", hint="see `artreg show NAME`")
    if stage == "production":
        _refuse_rolled_away_fallback(
            artifact, holder, f"unassigning production from {holder.label}"
        )
    return _apply(
        root,
        name,
        Action.UNASSIGN,
        holder.commit,
        f"artreg: unassign {stage} from {name} {holder.label}",
        stage=stage,
        wait=wait,
        sign=sign,
    )


def _refuse_rolled_away_fallback(artifact: Artifact, leaving: Version, change: str) -> None:
    """Refuse a change that would make production fall back (GTO's rule, as `gto show` reads
    the tags) onto a version a rollback took it away from: that would re-release the version
    the rollback withdrew, silently. Moving production first makes the choice explicit."""
    if artifact.stage("production") is not leaving:
        return
    back = rollbacks.fallback(artifact, "production", leaving)
    if back is None or back not in rollbacks.rolled_away(artifact):
        return
    good = rollbacks.previous(artifact, leaving)
    raise InputError(
        f"{artifact.name}: {change} would put production back on {back.label}, which a "
        "rollback took production away from (a stage falls back to its newest earlier "
        "assignment, as gto reads the tags)",
        hint=f"move production first (`artreg rollback {artifact.name} --reason TEXT --to "
        f"{good.label if good is not None and good.registered else 'vX.Y.Z'}`, or --to "
        f"{back.label} if that is meant), then run this again",
    )


def retire(root: Path, spec: str, wait: float = 0.0, sign: bool = False) -> Housekeeping:
    """`artreg deprecate NAME@vX.Y.Z` deregisters that version; `NAME` deprecates the artifact."""
    name, stage, version = parse_spec(spec)
    if stage is not None:
        raise InputError(f"{spec}: use `artreg unassign {spec}` for a stage", hint="see --help")
    if version:
        return deregister(root, name, version.removeprefix("v"), wait=wait, sign=sign)
    return deprecate(root, name, wait=wait, sign=sign)


def unassign_spec(root: Path, spec: str, wait: float = 0.0, sign: bool = False) -> Housekeeping:
    """`artreg unassign NAME#STAGE`."""
    name, stage, version = parse_spec(spec)
    if stage is None:
        raise InputError(
            f"{spec}: give NAME#STAGE"
            + (f" (to retire version {version}, use `artreg deprecate {spec}`)" if version else ""),
            hint="e.g. artreg unassign encoder#production",
        )
    return unassign(root, name, stage, wait=wait, sign=sign)
