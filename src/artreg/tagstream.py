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
import subprocess
from collections.abc import Sequence
from pathlib import Path

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

_started: tuple[Path, list[str], subprocess.Popen[bytes]] | None = None


def args(fmt: str, names: Sequence[str] | None) -> list[str]:
    """git's arguments for the tags of artifact `names` (all tags when None)."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    return ["for-each-ref", f"--format={fmt}", *patterns]


def popen(root: Path, git_args: Sequence[str]) -> subprocess.Popen[bytes]:
    """`git -C root ARGS` with its output on a pipe (errors are asked again by the caller)."""
    return subprocess.Popen(
        ["git", "-C", str(root), *git_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **GIT_ENV},
    )


def start_all_tags(root: Path) -> None:
    """Start listing every tag of the repository at `root` (the folder the registry will be
    found at, when the command names it or runs in it); `take` hands the process over."""
    global _started
    if _started is None and (root / ".git").exists():
        git_args = args(FOR_EACH_REF_FORMAT, None)
        _started = (root.resolve(), git_args, popen(root, git_args))
        atexit.register(_stop)


def take(root: Path, git_args: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """The process started for exactly this listing of this repository, once; else None (and
    a process started for anything else is stopped: its answer is not what was asked)."""
    global _started
    if _started is None:
        return None
    where, started_args, proc = _started
    _started = None
    if where == root.resolve() and started_args == list(git_args):
        return proc
    _kill(proc)
    return None


def _stop() -> None:
    global _started
    if _started is not None:
        _kill(_started[2])
        _started = None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
