"""The `artreg` console script: `artreg list` starts git reading every tag before the CLI is
imported (see `artreg.adapters.git.tagstream`); every command then runs as `artreg.cli.main`."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Sequence

from artreg.adapters.git import tagstream

TYPE_CHECKING = False  # not typing's: see tagstream (git starts before typing is imported)
if TYPE_CHECKING:
    from typing import NoReturn


def main() -> None:
    """Run the CLI, with the tag listing already under way when the command is `list`."""
    folder = _listing_folder(sys.argv[1:])
    if folder is None:
        from artreg.cli import main as cli_main

        cli_main()
        return
    tagstream.start_all_tags(folder)
    # A listing builds tens of thousands of objects that live until the process ends and form
    # no garbage cycles: the cyclic collector would only walk them again and again (a tenth of
    # `artreg list` at 10,000 tags), and once more at exit.
    gc.disable()
    from artreg.cli import main as cli_main

    try:
        cli_main()
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    _leave(code)


def _exit_status(code: object) -> int:
    """The status `sys.exit(code)` ends a process with (a message is printed, then 1)."""
    if code is None or isinstance(code, int):
        return code or 0
    sys.stderr.write(f"{code}\n")
    return 1


def _leave(code: int) -> NoReturn:
    """End the process once its output is out, without the interpreter's teardown: freeing
    every module object by object costs 13 ms at the end of a 200 ms listing, for memory the
    operating system takes back at once. Exit handlers still run."""
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        code = code or 120  # what the interpreter answers when it cannot flush at exit
    os._exit(code)


def _listing_folder(argv: Sequence[str]) -> str | None:
    """Where `artreg list` will most likely find its registry (`--repo`, else the current
    folder), or None for any other command. A guess only: the listing uses the process only
    if the registry the CLI then locates is that folder."""
    if not argv or argv[0] != "list" or any(a.startswith("--as-of") for a in argv):
        return None
    for i, arg in enumerate(argv):
        if arg == "--repo":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg.startswith("--repo="):
            return arg.removeprefix("--repo=")
    return os.getcwd()
