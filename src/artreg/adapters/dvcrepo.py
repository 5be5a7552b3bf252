"""DVC underneath the registry: pointers and cache written in one pass, push, fetch, checkout.

Tracking a file the way `dvc add` does would read every byte twice more after we copied it
(once to hash, once to copy into the cache). artreg instead writes DVC's own on-disk format
(`.dvc` pointer, cache object, `.dir` listing) from the pass that copies the bytes, so each byte
is read once. Every rule around that format is DVC's own code, asked here: the configuration
(every level, through `dvc.config`), the cache's place, link type and permissions (the cache
object database `dvc add` itself would use), the ignore rules (`DvcIgnoreFilter`), which names
are DVC files (`dvc.dvcfile`), the `.dir` bytes (dvc-data's `Tree`). test_dvc_fidelity.py compares
it with `dvc add`'s, byte for byte. DVC is imported lazily, here only (read commands never do).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import posixpath
import stat
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters import fastcopy, faults
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import (
    FileDigest,
    ProgressFn,
    copy_and_hash,
    machine_records,
    remember_written,
)
from artreg.errors import (
    ArtregError,
    InputError,
    IntegrityError,
    NotFoundError,
    RemoteUnavailable,
    ToolError,
)

DVC_DIR = ".dvc"
DVCIGNORE = ".dvcignore"


@dataclass(frozen=True)
class CopiedFile:
    relpath: str  # relative to the tracked output (a file output has relpath "")
    sha256: str
    md5: str
    size: int


# --- DVC's configuration, every level ------------------------------------------------------


def _config(root: Path) -> Any:
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
    conf = _config(root)
    name = remote or conf["core"].get("remote")
    if not name:
        return None
    url = conf["remote"].get(name, {}).get("url")
    return str(url) if url else None


@contextlib.contextmanager
def _dvc_repo(root: Path) -> Iterator[Any]:
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


def cache_dir(root: Path) -> Path:
    """The repo's DVC cache folder as DVC resolves it (`cache.dir` at any level, else .dvc/cache)."""
    with _dvc_repo(root) as repo:
        return Path(repo.cache.local_cache_dir)


def _object_path(cache: Path, md5: str) -> Path:
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
        with _dvc_repo(root) as repo:
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


class CacheWriter:
    """Copies source files into a build folder and the DVC cache in the same read.

    The cache is the one DVC resolves (`cache.dir` at any level); objects are read-only and
    their folders get DVC's modes (`cache.shared = group`: group-writable, setgid). The work
    tree file is linked to its object with the first of `cache.type`'s link types that works
    here, tested once as DVC tests them; with `copy` (the usual outcome of DVC's default
    `reflink,copy`) it is written in the same pass as the object, so each byte is read once.
    """

    def __init__(self, dvc: RegistryDvc, workdir: Path) -> None:
        self.odb = dvc.odb
        self.cache = dvc.cache
        self.staging = Path(self.odb.path)
        self._root = dvc.root
        self._workdir = workdir
        self._links: list[str] | None = None
        self._lock = threading.Lock()

    @property
    def links(self) -> list[str]:
        """cache.type's link types from the first that works here, tested once (on first use,
        so that a command refused before it copies anything leaves the cache untouched)."""
        with self._lock:
            if self._links is None:
                self._links = self._usable_links()
            return self._links

    def _usable_links(self) -> list[str]:
        from dvc_objects.fs.generic import test_links
        from dvc_objects.fs.local import localfs

        self.odb.makedirs(self.odb.path)  # with DVC's modes, before anything else creates it
        types = list(self.odb.cache_types)
        probe = str(self._workdir / "probe")
        usable = test_links(types, self.odb.fs, self.odb.path, localfs, probe)
        if not usable:
            raise InputError(
                f"{self._root}: none of DVC's cache.type link types ({','.join(types)}) works "
                f"between the cache {self.cache} and the registry",
                hint="add copy to the list: `dvc config cache.type reflink,copy`",
            )
        # Like DVC's checkout: the first working type, the later ones as fallbacks.
        return types[types.index(usable[0]) :]

    @property
    def copies(self) -> bool:
        return self.links[0] == "copy"

    def copy(
        self,
        src: Path,
        dst: Path,
        progress: ProgressFn | None = None,
        check: Callable[[FileDigest], None] | None = None,
    ) -> tuple[str, str, int]:
        """Copy src to dst and into the cache in one read of src; return (sha256, md5, size).
        With a link type other than copy, only the cache object is written, and dst is linked
        to it as DVC's checkout would. `check`, given the digest of the bytes read, may raise
        to refuse them: the cache then never holds them."""
        copies = self.copies
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.staging / f".artreg-{uuid.uuid4().hex}.tmp"
        try:
            digest = copy_and_hash(src, dst if copies else None, progress, also_to=tmp, md5=True)
            assert digest.md5 is not None
            if check is not None:
                check(digest)
            obj = self._commit_object(tmp, digest.md5)
        finally:
            tmp.unlink(missing_ok=True)
        if not copies:
            self._link(obj, dst)
        remember_written(machine_records(), dst, digest.sha256)  # hashed as written, now placed
        return digest.sha256, digest.md5, digest.size

    def write(self, data: bytes, dst: Path) -> tuple[str, str, int]:
        """Write generated bytes to dst and into the cache; return (sha256, md5, size)."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        md5 = self._store(data)
        if self.copies:
            dst.write_bytes(data)
        else:
            self._link(self.odb.oid_to_path(md5), dst)
        return hashlib.sha256(data).hexdigest(), md5, len(data)

    def store_tree(self, files: Sequence[CopiedFile]) -> str:
        """Put the `.dir` object of a tracked folder in the cache; return its id (`<md5>.dir`)."""
        oid, data = tree_object(files)
        self._store(data, oid)
        return oid

    def _store(self, data: bytes, oid: str | None = None) -> str:
        oid = oid or hashlib.md5(data).hexdigest()
        self.links  # noqa: B018  # the cache folder exists, with DVC's modes
        if not os.path.exists(self.odb.oid_to_path(oid)):
            tmp = self.staging / f".artreg-{uuid.uuid4().hex}.tmp"
            try:
                tmp.write_bytes(data)
                self._commit_object(tmp, oid)
            finally:
                tmp.unlink(missing_ok=True)
        return oid

    def _commit_object(self, tmp: Path, oid: str) -> str:
        final = str(self.odb.oid_to_path(oid))
        if os.path.exists(final):
            return final  # content-addressed: the same bytes are already there
        self.odb.makedirs(os.path.dirname(final))  # DVC's folder modes (cache.shared)
        self.odb.protect(str(tmp))  # read-only, as DVC keeps its objects
        os.replace(tmp, final)
        return final

    def _link(self, obj: str, dst: Path) -> None:
        from dvc_objects.fs.generic import transfer
        from dvc_objects.fs.local import localfs

        transfer(self.odb.fs, obj, localfs, str(dst), links=list(self.links))


def tree_object(files: Sequence[CopiedFile]) -> tuple[str, bytes]:
    """The id (`<md5>.dir`) and bytes of a tracked folder's `.dir` object: dvc-data's own
    (`Tree.digest`, `Tree.as_bytes`), never a copy of its format."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.meta import Meta
    from dvc_data.hashfile.tree import Tree

    tree = Tree()  # type: ignore[no-untyped-call]  # dvc-data ships no annotation here
    for f in files:
        tree.add(tuple(f.relpath.split("/")), Meta(size=f.size), HashInfo("md5", f.md5))
    tree.digest()
    return str(tree.hash_info.value), tree.as_bytes()


def pointer_text(out_name: str, md5: str, size: int, nfiles: int | None = None) -> str:
    """The `.dvc` file for one output, in the field order `dvc add` writes."""
    lines = ["outs:", f"- md5: {md5}", f"  size: {size}"]
    if nfiles is not None:
        lines.append(f"  nfiles: {nfiles}")
    lines += ["  hash: md5", f"  path: {out_name}", ""]
    return "\n".join(lines)


def read_pointer(path: Path) -> dict[str, Any]:
    """The single output of a `.dvc` file, checked to stay inside its folder."""
    from artreg.adapters.files import read_yaml

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


def pointer_files(root: Path, folder: Path) -> list[Path]:
    """The `.dvc` files in `folder` that DVC reads as pointers, sorted.

    DVC collects the files named `*.dvc` that git does not ignore (collect_files in
    dvc/repo/index.py). A tracked folder's contents are git-ignored, so a `notes.dvc` or a
    folder `foo.dvc/` among checkpoints is data, not a pointer. Asked of git: no dvc import.
    """
    rel = os.path.relpath(folder, root)
    listed = gitrun.git(
        root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", rel
    )
    found = {root / p for p in listed.split("\0") if p.endswith(".dvc")}
    return sorted(p for p in found if p.is_file())


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

    return list(_config(root)["cache"].get("type") or LocalHashFileDB.DEFAULT_CACHE_TYPES)


def configure(root: Path, remote_name: str, url: str, analytics: bool = False) -> None:
    """Set the default remote and switch analytics off in .dvc/config (the tracked level)."""
    with _dvc_repo(root) as repo, repo.config.edit("repo") as conf:
        conf["remote"].setdefault(remote_name, {})["url"] = url
        conf["core"]["remote"] = remote_name
        conf["core"]["analytics"] = analytics
        conf["core"]["autostage"] = False


def _abs(root: Path, targets: Sequence[str]) -> list[str]:
    """DVC resolves targets against the process's cwd; make them independent of it."""
    return [str(root / t) for t in targets]


def push(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """Push the objects of `targets` (.dvc files) to the remote; returns objects transferred.
    A remote folder on this machine gets them by kernel-side copies first (fastcopy)."""
    with _dvc_repo(root) as repo:
        try:
            odb, cache = repo.cloud.get_remote_odb(remote, "push"), repo.cache.local
            oids = [o for t in targets for o in _target_oids([cache], root / t) or ()]
            local = odb.fs.protocol == "local"
            seeded = fastcopy.seed_objects(cache, odb, oids) if local else 0
            return seeded + int(repo.push(targets=_abs(root, targets), remote=remote))
        except Exception as exc:
            raise ToolError(f"dvc push failed: {exc}") from exc


def _fetch(repo: Any, root: Path, targets: Sequence[str], remote: str | None) -> int:
    """`dvc fetch` of `targets` into the cache (objects already there are not fetched again),
    with DVC's failures translated: an unreachable remote is retryable, a missing object is
    not found."""
    try:
        return int(repo.fetch(targets=_abs(root, targets), remote=remote))
    except Exception as exc:
        # DVC reports an unreachable remote as files that failed to download: ask the remote.
        problem = _odb_problem(repo, remote)
        if problem:
            raise RemoteUnavailable(
                f"DVC remote {remote or repo.config['core'].get('remote') or ''} did not "
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


def fetch_objects(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """Fetch into the DVC cache only the objects of `targets` (files of tracked outputs, also
    single files inside a tracked folder), without touching the work tree; returns how many
    objects were transferred (those already in the cache are not)."""
    with _dvc_repo(root) as repo:
        return _fetch(repo, root, targets, remote)


def fetch_checked_checkout(root: Path, targets: Sequence[str], remote: str | None = None) -> int:
    """fetch, refuse unsafe `.dir` listings, then checkout, all with one DVC repo instance.

    Returns the number of objects fetched. DVC is opened once: its start-up is a large part of
    pulling a small artifact.
    """
    with _dvc_repo(root) as repo:
        fetched = _fetch(repo, root, targets, remote)
        check_dir_objects(Path(repo.cache.local_cache_dir), [root / t for t in targets])
        try:
            repo.checkout(targets=_abs(root, targets), force=True)
        except Exception as exc:
            raise ToolError(f"dvc checkout failed: {exc}") from exc
    return fetched


def cached_object(root: Path, folder: Path, rel: str, cache: Path | None = None) -> Path | None:
    """The cache object holding file `rel` of a stage folder, found through its pointer
    (`cache`: the cache folder, if known; asking DVC opens the repo). Pointers and `.dir`
    listings are parsed once per folder, not per file (`_pointer_md5`, `_cached_listing`)."""
    parts = rel.split("/")
    for depth in range(len(parts), 0, -1):
        md5 = _pointer_md5(folder / ("/".join(parts[:depth]) + ".dvc"))
        if md5 is None:
            continue
        cache = cache or cache_dir(root)
        if not md5.endswith(".dir"):
            return _object_path(cache, md5) if depth == len(parts) else None
        entries = _cached_listing(_object_path(cache, md5))
        if entries is None:
            return None
        inner = entries.get("/".join(parts[depth:]))
        return None if inner is None else _object_path(cache, inner)
    return None


# Parsed pointers by their bytes, parsed listings by their cache object (named by the md5 of
# its bytes, kept while the file is the same one): one folder's worth, never a growing map.
_POINTERS: dict[tuple[Path, bytes], str] = {}
_LISTINGS: dict[Path, tuple[tuple[int, int, int], dict[str, str]]] = {}
_KEEP = 64


def _pointer_md5(pointer: Path) -> str | None:
    """The md5 a `.dvc` file's output names ("" when none), None when it is not a file."""
    from artreg.adapters.files import MAX_DOCUMENT_BYTES, parse_yaml

    if not pointer.is_file():
        return None
    try:
        data = pointer.read_bytes()
        text = data.decode("utf-8") if len(data) <= MAX_DOCUMENT_BYTES else None
    except (OSError, UnicodeDecodeError):
        data, text = b"", None
    if text is None:  # unreadable, too large or not UTF-8: read_pointer's refusal says which
        return str(read_pointer(pointer).get("md5", ""))
    known = _POINTERS.get((pointer, data))
    if known is None:
        known = str(pointer_out(parse_yaml(text, str(pointer)), pointer).get("md5", ""))
        if len(_POINTERS) >= _KEEP:
            _POINTERS.clear()
        _POINTERS[(pointer, data)] = known
    return known


def _cached_listing(obj: Path) -> dict[str, str] | None:
    """relpath -> md5 of a `.dir` object of the local cache, None when it is absent."""
    try:
        st = obj.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = _LISTINGS.get(obj)
    if known is not None and known[0] == stamp:
        return known[1]
    faults.point("dvc.dir-listing")
    entries = _listing_map(json.loads(obj.read_text(encoding="utf-8")))
    if len(_LISTINGS) >= _KEEP:
        _LISTINGS.clear()
    _LISTINGS[obj] = (stamp, entries)
    return entries


def local_remote_object(root: Path, cache_object: Path, remote: str | None = None) -> Path | None:
    """Where a cache object lives in the default remote, when that remote is a local folder."""
    url = remote_url(root, remote)
    if not url or "://" in url:
        return None
    base = Path(url) if Path(url).is_absolute() else (root / DVC_DIR / url).resolve()
    relative = cache_object.relative_to(cache_dir(root))
    return base / relative


def check_dir_objects(cache: Path, pointers: Sequence[Path]) -> None:
    """Refuse a fetched `.dir` listing whose entries would write outside their folder."""
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


def _tree_oids(odbs: Sequence[Any], oid: str) -> set[str] | None:
    """The object ids a `.dir` listing names, read from the first database holding it."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    for odb in odbs:
        try:
            tree = Tree.load(odb, HashInfo("md5", oid))
        except Exception:  # absent or unreadable here: try the next database
            continue
        return {str(hi.value) for _, _, hi in tree if hi is not None}
    return None


def _target_oids(odbs: Sequence[Any], pointer: Path) -> set[str] | None:
    """The objects of a `.dvc` pointer and its `.dir` listing (from the first of `odbs` holding
    it); None when it names none or the listing is nowhere."""
    md5 = str(read_pointer(pointer).get("md5") or "")
    inner = _tree_oids(odbs, md5) if md5.endswith(".dir") else set()
    return None if not md5 or inner is None else {md5} | inner


def missing_in_remote(root: Path, targets: Sequence[str], remote: str | None = None) -> list[str]:
    """The `.dvc` pointers among `targets` whose objects the remote lacks, asked of the remote
    itself (DVC's `oids_exist`) for the pointer's object and those its `.dir` listing names; the
    local cache only supplies listings. A pointer whose listing is nowhere counts as missing."""
    with _dvc_repo(root) as repo:
        try:
            odb = repo.cloud.get_remote_odb(remote, "verify --remote")
            wanted = {t: _target_oids([repo.cache.local, odb], root / t) for t in targets}
            asked = sorted(set().union(*(o for o in wanted.values() if o)))
            present = set(odb.oids_exist(asked)) if asked else set()
        except (InputError, IntegrityError):
            raise
        except Exception as exc:
            raise ToolError(
                f"checking the DVC remote failed: {exc}", hint="check the remote"
            ) from exc
    return sorted(t for t, oids in wanted.items() if oids is None or not oids <= present)


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


# --- retention: reading and deleting objects by id ----------------------------------------------


def cached_bytes(cache: Path, oid: str) -> bytes | None:
    """The bytes of an object (`<md5>` or `<md5>.dir`) in the cache folder `cache`
    (`cache_dir`), or None when it is absent."""
    try:
        return _object_path(cache, oid).read_bytes()
    except FileNotFoundError:
        return None


def remove_cached(cache: Path, oid: str) -> int | None:
    """Delete one object from the cache folder `cache`; its size, or None if it was not there."""
    path = _object_path(cache, oid)
    try:
        size = path.stat().st_size
        path.unlink()  # DVC keeps objects read-only; unlinking needs only the folder's permission
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the two-letter folder, once empty, as `dvc gc` leaves it
    return size


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
    name = _config(root)["core"].get("remote")
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
    with _dvc_repo(root) as repo:
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
            hint="pass the remote's URL: remote='s3://bucket/prefix' (--remote on the command line)",
        )
    url = str(remotes[name]["url"])
    if "://" not in url and not Path(url).expanduser().is_absolute():
        raise InputError(
            f"{where}: DVC remote {name!r} is the relative path {url!r}, which only means "
            "something inside a clone of the registry",
            hint="pass the remote's location: remote='/path/to/storage' or remote='s3://…'",
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


def dir_entries(listing: bytes, md5: str, where: str) -> dict[str, str]:
    """Every file of a `.dir` object fetched from a remote, relpath -> md5, after checking that
    the listing is the object its name says (md5 of its bytes, as dvc-data addresses it).
    Called once per listing and fetch: each lookup is then a dictionary read."""
    faults.point("consumer.dir-listing")
    if hashlib.md5(listing).hexdigest() != md5.removesuffix(".dir"):
        raise IntegrityError(
            f"{where}: the remote's directory object {md5} does not hash to its name",
            hint="the DVC remote holds altered data; push it again from a clone, and report it",
        )
    try:
        entries = json.loads(listing.decode("utf-8"))
    except ValueError as exc:
        raise IntegrityError(f"{where}: DVC directory object {md5} is not JSON ({exc})") from exc
    return _listing_map(entries)


def _listing_map(entries: Any) -> dict[str, str]:
    """relpath -> md5 of a parsed `.dir` listing (entries without both are skipped)."""
    found: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("relpath") and entry.get("md5"):
            found.setdefault(str(entry["relpath"]), str(entry["md5"]))
    return found


def dir_entry(entries: Mapping[str, str], md5: str, inner: str, where: str) -> str:
    """The md5 of file `inner` in a listing read by `dir_entries`."""
    found = entries.get(inner)
    if found is None:
        raise NotFoundError(
            f"{where}: DVC directory object {md5} lists no file {inner!r}",
            hint="the pointer and the manifest disagree; run `artreg verify` in the registry",
        )
    return found
