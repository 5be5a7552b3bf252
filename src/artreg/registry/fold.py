"""The registry state folded from tag events (GTO's rules): one pass over the annotated tags in
time order, or one event at a time for a caller that needs the state after every event
(history, the registry as of a moment). Pure: the events come from `artreg.registry.state`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter

from artreg.registry.records import Artifact, Event, Registry, Version, stage_order
from artreg.registry.tags import ASSIGN, STAGE_ACTIONS, VERSION_ACTIONS


def replay_order(events: Iterable[Event]) -> list[Event]:
    """The events the state is folded from, in folding order: annotated only, oldest first."""
    return sorted((e for e in events if e.annotated), key=attrgetter("timestamp"))


class Folding:
    """Folds tag events one at a time into a Registry, so that a caller that needs the state
    after every event (history, the registry as of a moment) pays for one pass, not one per
    event. `fold` is this, run to the end."""

    def __init__(self, events: Sequence[Event] = (), partial: bool = False) -> None:
        self.registry = Registry(events=list(events), partial=partial)
        self._by_key: dict[tuple[str, str, str], Version] = {}  # (name, version, commit)
        self._registered_at: dict[tuple[str, str], Version] = {}  # (name, commit), newest

    def add(self, event: Event) -> Artifact:
        """Apply one annotated event (events must come in `replay_order`)."""
        parsed = event.parsed
        artifact = self.registry.artifacts.get(parsed.name)
        if artifact is None:
            artifact = self.registry.artifacts[parsed.name] = Artifact(parsed.name)
        artifact.events.append(event)
        if parsed.action in VERSION_ACTIONS:
            assert parsed.version is not None
            version = _find_or_add(artifact, self._by_key, parsed.version, event.commit, True)
            was_active = version.active
            version.direct.append(event)
            if version.stage_events and version.active != was_active:
                artifact._stages = None  # a version holding stages came or went: recompute
            self._registered_at[(parsed.name, event.commit)] = version
        elif parsed.action in STAGE_ACTIONS:
            assert parsed.stage is not None
            # A stage tag belongs to the version registered at its commit, else to the commit.
            version = self._registered_at.get((parsed.name, event.commit)) or _find_or_add(
                artifact, self._by_key, event.commit, event.commit, False
            )
            version.stage_events.setdefault(parsed.stage, []).append(event)
            _update_stages(artifact, version, event)
        return artifact


def _update_stages(artifact: Artifact, version: Version, event: Event) -> None:
    """Keep `artifact.stages()` current after a stage event, without the pass over every
    version (history asks for the stages after every event: that pass made it quadratic; a
    listing asks once per name, but of thousands of versions).

    Only the cases whose answer is certain are handled here; anything else (a tie in time,
    the holder unassigned) drops the cache for a full pass.
    """
    stages, stage = artifact._stages, event.parsed.stage
    assert stage is not None
    if stages is None:
        return  # dropped already: the next `stages()` makes the full pass
    holder = stages.get(stage)
    if event.parsed.action is ASSIGN:
        if not version.active:
            return  # an inactive version holds nothing: no change
        if holder is None:
            # No active assignment of the stage existed, so this one is the newest.
            stages[stage] = version
            artifact._stages = dict(sorted(stages.items(), key=lambda item: stage_order(item[0])))
            return
        # The newest active assignment wins (events come oldest first); the holder's
        # assignment being older, this one is newer than every other candidate too.
        held_since = holder.assigned_since(stage)
        if holder is version or (held_since is not None and held_since < event.timestamp):
            stages[stage] = version
            return
    elif holder is not version:
        return  # unassigning a version that did not hold the stage changes nothing
    artifact._stages = None


def fold(events: Sequence[Event], partial: bool = False) -> Registry:
    """Fold tag events, oldest first, into the registry (linear in the number of tags)."""
    folding = Folding(events, partial)
    for event in replay_order(events):
        folding.add(event)
    return folding.registry


def _find_or_add(
    artifact: Artifact,
    by_key: dict[tuple[str, str, str], Version],
    version: str,
    commit: str,
    registered: bool,
) -> Version:
    key = (artifact.name, version, commit)
    found = by_key.get(key)
    if found is None:
        found = by_key[key] = Version(artifact.name, version, commit, registered)
        artifact.versions.append(found)
    return found


def current_events(registry: Registry) -> list[Event]:
    """The tags behind every stage that currently resolves, of every artifact."""
    return [e for a in registry.artifacts.values() for e in a.current().values()]
