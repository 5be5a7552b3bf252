"""What git knows of a repository's branches: the base a pull request merges into."""

from __future__ import annotations

from pathlib import Path

from artreg import gitrepo
from artreg.errors import InputError


def default_base(root: Path) -> str:
    """What a pull request merges into when `--base` is not given: the repository's default
    branch as git knows it (gitrepo.default_branch), on origin when origin has it."""
    branch = gitrepo.default_branch(root)
    if branch is None:
        raise InputError(
            f"{root}: cannot tell the default branch (no origin/HEAD, no init.defaultBranch "
            "branch here, and HEAD is detached)",
            hint="pass --base REF, e.g. --base origin/main",
        )
    remote = f"origin/{branch}"
    return remote if gitrepo.ref_exists(root, f"refs/remotes/{remote}") else branch
