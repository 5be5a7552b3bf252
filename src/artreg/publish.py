"""Steps 3-5 of a promotion: move the built folder in, update dvc.yaml and registry.json,
commit, tag (and push), all under the repo lock and rolled back on any failure."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from artreg import dvcyaml, gitrepo, index, state
from artreg.errors import ConflictError
from artreg.faults import point
from artreg.fileio import check_output_path
from artreg.layout import DVC_YAML, REGISTRY_JSON
from artreg.model import Event, GateResult, ManifestFile, Registry
from artreg.stagefolder import StageBuilder
from artreg.tags import (
    Action,
    TagName,
    format_tag,
    next_counter,
    next_tag_time,
    parse_tag,
    tag_message,
)
from artreg.transaction import transaction

PENDING = "0" * 40  # stands for the commit being made, while registry.json is computed


@dataclass(frozen=True)
class PublishOptions:
    """How a change is committed: signed, after waiting for the lock, on a review branch."""

    sign: bool = False
    wait: float = 0.0
    branch: str | None = None
    push: bool = False
    remote: str = "origin"
    summary_md: Path | None = None  # write the pull-request description here once committed


@dataclass
class Published:
    """What a registration or promotion made: for the CLI's --json and for callers."""

    name: str
    stage: str
    id: str
    folder: str
    commit: str
    tags: list[str]
    files: dict[str, ManifestFile]
    branch: str | None = None  # pull-request mode: committed on this branch, no tags yet
    planned_tags: list[str] = field(default_factory=list)  # the tags `artreg tag` will make
    gates: list[GateResult] | None = None  # promotions: the gates evaluated
    model: str | None = None  # promotions: repo-relative path of the model file
    warnings: list[str] = field(default_factory=list)  # after the commit: what was not done
    ignored_by_dvc: list[str] = field(default_factory=list)  # registration: what DVC left out

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `--json`: promotion and branch fields only where they apply."""
        data: dict[str, Any] = {
            "name": self.name,
            "stage": self.stage,
            "id": self.id,
            "folder": self.folder,
            "commit": self.commit,
            "tags": self.tags,
            "files": {rel: f.to_json() for rel, f in self.files.items()},
        }
        if self.branch:
            data.update(branch=self.branch, planned_tags=self.planned_tags)
        if self.gates is not None:
            data["gates"] = [g.as_dict() for g in self.gates]
        if self.model is not None:
            data["model"] = self.model
        if self.ignored_by_dvc:
            data["ignored_by_dvc"] = self.ignored_by_dvc
        return data


def check_options(options: PublishOptions | None) -> None:
    """Refuse output paths that cannot be written, before anything is copied or committed."""
    if options is not None:
        check_output_path(options.summary_md, "--summary-md")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def actor(root: Path) -> str:
    """Who is making this change: the commit author as git resolves it (and CI's actor when set).

    The manifest's `created_by`, the tag's `by:` line and the commit's author are all this one
    identity. (The tagger stays git's committer, as for any annotated tag.) Every writer asks
    before it copies anything, so this is also where a checkout git cannot commit to (a merge
    or rebase in progress, a detached HEAD) is refused.
    """
    gitrepo.check_committable(root)
    ci_actor = os.environ.get("GITHUB_ACTOR")
    ident = gitrepo.identity(root)
    return f"{ident} (CI: {ci_actor})" if ci_actor else ident


def publish(
    root: Path,
    builder: StageBuilder,
    *,
    actions: list[tuple[Action, str | None, str | None]],
    dvc_entry: dict[str, Any],
    title: str,
    source: str = "",
    who: str,
    options: PublishOptions | None = None,
) -> Published:
    """Move the built folder into the registry, commit and tag it: all or nothing.

    With `branch`, commit on that new branch and make no tags (pull-request mode: `artreg tag`
    makes them after the merge).
    """
    options = options or PublishOptions()
    sign, wait, branch = options.sign, options.wait, options.branch
    entry = builder.entry
    name = entry.name
    with transaction(
        root, new_dirs=[entry.relpath], touched=[DVC_YAML, REGISTRY_JSON], wait=wait
    ) as txn:
        events = state.load(root, folders="none").events  # under the lock: no local race
        counter = next_counter(events, name)
        names = [
            format_tag(action, name, stage, version, None if action is Action.REGISTER else counter)
            for action, stage, version in actions
        ]
        existing = {e.tag for e in events}
        clash = [t for t in names if t in existing or gitrepo.tag_exists(root, t)]
        if clash:
            raise ConflictError(
                f"tag {clash[0]} exists already", hint="choose another version, or fetch tags first"
            )
        point("publish:locked")
        if branch:
            txn.switch_to_new_branch(branch)
        git_files = sorted(
            f"{entry.relpath}/{p.relative_to(builder.path).as_posix()}"
            for p in builder.path.rglob("*")
            if p.is_file() and p.relative_to(builder.path).as_posix() not in builder.dvc_files
        )
        target = entry.path(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        point("publish:before-move")
        builder.path.rename(target)
        builder.cleanup()
        point("publish:moved")
        dvcyaml.set_artifact(root, name, dvc_entry)
        point("publish:dvc-yaml")

        start = next_tag_time(events)
        message = tag_message(title, kind=entry.stage, folder=entry.relpath, source=source, by=who)
        pending = [
            Event(t, _parse(t), PENDING, start + i, who, "", message, True, entry)
            for i, t in enumerate(names)
        ]
        index.write(root, with_pending(root, events, pending))
        point("publish:index")

        paths = [*git_files, DVC_YAML, REGISTRY_JSON]
        gitrepo.add(root, paths, force=True)
        point("publish:staged")
        commit_message = f"{title}\n\n" + "\n".join(
            f"{k}: {v}"
            for k, v in (("folder", entry.relpath), ("source", source), ("tags", ", ".join(names)))
            if v
        )
        txn.before_commit(title, [] if branch else names, message, start, sign)
        commit = gitrepo.commit(root, commit_message, paths, sign=sign)
        point("publish:committed")
        txn.committed(commit)
        txn.make_tags()
        point("publish:tagged")
        if options.push:
            push_refs(root, entry.relpath, branch, [] if branch else names, options.remote)
            point("publish:pushed")
    return Published(
        name=name,
        stage=entry.stage,
        id=entry.entry,
        folder=entry.relpath,
        commit=commit,
        tags=[] if branch else names,
        files=builder.manifest_files(),
        branch=branch,
        planned_tags=names if branch else [],
    )


def with_pending(root: Path, events: list[Event], pending: list[Event]) -> Registry:
    """The registry as it will be once `pending` tags exist (for registry.json, which the
    commit they point at must already hold)."""
    registry = state.fold([*events, *pending])
    state.complete(root, registry)
    return registry


def _parse(tag: str) -> TagName:
    parsed = parse_tag(tag)
    assert parsed is not None
    return parsed


def push_refs(root: Path, folder: str, branch: str | None, tags: list[str], remote: str) -> None:
    """Data first (dvc push of the folder's pointers), then commit and tags in one atomic push.

    A rejected push raises inside the transaction, which rolls the local promotion back, so
    nothing is duplicated. Losing a version to someone else is final (ConflictError, exit 2,
    naming the winner); losing only the race for the branch or a counter is retryable (exit 4).
    """
    from artreg import dvcrepo
    from artreg.errors import PushRejected

    pointers = [str(p.relative_to(root)) for p in dvcrepo.pointer_files(root, root / folder)]
    if pointers:
        dvcrepo.push(root, pointers)
    branch = branch or gitrepo.current_branch(root)
    refs = [f"HEAD:refs/heads/{branch}"] if branch else []
    refs += [f"refs/tags/{t}" for t in tags]
    try:
        gitrepo.push(root, remote, refs)
    except PushRejected as exc:
        versions = [t for t in tags if _parse(t).action is Action.REGISTER]
        taken = gitrepo.remote_tags(root, remote, versions) if versions else {}
        if taken:
            tag, winner = next(iter(taken.items()))
            raise ConflictError(
                f"push to {remote} was rejected, so this promotion was undone locally: "
                f"{tag} was already released on {remote} by commit {winner[:12]}",
                hint=f"versions are never reused; fetch it (`git pull --tags {remote}`) and "
                "release a new version",
            ) from exc
        raise PushRejected(
            f"push to {remote} was rejected, so this promotion was undone locally: {exc.message}",
            hint=exc.hint,
        ) from exc
