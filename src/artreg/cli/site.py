"""`artreg site`: a registry as a static web site."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, no_fetch_option, repo_option
from artreg.cli.read_options import lock_option, registry_source
from artreg.present import consumer
from artreg.present.site.build import build_site


@main.command()
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the site into (new, empty, or a site artreg wrote before).",
)
@repo_option
@lock_option
@no_fetch_option
@json_option
def site(out_dir: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Write the registry (a clone, or a registry URL) as a static web site: every name, stage,
    release and its history.

    It works from file://, any static server, a sub-path and GitHub Pages, and loads nothing
    from elsewhere. params.yaml may set site.title, site.url (commit links), site.metric.

    Example: artreg site -o _site && python -m http.server -d _site
    """
    # The site reads committed files only: a clone's own repository, or a URL's cache
    # repository with the history and committed files fetched (as lineage and diff read).
    root = registry_source(repo_path, lock=lock_path).history_root(None, files=True)
    built = build_site(root, Path(out_dir))
    Output(as_json).emit(consumer.site_json(built), consumer.site_text(built))
