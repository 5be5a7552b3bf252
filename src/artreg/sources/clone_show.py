"""A clone's `show`: one name with each stage folder's signature and each stage's promotion
signer (`show NAME`), one entry (`show NAME@vX`, `NAME#STAGE`). Split from listing.py because it
resolves folders and checks signatures (clone_fetch.py, the rights), which `list` never runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from artreg.errors import ArtregError
from artreg.publishing.rights import promotion_signer_status, signers_of
from artreg.reading.resolve import Resolved, deprecation, deregistration, held_stage
from artreg.registry import state
from artreg.registry.records import Artifact
from artreg.registry.retirements import read_retired
from artreg.registry.tags import validate_name
from artreg.sources import clone_fetch
from artreg.sources.base import Entry, Local
from artreg.sources.listing import ArtifactSummary, overview, with_signatures
from artreg.sources.promoted import check_as_promoted


class CloneShow:
    """`show` over a clone's work tree: tags, manifests as committed, signatures; no bytes."""

    def __init__(self, root: Path) -> None:
        self.path = root

    def show(self, name: str) -> ArtifactSummary:
        return show_artifact(self.path, name)

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        resolved, signature, retired, deprecated, gone = show_entry(self.path, name, stage, version)
        check_as_promoted(self.path, resolved)
        verdict = signers_of(self.path, [resolved.tag]).get(resolved.tag)  # params.yaml rights
        return Entry(
            Local(self.path, resolved),
            signature,
            retired or "",
            deprecated=deprecated,
            deregistered=gone,
            signer=verdict.as_json() if verdict else None,
        )


def show_entry(
    root: Path, name: str, stage: str | None, version: str | None
) -> tuple[Resolved, dict[str, Any] | None, str | None, str, str]:
    """`artreg show NAME@vX` or `NAME#STAGE`: what it resolves to (a version with the stage it
    holds now, if any), its signature status, the date gc retired its folder (or None), and
    the tag that deprecated the name and the one that deregistered the version ('' if none:
    their history is shown)."""
    registry = state.load(root, [validate_name(name)], folders="none")
    resolved = clone_fetch.resolve(
        root, name, stage=stage, version=version, registry=registry, history=True
    )
    if version is not None:
        resolved = replace(resolved, stage=held_stage(registry, name, resolved.version))
    tomb = read_retired(root).get(resolved.folder.relpath)
    signature = clone_fetch.signature_status(root, resolved)
    return (
        resolved,
        signature,
        tomb.date[:10] if tomb else None,
        deprecation(registry, name),
        deregistration(registry, name, version),
    )


def show_artifact(root: Path, name: str) -> ArtifactSummary:
    """`artreg show NAME`: every stage of one artifact (deprecated ones too), with who signed
    each stage's model and with which key, and who signed each stage's promotion tag."""
    registry = state.load(root, [validate_name(name)])
    found = overview(root, registry=registry, deprecated=True, names=[name]).get(name)
    if found is None:
        state.load(root, folders="none").get(name)  # raises the NotFoundError naming the known
        raise AssertionError(name)

    def model_signature(stage: str | None, version: str | None) -> dict[str, Any] | None:
        resolved = clone_fetch.resolve(root, name, stage, version, registry, signer=False)
        status: dict[str, Any] | None = clone_fetch.signature_status(root, resolved)
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
