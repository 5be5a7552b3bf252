"""`artreg recover`: repair what an interrupted artreg command left behind."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import registry_root, repo_option, wait_option
from artreg.present import text as fmt
from artreg.publishing.transaction import recover as run


@main.command()
@wait_option
@repo_option
def recover(wait: float, repo_path: str | None) -> None:
    """Repair what an interrupted artreg command left behind: finish its tags or roll it back.

    Example: artreg recover && artreg verify
    """
    root = registry_root(repo_path, history=False)
    click.echo(fmt.written(root, None, run(root, wait=wait))[1])
