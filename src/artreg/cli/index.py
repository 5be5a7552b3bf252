"""`artreg index`: regenerate or check artifacts/registry.json."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import no_fetch_option, registry_root, repo_option
from artreg.present import text as fmt
from artreg.publishing import index as registry_index
from artreg.registry.layout import REGISTRY_JSON


@main.command()
@click.option(
    "--check", is_flag=True, help="Exit 1 if artifacts/registry.json is out of date; write nothing."
)
@repo_option
@no_fetch_option
def index(check: bool, repo_path: str | None) -> None:
    """Regenerate artifacts/registry.json from the tags and folders (or check it).

    Example: artreg index --check
    """
    root = registry_root(repo_path)
    if check:
        registry_index.check(root)
        click.echo(f"{REGISTRY_JSON} is up to date")
        return
    if registry_index.regenerate(root):
        click.echo(fmt.written(root, None, f"wrote {REGISTRY_JSON} (commit it)")[1])
    else:
        click.echo(f"{REGISTRY_JSON} is up to date (as committed): nothing to commit")
