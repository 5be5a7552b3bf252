"""Read commands: `list`, `show`, `resolve`, `history`, `log`, `lineage`, `diff`."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import (
    Output,
    accept_moved_tag_option,
    entry_rendered,
    fetching,
    json_option,
    lock_option,
    no_fetch_option,
    registry_source,
    repo_option,
    served_json,
    source_options,
    stage_options,
)
from artreg.present import queries


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
@click.argument("name")
@click.option(
    "--stage",
    help="Only this stage: raw, validated, production or an extra stage (default: every stage).",
)
@repo_option
@lock_option
@json_option
def history(
    name: str, stage: str | None, repo_path: str | None, lock_path: str | None, as_json: bool
) -> None:
    """Which version held each stage of NAME, from when until when, put there by whom, through
    which commit and pull request.

    Example: artreg history encoder --stage production
    """
    from artreg.services.history import history as intervals

    root = registry_source(repo_path, lock=lock_path).history_root(name)
    spans = intervals(root, name, stage)
    Output(as_json).emit(queries.intervals_json(spans), queries.intervals_text(name, spans, stage))


@main.command()
@click.argument("spec")
@source_options
@json_option
def show(spec: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Show one artifact: NAME (every stage), NAME@vX.Y.Z or NAME#STAGE (one entry).

    Example: artreg show encoder#production
    """
    from artreg.registry.tags import parse_spec

    name, stage, version = parse_spec(spec, any_stage=True)
    source = registry_source(repo_path, lock=lock_path)
    if stage is None and version is None:
        data = source.show(name)
        Output(as_json).emit(queries.overview_json({name: data}), queries.artifact_text(data))
        return
    entry = source.entry(name, stage, version)
    info, text = entry_rendered(entry)
    if entry.deprecated:  # its history is shown; get, pull and resolve refuse it (GTO's rule)
        info["deprecated"] = entry.deprecated
        text += f"\ndeprecated: {name} (tag {entry.deprecated}); get, pull and resolve refuse it"
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
    from artreg.reading.resolve import target
    from artreg.sources.base import ServeOptions

    name, stage, version = target(name, stage, version)
    options = ServeOptions(
        pull=fetching() and not no_verify,
        check=not no_verify,
        full=True,
        records=False,
        accept_moved_tag=accept_moved_tag,
    )
    served = registry_source(repo_path, lock=lock_path).serve(
        name, stage, version, options=options
    )[name]
    Output(as_json).emit(served_json(served), str(served.path))


@main.command()
@click.argument("name")
@source_options
@json_option
def log(name: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Every event of NAME (registration, promotion, deprecation, unassignment), newest first.

    Example: artreg log encoder
    """
    from artreg.services.queries import history

    events = history(registry_source(repo_path, lock=lock_path).history_root(name), name)
    Output(as_json).emit(queries.history_json(events), queries.history_text(events))


@main.command()
@click.argument("spec")
@source_options
@json_option
def lineage(spec: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """The chain release ← validated ← raw ← training code, with gates, hashes, who and when.

    Example: artreg lineage encoder@v1.2.0
    """
    from artreg.services.queries import lineage as build

    root = registry_source(repo_path, lock=lock_path).history_root(None, files=True)
    Output(as_json).emit(*queries.lineage_views(root, build(root, spec)))


@main.command(name="diff")
@click.argument("a")
@click.argument("b")
@source_options
@json_option
def diff_(a: str, b: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Compare two artifacts: metric deltas, model hashes, changed files, sources.

    Example: artreg diff encoder@v1.0.0 encoder#validated
    """
    from artreg.services.queries import diff

    data = diff(registry_source(repo_path, lock=lock_path).history_root(None, files=True), a, b)
    Output(as_json).emit(queries.diff_json(data), queries.diff_text(data))
