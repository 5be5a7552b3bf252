"""The one `git for-each-ref` that reads every tag, and starting it before the CLI's imports.

At 10,000 tags git spends about 60 ms reading tag objects, and Python about as long importing
the CLI. `artreg list` reads every tag, so the console script (`artreg.entry`) starts git here
first and the two overlap; the read model later `take`s that process when it asks for exactly
the same listing of exactly the same repository, and otherwise the process is stopped. This
module imports only what starting a process needs, so that it runs before anything heavy.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence

# Not `typing.TYPE_CHECKING`: importing typing (or pathlib) here would delay git's start by
# the 10 ms this module exists to save. Type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike

    Folder = str | PathLike[str]

# Keep git's output stable and free of pagers and prompts, whatever the user's configuration.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}

# `%00` and `%1e` are for-each-ref's hex escapes: NUL between fields (never in a ref name or a
# tagger line), ASCII record separator between tags (so multi-line messages stay whole).
FOR_EACH_REF_FORMAT = "%1e" + "%00".join(
    [
        "%(objecttype)",
        "%(refname:strip=2)",
        "%(objectname)",
        "%(object)",  # the tagged object, from the tag alone (`%(*objectname)` reads it too)
        "%(creatordate:unix)",
        "%(taggername)",
        "%(taggeremail:trim)",
        "%(contents)",
    ]
)

_started: tuple[str, list[str], Listing] | None = None


def args(fmt: str, names: Sequence[str] | None) -> list[str]:
    """git's arguments for the tags of artifact `names` (all tags when None)."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    return ["for-each-ref", f"--format={fmt}", *patterns]


class Listing:
    """`git -C ROOT ARGS` running, its output on a pipe and its errors dropped (the caller asks
    again for git's message). Started with posix_spawn: importing subprocess first would
    delay git by 5 ms, on the path this module exists to shorten."""

    def __init__(self, root: Folder, git_args: Sequence[str]) -> None:
        read, write = os.pipe()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            self.pid = os.posix_spawnp(
                "git",
                ["git", "-C", os.fspath(root), *git_args],
                {**os.environ, **GIT_ENV},
                file_actions=[(os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)],
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
            os.close(devnull)
        self.fd: int | None = read
        self.returncode: int | None = None

    def printing(self) -> bool:
        """True once git has printed something (or ended)."""
        import select

        return self.fd is None or bool(select.select([self.fd], [], [], 0)[0])

    def read_text(self) -> str:
        """All git prints, decoded as subprocess's text mode decodes (the locale's encoding,
        universal newlines), once git has ended (`returncode` is then set)."""
        import io

        assert self.fd is not None
        fd, self.fd = self.fd, None
        with io.TextIOWrapper(io.FileIO(fd, closefd=True), newline=None) as reader:
            text = reader.read()
        self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return text

    def close(self) -> None:
        """Stop git if it still runs, and let go of the pipe."""
        if self.returncode is None:
            import signal

            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.returncode = -signal.SIGKILL
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def start_all_tags(root: Folder) -> None:
    """Start listing every tag of the repository at `root` (the folder the registry will be
    found at, when the command names it or runs in it); `take` hands the process over. Where
    git or posix_spawn is missing nothing starts, and the listing runs git the usual way."""
    global _started
    if _started is None and hasattr(os, "posix_spawnp"):
        if not os.path.exists(os.path.join(root, ".git")):
            return
        git_args = args(FOR_EACH_REF_FORMAT, None)
        try:
            listing = Listing(root, git_args)
        except OSError:
            return
        _started = (os.path.realpath(root), git_args, listing)
        atexit.register(_stop)


def take(root: Folder, git_args: Sequence[str]) -> Listing | None:
    """The process started for exactly this listing of this repository, once; else None (and
    a process started for anything else is stopped: its answer is not what was asked)."""
    global _started
    if _started is None:
        return None
    where, started_args, listing = _started
    _started = None
    if where == os.path.realpath(root) and started_args == list(git_args):
        return listing
    listing.close()
    return None


def _stop() -> None:
    global _started
    if _started is not None:
        _started[2].close()
        _started = None
