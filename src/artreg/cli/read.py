"""Read commands that answer from a registry source: `list`, `show`, `resolve`."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import Output, fetching, json_option, no_fetch_option, warn
from artreg.cli.read_options import (
    accept_moved_tag_option,
    entry_rendered,
    lock_option,
    registry_source,
    served_json,
    source_options,
    stage_options,
)
from artreg.present import queries
from artreg.reading.resolve import target
from artreg.registry.tags import parse_spec
from artreg.sources.base import ServeOptions


@main.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include deprecated artifacts.")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE|COMMIT",
    help="Answer from the tags that existed then: YYYY-MM-DD (end of day, UTC), an ISO 8601 time, or a commit (its date).",
)
@source_options
@json_option
def list_(
    show_all: bool, as_of: str | None, repo_path: str | None, lock_path: str | None, as_json: bool
) -> None:
    """List every artifact with its latest version and what each stage holds (like gto show).

    Example: artreg list --json

    Example: artreg list --as-of 2024-05-01
    """
    listing = registry_source(repo_path, history=False, lock=lock_path).overview(
        deprecated=show_all, as_of=as_of
    )
    for note in listing.notes:
        click.echo(f"artreg: note: {note}", err=True)
    data = listing.data
    text = listing.heading + queries.overview_text(data) + listing.suffix
    Output(as_json).emit(queries.overview_json(data), text)


@main.command()
@click.argument("spec")
@source_options
@json_option
def show(spec: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Show one artifact: NAME (every stage), NAME@vX.Y.Z or NAME#STAGE (one entry).

    Example: artreg show encoder#production
    """
    name, stage, version = parse_spec(spec, any_stage=True)
    source = registry_source(repo_path, lock=lock_path)
    if stage is None and version is None:
        data = source.show(name)
        warn(source.notes)
        Output(as_json).emit(queries.overview_json({name: data}), queries.artifact_text(data))
        return
    entry = source.entry(name, stage, version)
    warn(source.notes)
    info, text = entry_rendered(entry)
    if entry.deprecated:  # its history is shown; get, pull and resolve refuse it (GTO's rule)
        info["deprecated"] = entry.deprecated
        text += f"\ndeprecated: {name} (tag {entry.deprecated}); get, pull and resolve refuse it"
    if entry.deregistered:  # likewise for a deregistered version
        info["deregistered"] = entry.deregistered
        text += (
            f"\nderegistered: {spec} (tag {entry.deregistered}); get, pull and resolve refuse it"
        )
    Output(as_json).emit(info, text)


@main.command()
@click.argument("name")
@stage_options
@lock_option
@no_fetch_option
@click.option(
    "--no-verify",
    is_flag=True,
    help="Print the path without hashing the files (in a clone; a URL's cached files are always checked).",
)
@accept_moved_tag_option
@json_option
def resolve(
    name: str,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    lock_path: str | None,
    no_verify: bool,
    accept_moved_tag: bool,
    as_json: bool,
) -> None:
    """Print the local path of NAME's model (latest production by default), verified.

    NAME may also be NAME@vX.Y.Z or NAME#STAGE.

    Example: artreg resolve encoder --stage validated
    """
    name, stage, version = target(name, stage, version)
    options = ServeOptions(
        pull=fetching() and not no_verify,
        check=not no_verify,
        full=True,
        records=False,
        accept_moved_tag=accept_moved_tag,
    )
    source = registry_source(repo_path, lock=lock_path)
    served = source.serve(name, stage, version, options=options)[name]
    warn(source.notes)
    Output(as_json).emit(served_json(served), str(served.path))
