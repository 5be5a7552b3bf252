"""Running git, through git's own CLI: the one `import subprocess` for git, the environment
every call gets, how a failure becomes an error, and the facts about a repository every other
piece asks for (its top level, HEAD, branch, configuration, who commits).

Why the CLI and not GitPython's object layer: signing (`commit -S`, `tag -s`) and the one-call
tag listing (`for-each-ref`) only exist in git itself, and spawning git directly keeps read
commands free of GitPython's import cost. Every failure becomes a ToolError naming the command.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from artreg.adapters.git import tagstream
from artreg.adapters.values import check_line, ident_source
from artreg.errors import ArtregError, InputError, LockBusy, RemoteUnavailable, ToolError

GIT_ENV = tagstream.GIT_ENV  # git's output stable, with no pager or prompt, whatever the config


def git(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> str:
    """Run `git -C root args...` and return its stdout; raise ToolError on failure."""
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
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
        raise not_trusted(detail) or ToolError(
            f"git {' '.join(args[:3])} failed in {root}: {detail}"
        )
    return proc.stdout


def not_trusted(detail: str) -> InputError | None:
    """git's refusal of a repository another user owns ("dubious ownership", the
    safe.directory check) as bad input with git's own fix; None for any other failure. Such a
    repository answers nothing, so without this it reads as a network failure or no repository."""
    if "safe.directory" not in detail or not (
        "dubious ownership" in detail or "unsafe repository" in detail  # git >= 2.36, 2.35.2
    ):
        return None
    import re

    command = re.search(r"git config --global --add safe\.directory \S.*", detail)
    where = re.search(
        r"(?:dubious ownership in repository at |unsafe repository \()'([^']+)'", detail
    )
    path = where[1] if where else "the repository"
    fix = command[0].strip() if command else f"git config --global --add safe.directory {path}"
    return InputError(
        f"{path}: git refuses to work in this repository because another user owns it "
        '("dubious ownership")',
        hint=f"if you trust it, run `{fix}` (git's fix), or run as its owner; then run the "
        "command again",
    )


def run_status(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git -C where args...` whose exit status is the answer (no ToolError)."""
    return subprocess.run(
        ["git", "-C", str(where), *args], capture_output=True, text=True, check=False
    )


# A `git` process with pipes, as `batch_process` starts it (the type other pieces annotate with).
Process = subprocess.Popen[bytes]


def run_bytes_in(
    root: Path, *args: str, stdin: bytes | None = None, git_env: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """`git -C root args...` with bytes in and out, whose exit status the caller reads (with
    `git_env`, git's output is kept stable as for every other call)."""
    return subprocess.run(
        ["git", "-C", str(root), *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **GIT_ENV} if git_env else None,
        check=False,
    )


@contextmanager
def batch_process(root: Path) -> Iterator[tuple[Process, IO[bytes]]]:
    """A `git cat-file --batch` process for the repo at `root`, with piped stdin and stdout and
    its stderr in a temporary file; the process is ended and reaped afterwards."""
    import tempfile

    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            ["git", "-C", str(root), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **GIT_ENV},
        )
        try:
            yield proc, stderr
        finally:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.wait()


def toplevel(start: Path) -> Path:
    """The root of the git work tree that contains `start`."""
    start = start if start.is_dir() else start.parent
    found = work_tree(start)
    if found is None:
        raise InputError(
            f"{start}: not inside a git repository",
            hint="artreg init (to make a registry here), or cd into a registry, or pass --repo PATH",
        )
    return found


def head(root: Path) -> str | None:
    """The commit HEAD points at, or None in a repository without commits."""
    out = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    return out or None


def current_branch(root: Path) -> str | None:
    out = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return out or None


# What git prints when it cannot talk to a remote at all, and when a ref lost a race.
_UNREACHABLE = (
    "unable to connect",
    "connection refused",
    "could not resolve host",
    "connection timed out",
    "unable to access",
    "could not read from remote repository",
    "the remote end hung up unexpectedly",
)


def _lock_file(message: str) -> str | None:
    """The lock file git's error names when it refused to write because the file exists."""
    import re

    found = re.search(r"Unable to create '([^']+\.lock)': File exists", message)
    return found[1] if found else None


def unreachable(remote: str, exc: ToolError, hint: str | None = None) -> ArtregError:
    """The error to raise for a failed exchange with `remote`: retryable when it did not answer
    (`hint` replaces the one for a configured git remote)."""
    text = exc.message.lower()
    # git says "could not read from remote repository" also for a remote that does not exist.
    if "does not appear to be a git repository" not in text and any(
        marker in text for marker in _UNREACHABLE
    ):
        return RemoteUnavailable(
            f"git remote {remote} did not answer, so nothing was changed: {exc.message}",
            hint=hint
            or "check the network and the remote's URL (`git remote -v`), then run the command again",
        )
    return exc


def _ident(root: Path, who: str) -> str:
    """'Name <email>' of GIT_AUTHOR_IDENT or GIT_COMMITTER_IDENT, resolved by git as a commit is."""
    proc = subprocess.run(
        ["git", "-C", str(root), "var", f"GIT_{who.upper()}_IDENT"],
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",  # a name that is not UTF-8 is refused below, with its fix
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("fatal: ") if lines else "git var failed"
        raise InputError(
            f"git cannot tell who the {who} of a commit is ({reason}), and every registry change "
            "records who made it",
            hint='run: git config user.name "Your Name" && git config user.email you@example.com '
            "(in CI, set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and "
            "GIT_COMMITTER_EMAIL)",
        )
    # "Name <email> 1700000000 +0000": drop the timestamp and zone; it lands in commit messages.
    return check_line(proc.stdout.strip().rsplit(" ", 2)[0], *ident_source(who))


def identity(root: Path) -> str:
    """'Name <email>' of the next commit's author; an error with the fix when git has none."""
    author = _ident(root, "author")
    _ident(root, "committer")  # `git commit` and `git tag -a` need it too: refuse now, not later
    return author


def version() -> str | None:
    """`git --version`, or None when git is not installed."""
    import shutil

    if shutil.which("git") is None:
        return None
    return run_status(Path.cwd(), "--version").stdout.strip()


def common_dir(repo: Path) -> Path:
    """The git directory a repository (bare or not) keeps its hooks and refs in."""
    proc = run_status(repo, "rev-parse", "--git-common-dir")
    if proc.returncode != 0:
        raise InputError(
            f"{repo} is not a git repository: {proc.stderr.strip()}",
            hint="pass the path of the (bare) git repository that the server serves",
        )
    return (repo / proc.stdout.strip()).resolve()


def config_value(repo: Path, key: str) -> str:
    """A git configuration value as git resolves it (every level), or ''."""
    return run_status(repo, "config", "--get", key).stdout.strip()


def work_tree(start: Path) -> Path | None:
    """The top level of the git work tree holding `start`, or None outside any."""
    proc = run_status(start, "rev-parse", "--show-toplevel")
    refused = not_trusted(proc.stderr) if proc.returncode != 0 else None
    if refused is not None:
        raise refused
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def ref_exists(root: Path, ref: str) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip())


def run_bytes(args: Sequence[str], *, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    """Run git with `args`; return stdout as bytes, raise ToolError with git's message."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        input=stdin,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise not_trusted(detail) or ToolError(
            f"git {' '.join(a for a in args[:3] if not a.startswith('-c'))} failed: {detail}"
        )
    return proc.stdout


def remote_error(url: str, exc: ToolError) -> ArtregError:
    """A failed exchange with a registry URL: bad input if there is no repository there, else
    retryable if it did not answer."""
    stale = _lock_file(exc.message)
    if stale is not None:  # the consumer's own repository, not the registry: say which file
        return LockBusy(
            f"{stale}: git found its lock file there and wrote nothing, so nothing was changed "
            f"(reading {url})",
            hint="if no git process is working there (one killed mid-fetch leaves it), delete "
            "that file; then run the command again",
        )
    text = exc.message.lower()
    missing = ("does not appear to be a git repository", "repository not found", "not found")
    up = (
        f"check that the server of {url} is up and accepts connections on that host and port, "
        "and the network; then run the command again"
    )
    found = exc if any(m in text for m in missing) else unreachable(url, exc, up)
    if found is not exc:
        return found
    return InputError(
        f"{url}: not a git repository that can be read ({exc.message})",
        hint="check the registry URL: a path to a repository, file://, ssh:// or https://",
    )
