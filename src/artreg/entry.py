"""The `artreg` console script: `artreg list` starts git reading every tag before the CLI is
imported (see `artreg.tagstream`); every command then runs as `artreg.cli.main`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from artreg import tagstream


def main() -> None:
    """Run the CLI, with the tag listing already under way when the command is `list`."""
    folder = _listing_folder(sys.argv[1:])
    if folder is not None:
        tagstream.start_all_tags(folder)
    from artreg.cli import main as cli_main

    cli_main()


def _listing_folder(argv: Sequence[str]) -> Path | None:
    """Where `artreg list` will most likely find its registry (`--repo`, else the current
    folder), or None for any other command. A guess only: the listing uses the process only
    if the registry the CLI then locates is that folder."""
    if not argv or argv[0] != "list" or any(a.startswith("--as-of") for a in argv):
        return None
    for i, arg in enumerate(argv):
        if arg == "--repo":
            return Path(argv[i + 1]) if i + 1 < len(argv) else None
        if arg.startswith("--repo="):
            return Path(arg.removeprefix("--repo="))
    return Path.cwd()
