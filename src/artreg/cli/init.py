"""`artreg init`: make a git repository (or a new folder) a registry."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option
from artreg.present import text as fmt
from artreg.services import init as feature


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False))
@click.option(
    "--remote",
    metavar="URL",
    help="DVC remote URL (default: a git-ignored local folder), e.g. s3://bucket/prefix.",
)
@click.option(
    "--ci",
    type=click.Choice(["github", "gitlab"]),
    help="Also write CI workflows (GitHub Actions or .gitlab-ci.yml), a PR/MR template and a "
    "pre-commit hook.",
)
@click.option(
    "--server-hook",
    "server_hook",
    type=click.Path(file_okay=False),
    help="Install a tag-protecting update hook into this bare origin.",
)
@click.option(
    "--name",
    help="Default artifact name, recorded in params.yaml (default: from the folder's name).",
)
@json_option
def init(
    path: str,
    remote: str | None,
    ci: str | None,
    server_hook: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Make a git repository (or a new folder) a registry. Idempotent.

    Example: artreg init my-registry --remote s3://models/registry --ci github
    """
    if server_hook:
        hook = feature.install_server_hook(Path(server_hook))
        Output(as_json).emit(
            {"hook": str(hook)},
            f"installed {hook}: registry tags can no longer be moved or deleted",
        )
        return
    result = feature.init_registry(Path(path), remote=remote, ci=ci, name=name)
    Output(as_json).emit(fmt.init_json(result), fmt.init_text(result))
