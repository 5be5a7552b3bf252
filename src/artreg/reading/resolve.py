"""Resolution, written once for every source: the spec checks, the tag that answers a name at a
stage or version (GTO's rules over the folded tags), and the committed manifest read into the
files a consumer gets. The variants supply the tags and the bytes; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from artreg.adapters.digest import FileDigest
from artreg.errors import InputError, NotFoundError
from artreg.registry.layout import StageDir, model_target
from artreg.registry.tags import (
    STAGES,
    Action,
    parse_spec,
    validate_any_stage,
    validate_name,
    validate_semver,
)

if TYPE_CHECKING:  # annotations only: a warm read imports no registry model
    from artreg.registry.records import Artifact, Event, Registry, Requirement


@dataclass(frozen=True)
class Resolved:
    """One artifact as the registry names it: where it is and what its bytes must be."""

    name: str
    stage: str | None
    version: str | None
    tag: str
    commit: str
    folder: StageDir
    primary: str  # the model file, relative to the folder
    files: dict[str, FileDigest]  # every file of the manifest, as committed
    dvc_files: frozenset[str]
    requires: tuple[Requirement, ...] = ()  # what it needs, as its tag message says

    @property
    def model(self) -> str:
        """The model file, or the model folder when the model is one (repo-relative)."""
        return f"{self.folder.relpath}/{model_target(self.folder.stage, self.primary)}"


def target(spec: str, stage: str | None, version: str | None) -> tuple[str, str | None, str | None]:
    """NAME, NAME@vX.Y.Z or NAME#STAGE, with --stage/--version: one strict parse, no guessing."""
    name, spec_stage, spec_version = parse_spec(spec, any_stage=True)
    for option, value in (("--stage", stage), ("--version", version)):
        if value is not None and not value.strip():  # an unset $STAGE: never "the default"
            raise InputError(
                f"{option} is empty", hint=f"give {option} a value, or leave the option out"
            )
    if (spec_stage or spec_version) and (stage or version):
        raise InputError(
            f"{spec} names a {'stage' if spec_stage else 'version'} already, and "
            f"{'--stage' if stage else '--version'} was given too",
            hint="give the stage or version once, in the spec or as an option",
        )
    return (
        name,
        spec_stage or (validate_any_stage(stage) if stage else None),
        spec_version or (validate_semver(version) if version else None),
    )


def check_spec(
    name: str, stage: str | None, version: str | None
) -> tuple[str, str | None, str | None]:
    """The one spelling of "a name, with a stage or a version, not both" for every source:
    the name and stage checked, the version normalized ('' or '1.0' is an error, never "any
    version")."""
    if stage is not None and version is not None:
        raise InputError(
            "give a stage or a version, not both", hint="e.g. NAME#production or NAME@v1.2.0"
        )
    name = validate_name(name)
    if stage is not None:
        validate_any_stage(stage)
    if version is not None:
        version = validate_semver(version)
    return name, stage, version


def spec_of(name: str, stage: str | None, version: str | None) -> str:
    """NAME@vX.Y.Z or NAME#STAGE (default production), as lock files and messages spell it."""
    return f"{name}@v{version.removeprefix('v')}" if version else f"{name}#{stage or 'production'}"


def selector(stage: str | None, version: str | None) -> str:
    """The key of a name's last answer in the consumer cache: `vX.Y.Z` or the stage."""
    return f"v{version.removeprefix('v')}" if version else (stage or "production")


def pick(
    registry: Registry,
    name: str,
    stage: str | None,
    version: str | None,
    *,
    history: bool = False,
) -> tuple[Event, str | None, str | None]:
    """The event that answers `name` at `version`, else at `stage` (default production), with
    the stage and version it answers as; NotFoundError naming what is there instead. A
    deprecated artifact resolves to nothing (GTO's rule), except for a read of its `history`
    (`show`, `lineage`: an audit after the deprecation), which sees what its tags held."""
    artifact = registry.get(name)
    if artifact.deprecated and not history:
        raise NotFoundError(
            f"{name} is deprecated (tag {artifact.events[-1].tag})",
            hint="use another artifact, or remove the deprecation tag if it was a mistake",
        )
    if version is not None:
        found = artifact.find_version(version)
        if found is None:
            released = ", ".join(
                f"v{v.version}" for v in artifact.active_versions() if v.registered
            )
            bare = version.removeprefix("v")
            gone = deregistered(artifact, bare)
            if gone is not None and history:  # an audit reads what its registration held
                return gone.registration, None, gone.version
            if gone is not None:
                raise NotFoundError(
                    f"{name}@v{bare} is deregistered (tag {gone.tag}); "
                    f"active: {released or 'none'}",
                    hint=f"pick an active version; `artreg show {name}@v{bare}` (with the same "
                    "--repo or --lock) still shows it",
                )
            raise NotFoundError(
                f"{name} has no active version {version} (active: {released or 'none'})",
                hint=f"no tag {name}@v{bare} exists here; pick an active one",
            )
        return found.direct[-1], None, found.version
    stage = stage or "production"
    holder = artifact.stage(stage)
    if holder is None:
        assigned = ", ".join(artifact.stages()) or "none"
        if stage not in STAGES and not any(stage in v.stage_events for v in artifact.versions):
            raise NotFoundError(
                f"unknown stage {stage!r}: no version of {name} was ever assigned to it "
                f"(assigned stages: {assigned})",
                hint="an extra stage is declared under `stages:` in params.yaml and assigned "
                "with `artreg assign NAME@vX.Y.Z STAGE`",
            )
        raise NotFoundError(
            f"{name} has nothing in stage {stage!r} (assigned stages: {assigned})",
            hint="an unassigned stage no longer resolves; promote something to it first",
        )
    assignment = holder.assignment(stage)
    assert assignment is not None
    return assignment, stage, holder.version if holder.registered else None


def deprecation(registry: Registry, name: str) -> str:
    """The tag that deprecated `name`, or '' when it is not deprecated."""
    artifact = registry.get(name)
    return artifact.events[-1].tag if artifact.deprecated else ""


@dataclass(frozen=True)
class Deregistered:
    """A registered version whose last direct tag deregistered it: its registration, and the
    deregistration tag (`NAME@vX.Y.Z!#N`)."""

    version: str
    registration: Event
    tag: str


def deregistered(artifact: Artifact, bare: str) -> Deregistered | None:
    """`artifact`'s version `bare` if it was registered and then deregistered, else None."""
    for v in reversed(artifact.versions):
        if v.registered and v.version == bare and not v.active and v.direct:
            registrations = [e for e in v.direct if e.parsed.action is Action.REGISTER]
            if registrations:
                return Deregistered(v.version, registrations[-1], v.direct[-1].tag)
    return None


def deregistration(registry: Registry, name: str, version: str | None) -> str:
    """The tag that deregistered `name`'s `version`, or '' when it is active (or none given)."""
    if version is None:
        return ""
    gone = deregistered(registry.get(name), version.removeprefix("v"))
    return gone.tag if gone is not None else ""


def held_stage(registry: Registry, name: str, version: str | None) -> str | None:
    """The stage `name`'s `version` holds now (the last of several), or None: what `show
    NAME@vX` says whichever source it reads."""
    held = [
        s for s, v in registry.get(name).stages().items() if v.registered and v.version == version
    ]
    return held[-1] if held else None


def served_instead(registry: Registry, name: str, version: str | None) -> tuple[str, str] | None:
    """(NAME@vX.Y.Z, why) of another version of `name` the registry still serves (production
    first, else the latest), for the hint of a refusal of `version`; None when there is none."""
    artifact = registry.artifacts.get(name)
    if artifact is not None and not artifact.deprecated:
        production, latest = artifact.stage("production"), artifact.latest()
        for held, what in ((production, "in production now"), (latest, "the latest")):
            if held is not None and held.registered and held.version != version:
                return f"{name}@v{held.version}", what
    return None


def folder_of(record: Event, name: str) -> str:
    """The stage folder the event promoted (repo-relative), or the refusal for a tag that
    names none and whose dvc.yaml does not either."""
    if record.folder is None:
        raise NotFoundError(
            f"tag {record.tag} does not say which folder it promoted, and dvc.yaml at "
            f"{record.commit[:12]} has no artifacts.{name}.path",
            hint="the tag was not made by artreg; re-promote with artreg",
        )
    return record.folder.relpath
