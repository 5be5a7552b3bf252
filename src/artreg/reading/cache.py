"""The consumer cache: one per machine, shared by every process that reads models.

    $ARTREG_CACHE (default: the platform's user cache folder, ~/.cache/artreg on Linux)
      blobs/sha256/ab/cdef…            each file's bytes once, read-only, named by their sha256
      snapshots/<registry>/<content>/<folder>/   one read-only folder per content (<content>: a
                                       digest of every file's sha256) of a name@version (the
                                       registry's stage folder path), its files linked to blobs
      meta/<registry>/<content>/<folder>.json    what a snapshot holds (written last: no meta,
                                       no snapshot)
      resolutions/<registry>/<name>/<stage or vX.Y.Z>.json   the last online answer (offline mode)
      versions/<registry>/<name>/vX.Y.Z.json   the commit and sha256s a version had when first
                                       seen (a tag moved onto other bytes is refused: pins.py)
      git/<registry>.git               a bare, shallow, partial repository per registry URL
      retractions/<registry>/<digest>.json   what happened to a lock file's pin since, per tags
                                       and HEAD (pins.py)
      trust/<registry>.json            the trust policy at the registry's HEAD, last read
      signatures/<registry>/<sha256>.json   a model.sig that verified, bound to the policy,
                                       commit, folder and manifest it verified under
      verified/<dev>-<ino>             verification records (see hashing.py)
      warm/<digest>.memo               the last full answer of a `get_artifact_path`, with what
                                       proves it still stands (warm_memo.py; prune drops them)
      validated/<sha256>               manifests that passed their schema (schemas.validate_once)
      locks/, tmp/

Every write goes to tmp/ first and is renamed into place (a killed download leaves nothing a
reader can see), under an flock (released by the kernel when the holder dies): one per blob,
one per snapshot, one per registry repository, so eight processes asking for the same cold model
download it once. Building takes the cache lock shared; `prune` takes it exclusively.

A snapshot path handed out stays valid: two answers with other bytes for one folder (a tag
rewritten on the registry, a lock file pinning the old bytes) get two snapshots, and only `prune`
removes one. A file found altered is fetched again, once, and relinked by an atomic rename.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from artreg.adapters import faults, hashing, settings
from artreg.adapters.files import write_atomic
from artreg.adapters.git.remote import cache_repo_intact
from artreg.adapters.hashing import FileDigest, ProgressFn
from artreg.errors import InputError, IntegrityError
from artreg.reading import exact_folder, tmp_owner
from artreg.reading.cache_wait import hold_cache_lock
from artreg.reading.identity import identity

ENV_CACHE = "ARTREG_CACHE"
TOUCH_EVERY = 3600  # seconds between updates of a snapshot's last use


def cache_root(explicit: Path | str | None = None) -> Path:
    """The cache folder: `explicit`, else $ARTREG_CACHE, else the user cache folder."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    return settings.cache_dir()


def records_root(explicit: Path | str | None = None) -> Path | None:
    """Where verification records and schema marks live (the cache), or None when no cache
    folder can be named: then every call hashes, as without records."""
    try:
        return cache_root(explicit)
    except Exception:  # no HOME, no platform folder: records are an optimisation only
        return None


@contextlib.contextmanager
def flocked(
    path: Path,
    shared: bool = False,
    unwritable: Callable[[OSError, Path], Exception] | None = None,
    what: str = "the cache",
) -> Iterator[None]:
    """Hold an flock on `path` (created if needed) for the duration of the block, waiting for
    another holder said and bounded (cache_wait.py); an error creating it becomes
    `unwritable(error, path)` when given."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if unwritable is None:
            raise
        raise unwritable(exc, path) from exc
    with hold_cache_lock(path, shared, what, unwritable):
        yield


def registry_key(url: str) -> str:
    """A folder name for a registry: readable, and unique by a hash of its identity, so every
    spelling of one registry's URL (registry_identity.py) shares its records."""
    return legacy_key(identity(url))


def legacy_key(url: str) -> str:
    """The key artreg gave `url` as spelled (before one identity per registry): where a trust
    or moved-tag record of that spelling may still be, to adopt (never to weaken)."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1])[:40].strip("-.")
    return f"{tail or 'registry'}-{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def _digest_map(files: Mapping[str, FileDigest]) -> dict[str, list[Any]]:
    return {rel: [d.sha256, d.size] for rel, d in sorted(files.items())}


def content_id(files: Mapping[str, FileDigest]) -> str:
    """A short name for a set of files and their bytes (paths, sha256s and sizes)."""
    return hashlib.sha256(json.dumps(_digest_map(files)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cache:
    root: Path

    @classmethod
    def open(cls, explicit: Path | str | None = None) -> Cache:
        """The cache at `explicit`, $ARTREG_CACHE or the default, created if it is not there."""
        cache = cls(cache_root(explicit))
        try:
            cache.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cache.unwritable(exc, cache.root) from exc
        return cache

    def unwritable(self, exc: OSError, path: Path, need: int | None = None) -> InputError:
        """The error for a cache this process cannot write (another user's, under a file,
        read-only): which folder, why, and what to set instead. Exit 2: it stays so until
        someone acts. (A warm read needs no write, so a read-only cache still serves one.)"""
        return InputError(
            f"the artreg cache {self.root} cannot be written: {_why_unwritable(exc, path, need)}",
            hint=f"set {ENV_CACHE} (cache_dir= in Python) to a folder you can write (it is "
            "created if missing), or fix what is named above",
        )

    # --- where things are ----------------------------------------------------------------

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256[2:]

    def git_dir(self, key: str) -> Path:
        return self.root / "git" / f"{key}.git"

    def snapshot(self, key: str, folder: str, files: Mapping[str, FileDigest]) -> Path:
        """The snapshot of `folder` holding exactly `files`: one folder per content, so a path
        handed out never changes bytes under its reader."""
        return self.root / "snapshots" / key / content_id(files) / folder

    def meta(self, key: str, folder: str, files: Mapping[str, FileDigest]) -> Path:
        return self.root / "meta" / key / content_id(files) / f"{folder}.json"

    def resolution(self, key: str, name: str, selector: str) -> Path:
        return self.root / "resolutions" / key / name / f"{selector}.json"

    def trust_record(self, key: str) -> Path:
        return self.root / "trust" / f"{key}.json"

    def signature_verdict(self, key: str, digest: str) -> Path:
        return self.root / "signatures" / key / f"{digest}.json"

    def lock(
        self, kind: str, ident: str, shared: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        safe = hashlib.sha256(ident.encode()).hexdigest()[:24]
        lock = self.root / "locks" / f"{kind}-{safe}.lock"
        return flocked(lock, shared, self.unwritable, what=f"{kind} {ident}")

    def building(self) -> contextlib.AbstractContextManager[None]:
        """Held (shared) while adding to the cache; `prune` holds it exclusively."""
        return flocked(self.root / "locks" / "cache.lock", True, self.unwritable)

    @contextlib.contextmanager
    def _tmp(self, suffix: str = "", folder: bool = False) -> Iterator[Path]:
        """A new temporary file (or folder) held by this process for the block; a killed
        download's leftovers, held by no one, are removed first (tmp_owner.py)."""
        tmp = self.root / "tmp"
        try:
            tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.unwritable(exc, tmp) from exc
        with tmp_owner.entry(tmp, self.root / "locks", suffix, folder) as path:
            yield path

    # --- small JSON documents ------------------------------------------------------------

    def write_json(self, path: Path, data: Any) -> None:
        """Write a JSON document atomically (temporary file, then rename)."""
        try:
            write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise self.unwritable(exc, path) from exc

    @staticmethod
    def read_json(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # --- blobs ---------------------------------------------------------------------------

    def store_blob(
        self,
        expected: FileDigest,
        source: Callable[[], contextlib.AbstractContextManager[IO[bytes]]],
        where: str,
        link_to: Path,
        progress: ProgressFn | None = None,
    ) -> bool:
        """Put the bytes of sha256 `expected` in the cache and link them at `link_to`.

        Reuses the blob when it is there and verifies; else (missing, or altered in the cache)
        streams `source` into a temporary file, hashing while writing (each byte read once),
        and renames it into place only if its sha256 and size are the expected ones. Returns
        True if it downloaded.
        """
        blob = self.blob(expected.sha256)
        with self.lock("blob", expected.sha256):
            fresh = not self._intact(blob, expected, f"the cached copy of {where}")
            if fresh:  # missing, or altered in the cache: fetched (again), once, verified
                self._download(expected, source, where, blob, progress)
            _link(blob, link_to)
            hashing.remember_written(self.root, blob, expected.sha256)  # verified, now linked
        return fresh

    def _intact(self, path: Path, expected: FileDigest, what: str) -> bool:
        """True if `path` is there with the expected bytes (False: missing or altered)."""
        if not path.is_file():
            return False
        try:
            self._check(path, expected, what)
        except IntegrityError:
            return False
        return True

    def _download(
        self,
        expected: FileDigest,
        source: Callable[[], contextlib.AbstractContextManager[IO[bytes]]],
        where: str,
        blob: Path,
        progress: ProgressFn | None,
    ) -> None:
        with self._tmp(".part") as tmp:
            try:
                with source() as fin, open(tmp, "r+b", buffering=0) as fout:
                    # Hashed while it is copied (a local remote's file by the kernel): one pass.
                    got = hashing.fetch_and_hash(
                        fin, fout.fileno(), progress, lambda: faults.point("consumer.download")
                    )
                if (got.sha256, got.size) != (expected.sha256, expected.size):
                    raise IntegrityError(
                        f"{where}: the remote's bytes have sha256 {got.sha256} ({got.size} B), "
                        f"the registry's manifest says {expected.sha256} ({expected.size} B); "
                        "nothing was stored",
                        hint="the DVC remote holds altered or wrong bytes: push the right ones from "
                        "a clone that has them, and report it",
                    )
                os.chmod(tmp, 0o444)
                blob.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, blob)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the cache's disk, not the remote
                    raise self.unwritable(exc, tmp, expected.size) from exc
                raise
            finally:
                tmp.unlink(missing_ok=True)

    def _check(self, path: Path, expected: FileDigest, what: str, full: bool = False) -> None:
        st = path.stat()
        got = (
            FileDigest("(not hashed: wrong size)", st.st_size)
            if st.st_size != expected.size
            else hashing.digest(path, self.root, full)
        )
        if (got.sha256, got.size) != (expected.sha256, expected.size):
            raise IntegrityError(
                f"{what} ({path}) has sha256 {got.sha256} ({got.size} B), expected "
                f"{expected.sha256} ({expected.size} B)",
                hint="the cache was altered: run the same call online (ARTREG_OFFLINE unset), "
                "which fetches the file again and relinks it",
            )

    # --- snapshots -----------------------------------------------------------------------

    def snapshot_ready(
        self, key: str, folder: str, files: Mapping[str, FileDigest], full: bool = False
    ) -> Path | None:
        """The snapshot folder if it holds exactly `files`, verified (by record, or by hashing
        when `full` or the file changed); None if it is missing or incomplete. Raises
        IntegrityError when a file is there with other bytes (`build_snapshot` heals it)."""
        meta = self.meta(key, folder, files)
        data = self.read_json(meta)
        if not isinstance(data, dict) or data.get("files") != _digest_map(files):
            return None
        snap = self.snapshot(key, folder, files)
        for rel, expected in files.items():
            path = snap / rel
            if not path.is_file():
                return None
            self._check(path, expected, f"{folder}/{rel} in the cache", full)
        _exact(snap, files)
        self._touch(meta)
        return snap

    def build_snapshot(
        self,
        key: str,
        folder: str,
        files: Mapping[str, FileDigest],
        source: Callable[[str], Callable[[], contextlib.AbstractContextManager[IO[bytes]]]],
        info: Mapping[str, Any],
        progress: ProgressFn | None = None,
    ) -> tuple[Path, int]:
        """Make the read-only snapshot of `folder` holding `files` (rel -> digest), fetching
        missing blobs with `source(rel)`; returns (snapshot, files downloaded). A snapshot of
        that content that is there already is never removed (a reader may hold its path):
        each of its files found missing or altered is fetched again and renamed into place.

        Callers hold `self.lock("snapshot", ...)`, so concurrent builders wait and then find it.
        """
        snap = self.snapshot(key, folder, files)
        if snap.is_dir():
            downloaded = self._heal(snap, folder, files, source, progress)
            _exact(snap, files)  # healing restores what is listed; it never deletes a file
        else:
            downloaded = 0
            with self._tmp(".snapshot", folder=True) as staging:
                try:
                    for rel, expected in sorted(files.items()):
                        target = staging / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        downloaded += self.store_blob(
                            expected, source(rel), f"{folder}/{rel}", target, progress
                        )
                    _read_only(staging)
                    snap.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging, snap)
                finally:
                    if staging.exists():
                        _remove_tree(staging)
        self.write_json(
            self.meta(key, folder, files),
            {**info, "folder": folder, "files": _digest_map(files), "created": int(time.time())},
        )
        return snap, downloaded

    def _heal(
        self,
        snap: Path,
        folder: str,
        files: Mapping[str, FileDigest],
        source: Callable[[str], Callable[[], contextlib.AbstractContextManager[IO[bytes]]]],
        progress: ProgressFn | None,
    ) -> int:
        """Relink each file of an existing snapshot that is missing or altered to its verified
        blob (fetched again when the blob was altered too), by an atomic rename in place."""
        downloaded = 0
        for rel, expected in sorted(files.items()):
            path = snap / rel
            if self._intact(path, expected, f"{folder}/{rel} in the cache"):
                continue
            parents = [p for p in path.relative_to(snap).parents][::-1]  # snap first
            for parent in parents:
                (snap / parent).mkdir(exist_ok=True)
                os.chmod(snap / parent, 0o755)
            fresh = path.parent / f".{path.name}.{os.urandom(6).hex()}.heal"
            try:
                downloaded += self.store_blob(
                    expected, source(rel), f"{folder}/{rel}", fresh, progress
                )
                os.replace(fresh, path)
                hashing.remember_written(self.root, path, expected.sha256)  # renamed: new ctime
            finally:
                fresh.unlink(missing_ok=True)
                for parent in reversed(parents):
                    os.chmod(snap / parent, 0o555)
        return downloaded

    @staticmethod
    def _touch(path: Path) -> None:
        """Note a snapshot's use (at most hourly, so warm calls rarely write)."""
        try:
            if time.time() - path.stat().st_mtime > TOUCH_EVERY:
                os.utime(path)
        except OSError:
            pass

    # --- housekeeping --------------------------------------------------------------------

    def snapshots(self) -> list[dict[str, Any]]:
        """Every complete snapshot: registry, name, stage, entry, size, created, last used."""
        found = []
        meta_root = self.root / "meta"
        for meta in sorted(meta_root.glob("*/**/*.json")) if meta_root.is_dir() else []:
            data = self.read_json(meta)
            if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
                continue
            rel = meta.relative_to(meta_root)
            key = rel.parts[0]
            folder = str(data.get("folder", ""))
            parts = folder.split("/")
            found.append(
                {
                    "key": key,
                    "registry": data.get("registry"),
                    "folder": folder,
                    "stage": parts[1] if len(parts) == 4 else None,
                    "name": parts[2] if len(parts) == 4 else None,
                    "entry": parts[3] if len(parts) == 4 else None,
                    "version": data.get("version"),
                    "files": len(data["files"]),
                    "size": sum(int(v[1]) for v in data["files"].values()),
                    "created": int(data.get("created", 0)),
                    "last_used": int(meta.stat().st_mtime),
                    "path": str(self.root / "snapshots" / rel.with_suffix("")),
                    "meta": str(meta),
                    "blobs": sorted({str(v[0]) for v in data["files"].values()}),
                }
            )
        return found

    def prune(
        self, keep_last: int | None = None, older_than_days: float | None = None
    ) -> dict[str, Any]:
        """Remove snapshots beyond the newest `keep_last` per registry and name, or unused for
        `older_than_days`; then every blob no remaining snapshot links. Returns what went."""
        if keep_last is None and older_than_days is None:
            raise InputError("say what to prune", hint="give --keep-last N or --older-than DAYS")
        if older_than_days is not None and not 0 <= older_than_days < float("inf"):
            raise InputError(
                f"--older-than {older_than_days}: not a number of days",
                hint="give a finite number of days, e.g. 30 (0: everything)",
            )
        with flocked(self.root / "locks" / "cache.lock", False, self.unwritable):
            every = self.snapshots()
            doomed: list[dict[str, Any]] = []
            if keep_last is not None:
                groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
                for snap in every:
                    groups.setdefault((snap["key"], snap["name"]), []).append(snap)
                for group in groups.values():
                    group.sort(key=lambda s: (s["last_used"], s["created"]), reverse=True)
                    doomed += group[keep_last:]
            if older_than_days is not None:
                limit = time.time() - older_than_days * 86400
                doomed += [s for s in every if s["last_used"] <= limit and s not in doomed]
            for snap in doomed:
                Path(snap["meta"]).unlink(missing_ok=True)
                path = Path(snap["path"])
                if path.exists():
                    _remove_tree(path)
            kept = {b for s in every if s not in doomed for b in s["blobs"]}
            freed = 0
            blobs_root = self.root / "blobs" / "sha256"
            removed_blobs = 0
            for blob in sorted(blobs_root.glob("*/*")) if blobs_root.is_dir() else []:
                sha = blob.parent.name + blob.name
                if sha in kept:
                    continue
                st = blob.stat()
                freed += st.st_size
                hashing.record_path(self.root, st).unlink(missing_ok=True)
                blob.unlink()
                removed_blobs += 1
            _remove_tree(self.root / "tmp")  # leftovers of killed downloads
            _remove_tree(self.root / "warm")  # answers that may name what just went
            broken = self._prune_repositories()
        return {
            "removed": [f"{s['name']} {s['entry']} ({s['registry']})" for s in doomed],
            "blobs_removed": removed_blobs,
            "bytes_freed": freed,
            "repositories_removed": broken,
        }

    def _prune_repositories(self) -> list[str]:
        """Remove each registry repository git's own check (fsck) finds corrupted: the next
        call fetches what it needs anew. Healthy ones stay (they hold what warm calls read)."""
        removed = []
        git_root = self.root / "git"
        for repo in sorted(git_root.glob("*.git")) if git_root.is_dir() else []:
            with self.lock("git", repo.name.removesuffix(".git")):
                if not cache_repo_intact(repo):
                    _remove_tree(repo)
                    removed.append(repo.name)
        return removed


def _why_unwritable(exc: OSError, path: Path, need: int | None = None) -> str:
    """What stops the write, in the user's terms: a file in the way, another owner, read-only."""
    for parent in [path, *path.parents]:
        if parent.is_file() and (parent != path or exc.errno == errno.EEXIST):
            return f"{parent} is a file, not a folder"
        if parent.exists():
            break
    else:
        parent = path
    if exc.errno == errno.EACCES:
        import pwd

        uid = parent.stat().st_uid
        with contextlib.suppress(KeyError):
            return f"no permission to write in {parent} (it belongs to {pwd.getpwuid(uid).pw_name})"
        return f"no permission to write in {parent} (it belongs to user id {uid})"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        import shutil

        free = shutil.disk_usage(parent).free
        wanted = f"a file of {need} bytes, " if need is not None else ""
        return f"no space left on its disk ({wanted}{free} bytes free)"
    if exc.errno == errno.EROFS:
        return f"{parent} is on a read-only file system"
    if exc.errno == errno.EPERM:
        return f"{parent} may not be changed (operation not permitted: immutable or read-only)"
    return f"{exc.filename or path}: {exc.strerror or exc}"


def _exact(snap: Path, files: Mapping[str, FileDigest]) -> None:
    """Raise IntegrityError naming each file of the snapshot `files` does not list (a loader
    given its model folder would read it too)."""
    exact_folder.check(
        snap,
        set(files),
        str(snap),
        "the cache was altered: remove the file (its folder is read-only: `chmod u+w` it "
        "first); a snapshot holds only the files the manifest vouches for",
    )


def _link(blob: Path, target: Path) -> None:
    """Link `target` to `blob`: a hard link, else a relative symbolic link, else a copy."""
    try:
        os.link(blob, target)
        return
    except OSError:
        pass
    try:
        os.symlink(os.path.relpath(blob, target.parent), target)
        return
    except OSError:
        pass
    import shutil

    shutil.copyfile(blob, target)
    os.chmod(target, 0o444)


def _read_only(folder: Path) -> None:
    for dirpath, _dirs, _files in os.walk(folder, topdown=False):
        os.chmod(dirpath, 0o555)


def _remove_tree(folder: Path) -> None:
    """rmtree of a read-only snapshot: make its folders writable first."""
    import shutil

    for dirpath, _dirs, _files in os.walk(folder):
        os.chmod(dirpath, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    shutil.rmtree(folder, ignore_errors=True)
