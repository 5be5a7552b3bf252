"""Commands that read a name's history: `history`, `log`, `lineage`, `diff`."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, repo_option, warn
from artreg.cli.read_options import lock_option, registry_source, source_options
from artreg.present import queries, rights
from artreg.services.history import history as intervals
from artreg.services.queries import diff
from artreg.services.queries import history as events_of
from artreg.services.queries import lineage as build


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
    source = registry_source(repo_path, lock=lock_path)
    root = source.history_root(name)
    warn(source.notes)  # offline: as of when the cache last read it
    spans = intervals(root, name, stage)
    Output(as_json).emit(queries.intervals_json(spans), queries.intervals_text(name, spans, stage))


@main.command()
@click.argument("name")
@source_options
@json_option
def log(name: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Every event of NAME (registration, promotion, deprecation, unassignment), newest first.

    Example: artreg log encoder
    """
    source = registry_source(repo_path, lock=lock_path)
    events = events_of(source.history_root(name), name)
    warn(source.notes)  # offline: as of when the cache last read it
    Output(as_json).emit(queries.history_json(events), queries.history_text(events))


@main.command()
@click.argument("spec")
@source_options
@json_option
def lineage(spec: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """The chain release ← validated ← raw ← training code, with gates, hashes, who and when.

    Example: artreg lineage encoder@v1.2.0
    """
    root = registry_source(repo_path, lock=lock_path).history_root(None, files=True)
    Output(as_json).emit(*rights.lineage_views(root, build(root, spec)))


@main.command(name="diff")
@click.argument("a")
@click.argument("b")
@source_options
@json_option
def diff_(a: str, b: str, repo_path: str | None, lock_path: str | None, as_json: bool) -> None:
    """Compare two artifacts: metric deltas, model hashes, changed files, sources.

    Example: artreg diff encoder@v1.0.0 encoder#validated
    """
    data = diff(registry_source(repo_path, lock=lock_path).history_root(None, files=True), a, b)
    Output(as_json).emit(queries.diff_json(data), queries.diff_text(data))
