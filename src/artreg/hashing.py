"""sha256 of files (computed while copying, so each byte is read once), manifests, .sha256 files."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from artreg.errors import InputError, IntegrityError

CHUNK = 1 << 20  # 1 MiB: large enough that hashlib releases the GIL, small enough for flat memory
ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    size: int


def _read_chunks(fh: object, chunk: int = CHUNK) -> Iterable[bytes]:
    read = fh.read  # type: ignore[attr-defined]
    while block := read(chunk):
        yield block


def hash_file(path: Path, progress: ProgressFn | None = None) -> FileDigest:
    """sha256 and size of one file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as fh:
        for block in _read_chunks(fh):
            digest.update(block)
            size += len(block)
            if progress:
                progress(len(block))
    return FileDigest(digest.hexdigest(), size)


def copy_and_hash(src: Path, dst: Path, progress: ProgressFn | None = None) -> FileDigest:
    """Copy `src` to `dst` and return the sha256 of the bytes written, in a single read of `src`."""
    digest = hashlib.sha256()
    size = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb", buffering=0) as fin, open(dst, "xb") as fout:
        for block in _read_chunks(fin):
            digest.update(block)
            fout.write(block)
            size += len(block)
            if progress:
                progress(len(block))
    return FileDigest(digest.hexdigest(), size)


def hash_files(
    paths: list[Path], progress: ProgressFn | None = None, workers: int | None = None
) -> list[FileDigest]:
    """Hash many files on every core (hashlib releases the GIL on large blocks)."""
    workers = workers or min(len(paths), os.cpu_count() or 1) or 1
    if workers == 1:
        return [hash_file(p, progress) for p in paths]
    from concurrent.futures import ThreadPoolExecutor  # not needed by one file or a warm call

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: hash_file(p, progress), paths))


def sha256_line(sha256: str, filename: str) -> str:
    """One line in sha256sum's format, so `sha256sum -c model.pt.sha256` works."""
    return f"{sha256}  {filename}\n"


def write_sha256_file(model_path: Path, sha256: str) -> Path:
    """Write `<file>.sha256` beside a model file."""
    out = model_path.with_name(model_path.name + ".sha256")
    out.write_text(sha256_line(sha256, model_path.name), encoding="utf-8")
    return out


def regular_files(folder: Path) -> list[Path]:
    """Every file below `folder`, sorted; refuses links out of it, devices, FIFOs and sockets."""
    root = folder.resolve()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for entry in [*dirnames, *filenames]:
            path = Path(dirpath) / entry
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
                        f"{path}: symbolic link to a folder",
                        hint="replace the link by the folder's files",
                    )
                mode = target.stat().st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise InputError(
                    f"{path}: not a regular file (device, FIFO or socket)",
                    hint="remove it from the folder",
                )
            if path.lstat().st_nlink > 1 and stat.S_ISREG(path.lstat().st_mode):
                raise InputError(
                    f"{path}: a hard link (its bytes are shared with a file elsewhere)",
                    hint="copy the file into the folder instead of hard-linking it",
                )
            if not os.access(path, os.R_OK):
                raise InputError(f"{path}: file is not readable", hint="fix its permissions")
            found.append(path)
    return sorted(found)


def check_single_file(path: Path) -> None:
    """The checks `regular_files` makes, for one file: no link, no device, one name, readable."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        raise InputError(f"{path}: is a symbolic link", hint="pass the file it points to")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (device, FIFO or socket)", hint="pass a file")
    if path.lstat().st_nlink > 1:
        raise InputError(
            f"{path}: a hard link (its bytes are shared with a file elsewhere)",
            hint="copy the file instead of hard-linking it",
        )
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: file is not readable", hint="fix its permissions")


def verify_files(
    root: Path, expected: dict[str, FileDigest], progress: ProgressFn | None = None
) -> None:
    """Check files under `root` against their recorded digests; raise IntegrityError naming each."""
    paths = [root / rel for rel in expected]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise IntegrityError(
            "files listed in the manifest are missing: " + ", ".join(missing),
            hint="run `artreg pull` (or `dvc pull`) to fetch them",
        )
    actual = hash_files(paths, progress)
    bad = [
        f"{path}: expected sha256 {exp.sha256}, found {got.sha256}"
        for path, exp, got in zip(paths, expected.values(), actual, strict=True)
        if got.sha256 != exp.sha256 or got.size != exp.size
    ]
    if bad:
        raise IntegrityError(
            "sha256 mismatch: " + "; ".join(bad),
            hint="the bytes were altered; fetch them again from the remote, or report tampering",
        )
