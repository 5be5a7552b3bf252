"""One registry change = one transaction: a repo lock, a journal, and rollback on any failure.

The journal (`<git-common-dir>/artreg/transaction.json`) is written before the first change and
updated at each step (applying → committing → tagging), so that after a crash (kill -9)
`artreg recover` knows whether to complete the tags of a finished commit or roll the change back.
It is removed when the change is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters import locking
from artreg.adapters.dvc.cache import cache_dir
from artreg.adapters.faults import point
from artreg.adapters.files import write_atomic
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.errors import ConflictError, LockBusy
from artreg.registry.jsonform import fields_json


def state_dir(root: Path) -> Path:
    """artreg's private folder in the git dir shared by all worktrees: never tracked or pushed."""
    common = gitrun.git(root, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    path = Path(common) / "artreg"
    path.mkdir(exist_ok=True)
    return path


# --- the lock ----------------------------------------------------------------------------------
# `adapters.locking`'s flock; the file's content only says who holds it, for the message.


def _holder_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})


def _read_holder(lock: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def lock_holder(root: Path) -> dict[str, Any] | None:
    """Who holds the registry's lock right now, or None when it is free."""
    lock = state_dir(root) / "lock"
    return (_read_holder(lock) or {}) if locking.is_held(lock) else None


@contextmanager
def repo_lock(root: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the registry's lock for the block; wait up to `wait` seconds for another holder."""
    lock = state_dir(root) / "lock"
    with ExitStack() as stack:
        try:
            fd = stack.enter_context(locking.hold(lock, wait=wait))
        except locking.Busy:
            holder = _read_holder(lock) or {}
            who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
            raise LockBusy(
                f"{root}: another artreg command ({who}) is changing this registry",
                hint="wait for it to finish, or pass --wait SECONDS",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, _holder_text().encode())
        yield


# --- the transaction ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTag:
    """One tag a transaction will make: on which commit, with which message and date."""

    tag: str
    target: str
    message: str
    stamp: int

    def as_dict(self) -> dict[str, Any]:
        return fields_json(self)


@dataclass
class Transaction:
    """What one change touches, so that it can be undone exactly."""

    root: Path
    new_dirs: Sequence[str]  # repo-relative folders this change creates (must not exist)
    touched: Sequence[str]  # repo-relative files this change rewrites (dvc.yaml, registry.json)
    old_head: str | None = None
    old_branch: str | None = None
    saved: dict[str, bytes | None] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    new_branch: str | None = None
    title: str = ""
    tagging: dict[str, Any] = field(default_factory=dict)
    commit: str | None = None
    tags_only: bool = False  # `artreg tag`: no commit, only tags on commits already made
    rebased: bool = False  # `--push` moved HEAD onto the remote's branch to land after a race

    @property
    def journal(self) -> Path:
        return state_dir(self.root) / "transaction.json"

    def begin(self) -> None:
        if self.journal.exists():
            raise ConflictError(
                f"{self.root}: an earlier artreg command was interrupted and left its change half done",
                hint="run `artreg recover` (then `artreg verify`) before changing the registry again",
            )
        self.old_head = gitrun.head(self.root)
        self.old_branch = gitrun.current_branch(self.root)
        dirty = gitread.status(self.root, self.touched) if self.touched else ""
        if dirty.strip():
            raise ConflictError(
                f"{self.root}: uncommitted changes in files the registry must rewrite:\n"
                + dirty.rstrip(),
                hint="commit or stash them first",
            )
        for rel in self.new_dirs:
            if (self.root / rel).exists():
                raise ConflictError(
                    f"{rel}: already exists; promoted folders are never overwritten",
                    hint="choose another id or version",
                )
        for rel in self.touched:
            path = self.root / rel
            self.saved[rel] = path.read_bytes() if path.is_file() else None
        self._write_journal("applying")
        point("transaction:begun")

    def _write_journal(self, phase: str) -> None:
        data = {
            "phase": phase,
            "pid": os.getpid(),
            "old_head": self.old_head,
            "old_branch": self.old_branch,
            "new_branch": self.new_branch,
            "new_dirs": list(self.new_dirs),
            "touched": list(self.touched),
            "saved": {
                k: (v.decode("utf-8", "surrogateescape") if v is not None else None)
                for k, v in self.saved.items()
            },
            "title": self.title,
            "tags": self.tags,
            "tagging": self.tagging,
            "commit": self.commit,
            "tags_only": self.tags_only,
            "rebased": self.rebased,
        }
        write_atomic(self.journal, json.dumps(data))

    def switch_to_new_branch(self, branch: str) -> None:
        """Commit on a new branch (pull-request mode); rollback returns to where we were."""
        if gitrun.git(
            self.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False
        ).strip():
            raise ConflictError(
                f"branch {branch!r} exists already", hint="choose another --branch name"
            )
        self.new_branch = branch
        self._write_journal("applying")
        gitrun.git(self.root, "switch", "--quiet", "-c", branch)

    def before_commit(
        self,
        title: str,
        tags: Sequence[str],
        message: str,
        start: int,
        sign: bool,
        target: str | None = None,
    ) -> None:
        """Record the commit's title and the tags to make (on `target`, else on the new commit),
        so that a crash after the commit is recoverable."""
        self.title = title
        self.tags = list(tags)
        self.tagging = {"message": message, "start": start, "sign": sign, "target": target}
        self._write_journal("committing")

    def mark_rebased(self) -> None:
        """`--push` is about to move HEAD onto the remote's branch: journal it, so that a
        rollback (or `recover` after a crash) takes index and work tree back to the old HEAD."""
        self.rebased = True
        self._write_journal("tagging" if self.commit else "applying")

    def committed(self, commit: str) -> None:
        self.commit = commit
        self._write_journal("tagging")

    def finish(self) -> None:
        self.journal.unlink(missing_ok=True)

    def plan_tags(
        self,
        plan: Sequence[PlannedTag],
        push: str | None = None,
        advance: dict[str, str] | None = None,
        sign: bool = False,
    ) -> None:
        """Record tags to make on commits that exist already (`artreg tag`), each with its own
        target, message and date, and the move of `advance["branch"]` from `advance["from"]` to
        `advance["to"]` (the commits that write dvc.yaml and registry.json), so that a crash
        while tagging is completed by `recover`."""
        self.tags = [p.tag for p in plan]
        self.tagging = {
            "plan": [p.as_dict() for p in plan],
            "push": push,
            "advance": advance,
            "sign": sign,
        }
        if advance:
            self.commit = advance["to"]
        self._write_journal("tagging")

    def advance(self) -> None:
        """Move the branch onto the commits `plan_tags` recorded, updating the generated files
        in the index and work tree (`--keep`: any unrelated local change stays)."""
        moving = self.tagging.get("advance")
        if not moving or gitrun.head(self.root) != moving["from"]:
            return  # nothing to move, or moved already (a recovery after the move)
        if gitrun.current_branch(self.root) != moving["branch"]:
            raise ConflictError(
                f"the interrupted `artreg tag` was run on branch {moving['branch']!r}, but "
                f"{gitrun.current_branch(self.root)!r} is checked out now",
                hint=f"`git switch {moving['branch']}`, then run `artreg recover` again",
            )
        gitrun.git(self.root, "reset", "--quiet", "--keep", moving["to"])

    def _planned(self) -> list[PlannedTag]:
        if "plan" in self.tagging:
            return [PlannedTag(**p) for p in self.tagging["plan"]]
        if not self.tags:
            return []
        target: str | None = self.tagging.get("target") or self.commit
        assert target is not None
        return [
            PlannedTag(tag, target, self.tagging["message"], self.tagging["start"] + i)
            for i, tag in enumerate(self.tags)
        ]

    def make_tags(self) -> list[str]:
        """Create the recorded tags that do not exist yet (all of them, or those a crash missed)."""
        made = []
        for planned in self._planned():
            if not gitread.tag_exists(self.root, planned.tag):
                point("publish:tag")
                gitwrite.create_tag(
                    self.root,
                    planned.tag,
                    planned.target,
                    planned.message,
                    planned.stamp,
                    sign=bool(self.tagging.get("sign")),
                )
                made.append(planned.tag)
        return made

    def rollback(self) -> None:
        """Undo everything: tags, commit, index entries, files; leave unrelated changes alone."""
        if self.commit is None and self.title:
            # Interrupted between `git commit` and `committed()` (Ctrl-C lands anywhere): the
            # commit is found as `recover` finds it, so HEAD goes back too.
            self.commit = _interrupted_commit(self.root, self, "committing")
        gitwrite.delete_tags(self.root, self.tags)
        if self.rebased and self.old_head and gitrun.head(self.root) != self.old_head:
            # HEAD went onto the remote's branch (and maybe a new commit on it): drop our edits
            # of the generated files, then take index and work tree back to the old HEAD,
            # keeping any unrelated local change (`--keep`), as before the command.
            for rel in self.touched:
                gitrun.git(self.root, "checkout", "HEAD", "--", rel, check=False)
            gitrun.git(self.root, "reset", "--quiet", "--keep", self.old_head)
        elif self.commit is not None and gitrun.head(self.root) == self.commit and self.old_head:
            gitwrite.move_head(self.root, self.old_head)
        paths = [*self.new_dirs, *self.touched]
        gitwrite.reset_paths(self.root, self.old_head, paths)
        for rel in self.new_dirs:
            shutil.rmtree(self.root / rel, ignore_errors=True)
            _remove_empty_parents(self.root, self.root / rel)
        for rel, data in self.saved.items():
            path = self.root / rel
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        if self.new_branch and gitrun.current_branch(self.root) == self.new_branch:
            back = self.old_branch or self.old_head
            if back:
                detach = [] if self.old_branch else ["--detach"]
                gitrun.git(self.root, "switch", "--quiet", *detach, back, check=False)
        if self.new_branch and gitrun.current_branch(self.root) != self.new_branch:
            gitrun.git(self.root, "branch", "--quiet", "-D", self.new_branch, check=False)
        self.finish()

    @classmethod
    def from_journal(cls, root: Path, data: dict[str, Any]) -> Transaction:
        txn = cls(root, data["new_dirs"], data["touched"])
        txn.old_head, txn.old_branch = data["old_head"], data["old_branch"]
        txn.new_branch, txn.title = data.get("new_branch"), data.get("title", "")
        txn.tags, txn.tagging, txn.commit = (
            data["tags"],
            data.get("tagging") or {},
            data.get("commit"),
        )
        txn.saved = {
            k: (v.encode("utf-8", "surrogateescape") if v is not None else None)
            for k, v in data["saved"].items()
        }
        txn.tags_only = bool(data.get("tags_only"))
        txn.rebased = bool(data.get("rebased"))
        return txn


def leave_branch(root: Path, back: str, detached: bool, new_dirs: Sequence[str]) -> None:
    """Pull-request mode, once the new branch holds its commit: switch back to `back` (the
    branch, or with `detached` the commit, the command began on), the branch kept. git takes
    the new folders' tracked files away; their DVC outputs, ignored only by the branch's
    .gitignore files, would stay as untracked files (and make a folder look released), so
    they go too: DVC's cache keeps their bytes for a later checkout of the branch."""
    gitrun.git(root, "switch", "--quiet", *(["--detach"] if detached else []), back)
    for rel in new_dirs:
        if not gitrun.git(root, "ls-files", "--", rel).strip():  # not on `back` either
            shutil.rmtree(root / rel, ignore_errors=True)
            _remove_empty_parents(root, root / rel)


def _remove_empty_parents(root: Path, path: Path) -> None:
    """Remove folders left empty by a rollback, up to (not including) `artifacts/<stage>`."""
    parent = path.parent
    while parent != root and len(parent.relative_to(root).parts) > 2:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


@contextmanager
def transaction(
    root: Path,
    new_dirs: Sequence[str],
    touched: Sequence[str],
    wait: float = 0.0,
    tags_only: bool = False,
    held: bool = False,
) -> Iterator[Transaction]:
    """Lock the registry, begin a transaction, and roll it back if the body raises.

    `held`: the caller holds the lock already (gc keeps it from planning to the last delete)."""
    with nullcontext() if held else repo_lock(root, wait=wait):
        txn = Transaction(root, new_dirs, touched, tags_only=tags_only)
        txn.begin()
        try:
            yield txn
        except BaseException:
            txn.rollback()
            raise
        point("transaction:finishing")
        txn.finish()


# --- recovery after a crash --------------------------------------------------------------------


def _interrupted_commit(root: Path, txn: Transaction, phase: str) -> str | None:
    """The commit the interrupted change made, if it got that far."""
    if txn.commit:
        return txn.commit
    if phase != "committing":
        return None
    head = gitrun.head(root)
    if head is None or head == txn.old_head:
        return None
    parent = gitrun.git(root, "rev-parse", "--verify", "--quiet", f"{head}^", check=False).strip()
    subject = gitrun.git(root, "log", "-1", "--format=%s", head).strip()
    # Killed between `git commit` and the journal's update: HEAD is that commit if it sits on
    # the old HEAD and carries the recorded title.
    return head if parent == (txn.old_head or "") and subject == txn.title else None


def recover(root: Path, wait: float = 0.0) -> str:
    """Repair what an interrupted (killed) command left: complete its tags, or roll it back.

    Refuses, changing nothing, when the checkout has moved on since the crash (another branch,
    or new commits on top of an unfinished change), instead of guessing.
    """
    with repo_lock(root, wait=wait):
        artreg_dir = state_dir(root)
        for leftover in artreg_dir.glob("build-*"):
            shutil.rmtree(leftover, ignore_errors=True)

        for partial in (cache_dir(root) / "files" / "md5").glob(".artreg-*.tmp"):
            partial.unlink(missing_ok=True)  # a cache write cut short; the object was never named
        journal = artreg_dir / "transaction.json"
        if not journal.exists():
            return "nothing to recover"
        data = json.loads(journal.read_text())
        txn = Transaction.from_journal(root, data)
        (artreg_dir.parent / "index.lock").unlink(missing_ok=True)  # git killed mid-write
        if txn.tags_only:
            return _complete_tagging(txn)
        expected_branch = txn.new_branch or txn.old_branch
        branch = gitrun.current_branch(root)
        if txn.new_branch and branch == txn.old_branch and data["phase"] == "applying":
            branch = expected_branch  # killed before `git switch` completed
        if branch != expected_branch:
            raise ConflictError(
                f"the interrupted change was made on branch {expected_branch!r}, but "
                f"{branch!r} is checked out now",
                hint=f"`git switch {expected_branch}`, then run `artreg recover` again",
            )
        commit = _interrupted_commit(root, txn, data["phase"])
        head = gitrun.head(root)
        if commit is not None and txn.rebased and not gitread.is_ancestor(root, commit, "HEAD"):
            # Killed while `--push` rebased onto the remote's branch: nothing was pushed, so
            # undo it all, back to the HEAD from before the command.
            txn.rollback()
            return f"rolled back the interrupted change to {', '.join(txn.new_dirs)}"
        if commit is not None:
            if not gitread.is_ancestor(root, commit, "HEAD"):
                raise ConflictError(
                    f"the interrupted change committed {commit[:12]}, which is no longer on "
                    f"{branch!r}'s history",
                    hint=f"tag it by hand or drop it; then delete {journal}",
                )
            txn.commit = commit
            made = txn.make_tags()
            txn.finish()
            done = (
                f"completed the interrupted change: created {', '.join(made) or 'no'} missing tags"
            )
            back = txn.old_branch or txn.old_head
            if txn.new_branch and back:  # pull-request mode: back where the command began
                leave_branch(root, back, txn.old_branch is None, txn.new_dirs)
                done += f"; {txn.new_branch} holds it, and {back} is checked out again"
            return done
        if head != txn.old_head:
            raise ConflictError(
                f"the interrupted change never committed, but HEAD moved from "
                f"{str(txn.old_head)[:12]} to {str(head)[:12]} since",
                hint="remove "
                + ", ".join(txn.new_dirs or ["nothing"])
                + " and restore "
                + ", ".join(txn.touched)
                + f" from git by hand; then delete {journal}",
            )
        txn.commit = None
        txn.rollback()
        return f"rolled back the interrupted change to {', '.join(txn.new_dirs) or 'registry.json'}"


def _complete_tagging(txn: Transaction) -> str:
    """`artreg tag` was killed: make the rest of its planned tags on their (existing) commits.

    Nothing else changed (no commit, no file), so the branch checked out does not matter.
    """
    if not txn.tags:
        txn.finish()
        return "the interrupted `artreg tag` had planned no tag yet: nothing to do (run it again)"
    moving = txn.tagging.get("advance")
    head = gitrun.head(txn.root)
    if moving and head not in (moving["from"], moving["to"]):
        raise ConflictError(
            f"the interrupted `artreg tag` was to move {moving['branch']!r} from "
            f"{moving['from'][:12]} to {moving['to'][:12]}, but HEAD is {str(head)[:12]} now",
            hint=f"`git switch {moving['branch']}` and reset it to one of those, then run "
            "`artreg recover` again",
        )
    txn.advance()
    made = txn.make_tags()
    txn.finish()
    done = f"completed the interrupted `artreg tag`: created {', '.join(made) or 'no'} missing tags"
    remote = txn.tagging.get("push")
    if remote and txn.tags:
        refs = " ".join(f"refs/tags/{t}" for t in txn.tags)
        branch = f"{moving['branch']} " if moving else ""
        done += f"; it was to push them too: `git push --atomic {remote} {branch}{refs}`"
    return done
