"""`artreg get -o OUT`: where each file of a model goes, and writing them so that a failure
leaves nothing under a final name. Both the clone and the registry-URL paths use it.

Every file is copied (and hashed, in the same pass) into a staging folder inside OUT,
`.artreg-get-XXXX/`, and given its final name only when every file is verified. An error, a full
disk or Ctrl-C removes what the call wrote, so the same command can simply run again. A staging
folder left by a killed `get` (its flock is free: the kernel released it) is removed by the next
`get` into the same OUT.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from artreg.adapters import faults, locking
from artreg.adapters.files import check_output_path
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import FileDigest, ProgressFn, copy_and_hash, hash_file
from artreg.errors import ArtregError, InputError, IntegrityError
from artreg.registry.layout import ARTIFACTS_DIR, model_files

OPTION = "-o/--out"
STAGING = ".artreg-get-"  # a staging folder `_sweep` may remove once its writer is gone
_NEW = ".artreg-new-"  # a staging folder not yet locked: never swept
_LOCK = ".lock"

Copy = tuple[Path, Path, FileDigest]  # (source file, final path, the digest it must have)


def targets(out: Path, primary: str, files: Iterable[str]) -> dict[str, Path]:
    """Where each file of the model goes: a model file into `out` by its name, a model folder's
    files into `out` as they lie in the folder (what `dvc artifacts get -o OUT` writes)."""
    return {
        rel: out / (rel.split("/", 1)[1] if "/" in primary else rel)
        for rel in model_files(primary, files)
    }


def check(
    out: Path,
    paths: Iterable[Path],
    work_tree: Path | None = None,
    expected: Mapping[Path, FileDigest] | None = None,
) -> None:
    """Refuse, before anything is fetched or written, an `out` that cannot be written, a target
    that exists with other bytes than `expected` gives it, or one in the registry's own work
    tree that git would track."""
    check_output_path(out, OPTION, folder=True)
    paths = list(paths)
    _refuse_work_tree(out, paths, work_tree)
    around = registry_around(out)
    if around is not None and (work_tree is None or not os.path.samefile(around, work_tree)):
        _refuse_work_tree(out, paths, around)
    folders = {out / up for p in paths for up in p.relative_to(out).parents} - {out}
    taken = [p for p in [*sorted(folders), *paths] if _taken(p, p in folders)]
    # A file that holds the model's bytes already is kept as it is: a re-run deploy succeeds.
    differing = [str(p) for p in taken if not identical(p, (expected or {}).get(p))]
    if differing:
        raise InputError(
            f"{', '.join(differing[:5])}: exists already, and is not a copy of its own of the "
            "model's bytes (other bytes, a link, or a file hard-linked elsewhere)"
            + (" …" if len(differing) > 5 else "")
            + "; nothing was written",
            hint="remove those files, or choose another output folder (a plain file that holds "
            "the model's bytes already is kept and accepted)",
        )


# The output files found to hold the expected bytes, by path and stat (device, inode, size,
# mtime, ctime): `check` hashes each once, `write_verified` then leaves it as it is without
# hashing again, and checks before it returns that none changed while the others were copied.
_SAME: set[tuple[str, int, int, int, int, int]] = set()


def _key(path: Path, st: os.stat_result) -> tuple[str, int, int, int, int, int]:
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def identical(path: Path, digest: FileDigest | None) -> bool:
    """Whether `path` is a regular file of its own (not a link, no other hard link: a link into a
    DVC cache or work tree would be changed with it) that holds exactly `digest`'s bytes."""
    if digest is None or path.is_symlink() or not path.is_file():
        return False
    st = path.stat()
    if st.st_nlink != 1:
        return False
    key = _key(path, st)
    if key in _SAME:
        return True
    if st.st_size != digest.size:
        return False
    got = hash_file(path)
    if (got.sha256, got.size) != (digest.sha256, digest.size):
        return False
    _SAME.add(key)
    return True


def _check_kept(kept: Iterable[Path]) -> None:
    """IntegrityError if a file kept as holding the model's bytes changed while the others were
    copied (its stat is no longer the one its hash was taken with)."""
    for final in kept:
        try:
            st = final.stat()
        except OSError:
            st = None
        if st is None or st.st_nlink != 1 or _key(final, st) not in _SAME:
            raise IntegrityError(
                f"{final}: changed while the model's other files were being copied; it no longer "
                "holds the bytes that were checked",
                hint="run the command again (it keeps a file only when it holds the model's bytes)",
            )


def _taken(path: Path, folder: bool) -> bool:
    if folder:  # a folder the model needs: taken only by something that is not a folder
        return path.is_symlink() or (path.exists() and not path.is_dir())
    return path.exists() or path.is_symlink()


def local_work_tree(url: str | os.PathLike[str]) -> Path | None:
    """The work tree of a registry URL that names a local clone (None for a bare repository or
    a remote URL): `get URL NAME -o` must not write into it either."""
    text = os.fspath(url)
    if "://" in text and not text.startswith("file://"):
        return None
    path = Path(text.removeprefix("file://"))
    return gitrun.work_tree(path) if path.is_dir() else None


def registry_around(out: Path) -> Path | None:
    """The work tree of the artreg registry (a git work tree with artifacts/ and .dvc/) that
    `out` lies in, whichever registry `get` reads from; None when it lies in none."""
    existing = Path(os.path.abspath(out))
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    try:
        top = gitrun.work_tree(existing)
    except ArtregError:  # a work tree git will not read here (not trusted): nothing to guard
        return None
    if top is None or not (top / ARTIFACTS_DIR).is_dir() or not (top / ".dvc").is_dir():
        return None
    return top


def _refuse_work_tree(out: Path, paths: Sequence[Path], work_tree: Path | None) -> None:
    check_work_tree(out, paths, work_tree, OPTION)


def check_work_tree(
    out: Path, paths: Sequence[Path], work_tree: Path | None, option: str = OPTION
) -> None:
    """A model written into a registry's work tree is an untracked file that `git add -A`
    would commit to git, not to DVC: refused unless git ignores every file written there (by
    git's own rules: `git check-ignore`, which also counts a tracked file as not ignored)."""
    if work_tree is None:
        return
    top = Path(os.path.realpath(work_tree))
    real_out = Path(os.path.realpath(out))
    if real_out != top and top not in real_out.parents:
        return
    inside = [(real_out / p.relative_to(out)).relative_to(top).as_posix() for p in paths]
    listed = gitrun.git(top, "check-ignore", "-z", "--stdin", stdin="\0".join(inside), check=False)
    ignored = set(listed.split("\0"))
    tracked = [rel for rel in inside if rel not in ignored]
    if tracked:
        raise InputError(
            f"{option} {out}: inside the registry's work tree {top}, where git would track "
            + ", ".join(tracked[:3])
            + (" …" if len(tracked) > 3 else ""),
            hint="write the model outside the registry's clone (e.g. -o /srv/models), or into "
            "a folder git ignores (.gitignore or .git/info/exclude)",
        )


def write_verified(
    out: Path, copies: Sequence[Copy], progress: ProgressFn | None = None
) -> list[Path]:
    """Copy each source to its final path in `out`, hashing the copy: every file is staged in
    `out` and verified before the first gets its final name; after any failure (other bytes, a
    full disk, Ctrl-C) no file of this call is left under a final name. Returns the paths."""
    created: list[Path] = []
    placed: list[Path] = []
    kept = {final for _, final, expected in copies if identical(final, expected)}
    try:
        _mkdirs(out, created)
        _sweep(out)
        with _staging(out) as staging:
            staged = []
            for source, final, expected in copies:
                if final in kept:  # holds these bytes already: nothing to rewrite
                    continue
                tmp = staging / final.relative_to(out)
                got = copy_and_hash(source, tmp, _ticking(progress))
                if (got.sha256, got.size) != (expected.sha256, expected.size):
                    raise IntegrityError(
                        f"{source}: changed while being copied (sha256 {got.sha256}, "
                        f"expected {expected.sha256}); nothing was written to {out}",
                        hint="run the command again",
                    )
                staged.append((tmp, final))
            for tmp, final in staged:
                _mkdirs(final.parent, created)
                _place(tmp, final)
                placed.append(final)
                faults.point("get.place")
        _check_kept(kept)
        return [final for _, final, _ in copies]
    except BaseException as exc:
        _undo(placed, created)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _no_space(out, copies) from exc
        if isinstance(exc, OSError) and _writing_out(out, exc):
            raise InputError(
                f"{OPTION} {out}: cannot be written ({exc.strerror or exc}); nothing was written",
                hint="give -o a folder you can create and write to (not under /proc or /sys)",
            ) from exc
        raise


# What the system says when a folder cannot take files: OUT's to fix, not a bug or a retry.
_UNWRITABLE = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EINVAL}
)


def _writing_out(out: Path, exc: OSError) -> bool:
    """Whether `exc` came from writing into `out` (a file or folder of it, or no file named,
    as at the injected fault points): a source that cannot be read is named by its own path."""
    if exc.errno not in _UNWRITABLE:
        return False
    if exc.filename is None:
        return True
    named = Path(os.path.abspath(os.fsdecode(exc.filename)))
    top = Path(os.path.abspath(out))
    return named == top or top in named.parents or named in top.parents


def _ticking(progress: ProgressFn | None) -> ProgressFn:
    def tick(done: int) -> None:
        faults.point("get.write")  # after each chunk: where a test stops a copy half-way
        if progress is not None:
            progress(done)

    return tick


def _place(tmp: Path, final: Path) -> None:
    """Give a staged file its final name, never replacing a file that appeared meanwhile."""
    try:
        os.link(tmp, final)  # unlike rename, fails if `final` exists
    except FileExistsError:
        raise _appeared(final) from None
    except OSError:  # a file system without hard links
        if final.exists() or final.is_symlink():
            raise _appeared(final) from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def _appeared(final: Path) -> InputError:
    return InputError(
        f"{final}: exists already (it appeared while the model was being copied); nothing "
        "of this call was left in its folder",
        hint="remove that file, or choose another output folder, then run the command again",
    )


def _mkdirs(folder: Path, created: list[Path]) -> None:
    """Create `folder` and its missing parents, adding those made here to `created`."""
    missing = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # another process made it: not ours to remove
        created.append(path)


def _undo(placed: Sequence[Path], created: Sequence[Path]) -> None:
    for path in placed:
        path.unlink(missing_ok=True)
    for folder in reversed(created):
        with contextlib.suppress(OSError):  # not empty: someone else wrote there meanwhile
            folder.rmdir()


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A private folder in `out`, locked for as long as this process lives (see `_sweep`)."""
    import tempfile

    fresh = Path(tempfile.mkdtemp(prefix=_NEW, dir=out))
    where = fresh
    with locking.hold(fresh / _LOCK, mode=0o600):
        try:
            named = fresh.with_name(STAGING + fresh.name.removeprefix(_NEW))
            os.rename(fresh, named)  # only a locked folder carries the name `_sweep` looks for
            where = named
            yield named
        finally:
            shutil.rmtree(where, ignore_errors=True)


def _sweep(out: Path) -> None:
    """Remove the staging folders of killed `get`s into `out` (their lock is free): what they
    copied never got a final name."""
    for old in out.glob(f"{STAGING}*"):
        try:
            with locking.hold(old / _LOCK, wait=0, create=False):
                shutil.rmtree(old, ignore_errors=True)
        except (locking.Busy, OSError):
            continue  # its writer is alive, or it is gone already


def _no_space(out: Path, copies: Sequence[Copy]) -> InputError:
    """A full disk is the user's to fix (free space, or another OUT): exit 2, not a retry."""
    need = sum(expected.size for _, _, expected in copies)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    return InputError(
        f"{OPTION} {out}: no space left on its disk: the model needs {need} bytes "
        f"({_mib(need)}), {free} bytes ({_mib(free)}) are free there; nothing was written",
        hint="free space on that disk, or give -o a folder on a disk with room, then run the "
        "command again",
    )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
