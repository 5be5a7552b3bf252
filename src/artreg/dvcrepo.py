"""DVC underneath the registry: pointers and cache written in one pass, push, fetch, checkout.

Tracking a file the way `dvc add` does would read every byte twice more after we copied it
(once to hash, once to copy into the cache). artreg instead writes DVC's own on-disk format
(`.dvc` pointer, cache object, `.dir` listing) from the pass that copies the bytes, so each byte
is read once. The format is DVC 3's (`hash: md5`); `dvc status`, `dvc push` and
`dvc artifacts get` read what we write. Everything that needs DVC's code (remotes, fetch,
checkout) imports it lazily, here only, so read commands never pay for importing dvc.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import posixpath
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.errors import (
    ArtregError,
    InputError,
    IntegrityError,
    NotFoundError,
    RemoteUnavailable,
    ToolError,
)
from artreg.hashing import ProgressFn

DVC_DIR = ".dvc"
COPY_CHUNK = 4 << 20  # large writes; memory per copy stays at two chunks


@dataclass(frozen=True)
class CopiedFile:
    relpath: str  # relative to the tracked output (a file output has relpath "")
    sha256: str
    md5: str
    size: int


def _read_config(path: Path) -> dict[str, dict[str, str]]:
    """Sections of a DVC config file (configobj syntax: indented keys, quoted section names)."""
    return parse_config(path.read_text(encoding="utf-8"))


def parse_config(text: str) -> dict[str, dict[str, str]]:
    """Sections of DVC config text, e.g. a registry's `.dvc/config` as committed."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            title = line[1:-1].strip().strip("'")
            current = sections.setdefault(title, {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip().strip("'\"")
    return sections


def _config_value(root: Path, section: str, key: str) -> str | None:
    """A value from .dvc/config.local or .dvc/config (local wins), read without importing dvc."""
    for name in ("config.local", "config"):
        path = root / DVC_DIR / name
        if path.is_file():
            value = _read_config(path).get(section, {}).get(key)
            if value is not None:
                return value
    return None


def cache_dir(root: Path) -> Path:
    """The DVC cache folder of the repo (`cache.dir` if configured, else .dvc/cache)."""
    configured = _config_value(root, "cache", "dir")
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else (root / DVC_DIR / path).resolve()
    return root / DVC_DIR / "cache"


def _object_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


class CacheWriter:
    """Copies source files into a build folder and the DVC cache in the same read."""

    def __init__(self, root: Path) -> None:
        self.cache = cache_dir(root)
        self.staging = self.cache / "files" / "md5"

    def copy(
        self, src: Path, dst: Path, progress: ProgressFn | None = None
    ) -> tuple[str, str, int]:
        """Copy src to dst and into the cache; return (sha256, md5, size).

        One read of src. md5 (DVC's address) runs on a second thread, one chunk behind sha256
        and the writes, so a single large file keeps two cores busy; hashlib releases the GIL.
        """
        sha, md5 = hashlib.sha256(), hashlib.md5()
        size = 0
        self.staging.mkdir(parents=True, exist_ok=True)
        tmp = self.staging / f".artreg-{uuid.uuid4().hex}.tmp"
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with (
                ThreadPoolExecutor(max_workers=1) as md5_thread,
                open(src, "rb", buffering=0) as fin,
                open(dst, "xb") as fout,
                open(tmp, "xb") as fc,
            ):
                pending: Future[None] | None = None
                while block := fin.read(COPY_CHUNK):
                    if pending is not None:
                        pending.result()  # at most one chunk in flight: memory stays flat
                    pending = md5_thread.submit(md5.update, block)
                    sha.update(block)
                    fout.write(block)
                    fc.write(block)
                    size += len(block)
                    if progress:
                        progress(len(block))
                if pending is not None:
                    pending.result()
            self._commit_object(tmp, md5.hexdigest())
        finally:
            tmp.unlink(missing_ok=True)
        return sha.hexdigest(), md5.hexdigest(), size

    def write(self, data: bytes, dst: Path) -> tuple[str, str, int]:
        """Write generated bytes to dst and into the cache; return (sha256, md5, size)."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        md5 = hashlib.md5(data).hexdigest()
        if not _object_path(self.cache, md5).exists():
            self.staging.mkdir(parents=True, exist_ok=True)
            tmp = self.staging / f".artreg-{uuid.uuid4().hex}.tmp"
            try:
                tmp.write_bytes(data)
                self._commit_object(tmp, md5)
            finally:
                tmp.unlink(missing_ok=True)
        return hashlib.sha256(data).hexdigest(), md5, len(data)

    def store_bytes(self, data: bytes) -> str:
        """Put a small object (a `.dir` listing) in the cache and return its md5."""
        md5 = hashlib.md5(data).hexdigest()
        self.staging.mkdir(parents=True, exist_ok=True)
        tmp = self.staging / f".artreg-{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_bytes(data)
            self._commit_object(tmp, md5 + ".dir")
        finally:
            tmp.unlink(missing_ok=True)
        return md5

    def _commit_object(self, tmp: Path, key: str) -> None:
        final = _object_path(self.cache, key)
        if final.exists():
            return  # content-addressed: the same bytes are already there
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)  # DVC keeps cache objects read-only
        os.replace(tmp, final)


def dir_listing(files: Sequence[CopiedFile]) -> bytes:
    """The `.dir` object for a tracked folder, byte for byte as dvc-data serialises it."""
    entries = sorted(
        ({"md5": f.md5, "relpath": f.relpath} for f in files), key=lambda e: e["relpath"]
    )
    return json.dumps(entries, sort_keys=True).encode("utf-8")


def pointer_text(out_name: str, md5: str, size: int, nfiles: int | None = None) -> str:
    """The `.dvc` file for one output, in the field order `dvc add` writes."""
    lines = ["outs:", f"- md5: {md5}", f"  size: {size}"]
    if nfiles is not None:
        lines.append(f"  nfiles: {nfiles}")
    lines += ["  hash: md5", f"  path: {out_name}", ""]
    return "\n".join(lines)


def read_pointer(path: Path) -> dict[str, Any]:
    """The single output of a `.dvc` file, checked to stay inside its folder."""
    from artreg.documents import read_yaml

    return pointer_out(read_yaml(path, "DVC pointer"), path)


def pointer_out(data: Any, path: Path | str) -> dict[str, Any]:
    """The single output of a parsed `.dvc` file, checked to stay inside its folder."""
    outs = data.get("outs") if isinstance(data, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        raise InputError(
            f"{path}: expected exactly one entry under outs", hint="restore it with git"
        )
    out: dict[str, Any] = outs[0]
    out_path = str(out.get("path", ""))
    if not out_path or out_path.startswith("/") or "\\" in out_path or ".." in out_path.split("/"):
        raise InputError(
            f"{path}: /outs/0/path {out_path!r} leaves the folder of the pointer",
            hint="restore the pointer with `git checkout -- " + str(path) + "`",
        )
    return out


# --- operations that need DVC's code -------------------------------------------------------


@contextlib.contextmanager
def _dvc_repo(root: Path) -> Iterator[Any]:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    try:
        repo = Repo(str(root))
    except Exception as exc:  # dvc raises its own NotDvcRepoError and friends
        raise ToolError(f"{root}: not a DVC repository ({exc})", hint="run `artreg init`") from exc
    try:
        yield repo
    finally:
        repo.close()


def init(root: Path) -> bool:
    """`dvc init` in a git repo unless it is one already; True if it was initialised now."""
    if (root / DVC_DIR).is_dir():
        return False
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    dvc_logger = logging.getLogger("dvc")
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)  # DVC logs a "what to do next" banner at INFO
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            Repo.init(str(root)).close()
    finally:
        dvc_logger.setLevel(level)
    return True


def configure(root: Path, remote_name: str, url: str, analytics: bool = False) -> None:
    """Set the default remote and switch analytics off in .dvc/config (the tracked level)."""
    with _dvc_repo(root) as repo, repo.config.edit("repo") as conf:
        conf["remote"].setdefault(remote_name, {})["url"] = url
        conf["core"]["remote"] = remote_name
        conf["core"]["analytics"] = analytics
        conf["core"]["autostage"] = False


def remote_url(root: Path, remote: str | None = None) -> str | None:
    """URL of a remote (the default one when None), read without importing dvc."""
    name = remote or _config_value(root, "core", "remote")
    if not name:
        return None
    return _config_value(root, f'remote "{name}"', "url")


def _abs(root: Path, targets: Sequence[str]) -> list[str]:
    """DVC resolves targets against the process's cwd; make them independent of it."""
    return [str(root / t) for t in targets]


def _translate(exc: Exception, what: str) -> ToolError:
    return ToolError(f"{what} failed: {exc}")


def push(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """Push the objects of `targets` (.dvc files) to the remote; returns objects transferred."""
    with _dvc_repo(root) as repo:
        try:
            return int(repo.push(targets=_abs(root, targets), remote=remote))
        except Exception as exc:
            raise _translate(exc, "dvc push") from exc


def fetch_checked_checkout(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """fetch, refuse unsafe `.dir` listings, then checkout, all with one DVC repo instance.

    Returns the number of objects fetched. DVC is opened once: its start-up is a large part of
    pulling a small artifact.
    """
    with _dvc_repo(root) as repo:
        try:
            fetched = int(repo.fetch(targets=_abs(root, targets), remote=remote))
        except Exception as exc:
            # DVC reports an unreachable remote as files that failed to download: ask the remote.
            problem = _odb_problem(repo, remote)
            if problem:
                raise RemoteUnavailable(
                    f"DVC remote {remote or _config_value(root, 'core', 'remote') or ''} did not "
                    f"answer, so nothing was fetched: {problem}",
                    hint="check the network, the remote's URL and credentials "
                    "(`dvc remote list`), then run the command again",
                ) from exc
            missing = "missing" in str(exc).lower() or "not found" in str(exc).lower()
            cls = NotFoundError if missing else ToolError
            raise cls(
                f"dvc fetch of {', '.join(targets)} failed: {exc}",
                hint="check that the data was pushed (`dvc push`) and the remote is reachable",
            ) from exc
        check_dir_objects(root, [root / t for t in targets])
        try:
            repo.checkout(targets=_abs(root, targets), force=True)
        except Exception as exc:
            raise _translate(exc, "dvc checkout") from exc
    return fetched


def cached_object(root: Path, folder: Path, rel: str) -> Path | None:
    """The cache object holding file `rel` of a stage folder, found through its pointer."""
    parts = rel.split("/")
    for depth in range(len(parts), 0, -1):
        pointer = folder / ("/".join(parts[:depth]) + ".dvc")
        if not pointer.is_file():
            continue
        md5 = str(read_pointer(pointer).get("md5", ""))
        cache = cache_dir(root)
        if not md5.endswith(".dir"):
            return _object_path(cache, md5) if depth == len(parts) else None
        listing = _object_path(cache, md5)
        if not listing.is_file():
            return None
        inner = "/".join(parts[depth:])
        for entry in json.loads(listing.read_text(encoding="utf-8")):
            if entry.get("relpath") == inner:
                return _object_path(cache, str(entry["md5"]))
        return None
    return None


def local_remote_object(root: Path, cache_object: Path, remote: str | None = None) -> Path | None:
    """Where a cache object lives in the default remote, when that remote is a local folder."""
    url = remote_url(root, remote)
    if not url or "://" in url:
        return None
    base = Path(url) if Path(url).is_absolute() else (root / DVC_DIR / url).resolve()
    relative = cache_object.relative_to(cache_dir(root))
    return base / relative


def check_dir_objects(root: Path, pointers: Sequence[Path]) -> None:
    """Refuse a fetched `.dir` listing whose entries would write outside their folder."""
    cache = cache_dir(root)
    for pointer in pointers:
        out = read_pointer(pointer)
        md5 = str(out.get("md5", ""))
        if not md5.endswith(".dir"):
            continue
        obj = _object_path(cache, md5)
        if not obj.is_file():
            continue
        try:
            entries = json.loads(obj.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise IntegrityError(f"{obj}: DVC directory object is not JSON ({exc})") from exc
        for entry in entries if isinstance(entries, list) else [None]:
            rel = entry.get("relpath") if isinstance(entry, dict) else None
            norm = posixpath.normpath(rel) if isinstance(rel, str) else ""
            if (
                not isinstance(rel, str)
                or not rel
                or rel.startswith("/")
                or "\\" in rel
                or ".." in rel.split("/")
                or norm == ".."
                or norm.startswith("../")
            ):
                raise IntegrityError(
                    f"{pointer}: the remote's directory object {md5} lists the path {rel!r}, "
                    "which would be written outside the artifact's folder",
                    hint="the remote holds crafted data; do not `dvc pull` it, report it",
                )


def missing_in_remote(root: Path, targets: Sequence[str], remote: str | None = None) -> list[str]:
    """The `.dvc` pointers among `targets` whose objects the remote lacks (`dvc status -c`)."""
    with _dvc_repo(root) as repo:
        try:
            status = repo.status(targets=_abs(root, targets), cloud=True, remote=remote)
        except Exception as exc:
            raise ToolError(f"dvc status --cloud failed: {exc}", hint="check the remote") from exc
    # Cloud status per output: "new" (only local), "missing" (nowhere), "deleted" (only remote).
    return sorted(
        f"{Path(os.path.abspath(out)).relative_to(root.resolve())}.dvc"
        for out, state in status.items()
        if state in ("new", "missing")
    )


def remote_problem(root: Path, remote: str | None = None) -> str | None:
    """Why the remote cannot be reached (one listing call), or None when it can."""
    with _dvc_repo(root) as repo:
        return _odb_problem(repo, remote)


def _odb_problem(repo: Any, remote: str | None) -> str | None:
    try:
        odb = repo.cloud.get_remote_odb(remote)
        odb.fs.exists(odb.path)
    except Exception as exc:  # any failure to talk to the remote is the finding itself
        return f"cannot reach it: {str(exc).strip().splitlines()[0][:200]}"
    return None


# --- a registry's DVC remote, read by a consumer without a clone ---------------------------


@dataclass(frozen=True)
class RemoteStore:
    """The DVC remote a consumer reads objects from: a local folder, or any remote DVC knows."""

    name: str | None
    url: str
    config: dict[str, dict[str, str]]  # the registry's .dvc/config sections, as committed

    @property
    def local(self) -> Path | None:
        if "://" in self.url:
            return Path(self.url[len("file://") :]) if self.url.startswith("file://") else None
        return Path(self.url)


def remote_store(config_text: str, override: str | None, where: str) -> RemoteStore:
    """The remote named by a registry's committed `.dvc/config` (its default, or the remote
    `override` names), or `override` itself when it is a URL or a path (the consumer's choice).

    Credentials and endpoints come from the consumer's environment (AWS_* for S3, and so on).
    """
    config = parse_config(config_text)
    remotes = {
        title[len('remote "') : -1].lower(): section
        for title, section in config.items()
        if title.startswith('remote "') and title.endswith('"')
    }
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
        return RemoteStore(None, url, config)
    else:
        name = config.get("core", {}).get("remote", "").lower() or None
    if name is None or name not in remotes or not remotes[name].get("url"):
        raise InputError(
            f"{where}: names no DVC remote"
            + (f" called {name!r}" if name else " as its default (core.remote)")
            + f" (remotes: {', '.join(sorted(remotes)) or 'none'})",
            hint="pass the remote's URL: remote='s3://bucket/prefix' (--remote on the command line)",
        )
    url = remotes[name]["url"]
    if "://" not in url and not Path(url).is_absolute():
        raise InputError(
            f"{where}: DVC remote {name!r} is the relative path {url!r}, which only means "
            "something inside a clone of the registry",
            hint="pass the remote's location: remote='/path/to/storage' or remote='s3://…'",
        )
    return RemoteStore(name, url, config)


class RemoteReader:
    """Opens objects of a DVC remote by md5 (DVC 3's `files/md5/xx/yyyy` layout).

    A local folder is read with plain file I/O; any other remote goes through DVC's own
    filesystem classes (dvc-objects and the plugin, e.g. dvc-s3 over s3fs), configured by DVC's
    own rules from the remote's section, without importing DVC's repository machinery.
    """

    def __init__(self, store: RemoteStore) -> None:
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
        try:
            local = self.store.local
            if local is not None:
                fh: Any = open(where, "rb", buffering=0)  # noqa: SIM115 (closed below)
            else:
                fs = self._cloud()
                fh = fs.open(fs.join(self._base, "files", "md5", md5[:2], md5[2:]), mode="rb")
        except FileNotFoundError:
            raise NotFoundError(
                f"the DVC remote has no object {md5} ({where})",
                hint="push it from a clone of the registry that has the data (`dvc push`)",
            ) from None
        except PermissionError as exc:
            raise InputError(
                f"the DVC remote refused to read {where}: {exc}",
                hint="check the credentials in your environment (e.g. AWS_PROFILE)",
            ) from exc
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

            sections: dict[str, Any] = {"core": dict(self.store.config.get("core", {}))}
            sections["remote"] = {
                title[len('remote "') : -1].lower(): dict(section)
                for title, section in self.store.config.items()
                if title.startswith('remote "') and title.endswith('"')
            }
            try:
                if self.store.name is not None:
                    cls, conf, base = get_cloud_fs(sections, name=self.store.name)
                else:
                    cls, conf, base = get_cloud_fs(sections, url=self.store.url)
                self._fs = cls(**conf)
            except Exception as exc:
                raise InputError(
                    f"DVC cannot use the remote {self.store.url}: {exc}",
                    hint="install its DVC plugin (e.g. dvc-s3) or pass another remote",
                ) from exc
            self._base = base
        return self._fs


def dir_entry_md5(listing: bytes, md5: str, inner: str, where: str) -> str:
    """The md5 of file `inner` in a `.dir` object fetched from a remote, after checking that the
    listing is the object its name says (md5 of its bytes, as dvc-data addresses it)."""
    if hashlib.md5(listing).hexdigest() != md5.removesuffix(".dir"):
        raise IntegrityError(
            f"{where}: the remote's directory object {md5} does not hash to its name",
            hint="the DVC remote holds altered data; push it again from a clone, and report it",
        )
    try:
        entries = json.loads(listing.decode("utf-8"))
    except ValueError as exc:
        raise IntegrityError(f"{where}: DVC directory object {md5} is not JSON ({exc})") from exc
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("relpath") == inner and entry.get("md5"):
            return str(entry["md5"])
    raise NotFoundError(
        f"{where}: DVC directory object {md5} lists no file {inner!r}",
        hint="the pointer and the manifest disagree; run `artreg verify` in the registry",
    )
