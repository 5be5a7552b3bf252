"""`artreg gc`: drop the DVC objects the retention policy no longer keeps."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, registry_root, repo_option, wait_option
from artreg.present import consumer
from artreg.services.retention import gc as run


@main.command()
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Mark: commit the tombstones (artifacts/retired.json) of newly dropped folders; "
    "sweep: delete the objects marked at least the grace period ago that no ref of any git "
    "remote (fetched first) references.",
)
@click.option(
    "-r", "--remote", help="The DVC remote to delete from (default: the registry's default)."
)
@click.option(
    "--grace-hours",
    type=click.IntRange(min=0, max=87600),  # 10 years, as params.schema.json bounds it
    help="Hours between mark and sweep, for this run (default: retention.grace_hours in "
    "params.yaml, else 24); 0 sweeps what it marks at once, at most 87600 (10 years).",
)
@wait_option
@repo_option
@json_option
def gc(
    apply_: bool,
    remote: str | None,
    grace_hours: int | None,
    wait: float,
    repo_path: str | None,
    as_json: bool,
) -> None:
    """Drop DVC objects the retention policy in params.yaml no longer keeps (dry run by default).

    Example: artreg gc --apply --remote storage
    """
    root = registry_root(repo_path)
    result = run(root, apply=apply_, remote=remote, wait=wait, grace_hours=grace_hours)
    Output(as_json).emit(consumer.gc_json(result), consumer.gc_text(result))
