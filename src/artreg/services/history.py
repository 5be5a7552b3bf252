"""`artreg history NAME`: what held each stage of NAME, from when until when, put there by whom,
through which commit and pull request. The intervals are the domain's (`registry.history`,
GTO's rules as `fold.Folding` applies them); this reads the tags, the first-parent commits and
the tags' signers of the repository at `root` (a clone's, or a URL's cache repository) for it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, InputError
from artreg.publishing.rights import signers_of
from artreg.registry import state
from artreg.registry.history import Interval, PullRequests, intervals
from artreg.registry.layout import PARAMS_FILE
from artreg.registry.policy import committed_sections
from artreg.registry.stages import parse_stages
from artreg.registry.tags import STAGES, validate_name


def _declared_stages(root: Path) -> tuple[str, ...]:
    """Every stage params.yaml at HEAD declares, in lifecycle order (the built-in ones when it
    declares none or does not parse: `verify` reports that, history reads the tags)."""
    head = gitrun.head(root)
    if head is None:
        return STAGES
    try:
        sections = committed_sections(root, head)
        return parse_stages(sections.get("stages"), f"{PARAMS_FILE}@{head[:12]}").order
    except ArtregError:
        return STAGES


def history(root: Path, name: str, stage: str | None = None) -> list[Interval]:
    """The intervals of `name` in the repo at `root`: one for-each-ref, one git log, and one
    cat-file when tags another tool wrote must say their folder through dvc.yaml."""
    name = validate_name(name)
    registry = state.load(root, [name], folders="all")
    artifact = registry.get(name)  # an unknown name gets the usual NotFoundError
    declared = _declared_stages(root)
    known = [*declared, *sorted({e.stage for e in artifact.events if e.stage} - set(declared))]
    if stage is not None and stage not in known:
        raise InputError(f"unknown stage {stage!r}", hint=f"use one of: {', '.join(known)}")
    prs = PullRequests(gitread.log_commits(root))
    spans = intervals(registry.events, name, stage, prs)
    signed = signers_of(root, [s.tag for s in spans])
    return [replace(s, signer=signed[s.tag].as_json()) if s.tag in signed else s for s in spans]
