"""DVC's configuration and repository, asked for one registry: every configuration level, what
writing into it needs (`RegistryDvc`: cache database, ignore filter; `FolderFilter`), `dvc init`
and the remote settings. DVC's on-disk format is written by `cache`, remotes are talked to by
`remote`.
DVC is imported lazily, in this package only (read commands never do).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.errors import InputError, ToolError

DVC_DIR = ".dvc"
DVCIGNORE = ".dvcignore"


@dataclass(frozen=True)
class CopiedFile:
    relpath: str  # relative to the tracked output (a file output has relpath "")
    sha256: str
    md5: str
    size: int


# --- DVC's configuration, every level ------------------------------------------------------


def dvc_config(root: Path) -> Any:
    """DVC's configuration of the repo as DVC merges it: system, global, repo, local.

    `dvc.config` loads with configobj and resolves relative paths against the file that sets
    them, without importing `dvc.repo`; only write paths and remote operations call this.
    """
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.config import Config, ConfigError

    try:
        return Config(dvc_dir=str(root / DVC_DIR))
    except ConfigError as exc:
        raise _config_error(root, exc) from exc


def _config_error(root: Path, exc: Exception) -> InputError:
    return InputError(
        f"{root}: DVC's configuration cannot be used: {exc}",
        hint="`dvc config --list --show-origin` shows which file (system, global, "
        ".dvc/config or .dvc/config.local) sets what; fix that file",
    )


def remote_url(root: Path, remote: str | None = None) -> str | None:
    """URL of a remote (the default one when None), from every level of DVC's configuration."""
    conf = dvc_config(root)
    name = remote or conf["core"].get("remote")
    if not name:
        return None
    url = conf["remote"].get(name, {}).get("url")
    return str(url) if url else None


@contextlib.contextmanager
def dvc_repo(root: Path) -> Iterator[Any]:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.config import ConfigError
    from dvc.repo import Repo

    try:
        repo = Repo(str(root))
    except ConfigError as exc:
        raise _config_error(root, exc) from exc
    except Exception as exc:  # dvc raises its own NotDvcRepoError and friends
        raise ToolError(f"{root}: not a DVC repository ({exc})", hint="run `artreg init`") from exc
    try:
        yield repo
    finally:
        repo.close()


def object_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


# --- DVC's view of a registry, for writing -------------------------------------------------


@dataclass
class RegistryDvc:
    """What writing DVC's format into one registry needs from DVC, asked once per command:
    the cache object database `dvc add` would write to (its folder, link types and
    permissions, `cache.shared` included) and the repository's ignore filter."""

    root: Path
    cache: Path  # the cache folder (`dvc cache dir`)
    odb: Any  # dvc_data's LocalHashFileDB for DVC 3 objects (files/md5)
    ignore: Any  # dvc.ignore.DvcIgnoreFilter of the repository
    local_remote: Path | None  # the default remote, when it is a folder on this machine

    @classmethod
    def open(cls, root: Path) -> RegistryDvc:
        with dvc_repo(root) as repo:
            name = repo.config["core"].get("remote")
            url = str(repo.config["remote"].get(name, {}).get("url") or "") if name else ""
            return cls(
                root,
                Path(repo.cache.local_cache_dir),
                repo.cache.local,
                repo.dvcignore,
                Path(url) if url and "://" not in url else None,
            )

    def ignored_by(self, path: Path, is_dir: bool) -> str | None:
        """The `.dvcignore` rule (file:line:pattern) that makes DVC skip `path`, or None."""
        dirname, basename = os.path.split(os.path.abspath(path))
        # The filter's own lookup of the patterns that apply in `dirname` (DvcIgnoreFilter
        # has no public call that also works for paths that do not exist yet).
        patterns = self.ignore._get_trie_pattern(dirname)
        if not patterns:
            return None
        ignored, infos = patterns.matches(dirname, basename, is_dir, details=True)
        if not ignored:
            return None
        return ", ".join(str(i.file_info) for i in infos) or "DVC's default ignore rules"

    def check_output(self, path: Path, is_dir: bool) -> None:
        """Refuse an output that DVC would not track because its ignore rules exclude it."""
        rule = self.ignored_by(path, is_dir)
        if rule is not None:
            rel = path.relative_to(self.root).as_posix()
            raise InputError(
                f"{rel}: DVC ignores this path ({rule}), so it cannot be tracked",
                hint="remove that pattern from the .dvcignore that holds it",
            )

    def folder_filter(self, out: Path, source: Path) -> FolderFilter:
        """A walk filter that keeps exactly what `dvc add out` would track of `source`."""
        return FolderFilter(self.ignore, out, source)


@dataclass
class FolderFilter:
    """DVC's view of a source folder that is to become the tracked output `out`.

    Called with each folder of an os.walk of `source`, it returns the subfolders and files DVC
    would keep: the repository's ignore filter (its .dvcignore files and DVC's defaults, which
    skip `.git`, `.hg` and `.dvc`) is asked at the paths the files will have in the registry.
    What DVC would refuse or misread is refused: a `.dvcignore` it keeps, a name it reads as
    one of its own files (`*.dvc`, `dvc.yaml`), a DVC repository nested inside.
    """

    ignore: Any
    out: Path
    source: Path
    skipped: list[str] = field(default_factory=list)

    def __call__(
        self, dirpath: Path, dirnames: list[str], filenames: list[str]
    ) -> tuple[list[str], list[str]]:
        from dvc.dvcfile import is_valid_filename

        rel = dirpath.relative_to(self.source)
        if DVC_DIR in dirnames:
            where = "the checkpoint folder is" if rel == Path(".") else f"{rel.as_posix()}/ is"
            raise InputError(
                f"{dirpath / DVC_DIR}: {where} a DVC repository of its own; DVC skips such a "
                "folder when it tracks the folder around it",
                hint="remove its .dvc folder, or register the files from a folder that is "
                "not a DVC repository",
            )
        dirs, files = self.ignore(str(self.out / rel), list(dirnames), list(filenames))
        prefix = "" if rel == Path(".") else rel.as_posix() + "/"
        self.skipped += [f"{prefix}{d}/" for d in dirnames if d not in dirs]
        self.skipped += [f"{prefix}{f}" for f in filenames if f not in files]
        if DVCIGNORE in files:
            raise InputError(
                f"{dirpath / DVCIGNORE}: DVC refuses to track a folder that holds a "
                ".dvcignore file (`dvc add` fails, `dvc status` reports it forever)",
                hint="delete it from the folder; to leave files out, delete them or add "
                "patterns to the registry's own .dvcignore",
            )
        for name in files:
            if is_valid_filename(name):
                raise InputError(
                    f"{dirpath / name}: DVC reads a file named {name!r} as one of its own "
                    "(a pointer or a pipeline), so `dvc add` and every DVC command in the "
                    "registry would trip over it",
                    hint=f"rename it (e.g. to {name}.txt) or remove it from the folder",
                )
        return dirs, files


# --- operations that need DVC's code -------------------------------------------------------


def init(root: Path, cache_type: str) -> bool:
    """`dvc init` in a git repo unless it is one already, with `cache.type` in .dvc/config;
    True if it was initialised now."""
    if (root / DVC_DIR).is_dir():
        return False
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    dvc_logger = logging.getLogger("dvc")
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)  # DVC logs a "what to do next" banner at INFO
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            repo = Repo.init(str(root))
        with contextlib.closing(repo), repo.config.edit("repo") as conf:
            conf["cache"]["type"] = cache_type
    finally:
        dvc_logger.setLevel(level)
    return True


def cache_types(root: Path) -> list[str]:
    """DVC's `cache.type` link types for this repo (every level), else DVC's default."""
    from dvc_data.hashfile.db.local import LocalHashFileDB

    return list(dvc_config(root)["cache"].get("type") or LocalHashFileDB.DEFAULT_CACHE_TYPES)


def configure(root: Path, remote_name: str, url: str, analytics: bool = False) -> None:
    """Set the default remote and switch analytics off in .dvc/config (the tracked level)."""
    with dvc_repo(root) as repo, repo.config.edit("repo") as conf:
        conf["remote"].setdefault(remote_name, {})["url"] = url
        conf["core"]["remote"] = remote_name
        conf["core"]["analytics"] = analytics
        conf["core"]["autostage"] = False
