"""DVC remotes: push, fetch and checkout through DVC, what a remote lacks, deleting from a
remote (gc), and a registry's remote read by a consumer without a clone (`remote_store`,
`RemoteReader`, DVC's own filesystem classes without its repository machinery).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters import fastcopy
from artreg.adapters.dvc import remote_guard
from artreg.adapters.dvc.cache import cache_dir, check_dir_objects, target_oids
from artreg.adapters.dvc.remote_guard import local_root_problem, unavailable
from artreg.adapters.dvc.repo import DVC_DIR, dvc_config, dvc_repo, remote_url
from artreg.errors import (
    ArtregError,
    InputError,
    IntegrityError,
    NotFoundError,
    RemoteUnavailable,
    ToolError,
)


def _abs(root: Path, targets: Sequence[str]) -> list[str]:
    """DVC resolves targets against the process's cwd; make them independent of it."""
    return [str(root / t) for t in targets]


def push(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """Push the objects of `targets` (.dvc files) to the remote; returns objects transferred.
    A remote folder on this machine gets them by kernel-side copies first (fastcopy)."""
    with dvc_repo(root) as repo:
        try:
            odb, cache = repo.cloud.get_remote_odb(remote, "push"), repo.cache.local
            oids = [o for t in targets for o in target_oids([cache], root / t) or ()]
            local = odb.fs.protocol == "local"
            seeded = fastcopy.seed_objects(cache, odb, oids) if local else 0
            return seeded + int(repo.push(targets=_abs(root, targets), remote=remote))
        except Exception as exc:
            raise ToolError(f"dvc push failed: {exc}") from exc


def _fetch(repo: Any, root: Path, targets: Sequence[str], remote: str | None) -> int:
    """`dvc fetch` of `targets` into the cache (objects already there are not fetched again),
    with DVC's failures translated: an unreachable remote is retryable, a missing object is
    not found."""
    remote_guard.before_fetch(repo, root, targets, remote)  # DVC would delete an altered object
    try:
        return int(repo.fetch(targets=_abs(root, targets), remote=remote))
    except Exception as exc:
        # DVC reports an unreachable remote as files that failed to download: ask the remote.
        _raise_if_unreachable(repo, remote, exc, "nothing was fetched")
        missing = "missing" in str(exc).lower() or "not found" in str(exc).lower()
        cls = NotFoundError if missing else ToolError
        raise cls(
            f"dvc fetch of {', '.join(targets)} failed: {exc}",
            hint="check that the data was pushed (`dvc push`) and the remote is reachable",
        ) from exc


def _raise_if_unreachable(repo: Any, remote: str | None, exc: Exception, outcome: str) -> None:
    """RemoteUnavailable (exit 4, naming the remote) when the remote cannot be reached (no
    network, no credentials): that says nothing about the registry's data."""
    problem = _odb_problem(repo, remote)
    if problem:
        raise RemoteUnavailable(
            f"DVC remote {remote or repo.config['core'].get('remote') or ''} did not "
            f"answer, so {outcome}: {problem}",
            hint="check the network, the remote's URL and credentials "
            "(`dvc remote list`), then run the command again",
        ) from exc


def fetch_objects(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """Fetch into the DVC cache only the objects of `targets` (files of tracked outputs, also
    single files inside a tracked folder), without touching the work tree; returns how many
    objects were transferred (those already in the cache are not)."""
    with dvc_repo(root) as repo:
        return _fetch(repo, root, targets, remote)


def fetch_checked_checkout(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """fetch, refuse unsafe `.dir` listings, then checkout, all with one DVC repo instance.

    Returns the number of objects fetched. DVC is opened once: its start-up is a large part of
    pulling a small artifact.
    """
    with dvc_repo(root) as repo:
        fetched = _fetch(repo, root, targets, remote)
        where = remote or repo.config["core"].get("remote") or ""
        check_dir_objects(Path(repo.cache.local_cache_dir), [root / t for t in targets], where)
        try:
            repo.checkout(targets=_abs(root, targets), force=True)
        except Exception as exc:
            raise ToolError(f"dvc checkout failed: {exc}") from exc
    return fetched


def remote_is_local(root: Path, remote: str | None = None) -> bool:
    """Whether the remote (the default one when None) is a folder on this machine: reading it
    crosses no network (an air-gapped site's remote, or a bundle's)."""
    url = remote_url(root, remote)
    return bool(url) and "://" not in str(url)


def local_remote_object(root: Path, cache_object: Path, remote: str | None = None) -> Path | None:
    """Where a cache object lives in the default remote, when that remote is a local folder."""
    url = remote_url(root, remote)
    if not url or not remote_is_local(root, remote):
        return None
    base = Path(url) if Path(url).is_absolute() else (root / DVC_DIR / url).resolve()
    relative = cache_object.relative_to(cache_dir(root))
    return base / relative


def missing_in_remote(root: Path, targets: Sequence[str], remote: str | None = None) -> list[str]:
    """The `.dvc` pointers among `targets` whose objects the remote lacks, asked of the remote
    itself (DVC's `oids_exist`) for the pointer's object and those its `.dir` listing names; the
    local cache only supplies listings. A pointer whose listing is nowhere counts as missing."""
    with dvc_repo(root) as repo:
        try:
            odb = repo.cloud.get_remote_odb(remote, "verify --remote")
            wanted = {t: target_oids([repo.cache.local, odb], root / t) for t in targets}
            asked = sorted(set().union(*(o for o in wanted.values() if o)))
            name = remote_name(root, remote) or "(default)"
            present = remote_guard.present_in_local(odb, asked, name)  # DVC's would delete
            if present is None:
                present = set(odb.oids_exist(asked)) if asked else set()
        except (InputError, IntegrityError):
            raise
        except Exception as exc:
            _raise_if_unreachable(repo, remote, exc, "nothing was checked in it")
            raise ToolError(
                f"checking the DVC remote failed: {exc}", hint="check the remote"
            ) from exc
    return sorted(t for t, oids in wanted.items() if oids is None or not oids <= present)


def remote_problem(root: Path, remote: str | None = None) -> str | None:
    """Why the remote cannot be reached (one listing call), or None when it can."""
    with dvc_repo(root) as repo:
        return _odb_problem(repo, remote)


def _odb_problem(repo: Any, remote: str | None) -> str | None:
    try:
        odb = repo.cloud.get_remote_odb(remote)
        odb.fs.exists(odb.path)
    except Exception as exc:  # any failure to talk to the remote is the finding itself
        return f"cannot reach it: {str(exc).strip().splitlines()[0][:200]}"
    if odb.fs.protocol == "local":  # a folder answers "no such file" for every object
        base = Path(odb.path)
        return local_root_problem(base.parent.parent if base.name == "md5" else base)
    return None


class RemoteStore:
    """One DVC remote's object store, through DVC's own filesystem (local folder, S3, ...)."""

    def __init__(self, odb: Any, name: str) -> None:
        self.odb = odb
        self.name = name

    def read(self, oid: str) -> bytes | None:
        """An object's bytes, or None when the remote lacks it."""
        path = self.odb.oid_to_path(oid)
        try:
            return bytes(self.odb.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def remove(self, oid: str) -> int | None:
        """Delete one object; its size, or None if the remote did not hold it (idempotent)."""
        path = self.odb.oid_to_path(oid)
        try:
            size = int(self.odb.fs.info(path)["size"])
        except FileNotFoundError:
            return None
        self.odb.fs.remove(path)
        return size


def remote_name(root: Path, remote: str | None) -> str | None:
    """The remote named, else the default remote; None when the repo configures none."""
    if remote:
        return remote
    name = dvc_config(root)["core"].get("remote")
    return str(name) if name else None


@contextlib.contextmanager
def open_remote(root: Path, remote: str | None = None) -> Iterator[RemoteStore]:
    """The object store of `remote` (default: the configured default remote)."""
    name = remote_name(root, remote)
    if not name:
        raise InputError(
            f"{root}: no DVC remote configured and none given",
            hint="pass --remote NAME, or set one with `dvc remote add -d NAME URL`",
        )
    with dvc_repo(root) as repo:
        try:
            odb = repo.cloud.get_remote_odb(name, command="artreg gc")
        except Exception as exc:  # dvc's NoRemoteError, RemoteConfigError, ...
            raise InputError(f"DVC remote {name!r}: {exc}", hint="check `dvc remote list`") from exc
        yield RemoteStore(odb, name)


# --- a registry's DVC remote, read by a consumer without a clone ---------------------------


@dataclass(frozen=True)
class RemoteSource:
    """The DVC remote a consumer reads objects from: a local folder, or any remote DVC knows."""

    name: str | None  # a remote of the configuration, or None for a URL the consumer gave
    url: str
    config: dict[str, Any]  # DVC's configuration, validated (see `remote_store`)
    options: dict[str, str] = field(default_factory=dict)  # --remote-config, for a given URL

    @property
    def local(self) -> Path | None:
        if "://" in self.url:
            return Path(self.url[len("file://") :]) if self.url.startswith("file://") else None
        return Path(self.url)


def remote_store(
    config_text: str,
    override: str | None,
    where: str,
    remote_config: Mapping[str, str] | None = None,
) -> RemoteSource:
    """The remote a consumer reads: the registry's default (core.remote of its committed
    `.dvc/config`), the remote `override` names, or `override` itself when it is a URL or a
    folder; `remote_config` sets options of it, as `dvc artifacts get --remote-config` does.

    The configuration is DVC's own: the committed file parsed by `dvc.config` and laid over the
    consumer's system and global levels, then validated by DVC's schema (no `dvc.repo`), so
    credentials and endpoints come from the consumer's side (their DVC config or environment).
    """
    import tempfile

    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.config import Config, ConfigError

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config"
        path.write_text(config_text, encoding="utf-8")
        try:
            committed = Config.load_file(str(path))
        except ConfigError as exc:
            raise InputError(
                f"{where}: DVC cannot read it ({exc})", hint="fix it in the registry"
            ) from exc
    options = dict(remote_config or {})
    try:
        conf = dict(Config(dvc_dir=None, config=committed))
    except ConfigError as exc:
        raise InputError(
            f"{where}, over your own DVC configuration: {exc}",
            hint="`dvc config --list --show-origin` shows your system and global settings",
        ) from exc
    remotes = conf.get("remote", {})
    if override and override.lower() in remotes:
        name: str | None = override.lower()
    elif override:
        if "://" not in override and not Path(override).expanduser().is_dir():
            raise InputError(
                f"{where}: names no DVC remote {override!r} (remotes: "
                f"{', '.join(sorted(remotes)) or 'none'}), and there is no folder {override}",
                hint="pass one of those remote names, or the remote's URL (s3://…) or folder",
            )
        url = override if "://" in override else str(Path(override).expanduser().absolute())
        return RemoteSource(None, url, conf, options)
    else:
        name = str(conf.get("core", {}).get("remote") or "").lower() or None
    if name is None or name not in remotes or not remotes[name].get("url"):
        raise InputError(
            f"{where}: names no DVC remote"
            + (f" called {name!r}" if name else " as its default (core.remote)")
            + f" (remotes: {', '.join(sorted(remotes)) or 'none'})",
            hint="pass the remote's URL: `--remote s3://bucket/prefix` on the command line, "
            "remote='s3://bucket/prefix' in Python",
        )
    url = str(remotes[name]["url"])
    if "://" not in url and not Path(url).expanduser().is_absolute():
        raise InputError(
            f"{where}: DVC remote {name!r} is the relative path {url!r}, which only means "
            "something inside a clone of the registry (the release's own .dvc/config is read, "
            "as DVC reads it: fixing it at HEAD does not change older releases)",
            hint="pass the remote's location: `--remote PATH` (or s3://…) on the command line, "
            "remote='/path/to/storage' in Python",
        )
    if options:
        try:
            conf = dict(Config(dvc_dir=None, config=committed, remote=name, remote_config=options))
        except ConfigError as exc:
            raise InputError(
                f"--remote-config: {exc}", hint="use the options of `dvc remote modify`"
            ) from exc
    return RemoteSource(name, str(Path(url).expanduser()) if "://" not in url else url, conf)


class RemoteReader:
    """Opens objects of a DVC remote by md5 (DVC 3's `files/md5/xx/yyyy` layout).

    A local folder is read with plain file I/O; any other remote goes through DVC's own
    filesystem classes (dvc-objects and the plugin, e.g. dvc-s3 over s3fs), configured by DVC's
    own rules from the remote's section, without importing DVC's repository machinery.
    """

    def __init__(self, store: RemoteSource) -> None:
        self.store = store
        self._fs: Any = None
        self._base = ""

    def location(self, md5: str) -> str:
        rel = f"files/md5/{md5[:2]}/{md5[2:]}"
        local = self.store.local
        return str(local / rel) if local is not None else f"{self.store.url.rstrip('/')}/{rel}"

    @contextlib.contextmanager
    def open(self, md5: str) -> Iterator[Any]:
        where = self.location(md5)
        local = self.store.local
        try:
            if local is not None:
                fh: Any = open(where, "rb", buffering=0)  # noqa: SIM115 (closed below)
            else:
                fs = self._cloud()
                fh = fs.open(fs.join(self._base, "files", "md5", md5[:2], md5[2:]), mode="rb")
        except (FileNotFoundError, PermissionError) as exc:
            gone = local_root_problem(local) if local is not None else None
            if gone and local is not None:  # the remote, not the object: not missing data
                name = self.store.name or str(local)
                raise unavailable(name, local, gone, "nothing was read") from exc
            if isinstance(exc, PermissionError):
                raise InputError(
                    f"the DVC remote refused to read {where}: {exc}",
                    hint="check the credentials in your environment (e.g. AWS_PROFILE)",
                ) from exc
            raise NotFoundError(
                f"the DVC remote has no object {md5} ({where})",
                hint="push it from a clone of the registry that has the data (`dvc push`)",
            ) from None
        except ArtregError:
            raise
        except Exception as exc:  # a remote that does not answer, in whatever words it uses
            raise RemoteUnavailable(
                f"the DVC remote {self.store.url} did not answer: {str(exc).splitlines()[0][:200]}",
                hint="check the network, the remote's URL and your credentials, then retry",
            ) from exc
        with fh:
            yield fh

    def _cloud(self) -> Any:
        if self._fs is None:
            os.environ.setdefault("DVC_NO_ANALYTICS", "1")
            from dvc.fs import get_cloud_fs

            try:
                if self.store.name is not None:
                    cls, conf, base = get_cloud_fs(self.store.config, name=self.store.name)
                else:
                    cls, conf, base = get_cloud_fs(
                        self.store.config, url=self.store.url, **self.store.options
                    )
                self._fs = cls(**conf)
            except Exception as exc:
                raise InputError(
                    f"DVC cannot use the remote {self.store.url}: {exc}",
                    hint="install its DVC plugin (e.g. dvc-s3) or pass another remote",
                ) from exc
            self._base = base
        return self._fs
