"""Steps 3-5 of a promotion: move the built folder in, update dvc.yaml and registry.json,
commit, tag (and push), all under the repo lock and rolled back on any failure."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from artreg.adapters import settings
from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.faults import point
from artreg.adapters.files import check_output_path
from artreg.adapters.git import read as gitread
from artreg.adapters.git import remote as gitremote
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.artifacts.integrity import folder_problems
from artreg.errors import ConflictError, InputError, PushRejected, VerificationFailed
from artreg.publishing import index
from artreg.publishing.stagefolder import StageBuilder
from artreg.publishing.transaction import Transaction, transaction
from artreg.publishing.transaction import leave_branch as transaction_leave_branch
from artreg.registry import dvcyaml, state, versionorder
from artreg.registry import fold as folding
from artreg.registry.documents import GateResult, ManifestFile
from artreg.registry.jsonform import fields_json
from artreg.registry.layout import DVC_YAML, REGISTRY_JSON, StageDir
from artreg.registry.policy import committed_sections, recheck, rules_for, settings_from
from artreg.registry.records import Event, Registry
from artreg.registry.tags import (
    Action,
    TagName,
    format_tag,
    next_counter,
    next_tag_time,
    parse_tag,
    tag_message,
)

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

    def checked(self, root: Path) -> PublishOptions:
        """These options, once a --push of a new --branch is known to be possible: a branch of
        that name on the remote (not in this clone) would reject the push however often it is
        retried, so it is refused before anything is built. One `git ls-remote --heads`; an
        unreachable remote is left to the push itself (retryable)."""
        if not (self.branch and self.push):
            return self
        ref = f"refs/heads/{self.branch}"
        if gitrun.git(root, "ls-remote", "--heads", self.remote, ref, check=False).strip():
            raise InputError(
                f"--branch {self.branch}: {self.remote} has a branch {self.branch!r} already "
                "(not in this clone), so pushing a new pull-request branch of that name would be "
                "rejected",
                hint=f"choose another --branch name, or fetch it (git fetch {self.remote} "
                f"{self.branch}) to see what it holds",
            )
        return self


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
    signature: dict[str, Any] | None = None  # promotions: model.sig, as metadata.json records it
    # pull-request mode: the branch (or, detached, the commit) to return to once done
    started_on: tuple[str, bool] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `--json`: promotion and branch fields only where they apply."""
        omit = {"warnings", "started_on"}  # warnings are the CLI's to say; started_on is internal
        if not self.branch:
            omit |= {"branch", "planned_tags"}
        omit |= {k for k in ("gates", "model", "signature") if getattr(self, k) is None}
        if not self.ignored_by_dvc:
            omit.add("ignored_by_dvc")
        shown: dict[str, Any] = {"files": {rel: f.to_json() for rel, f in self.files.items()}}
        if self.gates is not None:
            shown["gates"] = [g.as_dict() for g in self.gates]
        return fields_json(self, omit=omit, **shown)


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
    gitwrite.check_committable(root)
    ci_actor = settings.ci_actor()
    ident = gitrun.identity(root)
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
    requires: str = "",
) -> Published:
    """Move the built folder into the registry, commit and tag it: all or nothing.

    `requires` is the `requires:` line of the tag message (`model.requires_line`).

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
        clash = [t for t in names if t in existing or gitread.tag_exists(root, t)]
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
        start = next_tag_time(events)
        message = tag_message(
            title,
            kind=entry.stage,
            folder=entry.relpath,
            source=source,
            by=who,
            requires=requires,
        )
        if branch:
            # Pull-request mode: the branch carries only the new folder. dvc.yaml and
            # registry.json are generated; `artreg tag` writes them on the default branch after
            # the merge, so two promotion branches never both edit them (no merge conflict,
            # whatever the order or the merge method, on a server's merge button too).
            paths = git_files
        else:
            dvcyaml.set_artifact(root, name, dvc_entry)
            point("publish:dvc-yaml")
            pending = [
                Event(t, _parse(t), PENDING, start + i, who, "", message, True, entry)
                for i, t in enumerate(names)
            ]
            index.write(root, with_pending(root, events, pending))
            point("publish:index")
            paths = [*git_files, DVC_YAML, REGISTRY_JSON]

        gitwrite.add(root, paths, force=True)
        point("publish:staged")
        txn.before_commit(title, [] if branch else names, message, start, sign)
        commit = gitwrite.commit(
            root, _commit_message(title, entry.relpath, source, names, requires), paths, sign=sign
        )
        point("publish:committed")
        txn.committed(commit)
        txn.make_tags()
        point("publish:tagged")
        if options.push and branch:
            push_refs(root, entry.relpath, branch, [], options.remote)
            point("publish:pushed")
        elif options.push:
            replay = _Replay(
                root, txn, entry, actions, dvc_entry, title, source, who, sign, git_files, requires
            )
            commit, names = replay.push(options.remote, names)
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
        started_on=_started_on(txn) if branch else None,
    )


def _started_on(txn: Transaction) -> tuple[str, bool] | None:
    if txn.old_branch:
        return txn.old_branch, False
    return (txn.old_head, True) if txn.old_head else None


def leave_branch(root: Path, published: Published) -> None:
    """Pull-request mode, once the change is made: back to the branch the command began on,
    the work tree as it was there (see `transaction.leave_branch`)."""
    if published.branch and published.started_on is not None:
        back, detached = published.started_on
        transaction_leave_branch(root, back, detached, [published.folder])


def _commit_message(
    title: str, folder: str, source: str, names: list[str], requires: str = ""
) -> str:
    fields = (
        ("folder", folder),
        ("source", source),
        ("requires", requires),
        ("tags", ", ".join(names)),
    )
    return f"{title}\n\n" + "\n".join(f"{k}: {v}" for k, v in fields if v)


def with_pending(root: Path, events: list[Event], pending: list[Event]) -> Registry:
    """The registry as it will be once `pending` tags exist (for registry.json, which the
    commit they point at must already hold)."""
    registry = folding.fold([*events, *pending])
    state.complete(root, registry)
    return registry


def _parse(tag: str) -> TagName:
    parsed = parse_tag(tag)
    assert parsed is not None
    return parsed


def refuse_if_version_taken(root: Path, remote: str, tags: list[str]) -> None:
    """After a rejected push: when `remote` already holds one of `tags`' version tags, the
    version is lost for good (ConflictError, exit 2, naming the winner's commit)."""
    versions = [t for t in tags if _parse(t).action is Action.REGISTER]
    taken = gitremote.remote_tags(root, remote, versions) if versions else {}
    if taken:
        tag, winner = next(iter(taken.items()))
        raise ConflictError(
            f"push to {remote} was rejected, so this promotion was undone locally: "
            f"{tag} was already released on {remote} by commit {winner[:12]}",
            hint=f"versions are never reused; fetch it (`git pull --tags {remote}`) and "
            "release a new version",
        )


def push_refs(root: Path, folder: str, branch: str | None, tags: list[str], remote: str) -> None:
    """Pull-request mode: data first (dvc push of the folder's pointers), then the branch.

    A rejected push raises inside the transaction, which rolls the local promotion back. (A
    direct promotion pushes through `_Replay.push`, which rebases and retries instead.)
    """
    pointers = [str(p.relative_to(root)) for p in dvccache.pointer_files(root, root / folder)]
    if pointers:
        dvcremote.push(root, pointers)
    branch = branch or gitrun.current_branch(root)
    refs = [f"HEAD:refs/heads/{branch}"] if branch else []
    refs += [f"refs/tags/{t}" for t in tags]
    try:
        gitwrite.push(root, remote, refs)
    except PushRejected as exc:
        refuse_if_version_taken(root, remote, tags)
        raise PushRejected(
            f"push to {remote} was rejected, so this promotion was undone locally: {exc.message}",
            hint=exc.hint,
        ) from exc


# --- racing pushers: rebase onto what origin holds now, renumber, push again -----------------

PUSH_ATTEMPTS = 8  # pushes in all; between them a jittered, doubling back-off
BACKOFF_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 4.0


@dataclass
class _Replay:
    """What it takes to make this promotion's commit and tags again on top of another base."""

    root: Path
    txn: Transaction
    entry: StageDir
    actions: list[tuple[Action, str | None, str | None]]
    dvc_entry: dict[str, Any]
    title: str
    source: str
    who: str
    sign: bool
    git_files: list[str]
    requires: str = ""

    def push(self, remote: str, names: list[str]) -> tuple[str, list[str]]:
        """Push data, then commit and tags atomically; when origin moved on and the other
        change does not take this promotion's version or folder, rebase onto it, renumber the
        counter, re-check, and push again. Returns the commit and tags that landed."""
        pointers = [
            str(p.relative_to(self.root)) for p in self.entry.path(self.root).rglob("*.dvc")
        ]
        if pointers:
            dvcremote.push(self.root, pointers)
        branch = gitrun.current_branch(self.root)
        assert branch is not None  # publish refuses a detached HEAD before it starts
        commit = self.txn.commit
        assert commit is not None  # pushed only once committed
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            refs = [f"HEAD:refs/heads/{branch}", *(f"refs/tags/{t}" for t in names)]
            try:
                gitwrite.push(self.root, remote, refs)
                return commit, names
            except PushRejected as exc:
                rejected = exc
            point("publish:push-rejected")
            # Losing the version to someone else is final: exit 2 naming the winner's commit.
            refuse_if_version_taken(self.root, remote, names)
            if attempt == PUSH_ATTEMPTS:
                break
            delay = min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2 ** (attempt - 1))
            time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: racers do not retry in step
            commit, names = self._rebase(remote, branch, names)
        raise PushRejected(
            f"push to {remote} was rejected {PUSH_ATTEMPTS} times (other changes kept landing "
            f"first), so this promotion was undone locally: {rejected.message}",
            hint="run the same command again (it is retryable: exit 4)",
        )

    def _check_version_order(self, remote: str, commit: str) -> None:
        """The direct promotion's version-order rule again, against what the remote holds now:
        a release that another one above it overtook is refused (exit 2), unless it was made
        with --allow-non-monotonic (its metadata.json records that)."""
        version = next((v for a, _, v in self.actions if a is Action.REGISTER and v), None)
        if version is None:
            return
        registry = state.load(self.root, [self.entry.name], folders="none")
        latest = versionorder.latest_above(
            version, versionorder.released(registry, self.entry.name)
        )
        metadata = gitread.json_at(self.root, commit, f"{self.entry.relpath}/metadata.json")
        if latest is None or versionorder.allowed(metadata):
            return
        by = next(
            (v.commit for v in registry.artifacts[self.entry.name].versions if v.version == latest),
            "",
        )
        raise ConflictError(
            f"push to {remote} was rejected, so this promotion was undone locally: "
            f"{self.entry.name} v{latest} was released on {remote} meanwhile (commit {by[:12]}), "
            f"and {version} is lower than that latest release",
            hint=f"fetch it (`git pull --tags {remote}`) and release a version above v{latest}, "
            f"or pass {versionorder.FLAG} for a patch of an old line",
        )

    def _rebase(self, remote: str, branch: str, names: list[str]) -> tuple[str, list[str]]:
        """Move this promotion onto the remote branch as it is now: the same folder, dvc.yaml and
        registry.json regenerated, the counter renumbered by GTO's rule, the checks re-run."""
        root, txn, entry = self.root, self.txn, self.entry
        old_commit = txn.commit
        assert old_commit is not None
        gitwrite.delete_tags(root, names)  # fetched tags of the same name must not clash
        txn.tags = []
        tracking = f"refs/remotes/{remote}/{branch}"
        gitwrite.fetch(root, remote, [f"+refs/heads/{branch}:{tracking}"], tags=True)
        base = gitrun.git(root, "rev-parse", tracking).strip()
        winner = gitread.creation_commit(root, base, f"{entry.relpath}/manifest.json")
        if winner:
            raise ConflictError(
                f"push to {remote} was rejected, so this promotion was undone locally: "
                f"{entry.relpath} was already promoted on {remote} by commit {winner[:12]}",
                hint=f"promoted folders are never overwritten; `git pull --tags {remote}` and "
                "choose another id or version",
            )
        self._check_version_order(remote, old_commit)
        if txn.old_head and not gitread.is_ancestor(root, txn.old_head, base):
            raise PushRejected(
                f"push to {remote} was rejected and {remote}/{branch} does not contain this "
                "clone's branch (local commits not on the remote, or a rewritten remote "
                "history), so this promotion was undone locally",
                hint=f"`git pull --rebase --tags {remote} {branch}` and run the command again",
            )
        txn.mark_rebased()  # journaled first: a crash from here on is rolled back by `recover`
        gitrun.git(root, "reset", "--quiet", "--keep", base)
        gitrun.git(root, "checkout", old_commit, "--", entry.relpath)
        point("publish:rebased")
        events = state.load(root, folders="none").events
        counter = next_counter(events, entry.name)
        names = [
            format_tag(
                action, entry.name, stage, version, None if action is Action.REGISTER else counter
            )
            for action, stage, version in self.actions
        ]
        taken = [e for e in events if e.tag in names]
        if taken:
            raise ConflictError(
                f"{taken[0].tag} was already made on {remote} by commit {taken[0].commit[:12]}",
                hint="versions are never reused; release a new version",
            )
        dvcyaml.set_artifact(root, entry.name, self.dvc_entry)
        start = next_tag_time(events)
        message = tag_message(
            self.title,
            kind=entry.stage,
            folder=entry.relpath,
            source=self.source,
            by=self.who,
            requires=self.requires,
        )
        pending = [
            Event(t, _parse(t), PENDING, start + i, self.who, "", message, True, entry)
            for i, t in enumerate(names)
        ]
        index.write(root, with_pending(root, events, pending))
        paths = [*self.git_files, DVC_YAML, REGISTRY_JSON]
        gitwrite.add(root, paths, force=True)
        txn.before_commit(self.title, names, message, start, self.sign)
        commit = gitwrite.commit(
            root,
            _commit_message(self.title, entry.relpath, self.source, names, self.requires),
            paths,
            sign=self.sign,
        )
        txn.committed(commit)
        # The checks again, on the new base: the folder intact, and its recorded gates those
        # of params.yaml as the remote holds it now (a gate changed meanwhile must not slip by).
        problems = folder_problems(root, entry)
        if entry.stage != "raw":
            metadata = gitread.json_at(root, commit, f"{entry.relpath}/metadata.json") or {}
            if isinstance(metadata.get("gates"), dict):
                settings = settings_from(committed_sections(root, base), base)
                rules = rules_for(settings.gates, entry.stage, entry.name)
                problems += recheck(
                    metadata["gates"], rules, f"{entry.relpath}/metadata.json", settings.source
                )
        if problems:
            raise VerificationFailed(
                f"after rebasing onto {remote}/{branch} ({base[:12]}), this promotion no longer "
                "passes its checks, so it was undone locally",
                problems,
            )
        txn.make_tags()
        return commit, names
