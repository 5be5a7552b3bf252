"""Lifecycle housekeeping in GTO's vocabulary: deprecate an artifact, deregister a version,
unassign a stage. Each is a tag (what gto and DVC Studio read) plus a commit that refreshes
registry.json, made as one transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from artreg import gitrepo, index
from artreg.errors import InputError, NotFoundError
from artreg.layout import REGISTRY_JSON, STAGES, validate_name, validate_semver
from artreg.publish import actor
from artreg.registry import build_state, tag_message
from artreg.tags import Action, TagRecord, format_tag, next_counter, parse_tag
from artreg.transaction import transaction


@dataclass(frozen=True)
class Housekeeping:
    tag: str
    target: str  # the commit the tag points at
    commit: str  # the commit that refreshed registry.json


def _apply(
    root: Path,
    name: str,
    action: Action,
    target: str | None,
    title: str,
    stage: str | None = None,
    version: str | None = None,
    wait: float = 0.0,
) -> Housekeeping:
    who = actor(root)
    with transaction(root, new_dirs=[], touched=[REGISTRY_JSON], wait=wait) as txn:
        records = gitrepo.list_tags(root)
        tag = format_tag(action, name, stage, version, next_counter(records, name))
        stamp = max(int(time.time()), max((r.timestamp for r in records), default=0) + 1)
        message = tag_message(title, kind=action.value, by=who)
        pointed = target or gitrepo.head(root)
        assert pointed is not None
        parsed = parse_tag(tag)
        assert parsed is not None
        pending = TagRecord(tag, parsed, pointed, stamp, who, "", message, True)
        (root / REGISTRY_JSON).write_text(index.render(root, build_state([*records, pending])))
        gitrepo.add(root, [REGISTRY_JSON])
        # Unassign and deregister tag the version's own commit, as GTO resolves them by it;
        # a deprecation marks the registry as of the new commit.
        txn.before_commit(title, [tag], message, stamp, False, target=target)
        commit = gitrepo.commit(root, f"{title}\n\ntags: {tag}", [REGISTRY_JSON], allow_empty=True)
        txn.committed(commit)
        txn.make_tags()
        pointed = target or commit
    return Housekeeping(tag, pointed, commit)


def deprecate(root: Path, name: str, wait: float = 0.0) -> Housekeeping:
    """`name@deprecated`: the artifact no longer resolves and is hidden from listings."""
    name = validate_name(name)
    state = index.load_state_for(root)
    artifact = state.get(name)
    if artifact.deprecated:
        raise InputError(f"{name} is deprecated already", hint="nothing to do")
    return _apply(root, name, Action.DEPRECATE, None, f"artreg: deprecate {name}", wait=wait)


def deregister(root: Path, name: str, version: str, wait: float = 0.0) -> Housekeeping:
    """`name@vX.Y.Z!`: the version no longer resolves (its folder stays, immutable)."""
    name, version = validate_name(name), validate_semver(version)
    found = index.load_state_for(root).get(name).find_version(version)
    if found is None:
        raise NotFoundError(
            f"{name} has no active version {version}", hint="see `artreg show NAME`"
        )
    return _apply(
        root,
        name,
        Action.DEREGISTER,
        found.commit,
        f"artreg: deregister {name} v{version}",
        version=version,
        wait=wait,
    )


def unassign(root: Path, name: str, stage: str, wait: float = 0.0) -> Housekeeping:
    """`name#stage!`: the stage no longer resolves to the version that held it."""
    name = validate_name(name)
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}", hint=f"use one of: {', '.join(STAGES)}")
    holder = index.load_state_for(root).get(name).stage(stage)
    if holder is None:
        raise NotFoundError(f"{name} has nothing in stage {stage}", hint="see `artreg show NAME`")
    return _apply(
        root,
        name,
        Action.UNASSIGN,
        holder.commit,
        f"artreg: unassign {stage} from {name} {holder.label}",
        stage=stage,
        wait=wait,
    )
