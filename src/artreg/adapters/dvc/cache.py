"""DVC's cache and on-disk format: the cache folder (`cache_dir`), pointers and cache objects
written in the pass that copies the bytes (`CacheWriter`), `.dvc` pointers and `.dir` listings
read and checked, cache objects found and deleted by id.

Tracking a file the way `dvc add` does would read every byte twice more after we copied it
(once to hash, once to copy into the cache). artreg instead writes DVC's own on-disk format
(`.dvc` pointer, cache object, `.dir` listing) from the pass that copies the bytes, so each byte
is read once. Every rule around that format is DVC's own code, asked here: the cache's place,
link type and permissions (the cache object database `dvc add` itself would use), which names
are DVC files (`dvc.dvcfile`), the `.dir` bytes (dvc-data's `Tree`). test_dvc_fidelity.py
compares it with `dvc add`'s, byte for byte.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import stat
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from artreg.adapters import faults
from artreg.adapters.dvc.repo import CopiedFile, RegistryDvc, dvc_repo, object_path
from artreg.adapters.files import MAX_DOCUMENT_BYTES, parse_yaml, read_yaml
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import (
    FileDigest,
    ProgressFn,
    copy_and_hash,
    machine_records,
    remember_written,
)
from artreg.errors import InputError, IntegrityError, NotFoundError


def cache_dir(root: Path) -> Path:
    """The repo's DVC cache folder as DVC resolves it (`cache.dir` at any level, else .dvc/cache)."""
    with dvc_repo(root) as repo:
        return Path(repo.cache.local_cache_dir)


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
            return object_path(cache, md5) if depth == len(parts) else None
        entries = _cached_listing(object_path(cache, md5))
        if entries is None:
            return None
        inner = entries.get("/".join(parts[depth:]))
        return None if inner is None else object_path(cache, inner)
    return None


# Parsed pointers by their bytes, parsed listings by their cache object (named by the md5 of
# its bytes, kept while the file is the same one): one folder's worth, never a growing map.
_POINTERS: dict[tuple[Path, bytes], str] = {}
_LISTINGS: dict[Path, tuple[tuple[int, int, int], dict[str, str]]] = {}
_KEEP = 64


def _pointer_md5(pointer: Path) -> str | None:
    """The md5 a `.dvc` file's output names ("" when none), None when it is not a file."""
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


def check_dir_objects(cache: Path, pointers: Sequence[Path], remote: str = "") -> None:
    """Refuse a fetched `.dir` listing that is not the object its name says (removed from the
    cache, so the next fetch asks the remote again) or whose entries would write outside their
    folder; `remote` names where it came from."""
    for pointer in pointers:
        out = read_pointer(pointer)
        md5 = str(out.get("md5", ""))
        if not md5.endswith(".dir"):
            continue
        obj = object_path(cache, md5)
        if not obj.is_file():
            continue
        listing = obj.read_bytes()
        try:
            check_listing_hash(listing, md5, f"{pointer}: DVC remote {remote or '(default)'}")
        except IntegrityError:
            remove_cached(cache, md5)  # else every later pull trusts it under its genuine name
            raise
        try:
            entries = json.loads(listing.decode("utf-8"))
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


def target_oids(odbs: Sequence[Any], pointer: Path) -> set[str] | None:
    """The objects of a `.dvc` pointer and its `.dir` listing (from the first of `odbs` holding
    it); None when it names none or the listing is nowhere."""
    md5 = str(read_pointer(pointer).get("md5") or "")
    inner = _tree_oids(odbs, md5) if md5.endswith(".dir") else set()
    return None if not md5 or inner is None else {md5} | inner


# --- retention: reading and deleting objects by id ----------------------------------------------


def cached_bytes(cache: Path, oid: str) -> bytes | None:
    """The bytes of an object (`<md5>` or `<md5>.dir`) in the cache folder `cache`
    (`cache_dir`), or None when it is absent."""
    try:
        return object_path(cache, oid).read_bytes()
    except FileNotFoundError:
        return None


def remove_cached(cache: Path, oid: str) -> int | None:
    """Delete one object from the cache folder `cache`; its size, or None if it was not there."""
    path = object_path(cache, oid)
    try:
        size = path.stat().st_size
        path.unlink()  # DVC keeps objects read-only; unlinking needs only the folder's permission
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the two-letter folder, once empty, as `dvc gc` leaves it
    return size


def check_listing_hash(listing: bytes, md5: str, where: str) -> None:
    """Refuse a `.dir` listing whose bytes do not hash to its name (md5, as dvc-data addresses
    it): a remote's writer could list files no pointer vouches for."""
    if hashlib.md5(listing).hexdigest() != md5.removesuffix(".dir"):
        raise IntegrityError(
            f"{where}: the remote's directory object {md5} does not hash to its name",
            hint="the DVC remote holds altered data; push it again from a clone, and report it",
        )


def dir_entries(listing: bytes, md5: str, where: str) -> dict[str, str]:
    """Every file of a `.dir` object fetched from a remote, relpath -> md5, after checking that
    the listing is the object its name says (md5 of its bytes, as dvc-data addresses it).
    Called once per listing and fetch: each lookup is then a dictionary read."""
    faults.point("consumer.dir-listing")
    check_listing_hash(listing, md5, where)
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
