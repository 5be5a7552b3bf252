"""Assignment requests: `artreg assign` and `artreg rollback` in pull-request mode (`--branch`).

An assignment copies no folder, so its pull request carries one small file instead,
`.artreg/requests/<id>/request.json` (what to assign, why, who asked, who approved), committed
on the new branch (signed with `--sign`, by a promoter where `rights.signed` lists the stage:
`artreg verify` checks that commit with `git verify-commit`). After the merge `artreg tag`
finds every request no tag names yet (the tag's `request:` line), checks it again against the
registry as it is then, commits registry.json and tags the version's commit, as a direct
assignment does. Recognised by content, so merge, squash and rebase merges all work.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.adapters.git.history import default_branch
from artreg.errors import InputError
from artreg.publishing import index
from artreg.publishing.publish import PublishOptions, with_pending
from artreg.publishing.transaction import PlannedTag, leave_branch, transaction
from artreg.registry import fold as folding
from artreg.registry.layout import PARAMS_FILE, REGISTRY_JSON, production_dir, stage_folders
from artreg.registry.policy import committed_sections
from artreg.registry.records import Event, Registry
from artreg.registry.stages import parse_stages
from artreg.registry.tags import (
    Action,
    TagName,
    format_tag,
    next_counter,
    next_tag_time,
    tag_message,
)

REQUESTS = ".artreg/requests"
FILE = "request.json"
KINDS = ("assign", "rollback")


@dataclass(frozen=True)
class Request:
    """One assignment a pull request asks for: `version` of `name` into `stage`."""

    path: str  # the request's folder, .artreg/requests/<id>
    name: str
    stage: str
    version: str  # without the leading "v"
    kind: str  # assign or rollback
    by: str
    reason: str = ""
    approved_by: str = ""

    def as_json(self) -> dict[str, str]:
        data = asdict(self)
        del data["path"]
        return data

    @classmethod
    def from_json(cls, path: str, data: Any) -> Request:
        """A committed request, or InputError naming the file, the field and the fix."""
        where = f"{path}/{FILE}"
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a JSON object", hint="remove the file")
        for key in ("name", "stage", "version", "kind", "by"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise InputError(
                    f"{where}: /{key} is missing or not text",
                    hint="make the request again with `artreg assign`/`artreg rollback --branch`",
                )
        if data["kind"] not in KINDS:
            raise InputError(f"{where}: /kind must be assign or rollback", hint="fix it")
        fields = {k: str(data.get(k) or "") for k in ("reason", "approved_by")}
        return cls(
            path, data["name"], data["stage"], data["version"], data["kind"], data["by"], **fields
        )


def new_path(name: str, stage: str) -> str:
    """A fresh request folder: unique, so two pull requests never add the same file."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"{REQUESTS}/{name}-{stage}-{stamp}-{secrets.token_hex(3)}"


def write(root: Path, request: Request, title: str, options: PublishOptions) -> str:
    """Commit `request` on the new branch `options.branch`, then return to where the command
    began (the branch kept, no tag made). Returns the commit."""
    assert options.branch is not None
    rel = f"{request.path}/{FILE}"
    with transaction(root, new_dirs=[request.path], touched=[], wait=options.wait) as txn:
        txn.switch_to_new_branch(options.branch)
        (root / request.path).mkdir(parents=True)
        text = json.dumps(request.as_json(), indent=2, ensure_ascii=False) + "\n"
        (root / rel).write_text(text, encoding="utf-8")
        gitwrite.add(root, [rel], force=True)
        txn.before_commit(title, [], "", 0, options.sign)
        commit = gitwrite.commit(
            root, f"{title}\n\nrequest: {request.path}", [rel], sign=options.sign
        )
        txn.committed(commit)
        back = txn.old_branch or txn.old_head
        detached = txn.old_branch is None
    if back:
        leave_branch(root, back, detached, [request.path])
    return commit


def pending(root: Path, registry: Registry, rev: str = "HEAD") -> list[tuple[Request, str]]:
    """The requests committed at `rev` that no tag names yet, oldest first, each with the
    commit that added it: one ls-tree, one log, one cat-file."""
    listed = gitrun.git(root, "ls-tree", "-r", "--name-only", rev, "--", REQUESTS, check=False)
    done = {e.fields.get("request") for e in registry.tagged_events()}
    paths = [
        p.rsplit("/", 1)[0] for p in listed.split() if p.endswith(f"/{FILE}") and p.count("/") == 3
    ]
    paths = [p for p in paths if p not in done]
    if not paths:
        return []
    created = gitread.creation_commits(root, f"{REQUESTS}/*/{FILE}", rev)
    found = [(r, created.get(r.path, "")) for r in _read(root, rev, paths)]
    order = {c: i for i, c in enumerate(gitrun.git(root, "rev-list", "--reverse", rev).split())}
    return sorted(found, key=lambda item: (order.get(item[1], 0), item[0].path))


def plan(
    root: Path,
    events: list[Event],
    requests: list[Request],
    parent: str,
    who: str,
) -> tuple[str, list[PlannedTag]]:
    """For `artreg tag`: one commit of registry.json and one planned tag on the version's
    commit per merged request, on top of `parent`; `events` grows by the new tags. Refuses
    (InputError naming the request file) a request the registry can no longer honour."""
    planned: list[PlannedTag] = []
    policy = parent
    sections = committed_sections(root, parent) if requests else {}
    source = f"{PARAMS_FILE}@{parent[:12]}"
    for request in requests:
        artifact = folding.fold(events).artifacts.get(request.name)
        where = f"{request.path}/{FILE}"
        if request.kind == "assign":  # the stage is still declared, and an extra one
            stages = parse_stages(sections.get("stages"), source)
            stages.check_assignable(request.stage, source)
        elif request.stage != "production":
            raise InputError(f"{where}: a rollback moves production only", hint="remove it")
        if artifact is None or artifact.deprecated:
            why = "is deprecated" if artifact else "has no tags"
            raise InputError(
                f"{where}: {request.name} {why}, so the merged request cannot be tagged",
                hint=f"remove {request.path} in a new pull request",
            )
        holder = artifact.find_version(request.version)
        if holder is None:
            raise InputError(
                f"{where}: {request.name} v{request.version} is no longer an active release "
                f"(deregistered since the request), so it cannot be put into {request.stage}",
                hint=f"remove {request.path} in a new pull request, and ask for another version",
            )
        event = holder.direct[-1] if holder.direct else None
        folder = (event.folder if event else None) or production_dir(request.name, request.version)
        counter = next_counter(events, request.name)
        tag = format_tag(Action.ASSIGN, request.name, request.stage, None, counter)
        title = f"artreg: tag merged {request.kind} of {request.name} v{request.version} to {request.stage}"
        message = tag_message(
            title,
            kind=request.kind,
            folder=folder.relpath,
            by=who,
            reason=request.reason,
            approved_by=request.approved_by,
            policy=policy,
            request=request.path,
        )
        stamp = next_tag_time(events)
        parsed = TagName(request.name, Action.ASSIGN, request.stage, None, counter)
        new = Event(tag, parsed, holder.commit, stamp, who, "", message, True, folder)
        registry_text = index.render(root, with_pending(root, events, [new]))
        events.append(new)
        parent = gitwrite.commit_files(
            root,
            parent,
            {REGISTRY_JSON: registry_text},
            f"artreg: registry.json for the merged request {request.path}\n\ntags: {tag}",
        )
        planned.append(PlannedTag(tag, holder.commit, message, stamp))
    return parent, planned


def _read(root: Path, rev: str, paths: list[str]) -> list[Request]:
    """The requests in the folders `paths` as committed at `rev`: one cat-file."""
    blobs = gitread.read_blobs(root, [f"{rev}:{p}/{FILE}" for p in paths])
    found = []
    for path in paths:
        try:
            data = json.loads(blobs.get(f"{rev}:{path}/{FILE}") or b"null")
        except ValueError:
            data = None
        found.append(Request.from_json(path, data))
    return found


def added_since(root: Path, base: str) -> list[Request]:
    """The requests a pull request adds (base...HEAD), for the reviewer's summary."""
    added = gitread.added_since(root, base, f"{REQUESTS}/*/{FILE}")
    return _read(root, "HEAD", [p.rsplit("/", 1)[0] for p in added if p.count("/") == 3])


def awaiting_tags(root: Path, registry: Registry) -> list[str]:
    """On the default branch, each merged promotion folder and stage-move request that no tag
    names yet, for `verify`'s notes, with the command that tags it ([] on any other branch: a
    pull request is tagged only after its merge)."""
    branch = gitrun.current_branch(root)
    if branch is None or branch != default_branch(root):
        return []
    tagged = registry.tagged_folders()
    found = [
        f"{folder.relpath}: merged, not tagged yet: run `artreg tag`"
        for folder in stage_folders(root)
        if folder.relpath not in tagged
    ]
    for request, _ in pending(root, registry):
        move = (
            f"roll {request.name} production back to v{request.version}"
            if request.kind == "rollback"
            else f"assign {request.name} v{request.version} to {request.stage}"
        )
        found.append(f"{request.path}: merged request to {move}, not tagged yet: run `artreg tag`")
    return found
