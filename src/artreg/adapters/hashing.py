"""The one copy-and-hash pass (each byte read once; sha256, and DVC's md5 when asked), the one
hash-and-compare against recorded digests, and the checks of what may be read as a file."""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from artreg.adapters import settings, verified
from artreg.adapters.digest import FileDigest as FileDigest  # its home is digest.py (light)
from artreg.adapters.fastcopy import copy_steps
from artreg.adapters.portable import FOLDER_RULE, portable_collision, portable_problem
from artreg.adapters.verified import recorded
from artreg.adapters.verified import state as _state
from artreg.errors import InputError

CHUNK = 1 << 20  # 1 MiB: large enough that hashlib releases the GIL, small enough for flat memory
COPY_CHUNK = 4 << 20  # copies write large blocks; memory per copy stays at two chunks
ProgressFn = Callable[[int], None]


class Recorded(Protocol):
    """What a manifest records of a file (a FileDigest or a model.ManifestFile)."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...


def _read_chunks(fh: object, chunk: int = CHUNK) -> Iterable[bytes]:
    read = fh.read  # type: ignore[attr-defined]
    while block := read(chunk):
        yield block


def hash_file(path: Path, progress: ProgressFn | None = None) -> FileDigest:
    """sha256 and size of one file, read in chunks into one reused buffer (a fresh 1 MiB
    block per read costs the kernel fresh pages each time, measured at 5-8% of the time)."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
            size += n
            if progress:
                progress(n)
    return FileDigest(digest.hexdigest(), size)


def copy_and_hash(
    src: Path,
    dst: Path | None,
    progress: ProgressFn | None = None,
    *,
    also_to: Path | None = None,
    md5: bool = False,
) -> FileDigest:
    """Copy `src` to `dst` (and to `also_to`, a DVC cache object being written; `dst` may be
    None when only that is written) and return the sha256 and size of the bytes read, in a
    single read of `src`.

    With `md5`, DVC's md5 runs on a second thread one chunk behind sha256 and the writes, so a
    single large file keeps two cores busy (hashlib releases the GIL on large blocks).
    """
    sha, md5_hash = hashlib.sha256(), hashlib.md5() if md5 else None
    size = 0
    if dst is not None:
        dst.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=1) as md5_thread, open(src, "rb", buffering=0) as fin:
        outs = []
        try:
            for target in (dst, also_to):
                if target is not None:
                    outs.append(open(target, "xb"))  # noqa: SIM115  # closed below
            pending: Future[None] | None = None
            for block in _read_chunks(fin, COPY_CHUNK):
                if md5_hash is not None:
                    if pending is not None:
                        pending.result()  # at most one chunk in flight: memory stays flat
                    pending = md5_thread.submit(md5_hash.update, block)
                sha.update(block)
                for out in outs:
                    out.write(block)
                size += len(block)
                if progress:
                    progress(len(block))
            if pending is not None:
                pending.result()
        finally:
            for out in outs:
                out.close()
    return FileDigest(sha.hexdigest(), size, md5_hash.hexdigest() if md5_hash else None)


def fetch_and_hash(
    fin: IO[bytes],
    fout: int,
    progress: ProgressFn | None = None,
    each: Callable[[], None] | None = None,
) -> FileDigest:
    """Copy the stream `fin` into the new, empty file open (to read and write) at descriptor
    `fout` and return the sha256 and size of the bytes written, hashed on a second thread while
    the copy proceeds (each byte hashed once, the hash overlapping the I/O). A regular file is copied by the
    kernel and the hash reads each part back from the copy (the page cache), so what is
    verified is what was stored; any other stream is hashed block by block as it is written.
    `each` runs after each part (a test's fault point)."""
    sha = hashlib.sha256()
    size = 0
    with ThreadPoolExecutor(max_workers=1) as hasher:
        pending: Future[None] | None = None
        for submit, n in _parts(fin, fout, sha):
            if pending is not None:
                pending.result()  # one part in flight: the copy runs one part ahead
            pending = hasher.submit(submit)
            size += n
            if progress:
                progress(n)
            if each:
                each()
        if pending is not None:
            pending.result()
    return FileDigest(sha.hexdigest(), size)


def _parts(fin: IO[bytes], fout: int, sha: Any) -> Iterator[tuple[Callable[[], None], int]]:
    """Each part of the copy as it lands: how to hash it, and its size."""
    try:
        fd = fin.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode) and fin.tell() == 0
    except (AttributeError, OSError, ValueError):  # io.BytesIO, a remote's stream
        regular = False
    if regular:
        buffer = bytearray(CHUNK)  # one part hashed at a time: one buffer serves them all

        def reread(offset: int, count: int) -> None:
            view = memoryview(buffer)
            end = offset + count
            while offset < end:
                n = os.preadv(fout, [view[: min(CHUNK, end - offset)]], offset)
                if n == 0:
                    raise OSError(errno.EIO, f"the copy ended early (at byte {offset})")
                sha.update(view[:n])
                offset += n

        size = os.fstat(fd).st_size
        for _, offset, count in copy_steps(fd, fout, size, COPY_CHUNK):
            yield functools.partial(reread, offset, count), count
        return
    while block := fin.read(COPY_CHUNK):
        yield functools.partial(sha.update, block), len(block)
        view = memoryview(block)
        while view:
            view = view[os.write(fout, view) :]


def hash_files(
    paths: list[Path], progress: ProgressFn | None = None, workers: int | None = None
) -> list[FileDigest]:
    """Hash many files on every core (hashlib releases the GIL on large blocks)."""
    workers = workers or min(len(paths), os.cpu_count() or 1) or 1
    if workers == 1:
        return [hash_file(p, progress) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: hash_file(p, progress), paths))


def sha256_line(sha256: str, filename: str) -> str:
    """One line in sha256sum's format, so `sha256sum -c model.pt.sha256` works."""
    return f"{sha256}  {filename}\n"


def _portable_name(path: Path, name: str) -> None:
    """Refuse a name inside a folder that artreg's manifest or a platform git runs on cannot
    carry: the portable-name rule of artifact names (artreg.adapters.portable), then UTF-8.
    Every folder admitted into a registry is walked by `regular_files`, so this is its one
    check."""
    raw = os.fsencode(path).decode("utf-8", "backslashreplace")  # undecodable bytes as \xff
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)
    found = portable_problem(name)
    if found is not None:
        why, instead = found
        raise InputError(
            f"{shown}: {why}, so git cannot check it out on Windows; names inside a model "
            "folder follow the portable-name rule of artifact names",
            hint=f"rename it (e.g. {instead!r}), then register again; {FOLDER_RULE}",
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{shown}: the name is not valid UTF-8, so the manifest cannot record it",
            hint="rename it with a UTF-8 name, then register again",
        ) from None


def _no_collision(folder: Path, names: list[str]) -> None:
    """Refuse two names in one folder that are one file on Windows or macOS (the portable-name
    rule): checked out there, one would silently overwrite the other."""
    pair = portable_collision(sorted(names))
    if pair is not None:
        first, second = (os.fsencode(folder / n).decode("utf-8", "backslashreplace") for n in pair)
        raise InputError(
            f"{first!r} and {second!r}: the same name once letter case is ignored or Unicode is "
            "normalised (NFC), so on Windows and macOS one file would overwrite the other",
            hint=f"rename one of them, then register again; {FOLDER_RULE}",
        )


WalkFilter = Callable[[Path, list[str], list[str]], tuple[list[str], list[str]]]


def regular_files(folder: Path, keep: WalkFilter | None = None) -> list[Path]:
    """Every file below `folder`, sorted; refuses links out of it, devices, FIFOs, sockets and
    names that are not portable. Hard links between files of the folder are two files.

    `keep`, given each folder's path, subfolder names and file names, returns those to keep
    (DVC's view of the folder, from artreg.adapters.dvc.repo); what it drops is neither checked
    nor read.
    """
    root = folder.resolve()
    found: list[Path] = []
    linked: dict[tuple[int, int], list[Path]] = {}  # inode → its names found in the folder
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        if keep is not None:
            dirnames[:], filenames = keep(Path(dirpath), dirnames, filenames)
        dirnames.sort()
        _no_collision(Path(dirpath), [*dirnames, *filenames])
        for entry in [*dirnames, *filenames]:
            path = Path(dirpath) / entry
            _portable_name(path, entry)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError) as exc:
                    raise InputError(
                        f"{path}: cannot be read (broken or looping symbolic link: {exc})",
                        hint="replace the link by the file it should point to",
                    ) from exc
                if not target.is_relative_to(root):
                    raise InputError(
                        f"{path}: symbolic link points outside the folder, to {target}",
                        hint="copy the file into the folder instead of linking to it",
                    )
                if target.is_dir():
                    raise InputError(
                        f"{path}: symbolic link to a folder (`dvc add` would leave it out "
                        "without a word; links to files are followed)",
                        hint="replace the link by the folder's files, or remove it",
                    )
                mode = target.stat().st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise InputError(
                    f"{path}: not a regular file (device, FIFO or socket)",
                    hint="remove it from the folder",
                )
            own = path.lstat()
            if own.st_nlink > 1 and stat.S_ISREG(own.st_mode):
                linked.setdefault((own.st_dev, own.st_ino), []).append(path)
            if not os.access(path, os.R_OK):
                raise InputError(f"{path}: file is not readable", hint="fix its permissions")
            found.append(path)
    for names in linked.values():
        # Names of one inode inside the folder are simply several files; a name outside means
        # the bytes can be changed from outside, during the copy or after.
        outside = names[0].lstat().st_nlink - len(names)
        if outside > 0:
            raise InputError(
                f"{names[0]}: a hard link whose bytes are shared with {outside} name(s) outside "
                "the folder",
                hint="copy the file into the folder (cp, not ln) instead of hard-linking it",
            )
    return sorted(found)


def check_single_file(path: Path) -> None:
    """The checks `regular_files` makes, for one file: no link, no device, one name, readable."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        raise InputError(f"{path}: is a symbolic link", hint="pass the file it points to")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (device, FIFO or socket)", hint="pass a file")
    if (links := path.lstat().st_nlink) > 1:
        raise InputError(
            f"{path}: a hard link whose bytes are shared with {links - 1} other name(s)",
            hint="copy the file (cp, not ln) instead of hard-linking it",
        )
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: file is not readable", hint="fix its permissions")


@dataclass(frozen=True)
class Comparison:
    """Files compared with their recorded digests: which are absent, which differ."""

    missing: list[str]
    mismatched: list[tuple[str, FileDigest]]  # (relative path, what was found)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


def compare_files(
    base: Path,
    expected: Mapping[str, Recorded],
    progress: ProgressFn | None = None,
    records: Path | None = None,
    full: bool = True,
) -> Comparison:
    """Hash the files of `expected` (paths relative to `base`) on every core and compare each
    with its recorded sha256 and size: the one hash-and-compare. With a `records` folder and
    not `full`, a file unchanged since it was last hashed is not read (see `digest`)."""
    present = [rel for rel in expected if (base / rel).is_file()]
    paths = [base / rel for rel in present]
    digests = (
        hash_files(paths, progress)
        if records is None
        else recorded_digests(paths, records, full, progress)
    )
    return Comparison(
        missing=[rel for rel in expected if rel not in present],
        mismatched=[
            (rel, got)
            for rel, got in zip(present, digests, strict=True)
            if (got.sha256, got.size) != (expected[rel].sha256, expected[rel].size)
        ],
    )


# --- verification records: a stat instead of a rehash -------------------------------------------
#
# A record maps (device, inode) to the (size, mtime_ns, ctime_ns) the file had when it was hashed
# and the sha256 found. Any write changes mtime and ctime, and ctime cannot be set from user
# space, so an unchanged stat means unchanged bytes, except within the timestamp granularity of
# the file system: like git's "racily clean" index entries, a file whose last change is not
# clearly before the hash started gets no record, and the next call hashes it again. "Clearly"
# is one tick of the kernel's file clock where timestamps have sub-millisecond resolution, and
# `RACY_NS` only where they are coarse (detected from the file's own ctime, which the kernel sets).
# A file artreg wrote and hashed itself is recorded at once (`remember_written`). Records live in
# the consumer cache (`$ARTREG_CACHE/verified`, shared by every process on the machine); they
# hold facts (these bytes hash to this), never expectations, so a record of altered bytes fails
# fast.

RACY_NS = 2_000_000_000  # coarse file-system clocks tick in seconds (FAT: 2): a wide margin
TICK_NS = 20_000_000  # file times come from a clock advancing once a kernel tick (HZ >= 100)
_FINE: set[int] = set()  # devices seen stamping files at sub-millisecond resolution


def fine_timestamps(st: os.stat_result) -> bool:
    """True if the file system of the file with stat `st` stamps files at sub-millisecond
    resolution: its ctime (set by the kernel, never by a user) is not a whole millisecond, or
    another file of the device showed that already (a coarse clock never does)."""
    if st.st_dev in _FINE:
        return True
    if st.st_ctime_ns % 1_000_000:
        _FINE.add(st.st_dev)
        return True
    return False


def racy(st: os.stat_result, started_ns: int) -> bool:
    """True if the file may have changed after a hash that started at `started_ns` (time_ns)
    without its stat showing it: its last change is within the clock's granularity of it."""
    margin = TICK_NS if fine_timestamps(st) else RACY_NS
    return max(st.st_mtime_ns, st.st_ctime_ns) >= started_ns - margin


def record_path(records: Path, st: os.stat_result) -> Path:
    """Where the record of the file with stat `st` lives (artreg.adapters.verified reads it)."""
    return Path(verified.record_path(records, st))


def remember(records: Path, st: os.stat_result, sha256: str, started_ns: int) -> None:
    """Record that the file with stat `st` hashes to `sha256`, read by a hash that started at
    `started_ns` (skipped for racy files)."""
    if racy(st, started_ns):
        return
    _write_record(records, st, sha256)


def remember_written(records: Path | None, path: Path, sha256: str) -> None:
    """Record a file artreg wrote and hashed itself, after its last write, link, chmod or
    rename: its stat now is the one its bytes have, and any later change shows in its ctime at
    nanosecond resolution. Where timestamps are coarse, the wide window applies as to others."""
    if records is None:
        return
    st = os.stat(path)
    if fine_timestamps(st) or not racy(st, time.time_ns()):
        _write_record(records, st, sha256)


def machine_records() -> Path | None:
    """Where records live when no cache folder is given: the consumer cache's folder
    (settings.cache_dir), so a file a release just wrote and hashed is a stat for the next
    `get_artifact_path` in that clone."""
    try:
        return settings.cache_dir()
    except Exception:  # no HOME, no platform folder: records are an optimisation only
        return None


def _write_record(records: Path, st: os.stat_result, sha256: str) -> None:
    target = record_path(records, st)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.urandom(8).hex()}.tmp")
        tmp.write_text(f"{_state(st)} {sha256}\n", encoding="ascii")
        os.replace(tmp, target)
    except OSError:
        pass  # an unwritable cache only costs the next call a rehash


def digest(
    path: Path, records: Path | None, full: bool = False, progress: ProgressFn | None = None
) -> FileDigest:
    """sha256 and size of `path`: from its record when the stat is unchanged (and not `full`),
    else hashed, and recorded when the file did not change while it was read."""
    st = os.stat(path)
    if records is not None and not full:
        sha = recorded(records, st)
        if sha is not None:
            return FileDigest(sha, st.st_size)
    started = time.time_ns()
    got = hash_file(path, progress)
    if records is not None:
        after = os.stat(path)
        if (after.st_dev, after.st_ino, _state(after)) == (st.st_dev, st.st_ino, _state(st)):
            remember(records, after, got.sha256, started)
    return got


def recorded_digests(
    paths: list[Path], records: Path | None, full: bool = False, progress: ProgressFn | None = None
) -> list[FileDigest]:
    """`digest` of many files; the ones that need hashing are hashed on every core."""
    found: dict[int, FileDigest] = {}
    if records is not None and not full:
        # A warm call is one stat per file: no thread pool unless something needs hashing.
        for i, path in enumerate(paths):
            st = os.stat(path)
            sha = recorded(records, st)
            if sha is not None:
                found[i] = FileDigest(sha, st.st_size)
    rest = [i for i in range(len(paths)) if i not in found]
    if len(rest) <= 1:
        found.update({i: digest(paths[i], records, full, progress) for i in rest})
    else:
        with ThreadPoolExecutor(max_workers=min(len(rest), os.cpu_count() or 1)) as pool:
            hashed = pool.map(lambda i: digest(paths[i], records, full, progress), rest)
            found.update(zip(rest, hashed, strict=True))
    return [found[i] for i in range(len(paths))]
