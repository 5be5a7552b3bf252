"""Which registry a command works on: one rule, used by every writer, reader and `doctor`.

1. A path given explicitly (`--repo`, `repo=`, `ArtifactRepository(path)`) wins; it must exist.
2. Else the git repository around the current folder: the one a user sees in their prompt.
3. Else, only outside any git repository, `$ARTREG_REPO`; it must exist too.

A path that does not exist is an error, never the nearest existing parent: a misspelled path
must not silently become another registry.

A registry URL (anything git accepts: `https://`, `ssh://`, `git://`, `file://`, `host:path`,
or the path of a bare repository) is read without a clone (sources/url.py): see
`is_registry_url`, asked by `sources.locate.open_source` alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from artreg.adapters import settings
from artreg.adapters.git import run as gitrun
from artreg.errors import InputError
from artreg.registry.layout import ARTIFACTS_DIR

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
    if path is not None and not os.fspath(path):
        # `--repo "$REGISTRY"` with the variable unset: never fall back to the current folder.
        raise InputError(
            "--repo is empty (given as --repo '')",
            hint="name the registry: a clone's path or a URL; or drop --repo to read the "
            "repository around the current folder",
        )
    if path is not None:
        return Located(gitrun.toplevel(_existing(Path(path), "--repo")), "--repo")
    env = settings.repo()
    here = gitrun.work_tree(Path.cwd())
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
        return Located(gitrun.toplevel(_existing(Path(env), f"{ENV_VAR}={env}")), ENV_VAR)
    return Located(gitrun.toplevel(Path.cwd()), "the current repository")  # raises: not a repo


def find_root(path: Path | str | None = None) -> Path:
    """The registry root by the rule above."""
    return locate(path).root


_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?[\w.-]+:(?!//)")  # git's [user@]host:path


def is_registry_url(repo: str | os.PathLike[str]) -> bool:
    """True if `repo` names a registry to read without a clone: a URL git accepts, or the path
    of a bare repository. A path inside a work tree is a local registry (a clone), as before."""
    text = os.fspath(repo)
    if "://" in text:
        return True
    path = Path(text)
    if path.exists():
        return (path / "HEAD").is_file() and (path / "objects").is_dir()
    if _SCP_LIKE.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        return True
    # A path that is not there as written may still be one git reads (`/srv/reg` for
    # `/srv/reg.git`): git decides, by its own lookup, only for a path that would be refused.
    # An absolute path, never a remote's name.
    where = str(path.expanduser().absolute())
    return gitrun.run_status(Path(os.sep), "ls-remote", "--", where, "HEAD").returncode == 0


def normalize_url(repo: str | os.PathLike[str]) -> str:
    """The URL as git will be given it: local paths made absolute, so a cache key is stable."""
    text = os.fspath(repo)
    scheme, sep, rest = text.partition("://")
    if sep and not rest.strip("/"):
        # git would read `file://` as the host "file:" over ssh and report it unreachable.
        raise InputError(
            f"--repo {text!r}: a {scheme}:// URL with no repository after it",
            hint=f"name the repository, e.g. {scheme}:///srv/registry.git"
            if scheme == "file"
            else f"name the host and repository, e.g. {scheme}://host/registry.git",
        )
    if "://" in text or (_SCP_LIKE.match(text) and not Path(text).exists()):
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())
