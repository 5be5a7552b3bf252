"""`artreg verify`'s check of the tags that take something away: a deregistration, an
unassignment or a deprecation that moved a stage the rights watch (it fell back to an older
version, or no longer resolves) is judged like a promotion into that stage, as `deprecate` and
`unassign` are before they write: signed by an allowed signer where rights.signed lists the
stage (HEAD's allowed-signers file, as for promotions), by one of the stage's promoters (HEAD's
rights). A hand-pushed `NAME@vX!#N` tag is caught the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from artreg.adapters.git import run as gitrun
from artreg.adapters.git import signatures
from artreg.errors import ArtregError
from artreg.publishing.rights import rights_at, signers_blob
from artreg.registry.fold import Folding, replay_order
from artreg.registry.records import Artifact, Event, Registry
from artreg.registry.tags import Action

TAKING = (Action.DEREGISTER, Action.UNASSIGN, Action.DEPRECATE)


def _holders(artifact: Artifact | None, watched: Collection[str]) -> dict[str, str]:
    if artifact is None or artifact.deprecated:
        return {}
    return {s: v.version for s, v in artifact.stages().items() if s in watched}


def moves(registry: Registry, watched: Collection[str]) -> list[tuple[Event, list[str]]]:
    """Each taking-away tag with the watched stages it moved (one pass over the tags)."""
    folding = Folding(registry.events)
    found: list[tuple[Event, list[str]]] = []
    for event in replay_order(registry.events):
        if event.parsed.action not in TAKING:
            folding.add(event)
            continue
        before = _holders(folding.registry.artifacts.get(event.parsed.name), watched)
        after = _holders(folding.add(event), watched)
        moved = sorted(s for s in {*before, *after} if before.get(s) != after.get(s))
        if moved:
            found.append((event, moved))
    return found


def problems(root: Path, registry: Registry) -> list[str]:
    """verify's problems: each taking-away tag that moved a watched stage without the right."""
    head = gitrun.head(root)
    try:
        rights = rights_at(root, head)
        if head is None or not rights.configured:
            return []
        moved = moves(registry, {*rights.signed, *rights.stages})
        if not moved:
            return []
        blob = signers_blob(root, head, rights)
    except ArtregError:
        return []  # verify's rights audit reports the policy it cannot read
    objects = signatures.tag_objects(root, [event.tag for event, _ in moved])
    found = signatures.verify_objects(root, "tag", list(objects.values()), blob)
    result = []
    for event, stages in moved:
        oid = objects.get(event.tag)
        verdict = found[oid] if oid else signatures.UNSIGNED
        what = f"tag {event.tag}: moves {', '.join(stages)} of {event.parsed.name}"
        signed_stage = next((s for s in stages if rights.requires_signature(s)), None)
        if signed_stage is not None and not verdict.verified:
            result.append(
                f"{what} and {'is not signed' if not verdict.signed else verdict.detail}; "
                f"{rights.source} rights.signed lists {signed_stage}, so it must be signed by a "
                f"promoter's key of {rights.allowed_signers} (`--sign`)"
            )
            continue
        who = verdict.principal if verdict.verified and verdict.principal else event.tagger_email
        problem = next((p for s in stages if (p := rights.promoter_problem(s, who))), None)
        if problem:
            result.append(f"{what}: {problem}")
    return result
