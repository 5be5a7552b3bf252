"""One registry change = one transaction: a repo lock, a journal, and rollback on any failure.

The journal (`.git/artreg/transaction.json`) is written before the first change, so that after a
crash (kill -9) `artreg recover` knows what to undo; it is removed when the change is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg import gitrepo
from artreg.errors import ConflictError
from artreg.faults import point


def state_dir(root: Path) -> Path:
    """artreg's private folder inside .git: never tracked, never pushed."""
    git_dir = Path(gitrepo.git(root, "rev-parse", "--absolute-git-dir").strip())
    path = git_dir / "artreg"
    path.mkdir(exist_ok=True)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def repo_lock(root: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the registry's lock; take over one left by a dead process; wait up to `wait` s."""
    lock = state_dir(root) / "lock"
    me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_holder(lock)
            if holder is not None and _is_stale(holder):
                # The holder died (kill -9, power loss): remove its lock and try again.
                lock.unlink(missing_ok=True)
                continue
            if time.monotonic() >= deadline:
                who = f"process {holder.get('pid')} on {holder.get('host')}" if holder else "?"
                raise ConflictError(
                    f"{root}: another artreg command ({who}) is changing this registry",
                    hint="wait for it to finish, or pass --wait SECONDS",
                ) from None
            time.sleep(0.1)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _read_holder(lock: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_stale(holder: dict[str, Any]) -> bool:
    return holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", 0)))


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
    tagging: dict[str, Any] = field(default_factory=dict)

    @property
    def journal(self) -> Path:
        return state_dir(self.root) / "transaction.json"

    def begin(self) -> None:
        if self.journal.exists():
            raise ConflictError(
                f"{self.root}: an earlier artreg command was interrupted and left its change half done",
                hint="run `artreg recover` (then `artreg verify`) before changing the registry again",
            )
        self.old_head = gitrepo.head(self.root)
        self.old_branch = gitrepo.current_branch(self.root)
        dirty = gitrepo.status(self.root, self.touched) if self.touched else ""
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
            "new_dirs": list(self.new_dirs),
            "touched": list(self.touched),
            "saved": {
                k: (v.decode("utf-8", "surrogateescape") if v is not None else None)
                for k, v in self.saved.items()
            },
            "tags": self.tags,
            "new_branch": self.new_branch,
            "tagging": self.tagging,
        }
        tmp = self.journal.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.journal)

    def switch_to_new_branch(self, branch: str) -> None:
        """Commit on a new branch (pull-request mode); rollback returns to where we were."""
        if gitrepo.git(
            self.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False
        ).strip():
            raise ConflictError(
                f"branch {branch!r} exists already", hint="choose another --branch name"
            )
        gitrepo.git(self.root, "switch", "--quiet", "-c", branch)
        self.new_branch = branch
        self._write_journal("applying")

    def planned_tags(
        self, tags: Sequence[str], commit: str, message: str, start: int, sign: bool
    ) -> None:
        """Record the tags before creating them: after a crash, recover can complete them."""
        self.tags = list(tags)
        self.tagging = {"commit": commit, "message": message, "start": start, "sign": sign}
        self._write_journal("tagging")

    def finish(self) -> None:
        self.journal.unlink(missing_ok=True)

    def rollback(self) -> None:
        """Undo everything: tags, commit, index entries, files; leave unrelated changes alone."""
        gitrepo.delete_tags(self.root, self.tags)
        head_now = gitrepo.head(self.root)
        if self.old_head is not None and head_now != self.old_head:
            gitrepo.move_head(self.root, self.old_head)
        paths = [*self.new_dirs, *self.touched]
        gitrepo.reset_paths(self.root, self.old_head, paths)
        for rel in self.new_dirs:
            shutil.rmtree(self.root / rel, ignore_errors=True)
            _remove_empty_parents(self.root, self.root / rel)
        for rel, data in self.saved.items():
            path = self.root / rel
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        if self.new_branch:
            back = self.old_branch or self.old_head
            if back:
                gitrepo.git(
                    self.root,
                    "switch",
                    "--quiet",
                    *([] if self.old_branch else ["--detach"]),
                    back,
                    check=False,
                )
            gitrepo.git(self.root, "branch", "--quiet", "-D", self.new_branch, check=False)
        self.finish()


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
    root: Path, new_dirs: Sequence[str], touched: Sequence[str], wait: float = 0.0
) -> Iterator[Transaction]:
    """Lock the registry, begin a transaction, and roll it back if the body raises."""
    with repo_lock(root, wait=wait):
        txn = Transaction(root, new_dirs, touched)
        txn.begin()
        try:
            yield txn
        except BaseException:
            txn.rollback()
            raise
        point("transaction:finishing")
        txn.finish()


def recover(root: Path, wait: float = 0.0) -> str:
    """Repair what an interrupted (killed) command left: complete its tags, or roll it back."""
    with repo_lock(root, wait=wait):
        artreg_dir = state_dir(root)
        for leftover in artreg_dir.glob("build-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        from artreg.dvcrepo import cache_dir

        for partial in (cache_dir(root) / "files" / "md5").glob(".artreg-*.tmp"):
            partial.unlink(missing_ok=True)  # a cache write cut short; the object was never named
        journal = artreg_dir / "transaction.json"
        if not journal.exists():
            return "nothing to recover"
        data = json.loads(journal.read_text())
        git_dir = artreg_dir.parent
        (git_dir / "index.lock").unlink(missing_ok=True)  # git itself was killed mid-write
        tagging = data.get("tagging") or {}
        if data.get("phase") == "tagging" and gitrepo.head(root) == tagging.get("commit"):
            made = []
            for i, tag in enumerate(data["tags"]):
                if not gitrepo.tag_exists(root, tag):
                    gitrepo.create_tag(
                        root,
                        tag,
                        tagging["commit"],
                        tagging["message"],
                        tagging["start"] + i,
                        sign=bool(tagging.get("sign")),
                    )
                    made.append(tag)
            journal.unlink()
            return (
                f"completed the interrupted change: created {', '.join(made) or 'no'} missing tags"
            )
        txn = Transaction(root, data["new_dirs"], data["touched"])
        txn.old_head, txn.old_branch = data["old_head"], data["old_branch"]
        txn.saved = {
            k: (v.encode("utf-8", "surrogateescape") if v is not None else None)
            for k, v in data["saved"].items()
        }
        txn.tags, txn.new_branch = data["tags"], data.get("new_branch")
        txn.rollback()
        return f"rolled back the interrupted change to {', '.join(data['new_dirs'])}"
