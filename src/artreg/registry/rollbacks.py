"""What a rollback means for the versions production held: a rollback takes production away
from a version, and the rollback rule (`artreg rollback` without --to) passes over every such
version. GTO's fold knows nothing of rollbacks (a stage left by its holder falls back to the
newest earlier assignment, `gto show` answers so), so the fold stays GTO's and the commands
that would make a stage fall back check the fallback against this rule. Pure."""

from __future__ import annotations

from artreg.registry.records import Artifact, Version
from artreg.registry.tags import Action


def rolled_away(artifact: Artifact) -> list[Version]:
    """The versions a rollback took production away from, oldest rollback first."""
    holders = {id(e): v for v in artifact.versions for e in v.stage_events.get("production", [])}
    left: list[Version] = []
    held: Version | None = None
    for event in artifact.events:
        if event.parsed.stage != "production" or event.parsed.action is not Action.ASSIGN:
            continue
        if event.fields.get("kind") == "rollback" and held is not None and held not in left:
            left.append(held)
        held = holders.get(id(event), held)
    return left


def previous(artifact: Artifact, current: Version) -> Version | None:
    """The version production goes back to: the latest one that held it before `current`,
    passing over every version a rollback took it away from (rolling back twice goes two
    steps back, never forward onto the version the first rollback left)."""
    holders = {id(e): v for v in artifact.versions for e in v.stage_events.get("production", [])}
    left = {id(v) for v in rolled_away(artifact)}
    assigned = [
        e
        for e in artifact.events
        if e.parsed.stage == "production" and e.parsed.action is Action.ASSIGN
    ]
    for event in reversed(assigned):
        holder = holders.get(id(event))
        if holder is not None and holder is not current and id(holder) not in left:
            return holder
    return None


def fallback(artifact: Artifact, stage: str, leaving: Version) -> Version | None:
    """The version `stage` resolves to once `leaving` no longer holds it (deregistered, or the
    stage unassigned from it), by GTO's rule: the active version whose latest assignment of
    the stage is newest."""
    best: tuple[int, Version] | None = None
    for version in artifact.versions:
        events = version.stage_events.get(stage) or []
        if version is leaving or not version.active or not events:
            continue
        if events[-1].parsed.action is Action.ASSIGN and (
            best is None or events[-1].timestamp >= best[0]
        ):
            best = (events[-1].timestamp, version)
    return None if best is None else best[1]
