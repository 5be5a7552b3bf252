"""Changing a repository through git: staging, commits (also on a private index), tags,
rolling back, and the atomic push and fetch that exchange refs with a remote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from artreg.adapters.git.history import default_branch
from artreg.adapters.git.run import current_branch, git, head, unreachable
from artreg.errors import InputError, PushRejected, ToolError

_LOST_RACE = ("rejected", "failed to push some refs", "cannot lock ref", "stale info")


def push(root: Path, remote: str, refs: Sequence[str]) -> None:
    """`git push --atomic`: all refs or none. A lost race raises PushRejected (retryable), a
    remote that does not answer RemoteUnavailable, anything else ToolError."""
    try:
        git(root, "push", "--atomic", "--porcelain", remote, *refs)
    except ToolError as exc:
        # A lost race may also say "the remote end hung up": the refusal is the finding.
        if any(m in exc.message.lower() for m in _LOST_RACE):
            raise PushRejected(
                f"another change reached {remote} first ({exc.message.splitlines()[-1]})",
                hint=f"`git pull --rebase --tags {remote}` and run the command again",
            ) from exc
        raise unreachable(remote, exc) from exc


def fetch(root: Path, remote: str, refspecs: Sequence[str], tags: bool = False) -> None:
    """`git fetch` of `refspecs` (and every tag); a remote that does not answer is retryable."""
    try:
        git(root, "fetch", "--quiet", *(["--tags"] if tags else []), remote, *refspecs)
    except ToolError as exc:
        raise unreachable(remote, exc) from exc


def add(root: Path, paths: Sequence[str], force: bool = False) -> None:
    if paths:
        git(root, "add", *(["--force"] if force else []), "--", *paths)


def commit(
    root: Path, message: str, paths: Sequence[str], sign: bool = False, allow_empty: bool = False
) -> str:
    """Commit exactly `paths` (other staged changes stay staged) and return the new commit."""
    args = ["commit", "--quiet", "--no-verify", "-m", message]
    if sign:
        args.append("-S")
    if allow_empty:
        args.append("--allow-empty")
    if head(root) is None:
        # `--only` needs a parent; the first commit of a repo takes the index as it is.
        git(root, *args)
    else:
        git(root, *args, "--only", "--", *paths)
    sha = head(root)
    assert sha is not None
    return sha


def commit_files(
    root: Path, parent: str, files: Mapping[str, str], message: str, sign: bool = False
) -> str:
    """A new commit on `parent` whose tree is parent's with `files` (path → text) written;
    HEAD, the index and the work tree are left alone (a private index file is used)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="artreg-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "read-tree", parent, env=env)
        for path, text in files.items():
            blob = git(root, "hash-object", "-w", "--stdin", f"--path={path}", stdin=text).strip()
            git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(root, "write-tree", env=env).strip()
    args = ["commit-tree", tree, "-p", parent, "-m", message, *(["-S"] if sign else [])]
    return git(root, *args).strip()


def create_tag(
    root: Path, tag: str, commit: str, message: str, timestamp: int, sign: bool = False
) -> None:
    """Create an annotated (or signed) tag dated `timestamp`, so tag order is never a tie."""
    env = {"GIT_COMMITTER_DATE": f"{timestamp} +0000"}
    git(root, "tag", "-s" if sign else "-a", "-m", message, tag, commit, env=env)


def delete_tags(root: Path, tags: Sequence[str]) -> None:
    for tag in tags:
        git(root, "tag", "-d", tag, check=False)


def reset_paths(root: Path, rev: str | None, paths: Sequence[str]) -> None:
    """Make the index entries of `paths` match `rev` (or remove them when there is no rev)."""
    if not paths:
        return
    if rev is None:
        git(root, "rm", "--cached", "--quiet", "-r", "--ignore-unmatch", "--", *paths, check=False)
    else:
        git(root, "reset", "--quiet", rev, "--", *paths, check=False)


def move_head(root: Path, rev: str) -> None:
    """Point the current branch back at `rev`, leaving index and work tree alone."""
    git(root, "update-ref", "-m", "artreg: roll back", "HEAD", rev)


# What git itself records while an operation waits for the user, with how to end each one.
# Paths are resolved by `git rev-parse --git-path`, so worktrees and moved git dirs work.
_IN_PROGRESS = (
    ("rebase-merge", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("rebase-apply/applying", "a `git am`", "git am --continue` or `git am --abort"),
    ("rebase-apply", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("MERGE_HEAD", "a merge", "git commit` (to finish it) or `git merge --abort"),
    (
        "CHERRY_PICK_HEAD",
        "a cherry-pick",
        "git cherry-pick --continue` or `git cherry-pick --abort",
    ),
    ("REVERT_HEAD", "a revert", "git revert --continue` or `git revert --abort"),
    ("BISECT_START", "a bisect", "git bisect reset"),
)


def check_committable(root: Path) -> None:
    """Refuse (exit 2, with git's own way out) a checkout where a registry commit would fail or
    land nowhere: an operation in progress, unmerged paths, or a detached HEAD."""
    paths = git(
        root,
        "rev-parse",
        "--path-format=absolute",
        *[arg for name, _, _ in _IN_PROGRESS for arg in ("--git-path", name)],
    ).splitlines()
    for path, (_, what, fix) in zip(paths, _IN_PROGRESS, strict=True):
        if Path(path).exists():
            raise InputError(
                f"{root}: {what} is in progress, and a registry change must not be mixed into it",
                hint=f"finish or abort it first: `{fix}`",
            )
    unmerged = git(root, "ls-files", "--unmerged").splitlines()
    if unmerged:
        path = unmerged[0].split("\t", 1)[-1]
        raise InputError(
            f"{root}: the index has unmerged paths ({path} first), so git cannot commit",
            hint="resolve the conflicts and `git add` the files, or `git restore --staged --worktree` them",
        )
    if current_branch(root) is None:
        branch = default_branch(root)
        back = f" or `git switch {branch}` to go back to {branch}" if branch else ""
        raise InputError(
            f"{root}: HEAD is detached, so a registry commit would be on no branch and easily lost",
            hint=f"`git switch -c BRANCH` to keep working here on a new branch{back}",
        )
