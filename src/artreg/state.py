"""Building the read model (`model.Registry`) once per command, from as few git calls as exist.

GTO rebuilds its state by asking git for each tag separately; here every tag arrives in one
`git for-each-ref` call and the state is one pass over them in time order. Which folder a tag
promoted is in artreg's tag message; for tags another tool wrote (gto, Studio), it is
`artifacts.<name>.path` in `dvc.yaml` at the tag's commit, and every such file the command
needs is read in one `git cat-file --batch` process and parsed with libyaml.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Literal

from artreg.adapters.git import read as gitread
from artreg.adapters.git.tagstream import FOR_EACH_REF_FORMAT
from artreg.registry import dvcyaml
from artreg.registry.layout import StageDir
from artreg.registry.records import Artifact, Event, Registry, Version, stage_order
from artreg.registry.tags import ASSIGN, STAGE_ACTIONS, VERSION_ACTIONS, parse_tag

Folders = Literal["current", "all", "none"]


def parse_for_each_ref(output: str) -> list[Event]:
    """Turn `git for-each-ref --format=FOR_EACH_REF_FORMAT refs/tags` output into events.

    Tags outside the grammar are skipped; lightweight ones are kept but marked, because GTO
    counts them for the next counter while ignoring them for the registry state. Messages are
    read only for the events a command asks about (`Event.folder`).
    """
    events: list[Event] = []
    for chunk in output.split("\x1e"):
        fields = chunk.split("\x00")
        if len(fields) < 8:
            continue
        objecttype, refname, objectname, peeled, date, tagger, email, contents = fields[:8]
        parsed = parse_tag(refname)
        if parsed is None:
            continue
        annotated = objecttype == "tag"
        events.append(
            Event(
                refname,
                parsed,
                peeled if annotated else objectname,
                int(date or 0),
                tagger,
                email,
                contents.rstrip("\n"),
                annotated,
            )
        )
    return events


def resolve_folders(root: Path, events: Iterable[Event]) -> None:
    """Fill in the folders of tags another tool wrote: `dvc.yaml` at each of their commits,
    read in one `git cat-file --batch` and parsed once per distinct file."""
    pending = [e for e in events if e.needs_dvc_yaml]
    if not pending:
        return
    blobs = gitread.read_blobs(root, sorted({f"{e.commit}:{dvcyaml.DVC_YAML}" for e in pending}))
    parsed: dict[bytes, dict[str, str]] = {}
    for event in pending:
        data = blobs.get(f"{event.commit}:{dvcyaml.DVC_YAML}")
        if data is None:
            continue
        if data not in parsed:
            parsed[data] = dvcyaml.artifact_paths(data, f"dvc.yaml at {event.commit[:8]}")
        path = parsed[data].get(event.name)
        event.folder = StageDir.parse(path) if path else None


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


def load(root: Path, names: Sequence[str] | None = None, folders: Folders = "current") -> Registry:
    """The registry at `root` (of all names, or just `names`): one `git for-each-ref`, plus one
    `git cat-file --batch` when tags another tool wrote must say which folder they promoted.

    `folders` says whose folders are needed: the tags behind the current stages (what listing
    and resolving need), every promoting tag (verification, review, lineage), or none.
    """
    # Git prints nothing until it has read every tag: time to load the YAML parser, in case
    # the tags turn out to be another tool's.
    output = gitread.for_each_ref(root, FOR_EACH_REF_FORMAT, names, while_waiting=dvcyaml.prepare)
    events = parse_for_each_ref(output)
    registry = fold(events, partial=bool(names))
    complete(root, registry, folders)
    return registry


def complete(root: Path, registry: Registry, folders: Folders = "current") -> None:
    """Resolve the folders `folders` names (see `load`)."""
    if folders == "current":
        resolve_folders(root, current_events(registry))
    elif folders == "all":
        resolve_folders(root, registry.tagged_events())
