"""`artreg demo`: a demonstration registry with the lifecycle run in it."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.cli.group import main
from artreg.demo import run_demo


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option(
    "--epochs", type=int, default=4, show_default=True, help="Epochs to train the tiny demo model."
)
def demo(directory: str | None, epochs: int) -> None:
    """Build a demonstration registry and run the lifecycle in it; prints what was recorded.

    Example: artreg demo /tmp/artreg-demo
    """
    run_demo(Path(directory) if directory else None, epochs=epochs, echo=click.echo)
