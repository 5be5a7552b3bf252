"""Reading a repository through git: the tag listing, files and blobs at revisions, commits and
their history, and the state of the index and the work tree. Nothing here changes the
repository."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from artreg.adapters.files import parse_json
from artreg.adapters.git import tagstream
from artreg.adapters.git.run import Process, batch_process, git, head, run_bytes_in, run_status
from artreg.errors import InputError, ToolError


def for_each_ref(
    root: Path,
    fmt: str,
    names: Sequence[str] | None = None,
    while_waiting: Callable[[], object] | None = None,
) -> str:
    """`git for-each-ref` over every tag (or only those of artifact `names`: that spares git
    reading thousands of tag objects), decoded as `git()` decodes. When the console script
    started this listing already (tagstream), `while_waiting` runs if git has printed nothing
    yet: git reads every ref and tag object before its first line (100 ms at 10,000 loose
    refs), time the caller may spend getting ready for the answer."""
    args = tagstream.args(fmt, names)
    listing = tagstream.take(root, args)
    if listing is None:
        return git(root, *args)
    try:
        if while_waiting is not None and not listing.printing():
            while_waiting()
        out = listing.read_text()
    finally:
        listing.close()
    if listing.returncode != 0:
        git(root, *args)  # asked again for git's message: raises ToolError with it
        raise ToolError(f"git {' '.join(args[:3])} failed in {root} (exit {listing.returncode})")
    return out


def read_blobs(root: Path, specs: Sequence[str]) -> dict[str, bytes | None]:
    """Many `REV:PATH` files through one `git cat-file --batch` process; None where absent."""
    if not specs:
        return {}
    proc = run_bytes_in(
        root, "cat-file", "--batch", stdin="".join(f"{spec}\n" for spec in specs).encode()
    )
    if proc.returncode != 0:
        raise ToolError(f"git cat-file --batch failed in {root}: {proc.stderr.decode().strip()}")
    out, pos = proc.stdout, 0
    found: dict[str, bytes | None] = {}
    for spec in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].rsplit(b" ", 2)
        pos = end + 1
        if len(header) == 3 and header[2].isdigit():  # "<oid> <type> <size>" then the bytes
            size = int(header[2])
            found[spec] = out[pos : pos + size] if header[1] == b"blob" else None
            pos += size + 1
        else:  # "<spec> missing" / "<spec> ambiguous"
            found[spec] = None
    return found


def creation_commit(root: Path, rev: str, path: str) -> str | None:
    """The commit in `rev`'s history that added `path`, or None when `rev` does not hold it."""
    out = git(root, "log", "--format=%H", "--diff-filter=A", rev, "--", path, check=False)
    found = out.split()
    return found[-1] if found else None


def status(root: Path, paths: Sequence[str] = ()) -> str:
    """`git status --porcelain` (optionally limited to paths), for before/after comparisons."""
    args = ["status", "--porcelain=v1", "--untracked-files=all"]
    return git(root, *args, "--", *paths) if paths else git(root, *args)


def tag_exists(root: Path, tag: str) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False))


def show_file(root: Path, rev: str, path: str) -> bytes | None:
    """A file's bytes at a revision, or None if it does not exist there."""
    proc = run_bytes_in(root, "show", f"{rev}:{path}", git_env=False)
    return proc.stdout if proc.returncode == 0 else None


class BatchReader:
    """Many files at many revisions through one `git cat-file --batch` process.

    `read` writes every request from a second thread while this one reads the answers, so
    neither pipe fills up and blocks the other however many files are asked for.
    """

    def __init__(self, root: Path, proc: Process, stderr: IO[bytes]) -> None:
        self.root = root
        self._proc = proc
        self._stderr = stderr

    def read(self, specs: Sequence[str]) -> list[bytes | None]:
        """The bytes of each `<rev>:<path>` blob, in order; None where there is no such blob."""
        if not specs:
            return []
        for spec in specs:
            if "\n" in spec or "\r" in spec:
                raise InputError(
                    f"{spec!r}: a path with a line break cannot be read", hint="rename it"
                )
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None

        def write(stdin: IO[bytes] = proc.stdin) -> None:
            with contextlib.suppress(OSError):  # git died: the reader below says so
                stdin.write(b"".join(spec.encode("utf-8") + b"\n" for spec in specs))
                stdin.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        out = proc.stdout
        answers: list[bytes | None] = []
        try:
            for _ in specs:
                header = out.readline()
                if not header:
                    raise ToolError(
                        f"git cat-file --batch ended early in {self.root}: {self._error()}"
                    )
                fields = header.split()
                if len(fields) != 3 or not fields[2].isdigit():
                    answers.append(None)  # "<spec> missing" or "<spec> ambiguous"
                    continue
                data = out.read(int(fields[2]))
                out.read(1)  # the newline after each object
                answers.append(data if fields[1] == b"blob" else None)
        finally:
            writer.join()
        return answers

    def _error(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip() or "no message"


@contextmanager
def batch_reader(root: Path) -> Iterator[BatchReader]:
    """A BatchReader for the repo at `root`; its git process is ended and reaped afterwards."""
    with batch_process(root) as (proc, stderr):
        yield BatchReader(root, proc, stderr)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    timestamp: int  # committer date
    subject: str


def log_commits(root: Path, rev: str = "HEAD") -> list[CommitInfo]:
    """Every commit reachable from `rev`, newest first, with parents, date and subject (one call)."""
    if head(root) is None:
        return []
    out = git(root, "log", "--format=%H%x00%P%x00%ct%x00%s%x1e", rev, "--")
    commits = []
    for chunk in out.split("\x1e"):
        fields = chunk.strip("\n").split("\x00")
        if len(fields) == 4:
            sha, parents, date, subject = fields
            commits.append(CommitInfo(sha, tuple(parents.split()), int(date), subject))
    return commits


def commit_time(root: Path, rev: str) -> tuple[str, int] | None:
    """(full sha, committer date) of the commit `rev` names, or None if it names none."""
    if not rev or rev.startswith("-"):
        return None  # never let a value be read as an option
    out = git(root, "show", "-s", "--format=%H %ct", f"{rev}^{{commit}}", "--", check=False).split()
    return (out[0], int(out[1])) if len(out) == 2 and out[1].isdigit() else None


def json_at(root: Path, rev: str, path: str) -> Any:
    """A JSON file as committed at `rev` (parsed strictly), or None if it is not there."""
    data = show_file(root, rev, path)
    return None if data is None else parse_json(data.decode("utf-8"), f"{path}@{rev[:12]}")


def training_code_state(path: Path) -> dict[str, object] | None:
    """Commit and dirty state of the git repo holding `path` (the training code), if any."""
    start = path if path.is_dir() else path.parent
    proc = run_status(start, "rev-parse", "--verify", "--quiet", "HEAD")
    if proc.returncode != 0:
        return None
    dirty = run_status(start, "status", "--porcelain", "--untracked-files=no")
    return {"commit": proc.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def verify_signature(root: Path, kind: str, ref: str) -> bool:
    """True if git accepts the signature of a tag or commit (`git verify-tag/verify-commit`)."""
    return run_status(root, f"verify-{kind}", ref).returncode == 0


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    """True if `ancestor` is `descendant` or in its history."""
    return run_status(root, "merge-base", "--is-ancestor", ancestor, descendant).returncode == 0


def creation_commits(
    root: Path, pattern: str = "artifacts/*/*/*/manifest.json", rev: str | None = None
) -> dict[str, str]:
    """Folder → the commit in `rev`'s history (default HEAD) that added its file matching
    `pattern` (default: a stage folder's manifest.json): one `git log` call."""
    revs = [rev] if rev else []
    out = git(
        root, "log", "--format=commit %H", "--diff-filter=A", "--name-only", *revs, "--", pattern
    )
    created: dict[str, str] = {}
    commit = ""
    for line in out.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.strip():
            created[line.rsplit("/", 1)[0]] = commit  # log is newest first: keep the oldest
    return created


def added_since(root: Path, base: str, pattern: str) -> list[str]:
    """The files matching `pattern` that HEAD adds since its merge base with `base` (what a
    pull request adds): one `git diff base...HEAD`."""
    return git(
        root, "diff", "--name-only", "--diff-filter=A", f"{base}...HEAD", "--", pattern
    ).split()


def pointer_blobs(root: Path, patterns: Sequence[str] = ("*.dvc",)) -> set[tuple[str, str]]:
    """Every (path, blob id) a `.dvc` file (or a file matching `patterns`) has had in any
    commit reachable from any ref (tags, branches, remote branches), and in the index: one
    `git log` and one `git ls-files`.

    `-m` shows merges against each parent, so a pointer only a merge introduced is listed too;
    both sides of a change are kept (the old side is what an older commit references).
    """
    zero = "0" * 40
    found: set[tuple[str, str]] = set()
    out = git(
        root,
        "log",
        "--all",
        "-m",
        "--no-renames",
        "--raw",
        "--no-abbrev",
        "--format=",
        "--",
        *patterns,
    )
    for line in out.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        parts = meta.split()
        for blob in parts[2:4]:
            if blob.strip("0") and blob != zero:
                found.add((path, blob))
    staged = git(root, "ls-files", "--stage", "-z", "--", *patterns)
    for entry in staged.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3:
            found.add((path, parts[1]))
    return found


def changed_files(root: Path, pattern: str) -> list[str]:
    """Work-tree files matching `pattern` that differ from the index (modified or deleted)
    or that git does not track (and does not ignore): what the index does not already say."""
    out = git(root, "ls-files", "-z", "--modified", "--others", "--exclude-standard", "--", pattern)
    return sorted({p for p in out.split("\0") if p})
