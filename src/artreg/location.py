"""Which registry a command works on: one rule, used by every writer, reader and `doctor`.

1. A path given explicitly (`--repo`, `repo=`, `ArtifactRepository(path)`) wins; it must exist.
2. Else the git repository around the current folder: the one a user sees in their prompt.
3. Else, only outside any git repository, `$ARTREG_REPO`; it must exist too.

A path that does not exist is an error, never the nearest existing parent: a misspelled path
must not silently become another registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from artreg import gitrepo
from artreg.errors import InputError
from artreg.layout import ARTIFACTS_DIR

ENV_VAR = "ARTREG_REPO"


@dataclass(frozen=True)
class Located:
    """A registry root and how it was chosen (for `doctor`'s report)."""

    root: Path
    source: str  # "--repo", "the current repository" or "ARTREG_REPO"


def _existing(path: Path, given_as: str) -> Path:
    if not path.exists():
        raise InputError(
            f"{path}: no such folder (given as {given_as})",
            hint=f"check the spelling of {given_as}; it must name a registry's folder",
        )
    return path.resolve()


def locate(path: Path | str | None = None) -> Located:
    """The registry root by the rule above, or an InputError naming the path and the fix."""
    if path is not None:
        return Located(gitrepo.toplevel(_existing(Path(path), "--repo")), "--repo")
    env = os.environ.get(ENV_VAR)
    here = gitrepo.work_tree(Path.cwd())
    if here is not None:
        if env and not (here / ARTIFACTS_DIR).is_dir():
            # The current repository wins, but it is no registry and the user clearly meant
            # another one: refuse rather than write into, say, the training code's repository.
            raise InputError(
                f"{here} is a git repository but not a registry, and {ENV_VAR}={env} applies "
                "only outside any git repository",
                hint=f"pass --repo {env} (repo=... in Python), or run from outside this repository",
            )
        return Located(here, "the current repository")
    if env:
        return Located(gitrepo.toplevel(_existing(Path(env), f"{ENV_VAR}={env}")), ENV_VAR)
    return Located(gitrepo.toplevel(Path.cwd()), "the current repository")  # raises: not a repo


def find_root(path: Path | str | None = None) -> Path:
    """The registry root by the rule above."""
    return locate(path).root
