"""The handful of git operations artreg needs, through git's own CLI.

Why the CLI and not GitPython's object layer: signing (`commit -S`, `tag -s`) and the one-call
tag listing (`for-each-ref`) only exist in git itself, and spawning git directly keeps read
commands free of GitPython's import cost. Every failure becomes a ToolError naming the command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from artreg.errors import ArtregError, InputError, RemoteUnavailable, ToolError
from artreg.tags import FOR_EACH_REF_FORMAT, TagRecord, parse_for_each_ref

# Keep git's output stable and free of pagers and prompts, whatever the user's configuration.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}


def git(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> str:
    """Run `git -C root args...` and return its stdout; raise ToolError on failure."""
    full_env = {**os.environ, **_GIT_ENV, **(env or {})}
    proc = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        check=False,
    )
    if check and proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip()
        raise ToolError(f"git {' '.join(args[:3])} failed in {root}: {detail}")
    return proc.stdout


def toplevel(start: Path) -> Path:
    """The root of the git work tree that contains `start`."""
    start = start if start.is_dir() else start.parent
    proc = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(
            f"{start}: not inside a git repository",
            hint="run `artreg init` to make a registry here, or cd into one",
        )
    return Path(proc.stdout.strip())


def head(root: Path) -> str | None:
    """The commit HEAD points at, or None in a repository without commits."""
    out = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    return out or None


def current_branch(root: Path) -> str | None:
    out = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return out or None


def list_tags(root: Path, names: Sequence[str] | None = None) -> list[TagRecord]:
    """Every registry tag (or only those of `names`) with its target commit, date, tagger and
    message: one git call. Limiting to names spares git reading thousands of tag objects."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    out = git(root, "for-each-ref", f"--format={FOR_EACH_REF_FORMAT}", *patterns)
    return parse_for_each_ref(out)


def remote_tags(root: Path, remote: str, tags: Sequence[str]) -> dict[str, str]:
    """Which of `tags` exist on `remote`, with the commit each points at (one `ls-remote`)."""
    if not tags:
        return {}
    patterns = [f"refs/tags/{t}{peel}" for t in tags for peel in ("", "^{}")]
    out = git(root, "ls-remote", "--tags", remote, *patterns, check=False)
    found: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        tag = ref.removeprefix("refs/tags/")
        if tag.endswith("^{}"):
            found[tag[:-3]] = sha  # the peeled commit wins over the tag object
        else:
            found.setdefault(tag, sha)
    return found


# What git prints when it cannot talk to a remote at all (as opposed to a refusal).
_UNREACHABLE = (
    "unable to connect",
    "connection refused",
    "could not resolve host",
    "connection timed out",
    "unable to access",
    "could not read from remote repository",
    "the remote end hung up unexpectedly",
)


def unreachable(remote: str, exc: ToolError) -> ArtregError:
    """The error to raise for a failed exchange with `remote`: retryable when it did not answer."""
    if any(marker in exc.message.lower() for marker in _UNREACHABLE):
        return RemoteUnavailable(
            f"git remote {remote} did not answer, so nothing was changed: {exc.message}",
            hint="check the network and the remote's URL (`git remote -v`), then run the command again",
        )
    return exc


def status(root: Path, paths: Sequence[str] = ()) -> str:
    """`git status --porcelain` (optionally limited to paths), for before/after comparisons."""
    args = ["status", "--porcelain=v1", "--untracked-files=all"]
    return git(root, *args, "--", *paths) if paths else git(root, *args)


def add(root: Path, paths: Sequence[str], force: bool = False) -> None:
    if paths:
        git(root, "add", *(["--force"] if force else []), "--", *paths)


def commit(
    root: Path, message: str, paths: Sequence[str], sign: bool = False, allow_empty: bool = False
) -> str:
    """Commit exactly `paths` (other staged changes stay staged) and return the new commit."""
    args = ["commit", "--quiet", "--no-verify", "-m", message]
    if sign:
        args.append("-S")
    if allow_empty:
        args.append("--allow-empty")
    if head(root) is None:
        # `--only` needs a parent; the first commit of a repo takes the index as it is.
        git(root, *args)
    else:
        git(root, *args, "--only", "--", *paths)
    sha = head(root)
    assert sha is not None
    return sha


def create_tag(
    root: Path, tag: str, commit: str, message: str, timestamp: int, sign: bool = False
) -> None:
    """Create an annotated (or signed) tag dated `timestamp`, so tag order is never a tie."""
    env = {"GIT_COMMITTER_DATE": f"{timestamp} +0000"}
    git(root, "tag", "-s" if sign else "-a", "-m", message, tag, commit, env=env)


def delete_tags(root: Path, tags: Sequence[str]) -> None:
    for tag in tags:
        git(root, "tag", "-d", tag, check=False)


def tag_exists(root: Path, tag: str) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False))


def show_file(root: Path, rev: str, path: str) -> bytes | None:
    """A file's bytes at a revision, or None if it does not exist there."""
    proc = subprocess.run(
        ["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


class BatchReader:
    """Many files at many revisions through one `git cat-file --batch` process.

    `read` writes every request from a second thread while this one reads the answers, so
    neither pipe fills up and blocks the other however many files are asked for.
    """

    def __init__(self, root: Path, proc: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
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
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            ["git", "-C", str(root), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **_GIT_ENV},
        )
        try:
            yield BatchReader(root, proc, stderr)
        finally:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.wait()


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
    from artreg.documents import parse_json

    data = show_file(root, rev, path)
    return None if data is None else parse_json(data.decode("utf-8"), f"{path}@{rev[:12]}")


def identity(root: Path) -> str:
    """'Name <email>' of the configured git user, or a clear error telling how to set it."""
    name = git(root, "config", "user.name", check=False).strip()
    email = git(root, "config", "user.email", check=False).strip()
    if not name or not email:
        raise InputError(
            "git has no user identity configured, and every registry change records who made it",
            hint='run: git config user.name "Your Name" && git config user.email you@example.com',
        )
    return f"{name} <{email}>"


def reset_paths(root: Path, rev: str | None, paths: Sequence[str]) -> None:
    """Make the index entries of `paths` match `rev` (or remove them when there is no rev)."""
    if not paths:
        return
    if rev is None:
        git(root, "rm", "--cached", "--quiet", "-r", "--ignore-unmatch", "--", *paths, check=False)
    else:
        git(root, "reset", "--quiet", rev, "--", *paths, check=False)


def move_head(root: Path, rev: str) -> None:
    """Point the current branch back at `rev`, leaving index and work tree alone."""
    git(root, "update-ref", "-m", "artreg: roll back", "HEAD", rev)


def training_code_state(path: Path) -> dict[str, object] | None:
    """Commit and dirty state of the git repo holding `path` (the training code), if any."""
    start = path if path.is_dir() else path.parent
    proc = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--verify", "--quiet", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(start), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {"commit": proc.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def verify_signature(root: Path, kind: str, ref: str) -> bool:
    """True if git accepts the signature of a tag or commit (`git verify-tag/verify-commit`)."""
    return (
        subprocess.run(
            ["git", "-C", str(root), f"verify-{kind}", ref], capture_output=True, check=False
        ).returncode
        == 0
    )


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    """True if `ancestor` is `descendant` or in its history."""
    return (
        subprocess.run(
            ["git", "-C", str(root), "merge-base", "--is-ancestor", ancestor, descendant],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
