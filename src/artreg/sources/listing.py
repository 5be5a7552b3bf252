"""What a registry's git directory lists: every name's stages (`list`), and each stage folder's
signature added to a summary (`show NAME`). A clone reads its own repository, a registry URL its
cache repository; both through these. Nothing here writes. A clone's `show` (which resolves and
checks signatures) is clone_show.py: `list` loads none of that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from artreg.errors import ArtregError
from artreg.registry import clone_history, state
from artreg.registry.layout import SIGNATURE_FILE
from artreg.registry.records import Registry
from artreg.registry.retirements import Retired, read_retired
from artreg.registry.tags import STAGES


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
