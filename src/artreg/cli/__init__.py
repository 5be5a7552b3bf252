"""The `artreg` command line, one module per command family: each command parses its
options, calls one core function and hands the result to `artreg.present`. It may import
every layer below it; nothing imports it but `artreg.entry`. A command's module is
imported only when that command runs (`artreg.cli.group.COMMANDS`)."""

from artreg.cli.group import main

__all__ = ["main"]
