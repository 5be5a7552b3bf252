"""What held each stage, from when until when, and the registry as it was at a given moment.

Both answers come from GTO's resolution rules as `fold.Folding` applies them; nothing
here decides what a stage resolves to:

- `intervals` folds a name's tags one event time at a time and records every change of each
  stage's holder: a promotion, an unassignment (the stage falls back to the previous active
  assignment, or resolves to nothing), a deregistration, a deprecation (nothing resolves while
  it is the newest event);
- `state_as_of` folds only the tags whose creator date is at or before the moment.

Pull request numbers come from commit subjects: GitHub's merge commits ("Merge pull request #N
from ...") and squash titles ("... (#N)"). The commit a promotion's tag points at is looked up,
then the commit on the default branch's first-parent line that brought it in (the merge commit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import tagstream
from artreg.errors import ArtregError, InputError
from artreg.publishing.rights import signers_of
from artreg.registry.fold import Folding, fold, replay_order
from artreg.registry.layout import GENERATED_COMMIT_SUBJECT, PARAMS_FILE
from artreg.registry.policy import committed_sections
from artreg.registry.records import Artifact, Event, Registry, Version, iso
from artreg.registry.stages import parse_stages
from artreg.registry.tags import STAGES, Action, validate_name
from artreg.sources import state

# --- intervals ------------------------------------------------------------------------------


@dataclass
class Interval:
    """One version holding one stage of one artifact, from `start` until `end` (None: still)."""

    name: str
    stage: str
    version: str | None  # "v1.2.0" for a registered version, None for a bare commit
    commit: str  # the commit the holder's tags point at
    folder: str | None  # the stage folder its assignment promoted, when the tag says
    start: int
    end: int | None
    tag: str  # the tag whose event began the interval
    by: str  # who made that tag
    began: str  # "assigned"; "fallback" when the previous holder lost the stage; "restored"
    # when an event after a deprecation made the artifact (and its stages) resolve again;
    # "rollback" when `artreg rollback` put it back (its reason below)
    end_tag: str | None = None
    ended_by: str | None = None
    end_reason: str | None = None  # replaced, unassigned, deregistered, deprecated
    successor: str | None = None  # the label of the next holder, when replaced
    pull_request: int | None = None
    landed_in: str | None = None  # the merge commit that brought `commit` in, if not itself
    signer: dict[str, Any] | None = None  # the verified signer of `tag` (params.yaml rights)
    reason: str | None = None  # why, as the tag that began it says (a rollback's --reason)

    @property
    def ended(self) -> str | None:
        """Why it ended, in words: "replaced by v1.1.0", "deregistered (then v1.0.0)"..."""
        if self.end_reason == "replaced" and self.successor:
            return f"replaced by {self.successor}"
        if self.successor:
            return f"{self.end_reason} (then {self.successor})"
        return self.end_reason

    @property
    def note(self) -> str:
        """How it began, when not by a plain assignment: "fallback", "rollback: <reason>"."""
        if self.reason:
            return f"{self.began}: {self.reason}"
        return "" if self.began == "assigned" else self.began

    @property
    def label(self) -> str:
        """The version, else the stage folder's entry (a session or validated id), else the commit."""
        if self.version:
            return self.version
        return self.folder.rsplit("/", 1)[-1] if self.folder else self.commit[:12]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.label
        data["ended"] = self.ended
        if self.signer is None:
            del data["signer"]
        data["note"] = self.note
        data["start"] = iso(self.start)
        data["end"] = iso(self.end) if self.end is not None else None
        return data


def who(event: Event) -> str:
    """Who made a tag: artreg's `by:` line, else 'Name <email>' of the tagger."""
    by = event.fields.get("by")
    if by:
        return by
    email = event.tagger_email.strip("<>")
    return f"{event.tagger} <{email}>" if email else event.tagger


def folder_of_event(event: Event) -> str | None:
    """The folder a tag promoted (its message, or dvc.yaml when `state` resolved it)."""
    return event.folder.relpath if event.folder is not None else None


def intervals(
    records: Sequence[Event],
    name: str,
    stage: str | None = None,
    pull_requests: PullRequests | None = None,
    folder_of: Callable[[Event], str | None] = folder_of_event,
) -> list[Interval]:
    """Every interval of `name` (of one stage, or all), ordered by stage then start."""
    builder = Folding()
    mine = [r for r in replay_order(records) if r.parsed.name == name]
    current: dict[str, tuple[Version, Interval]] = {}
    done: list[Interval] = []
    for timestamp, group_iter in groupby(mine, key=lambda r: r.timestamp):
        group = list(group_iter)
        before = builder.registry.artifacts.get(name)
        was_deprecated = before is not None and before.deprecated
        artifact: Artifact | None = None
        for record in group:
            artifact = builder.add(record)
        assert artifact is not None
        for s in sorted(_touched(artifact, group, was_deprecated, current)):
            holder = None if artifact.deprecated else artifact.stage(s)
            held = current.get(s)
            if held is not None and held[0] is holder:
                continue
            if held is not None:
                _close(held[1], held[0], holder, group, timestamp, artifact, folder_of)
                done.append(held[1])
                del current[s]
            if holder is not None:
                opened = _open(name, s, holder, group, timestamp, folder_of)
                if was_deprecated and opened.began == "fallback":
                    opened.began = "restored"
                current[s] = (holder, opened)
    done.extend(interval for _, interval in current.values())
    if pull_requests is not None:
        for interval in done:
            interval.pull_request, interval.landed_in = pull_requests.find(interval.commit)
    order = {s: i for i, s in enumerate(STAGES)}
    done.sort(key=lambda i: (order.get(i.stage, len(order)), i.stage, i.start))
    return [i for i in done if stage is None or i.stage == stage]


def _touched(
    artifact: Artifact,
    group: list[Event],
    was_deprecated: bool,
    current: dict[str, tuple[Version, Interval]],
) -> set[str]:
    """The stages whose holder these events may have changed (all, when one (un)hides the
    artifact or changes which versions are active; else only the stages they name)."""
    actions = {r.parsed.action for r in group}
    if was_deprecated != artifact.deprecated or actions & {Action.REGISTER, Action.DEREGISTER}:
        return {s for v in artifact.versions for s in v.stage_events} | set(current)
    return {r.parsed.stage for r in group if r.parsed.stage is not None}


def _open(
    name: str,
    stage: str,
    holder: Version,
    group: list[Event],
    timestamp: int,
    folder_of: Callable[[Event], str | None],
) -> Interval:
    assignment = holder.assignment(stage)
    assert assignment is not None
    # Assigned in this event, or the stage fell back to it when another holder lost it.
    cause = assignment if assignment in group else group[-1]
    rolled_back = cause is assignment and assignment.fields.get("kind") == "rollback"
    return Interval(
        name=name,
        stage=stage,
        version=f"v{holder.version}" if holder.registered else None,
        commit=holder.commit,
        folder=folder_of(assignment),
        start=timestamp,
        end=None,
        tag=cause.tag,
        by=who(cause),
        began=("rollback" if rolled_back else "assigned") if cause is assignment else "fallback",
        reason=cause.fields.get("reason") if cause is assignment else None,
    )


def _close(
    interval: Interval,
    holder: Version,
    successor: Version | None,
    group: list[Event],
    timestamp: int,
    artifact: Artifact,
    folder_of: Callable[[Event], str | None],
) -> None:
    """End `interval` at this event and say why, naming the tag that ended it."""
    stage_events = holder.stage_events.get(interval.stage, [])
    reasons: list[tuple[str, Callable[[Event], bool]]] = [
        ("deprecated", lambda r: artifact.deprecated and r.parsed.action is Action.DEPRECATE),
        ("unassigned", lambda r: r.parsed.action is Action.UNASSIGN and r in stage_events),
        ("deregistered", lambda r: r.parsed.action is Action.DEREGISTER and r in holder.direct),
        (
            "replaced",
            lambda r: (
                successor is not None
                and r.parsed.action is Action.ASSIGN
                and r.parsed.stage == interval.stage
            ),
        ),
    ]
    interval.end = timestamp
    for reason, matches in reasons:
        found = next((r for r in group if matches(r)), None)
        if found is not None:
            interval.end_reason, interval.end_tag, interval.ended_by = reason, found.tag, who(found)
            break
    else:
        interval.end_reason = "replaced" if successor is not None else "ended"
        interval.end_tag, interval.ended_by = group[-1].tag, who(group[-1])
    if successor is not None:
        assignment = successor.assignment(interval.stage)
        folder = folder_of(assignment) if assignment and not successor.registered else None
        interval.successor = folder.rsplit("/", 1)[-1] if folder else successor.label


# --- pull requests ----------------------------------------------------------------------------

_MERGE_PR = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")


def pull_request_number(subject: str) -> int | None:
    """The pull request a commit subject names: a GitHub merge commit or a squash title."""
    match = _MERGE_PR.match(subject) or _SQUASH_PR.search(subject)
    return int(match[1]) if match else None


class PullRequests:
    """Which merge commit brought each commit into the first-parent line of HEAD, and the PR."""

    def __init__(self, commits: Sequence[gitread.CommitInfo], head: str | None = None) -> None:
        self._by_sha = {c.sha: c for c in commits}
        self.landed = landing_commits(commits, head or (commits[0].sha if commits else None))

    def find(self, commit: str) -> tuple[int | None, str | None]:
        """(pull request number, the merge commit that brought `commit` in) when known."""
        start, info = commit, self._by_sha.get(commit)
        # `artreg tag` tags a commit of generated files on top of what the merge brought in.
        while (
            info is not None and info.subject.startswith(GENERATED_COMMIT_SUBJECT) and info.parents
        ):
            commit = info.parents[0]
            info = self._by_sha.get(commit)
        own = pull_request_number(info.subject) if info else None
        landing = self.landed.get(commit)
        merged = landing if landing and landing != commit else None
        if commit != start and info is not None and len(info.parents) > 1:
            merged = commit  # the merge commit itself brought the promotion in
        if own is not None:
            return own, merged
        if merged is not None:
            return pull_request_number(self._by_sha[merged].subject), merged
        return None, None


def landing_commits(commits: Iterable[gitread.CommitInfo], head: str | None) -> dict[str, str]:
    """For every commit reachable from `head`, the commit of head's first-parent line that
    brought it in: itself when on that line, else the oldest merge that made it reachable."""
    by_sha = {c.sha: c for c in commits}
    line: list[str] = []
    sha = head
    while sha is not None and sha in by_sha:
        line.append(sha)
        parents = by_sha[sha].parents
        sha = parents[0] if parents else None
    landed = {s: s for s in line}
    for merge in reversed(line):
        stack = list(by_sha[merge].parents[1:])
        while stack:
            sha = stack.pop()
            if sha in landed or sha not in by_sha:
                continue
            landed[sha] = merge
            stack.extend(by_sha[sha].parents)
    return landed


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


# --- the registry as of a moment ------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


@dataclass(frozen=True)
class Moment:
    """A point in time a query is answered at, and what the user gave for it."""

    timestamp: int
    given: str
    commit: str | None = None

    def describe(self) -> str:
        if self.commit:
            return f"{iso(self.timestamp)}, the date of commit {self.commit[:12]}"
        return iso(self.timestamp)


def parse_moment(root: Path, when: str | datetime) -> Moment:
    """DATE (YYYY-MM-DD: the end of that day, UTC), an ISO 8601 date and time (UTC unless it
    says otherwise), `@UNIX_SECONDS`, or a COMMIT (its committer date)."""
    if isinstance(when, datetime):
        moment = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        return Moment(int(moment.timestamp()), moment.isoformat())
    text = when.strip()
    hint = (
        "give YYYY-MM-DD (the end of that day, UTC), an ISO 8601 date and time such as "
        "2024-05-01T12:00:00Z, @UNIX_SECONDS, or a commit (sha, branch or tag)"
    )
    if text.startswith("@") and text[1:].isdigit():
        return Moment(int(text[1:]), text)
    if _DATE.match(text) or _DATETIME.match(text):
        try:
            if _DATE.match(text):
                day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
                return Moment(int(day.timestamp()) + 86399, text)
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise InputError(f"--as-of {when!r}: not a valid date or time", hint=hint) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return Moment(int(parsed.timestamp()), text)
    found = gitread.commit_time(root, text)
    if found is None:
        raise InputError(
            f"--as-of {when!r}: neither a date nor a commit of the registry at {root}", hint=hint
        )
    return Moment(found[1], text, commit=found[0])


def state_as_of(events: Sequence[Event], timestamp: int, partial: bool = False) -> Registry:
    """The registry from the tags that existed at `timestamp` (creator date <= it)."""
    return fold([e for e in events if e.timestamp <= timestamp], partial=partial)


def load_as_of(
    root: Path, when: str | datetime, names: Sequence[str] | None = None
) -> tuple[Registry, Moment]:
    """The registry at `root` (of all names, or `names`) as of `when`, with the folders of its
    current stages resolved, as `state.load` leaves them."""
    moment = parse_moment(root, when)
    out = gitread.for_each_ref(root, tagstream.FOR_EACH_REF_FORMAT, names)
    registry = state_as_of(state.parse_for_each_ref(out), moment.timestamp, partial=bool(names))
    state.complete(root, registry, "current")
    return registry, moment
