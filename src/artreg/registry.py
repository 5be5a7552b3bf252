"""The registry's state, computed from one `git for-each-ref` call with GTO's semantics.

GTO rebuilds this by asking git for each tag separately; here every tag arrives in one call and
the state is one pass over them in time order. The rules are GTO's (gto/base.py):

- `name@vX` registers version X at its commit, `name@vX!` deregisters it;
- `name#stage#N` assigns the stage to the version at its commit (an unregistered commit becomes a
  version named by its hexsha), `name#stage!#N` unassigns it; a stage resolves to the active
  version whose latest assignment is newest;
- `name@deprecated` hides the artifact while it is the newest event;
- lightweight tags are ignored.

One deliberate difference: GTO files an unassignment of an *unregistered* commit under a new,
separate version, so the stage stays assigned; artreg applies it to the commit's assignment, as
DESIGN.md requires ("an unassigned stage no longer resolves"). See docs/gto-compatibility.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artreg import gitrepo
from artreg.errors import NotFoundError
from artreg.layout import STAGES, semver_key
from artreg.tags import Action, TagRecord


@dataclass
class VersionState:
    """One version of an artifact: a registered semver, or an unregistered commit."""

    name: str
    version: str  # "1.2.0" for a registered version, the commit hexsha otherwise
    commit: str
    registered: bool = False
    direct: list[TagRecord] = field(default_factory=list)  # register / deregister
    stage_events: dict[str, list[TagRecord]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        if self.direct:
            return self.direct[-1].parsed.action is Action.REGISTER
        return bool(self.stage_events)

    def assigned_since(self, stage: str) -> int | None:
        """Time of the stage's latest assignment, if the stage is currently assigned here."""
        events = self.stage_events.get(stage)
        if not events or events[-1].parsed.action is not Action.ASSIGN:
            return None
        return events[-1].timestamp

    def assignment(self, stage: str) -> TagRecord | None:
        events = self.stage_events.get(stage)
        return events[-1] if events and events[-1].parsed.action is Action.ASSIGN else None

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.registered else self.version


@dataclass
class ArtifactState:
    """Everything the tags say about one artifact name."""

    name: str
    versions: list[VersionState] = field(default_factory=list)
    events: list[TagRecord] = field(default_factory=list)

    @property
    def deprecated(self) -> bool:
        return bool(self.events) and self.events[-1].parsed.action is Action.DEPRECATE

    def active_versions(self) -> list[VersionState]:
        return [v for v in self.versions if v.active]

    def stage(self, stage: str) -> VersionState | None:
        """The version currently in `stage`: the newest active assignment."""
        best: tuple[int, int] | None = None
        holder = None
        for index, version in enumerate(self.versions):
            # assigned_since() and active, inlined: history asks this after every event.
            events = version.stage_events.get(stage)
            if not events or events[-1].parsed.action is not Action.ASSIGN:
                continue
            key = (events[-1].timestamp, index)
            if (best is None or key > best) and version.active:
                best, holder = key, version
        return holder

    def stages(self) -> dict[str, VersionState]:
        names = {s for v in self.versions for s in v.stage_events}
        ordered = [s for s in STAGES if s in names] + sorted(names - set(STAGES))
        return {s: h for s in ordered if (h := self.stage(s)) is not None}

    def latest(self) -> VersionState | None:
        """The highest active registered semver (GTO's `latest`)."""
        registered = [v for v in self.active_versions() if v.registered]
        return max(registered, key=lambda v: semver_key(v.version), default=None)

    def find_version(self, version: str) -> VersionState | None:
        bare = version[1:] if version.startswith("v") else version
        matches = [v for v in self.versions if v.registered and v.version == bare and v.active]
        return matches[-1] if matches else None


@dataclass
class RegistryState:
    artifacts: dict[str, ArtifactState] = field(default_factory=dict)
    records: list[TagRecord] = field(default_factory=list)  # every grammar tag, lightweight too
    partial: bool = False  # built from some names' tags only

    def get(self, name: str) -> ArtifactState:
        try:
            return self.artifacts[name]
        except KeyError:
            known = "see `artreg list`" if self.partial else ", ".join(sorted(self.artifacts))
            raise NotFoundError(
                f"no artifact named {name!r} in the registry (known: {known or 'none yet'})",
                hint="check the name with `artreg list`",
            ) from None


def replay_order(records: Sequence[TagRecord]) -> list[TagRecord]:
    """The records the state is folded from, in folding order: annotated only, oldest first."""
    return sorted((r for r in records if r.annotated), key=lambda r: r.timestamp)


class StateBuilder:
    """Folds tag records one at a time into a RegistryState, so callers that need the state
    after every event (history, as-of queries) pay for one pass, not one pass per event."""

    def __init__(self, records: list[TagRecord] | None = None) -> None:
        self.state = RegistryState(records=records if records is not None else [])
        self._by_key: dict[tuple[str, str, str], VersionState] = {}  # (name, version, commit)
        self._registered_at: dict[tuple[str, str], VersionState] = {}  # (name, commit), newest

    def add(self, record: TagRecord) -> ArtifactState:
        """Apply one annotated record (records must come in `replay_order`)."""
        parsed = record.parsed
        artifact = self.state.artifacts.get(parsed.name)
        if artifact is None:
            artifact = self.state.artifacts[parsed.name] = ArtifactState(parsed.name)
        artifact.events.append(record)
        if parsed.action in (Action.REGISTER, Action.DEREGISTER):
            assert parsed.version is not None
            version = _find_or_add(artifact, self._by_key, parsed.version, record.commit, True)
            version.direct.append(record)
            self._registered_at[(parsed.name, record.commit)] = version
        elif parsed.action in (Action.ASSIGN, Action.UNASSIGN):
            assert parsed.stage is not None
            # A stage tag belongs to the version registered at its commit, else to the commit.
            version = self._registered_at.get((parsed.name, record.commit)) or _find_or_add(
                artifact, self._by_key, record.commit, record.commit, False
            )
            version.stage_events.setdefault(parsed.stage, []).append(record)
        return artifact


def build_state(records: list[TagRecord]) -> RegistryState:
    """Fold tag records, oldest first, into the registry state (linear in the number of tags)."""
    builder = StateBuilder(records)
    for record in replay_order(records):
        builder.add(record)
    return builder.state


def _find_or_add(
    artifact: ArtifactState,
    by_key: dict[tuple[str, str, str], VersionState],
    version: str,
    commit: str,
    registered: bool,
) -> VersionState:
    key = (artifact.name, version, commit)
    found = by_key.get(key)
    if found is None:
        found = by_key[key] = VersionState(artifact.name, version, commit, registered=registered)
        artifact.versions.append(found)
    return found


def load_state(root: Path, names: Sequence[str] | None = None) -> RegistryState:
    """The registry state of the repo at `root` (of all names, or just `names`): one git call."""
    state = build_state(gitrepo.list_tags(root, names))
    state.partial = bool(names)
    return state


# --- tag messages: readable by people, parsable by artreg ----------------------------------

MESSAGE_KEYS = ("folder", "source", "by", "kind")


def _one_line(value: str) -> str:
    """A value that cannot break out of its line (a path with a newline would forge a field)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in value)


def tag_message(title: str, **fields: str) -> str:
    """A tag message: a title line, a blank line, then `key: value` lines artreg parses back."""
    body = "\n".join(f"{k}: {_one_line(v)}" for k, v in fields.items() if v)
    return f"{_one_line(title)}\n\n{body}\n"


def message_fields(message: str) -> dict[str, str]:
    """The `key: value` fields of an artreg tag message; the first occurrence of a key counts."""
    fields: dict[str, str] = {}
    for line in message.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep and key in MESSAGE_KEYS and key not in fields:
            fields[key] = value.strip()
    return fields
