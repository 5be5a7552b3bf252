"""A clone's history as git keeps it: the default branch, shallow clones, the upstream remote,
and fetching tags and history from it (what a registry clone lacks: registry/clone_history)."""

from __future__ import annotations

from pathlib import Path

from artreg.adapters.git.run import config_value, current_branch, git, ref_exists, unreachable
from artreg.errors import InputError, ToolError


def default_branch(root: Path) -> str | None:
    """The repository's default branch as git knows it: origin's HEAD, else init.defaultBranch
    (when this repository has that branch), else the branch checked out now."""
    origin_head = git(
        root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False
    ).strip()
    if origin_head.startswith("origin/"):
        return origin_head.removeprefix("origin/")
    configured = git(root, "config", "--get", "init.defaultBranch", check=False).strip()
    if configured and any(
        git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
        for ref in (f"refs/heads/{configured}", f"refs/remotes/origin/{configured}")
    ):
        return configured
    return current_branch(root)


def is_shallow(root: Path) -> bool:
    return git(root, "rev-parse", "--is-shallow-repository", check=False).strip() == "true"


def upstream_remote(root: Path) -> str | None:
    """The remote to fetch registry history from: the current branch's upstream remote, else
    `origin`, else the only remote; None when there is none to ask."""
    branch = current_branch(root)
    tracked = config_value(root, f"branch.{branch}.remote") if branch else ""
    if tracked and tracked != ".":
        return tracked
    remotes = git(root, "remote").split()
    if "origin" in remotes:
        return "origin"
    return remotes[0] if len(remotes) == 1 else None


def fetch_history(root: Path, remote: str, unshallow: bool) -> str:
    """Fetch the registry tags from `remote` and, in a shallow clone, the whole history;
    blob-filtered when the clone is a partial clone already (git allows `--filter` only
    there). Returns the command that ran, for the record."""
    args = ["fetch", "--quiet", "--no-write-fetch-head"]
    if config_value(root, f"remote.{remote}.promisor") == "true":
        args.append("--filter=blob:none")
    if unshallow:
        # Every registry command may read any tagged commit and each folder's creating commit,
        # so a partial deepening (--deepen N) would only move the problem: take it all once.
        args += ["--tags", "--unshallow", remote]
    else:
        # Tags only: remote-tracking branches stay where the user left them. No "+": a local
        # tag that differs from the remote's is refused by git, never overwritten.
        args += [remote, "refs/tags/*:refs/tags/*"]
    try:
        git(root, *args)
    except ToolError as exc:
        raise unreachable(remote, exc) from exc
    return "git " + " ".join(a for a in args if a not in ("--quiet", "--no-write-fetch-head"))


def default_base(root: Path) -> str:
    """What a pull request merges into when `--base` is not given: the repository's default
    branch as git knows it (default_branch), on origin when origin has it."""
    branch = default_branch(root)
    if branch is None:
        raise InputError(
            f"{root}: cannot tell the default branch (no origin/HEAD, no init.defaultBranch "
            "branch here, and HEAD is detached)",
            hint="pass --base REF, e.g. --base origin/main",
        )
    remote = f"origin/{branch}"
    return remote if ref_exists(root, f"refs/remotes/{remote}") else branch
