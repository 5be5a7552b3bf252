"""What a registry's git directory lists and shows: every name's stages (`list`), one name with
each stage folder's signature (`show NAME`), one entry (`show NAME@vX`). A clone reads its own
repository, a registry URL its cache repository; both through these. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.errors import ArtregError
from artreg.publishing.rights import promotion_signer_status, signers_of
from artreg.reading.resolve import deprecation, deregistration, held_stage
from artreg.registry import clone_history, state
from artreg.registry.layout import SIGNATURE_FILE
from artreg.registry.records import Artifact, Registry
from artreg.registry.retirements import Retired, read_retired
from artreg.registry.tags import STAGES, validate_name
from artreg.sources import clone_fetch as fetch

if TYPE_CHECKING:
    from types import ModuleType

    from artreg.reading.resolve import Resolved


@dataclass(frozen=True)
class StageEntry:
    """What one stage of an artifact holds now."""

    version: str | None  # "v1.2.0", or None for an unregistered commit
    id: str | None
    folder: str | None
    commit: str
    tag: str
    requires: tuple[str, ...] = ()  # NAME@vX.Y.Z this stage's version needs (its tag says)
    retired: str | None = None  # the date gc retired its folder (artifacts/retired.json)

    def as_json(self) -> dict[str, Any]:
        """One stage of `list`/`show --json`; `requires` and `retired` only where they apply."""
        data = asdict(self)
        for key in ("requires", "retired"):
            if not data[key]:
                del data[key]
            elif key == "requires":
                data[key] = list(self.requires)
        return data


@dataclass(frozen=True)
class ArtifactSummary:
    """One line of `artreg list`: the latest version and every stage (like `gto show`)."""

    name: str
    latest: str | None
    deprecated: bool
    stages: dict[str, StageEntry]
    # `show NAME` only: each stage folder's model.sig as the trust policy sees it (signer, key
    # fingerprint, status), for the stages that have one or require one
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # `show NAME` in a clone: each stage's promotion signer (the `signer` object of history),
    # with `refused` saying why where params.yaml's rights.signed is not met
    signers: dict[str, dict[str, Any]] = field(default_factory=dict)


def overview(
    root: Path,
    registry: Registry | None = None,
    deprecated: bool = False,
    names: list[str] | None = None,
) -> dict[str, ArtifactSummary]:
    """Every name (or `names`) with its latest version and what each stage holds (gto show)."""
    registry = registry or state.load(root, names)
    result: dict[str, ArtifactSummary] = {}
    tombs: dict[str, Retired] | None = None
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        if artifact.deprecated and not deprecated:
            continue
        latest = artifact.latest()
        stages = {}
        tombs = tombs if tombs is not None else read_retired(root)
        for stage, holder in artifact.stages().items():
            event = holder.assignment(stage)
            assert event is not None
            folder = event.folder
            stages[stage] = StageEntry(
                version=f"v{holder.version}" if holder.registered else None,
                id=folder.entry if folder else None,
                folder=folder.relpath if folder else None,
                commit=holder.commit,
                tag=event.tag,
                requires=tuple(str(r) for r in event.requires),
                retired=tombs[folder.relpath].date[:10]
                if folder and folder.relpath in tombs
                else None,
            )
        result[name] = ArtifactSummary(
            name, f"v{latest.version}" if latest else None, artifact.deprecated, stages
        )
    return result


def incomplete_clone(root: Path, empty: bool) -> tuple[str, str] | None:
    """(what this clone lacks, the git command that fetches it) when a listing may be missing
    artifacts: a shallow clone, or (for an empty listing) a clone without tags."""
    return clone_history.missing_history(root, check_tags=empty)


def show_entry(
    root: Path, name: str, stage: str | None, version: str | None
) -> tuple[Resolved, dict[str, Any] | None, str | None, str, str]:
    """`artreg show NAME@vX` or `NAME#STAGE`: what it resolves to (a version with the stage it
    holds now, if any), its signature status, the date gc retired its folder (or None), and
    the tag that deprecated the name and the one that deregistered the version ('' if none:
    their history is shown)."""
    registry = state.load(root, [validate_name(name)], folders="none")
    fetch = _fetch()
    resolved = fetch.resolve(
        root, name, stage=stage, version=version, registry=registry, history=True
    )
    if version is not None:
        resolved = replace(resolved, stage=held_stage(registry, name, resolved.version))
    tomb = read_retired(root).get(resolved.folder.relpath)
    signature = fetch.signature_status(root, resolved)
    return (
        resolved,
        signature,
        tomb.date[:10] if tomb else None,
        deprecation(registry, name),
        deregistration(registry, name, version),
    )


def _fetch() -> ModuleType:
    return fetch


def show_artifact(root: Path, name: str) -> ArtifactSummary:
    """`artreg show NAME`: every stage of one artifact (deprecated ones too), with who signed
    each stage's model and with which key, and who signed each stage's promotion tag."""
    fetch = _fetch()
    registry = state.load(root, [validate_name(name)])
    found = overview(root, registry=registry, deprecated=True, names=[name]).get(name)
    if found is None:
        state.load(root, folders="none").get(name)  # raises the NotFoundError naming the known
        raise AssertionError(name)

    def model_signature(stage: str | None, version: str | None) -> dict[str, Any] | None:
        resolved = fetch.resolve(root, name, stage, version, registry, signer=False)
        status: dict[str, Any] | None = fetch.signature_status(root, resolved)
        return status

    shown = with_signatures(found, model_signature)
    return replace(shown, signers=stage_signers(root, registry.get(name)))


def stage_signers(root: Path, artifact: Artifact) -> dict[str, dict[str, Any]]:
    """Each stage's promotion signer, as readers judge it: git's verdict on the tag that put
    the stage's version there, and `refused` (why) where params.yaml's rights.signed at HEAD
    requires a signature the tag lacks (a reader would refuse that stage)."""
    events = {s: v.assignment(s) for s, v in artifact.stages().items()}
    verdicts = signers_of(root, [e.tag for e in events.values() if e is not None])
    found: dict[str, dict[str, Any]] = {}
    for stage, event in events.items():
        if event is None:
            continue
        verdict = verdicts.get(event.tag)
        signer = verdict.as_json() if verdict is not None else None
        try:
            promotion_signer_status(root, event)
        except ArtregError as exc:
            empty = {"principal": None, "fingerprint": None, "verified": False}
            signer = {**(signer or empty), "refused": exc.message}
        if signer is not None:
            found[stage] = signer
    return found


def with_signatures(
    summary: ArtifactSummary, status_of: Callable[[str | None, str | None], dict[str, Any] | None]
) -> ArtifactSummary:
    """`summary` with each stage folder's signature status (`status_of(stage, version)`:
    signing.describe of the folder a built-in stage, or for an extra stage the release it
    holds, resolves to), in a clone or from a registry URL. A deprecated name resolves to
    nothing, so nothing is checked."""
    if summary.deprecated:
        return summary
    signatures = {}
    for stage, entry in summary.stages.items():
        if entry.folder is None or (stage not in STAGES and entry.version is None):
            continue
        # An extra stage holds a release: its folder is that version's.
        at = (stage, None) if stage in STAGES else (None, (entry.version or "").removeprefix("v"))
        try:
            status = status_of(*at)
        except ArtregError as exc:  # show reports; `get` and `verify` refuse
            status = {"file": SIGNATURE_FILE, "status": f"not checked: {exc.message}"}
        if status is not None:
            signatures[stage] = status
    return replace(summary, signatures=signatures)
