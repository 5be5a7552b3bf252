"""`artreg assign` and `artreg rollback`: move a released version into a stage as GTO does,
with one annotated tag `NAME#STAGE#N` on the version's own commit (so `gto show` and
`dvc artifacts get` see it), plus a commit that refreshes registry.json, as one transaction.

No folder is copied: the release folder is the content of every stage it is assigned to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters.files import read_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.adapters.values import check_line
from artreg.errors import InputError, NotFoundError
from artreg.publishing import index, requests
from artreg.publishing.publish import PublishOptions, actor, with_pending
from artreg.publishing.rights import check_promotion
from artreg.publishing.transaction import transaction
from artreg.registry import rollbacks, state
from artreg.registry.documents import GateResult
from artreg.registry.layout import REGISTRY_JSON, StageDir, production_dir
from artreg.registry.policy import approver, check_gates, committed_sections, load_settings
from artreg.registry.records import Artifact, Event, Version
from artreg.registry.retirements import read_retired
from artreg.registry.stages import StageModel, parse_stages
from artreg.registry.tags import (
    Action,
    TagName,
    format_tag,
    next_counter,
    next_tag_time,
    parse_spec,
    shown,
    tag_message,
    validate_name,
    validate_semver,
)

PERFORMANCE = ("performance/benchmarks.json", "performance/resource_usage.json")


@dataclass(frozen=True)
class Assigned:
    """What an assignment or a rollback made."""

    name: str
    stage: str
    version: str  # without the leading "v"
    tag: str
    target: str  # the version's commit, which the tag points at
    commit: str  # the commit that refreshed registry.json
    folder: str  # the release folder: the stage's content
    replaced: str | None = None  # the version that held the stage before, if any
    reason: str | None = None  # a rollback's
    by: str = ""
    approved_by: str | None = None
    gates: list[GateResult] = field(default_factory=list)
    branch: str | None = None  # pull-request mode: the request committed there, no tag yet
    request: str | None = None  # ... and its folder, which `artreg tag` tags after the merge

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "version": f"v{self.version}",
            "tag": self.tag,
            "target": self.target,
            "commit": self.commit,
            "folder": self.folder,
            "replaced": f"v{self.replaced}" if self.replaced else None,
            "reason": self.reason,
            "by": self.by,
            "approved_by": self.approved_by,
            "gates": [g.as_dict() for g in self.gates],
            **({"branch": self.branch, "request": self.request} if self.branch else {}),
        }


def stage_model(root: Path) -> tuple[StageModel, str]:
    """The stages params.yaml declares as committed at HEAD (an uncommitted edit is refused,
    as for gates), and where they came from."""
    settings = load_settings(root)
    sections = committed_sections(root, settings.commit) if settings.commit else {}
    return parse_stages(sections.get("stages"), settings.source), settings.source


def _artifact(root: Path, name: str) -> Artifact:
    artifact = state.load(root, folders="all").get(validate_name(name))
    if artifact.deprecated:
        raise InputError(
            f"{name} is deprecated: none of its versions can be assigned",
            hint="release a new version to bring it back",
        )
    return artifact


def _release(root: Path, artifact: Artifact, version: str, what: str) -> tuple[Version, StageDir]:
    """The active release `version` of `artifact` and its folder; InputError for a version
    never released, deregistered, or whose folder gc retired."""
    found = artifact.find_version(version)
    if found is None:
        gone = any(v.registered and v.version == version for v in artifact.versions)
        why = "was deregistered" if gone else "is not a released version"
        released = ", ".join(f"v{v.version}" for v in artifact.released()) or "none"
        raise InputError(
            f"{artifact.name} v{version} {why}, so it cannot be {what}",
            hint=f"choose a released version of {artifact.name} (released: {released})",
        )
    event = found.direct[-1] if found.direct else None
    folder = (event.folder if event else None) or production_dir(artifact.name, version)
    tomb = read_retired(root).get(folder.relpath)
    if tomb is not None:
        raise InputError(
            f"{tomb.message}, so {artifact.name} v{version} cannot be {what}: consumers could "
            "not fetch it",
            hint="choose another version, or release this one again from its source",
        )
    return found, folder


def _metrics(root: Path, commit: str, folder: StageDir, results: Path | None) -> dict[str, Any]:
    """What the release recorded (its performance/*.json, as committed), overlaid with the
    results given for this assignment."""
    metrics: dict[str, Any] = {}
    for rel in PERFORMANCE:
        recorded = gitread.json_at(root, commit, f"{folder.relpath}/{rel}")
        if isinstance(recorded, dict):
            metrics.update(recorded)
    if results is not None:
        given = read_json(results, "results")
        if not isinstance(given, dict):
            raise InputError(
                f"{results}: expected a JSON object of metrics", hint="wrap them in {}"
            )
        metrics.update(given)
    return metrics


def _tag(
    root: Path,
    artifact: Artifact,
    stage: str,
    holder: Version,
    folder: StageDir,
    title: str,
    options: PublishOptions,
    reason: str | None = None,
    approved_by: str | None = None,
) -> tuple[str, str, str, str | None]:
    """Tag `holder`'s commit `NAME#STAGE#N` and commit the refreshed registry.json: all or
    nothing, under the repo lock. Returns (tag, commit, who, None). With `options.branch`,
    commit a request for it on that branch instead: ("", commit, who, request folder).

    The stage's rights (params.yaml `rights.<stage>`, `rights.signed`) are checked first, as for
    a promotion; the tag records the approver and the commit whose rights applied (`policy:`),
    since the tag itself sits on the version's older commit, where other rights may be."""
    who = actor(root)
    policy = gitrun.head(root) or ""
    check_promotion(root, [stage], sign=options.sign, approved_by=approved_by)
    kind = "rollback" if reason else "assign"
    if options.branch:
        request = requests.Request(
            requests.new_path(artifact.name, stage),
            artifact.name,
            stage,
            holder.version or "",
            kind,
            who,
            reason or "",
            approved_by or "",
        )
        return "", requests.write(root, request, title, options), who, request.path
    with transaction(root, new_dirs=[], touched=[REGISTRY_JSON], wait=options.wait) as txn:
        events = state.load(root, folders="none").events  # under the lock: no local race
        tag = format_tag(
            Action.ASSIGN, artifact.name, stage, None, next_counter(events, artifact.name)
        )
        stamp = next_tag_time(events)
        message = tag_message(
            title,
            kind=kind,
            folder=folder.relpath,
            by=who,
            reason=reason or "",
            approved_by=approved_by or "",
            policy=policy,
        )
        pending = Event(
            tag,
            TagName(artifact.name, Action.ASSIGN, stage, None, int(tag.rsplit("#", 1)[1])),
            holder.commit,
            stamp,
            who,
            "",
            message,
            True,
            folder,
        )
        index.write(root, with_pending(root, events, [pending]))
        gitwrite.add(root, [REGISTRY_JSON])
        # The tag goes on the version's own commit, where dvc.yaml points into its folder:
        # GTO resolves an assignment by its commit, and `dvc artifacts get` reads that dvc.yaml.
        txn.before_commit(title, [tag], message, stamp, options.sign, target=holder.commit)
        commit = gitwrite.commit(
            root, f"{title}\n\ntags: {tag}", [REGISTRY_JSON], sign=options.sign, allow_empty=True
        )
        txn.committed(commit)
        txn.make_tags()
    return tag, commit, who, None


def assign(
    root: Path,
    spec: str,
    stage: str,
    *,
    results: Path | None = None,
    approved_by: str | None = None,
    options: PublishOptions | None = None,
) -> Assigned:
    """`artreg assign NAME@vX.Y.Z STAGE`: put a released version into an extra stage declared
    in params.yaml, once it passes that stage's gates (`gates.<stage>`) and rights."""
    options = options or PublishOptions()
    approved_by = approver(approved_by)
    name, in_spec, version = parse_spec(spec)
    if version is None or in_spec is not None:
        raise InputError(
            f"{shown(spec)!r}: name one released version",
            hint="write NAME@vX.Y.Z, e.g. encoder@v1.2.0",
        )
    model, source = stage_model(root)
    model.check_assignable(stage, source)
    artifact = _artifact(root, name)
    holder, folder = _release(root, artifact, version, f"assigned to {stage}")
    before = artifact.stage(stage)
    if before is holder:
        raise InputError(f"{name} v{version} is in {stage} already", hint="nothing to do")
    settings = load_settings(root)
    metrics = _metrics(root, holder.commit, folder, results)
    gates = check_gates(settings, stage, name, metrics, "pass them in a JSON file with --results")
    title = f"artreg: assign {stage} to {name} v{version}"
    tag, commit, who, request = _tag(
        root, artifact, stage, holder, folder, title, options, approved_by=approved_by
    )
    return Assigned(
        name,
        stage,
        version,
        tag,
        holder.commit,
        commit,
        folder.relpath,
        replaced=before.version if before is not None and before.registered else None,
        by=who,
        approved_by=approved_by,
        gates=gates,
        branch=options.branch,
        request=request,
    )


def _nothing_earlier(artifact: Artifact, current: Version) -> InputError:
    """Why `rollback` without --to has no version to go back to, as history shows it: either
    production never held another version, or every earlier one was rolled away from."""
    held = [
        v
        for v in artifact.versions
        if any(e.parsed.action is Action.ASSIGN for e in v.stage_events.get("production", []))
    ]
    others = [v.label for v in held if v is not current]
    if not others:
        return InputError(
            f"{artifact.name} {current.label} is the only version production ever held",
            hint="name the version to go back to with --to vX.Y.Z",
        )
    return InputError(
        f"{artifact.name}: production held {', '.join(others)} as well as {current.label}, and "
        f"a rollback took it away from {'each of them' if len(others) > 1 else 'it'}, so "
        "there is no earlier version to go back to",
        hint=f"name the version to go back to with --to, e.g. --to {others[-1]}",
    )


def rollback(
    root: Path,
    name: str,
    *,
    reason: str,
    to: str | None = None,
    approved_by: str | None = None,
    options: PublishOptions | None = None,
) -> Assigned:
    """`artreg rollback NAME --reason TEXT [--to vX.Y.Z]`: move production back to the
    version that held it before (or the one named), as a new assignment whose tag message
    records the reason and who made it. Production's rights apply (`rights.production`)."""
    options = options or PublishOptions()
    approved_by = approver(approved_by)
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("--reason is empty", hint="say why production goes back, in one line")
    check_line(reason, "--reason", "give the reason as one line of text")
    reason = reason.strip()
    stage_model(root)  # params.yaml committed and well-formed, as for every change
    artifact = _artifact(root, name)
    current = artifact.stage("production")
    if current is None:
        raise NotFoundError(
            f"{name} has nothing in production to roll back",
            hint=f"release a version with `artreg promote {name} ID --to production`",
        )
    if to is not None:
        version = validate_semver(to)
    else:
        previous = rollbacks.previous(artifact, current)
        if previous is None:
            raise _nothing_earlier(artifact, current)
        if not previous.registered:
            raise InputError(
                f"{name}: production was held before by commit {previous.commit[:12]}, which is "
                "not a released version",
                hint="name a released version with --to vX.Y.Z",
            )
        version = previous.version
    target, folder = _release(root, artifact, version, "rolled back to")
    if target is current:
        raise InputError(
            f"{name} v{version} is in production already", hint="name another version with --to"
        )
    title = f"artreg: roll back {name} production to v{version} (was {current.label})"
    tag, commit, who, request = _tag(
        root, artifact, "production", target, folder, title, options, reason, approved_by
    )
    return Assigned(
        name,
        "production",
        version,
        tag,
        target.commit,
        commit,
        folder.relpath,
        replaced=current.version if current.registered else None,
        reason=reason,
        by=who,
        approved_by=approved_by,
        branch=options.branch,
        request=request,
    )
