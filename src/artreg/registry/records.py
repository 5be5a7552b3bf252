"""The read model: what the registry holds, as plain typed records.

`state.load` builds one `Registry` per command from the tags (one `git for-each-ref`, plus one
`git cat-file --batch` when tags do not say which folder they promoted). Everything that asks
"which tag promoted this folder" or "what does this tag mean" asks these objects. Manifests and
metadata, the documents a stage folder holds, are `registry.documents`.

The resolution rules are GTO's (gto/base.py):

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

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from artreg.errors import InputError, NotFoundError
from artreg.registry.layout import StageDir
from artreg.registry.tags import (
    ASSIGN,
    REGISTER,
    STAGES,
    Action,
    TagName,
    message_fields,
    parse_requirement,
    semver_key,
    shown,
)

_UNSET: Any = object()  # an event's folder, before anyone asked for it


def iso(timestamp: int) -> str:
    """A unix time as the UTC ISO 8601 string artreg writes everywhere."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, order=True)
class Requirement:
    """One artifact version a promotion needs (a LoRA adapter's base model, a student's
    teacher): `name@vX.Y.Z` on the command line, in the tag message and in metadata.json."""

    name: str
    version: str  # without the leading "v"

    def __str__(self) -> str:
        return f"{self.name}@v{self.version}"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Requirement:
        return cls(str(data["name"]), str(data["version"]))


def requirements(values: Any, field: str = "requires") -> tuple[Requirement, ...]:
    """`requires=[...]` (or repeated `--requires`) as requirements, each parsed by the one
    grammar (`tags.parse_requirement`), sorted; one version per name (the same one twice is
    one requirement)."""
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, (list, tuple, set, frozenset)):
        raise InputError(
            f"{field}={shown(str(values))!r}: expected a list of NAME@vX.Y.Z",
            hint=f'pass {field}=["encoder@v1.2.0"] (on the command line, --requires once per '
            "requirement)",
        )
    found: dict[str, Requirement] = {}
    for value in values:
        name, version = parse_requirement(value)
        if name in found and found[name].version != version:
            raise InputError(
                f"{field}: {name} is required twice ({found[name]} and {value})",
                hint=f"give one version of {name}",
            )
        found[name] = Requirement(name, version)
    return tuple(sorted(found.values()))


def requires_line(requires: tuple[Requirement, ...]) -> str:
    """The `requires:` field of a tag message (empty, so left out, when nothing is required)."""
    return ", ".join(str(r) for r in requires)


def _requires_field(text: str | None) -> tuple[tuple[Requirement, ...], tuple[str, ...]]:
    """A tag message's `requires:` field: the requirements, and the entries outside the grammar
    (skipped, so a hand-edited tag cannot break reading; `artreg verify` reports them)."""
    if text is None:
        return (), ()  # no such line: gto's and Studio's tags, and most of artreg's
    found, unreadable = set(), []
    for part in text.split(","):
        try:
            found.add(Requirement(*parse_requirement(part.strip())))
        except InputError:
            unreadable.append(part.strip())
    return tuple(sorted(found)), tuple(unreadable)


def stage_order(stage: str) -> tuple[int, str]:
    """Stages in lifecycle order (raw, validated, production), then any other by name."""
    return (STAGES.index(stage), "") if stage in STAGES else (len(STAGES), stage)


@dataclass(eq=False, slots=True)
class Event:
    """One registry tag: a registration, promotion, deregistration, unassignment or deprecation.

    `folder` is the stage folder the tag promoted: from the tag message (artreg's tags, read
    when first asked), else from `dvc.yaml` at the tag's commit (tags gto or Studio wrote),
    which `state.resolve_folders` fills in.
    """

    tag: str
    parsed: TagName
    commit: str
    timestamp: int
    tagger: str
    tagger_email: str
    message: str
    annotated: bool
    _folder: Any = field(default=_UNSET, repr=False)
    _fields: dict[str, str] | None = field(default=None, repr=False)

    @property
    def folder(self) -> StageDir | None:
        if self._folder is _UNSET:
            if self.needs_dvc_yaml:
                return None  # not known until `state.resolve_folders` reads dvc.yaml
            named = self.fields.get("folder")
            self._folder = StageDir.parse(named) if named else None
        folder: StageDir | None = self._folder
        return folder

    @folder.setter
    def folder(self, value: StageDir | None) -> None:
        self._folder = value

    @property
    def needs_dvc_yaml(self) -> bool:
        """True for a promoting tag whose message does not say its folder (gto wrote it)."""
        return self._folder is _UNSET and self.promotes and not self.fields

    @property
    def name(self) -> str:
        return self.parsed.name

    @property
    def action(self) -> Action:
        return self.parsed.action

    @property
    def stage(self) -> str | None:
        return self.parsed.stage

    @property
    def version(self) -> str | None:
        return self.parsed.version

    @property
    def promotes(self) -> bool:
        """True for the tags that put a folder into a stage (assign, register)."""
        return self.parsed.action in (Action.ASSIGN, Action.REGISTER)

    @property
    def fields(self) -> dict[str, str]:
        """The `key: value` lines of artreg's tag message (empty for gto's messages)."""
        if self._fields is None:
            self._fields = message_fields(self.message)
        return self._fields

    @property
    def source(self) -> str | None:
        return self.fields.get("source")

    @property
    def requires(self) -> tuple[Requirement, ...]:
        """What the promotion needs, from the tag message's `requires:` line (gto's and
        Studio's tags have none)."""
        return _requires_field(self.fields.get("requires"))[0]

    @property
    def unreadable_requires(self) -> tuple[str, ...]:
        """Entries of the `requires:` line that are not NAME@vX.Y.Z (a tag edited by hand)."""
        return _requires_field(self.fields.get("requires"))[1]

    @property
    def by(self) -> str:
        """Who made the change: artreg's `by:` line, else the tagger."""
        return self.fields.get("by") or self.tagger_line

    @property
    def tagger_line(self) -> str:
        return f"{self.tagger} {self.tagger_email}".strip()

    @property
    def date(self) -> str:
        return iso(self.timestamp)


@dataclass(slots=True)
class Version:
    """One version of an artifact: a registered semver, or an unregistered commit."""

    name: str
    version: str  # "1.2.0" for a registered version, the commit hexsha otherwise
    commit: str
    registered: bool = False
    direct: list[Event] = field(default_factory=list)  # register / deregister
    stage_events: dict[str, list[Event]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        if self.direct:
            return self.direct[-1].parsed.action is REGISTER
        return bool(self.stage_events)

    def assigned_since(self, stage: str) -> int | None:
        """Time of the stage's latest assignment, if the stage is currently assigned here."""
        events = self.stage_events.get(stage)
        if not events or events[-1].parsed.action is not ASSIGN:
            return None
        return events[-1].timestamp

    def assignment(self, stage: str) -> Event | None:
        events = self.stage_events.get(stage)
        return events[-1] if events and events[-1].parsed.action is ASSIGN else None

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.registered else self.version

    def requires(self, stage: str | None = None) -> tuple[Requirement, ...]:
        """What this version needs: as its `stage` assignment's tag says, else its registration
        (both tags of a release carry the same message)."""
        event = (self.assignment(stage) if stage else None) or (
            self.direct[-1] if self.direct else None
        )
        return event.requires if event is not None else ()


@dataclass
class Artifact:
    """Everything the tags say about one artifact name."""

    name: str
    versions: list[Version] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Kept current by `fold.Folding` while it can be; None: make the full pass when asked.
    _stages: dict[str, Version] | None = field(default_factory=dict, repr=False, compare=False)

    @property
    def deprecated(self) -> bool:
        return bool(self.events) and self.events[-1].parsed.action is Action.DEPRECATE

    def active_versions(self) -> list[Version]:
        return [v for v in self.versions if v.active]

    def _active_registered(self) -> list[Version]:
        # `registered` first: most versions of a long history are commits put into raw or
        # validated without a version, and `active` is the dearer question.
        return [v for v in self.versions if v.registered and v.active]

    def released(self) -> list[Version]:
        """Active registered versions, in semver order."""
        return sorted(self._active_registered(), key=lambda v: semver_key(v.version))

    def stage(self, stage: str) -> Version | None:
        """The version currently in `stage`: the newest active assignment."""
        return self.stages().get(stage)

    def stages(self) -> dict[str, Version]:
        """Every stage that resolves, in lifecycle order, each to the active version whose
        latest assignment is newest (one pass; computed once, as the tags are fixed)."""
        if self._stages is None:
            best: dict[str, tuple[tuple[int, int], Version]] = {}
            for index, version in enumerate(self.versions):
                if not version.stage_events or not version.active:
                    continue
                for stage, events in version.stage_events.items():
                    if events[-1].parsed.action is ASSIGN:
                        key = (events[-1].timestamp, index)
                        if stage not in best or key > best[stage][0]:
                            best[stage] = (key, version)
            self._stages = {s: best[s][1] for s in sorted(best, key=stage_order)}
        return self._stages

    def current(self) -> dict[str, Event]:
        """The assignment tag behind each stage that currently resolves."""
        found = {}
        for stage, holder in self.stages().items():
            event = holder.assignment(stage)
            assert event is not None
            found[stage] = event
        return found

    def latest(self) -> Version | None:
        """The highest active registered semver (GTO's `latest`)."""
        return max(self._active_registered(), key=lambda v: semver_key(v.version), default=None)

    def find_version(self, version: str) -> Version | None:
        bare = version[1:] if version.startswith("v") else version
        matches = [v for v in self.versions if v.registered and v.version == bare and v.active]
        return matches[-1] if matches else None

    def promotions(self, folder: StageDir) -> list[Event]:
        """The tags that promoted `folder`, oldest first (a release has two: version, stage)."""
        return [e for e in self.events if e.promotes and e.folder == folder]


@dataclass
class Registry:
    """The registry as its tags describe it, built once per command by `state.load`."""

    artifacts: dict[str, Artifact] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # every grammar tag, lightweight too
    partial: bool = False  # built from some names' tags only

    def get(self, name: str) -> Artifact:
        try:
            return self.artifacts[name]
        except KeyError:
            known = "see `artreg list`" if self.partial else ", ".join(sorted(self.artifacts))
            raise NotFoundError(
                f"no artifact named {name!r} in the registry (known: {known or 'none yet'})",
                hint="check the name with `artreg list`",
            ) from None

    def tagged_events(self) -> list[Event]:
        """Every annotated tag, oldest first (the events the state was folded from)."""
        return [e for a in self.artifacts.values() for e in a.events]

    def promotions(self, folder: StageDir) -> list[Event]:
        """The tags that promoted `folder`, oldest first (its folders must be resolved)."""
        artifact = self.artifacts.get(folder.name)
        return artifact.promotions(folder) if artifact else []

    def tagged_folders(self) -> set[str]:
        return {e.folder.relpath for e in self.tagged_events() if e.folder is not None}
