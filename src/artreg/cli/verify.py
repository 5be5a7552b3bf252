"""`artreg verify`: check a whole registry (a clone), or what the consumer cache holds of a
URL or a lock file."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import Output, fetching, json_option, no_fetch_option, repo_option
from artreg.cli.read_options import lock_option, registry_source
from artreg.errors import VerificationFailed
from artreg.present import text as fmt
from artreg.services.verify.source import verify as verify_source


@main.command()
@click.option(
    "--remote",
    "check_remote",
    is_flag=True,
    help="Also check that every DVC object is in the remote.",
)
@click.option("-r", "--remote-name", help="Which DVC remote to check (default: the registry's).")
@click.option(
    "--signed",
    is_flag=True,
    help="Also require valid signatures on every registry tag and its commit.",
)
@click.option(
    "--changed", is_flag=True, help="Only check the stage folders holding FILES (for pre-commit)."
)
@click.option(
    "--base",
    metavar="REF",
    help="Branch a pull request merges into, checked for the same promotions "
    "(default: the default branch, on origin when fetched).",
)
@click.option("--fetch", "fetch_all", is_flag=True, help="Also fetch the data this clone lacks.")
@click.argument("files", nargs=-1)
@repo_option
@lock_option
@no_fetch_option
@json_option
def verify(
    check_remote: bool,
    remote_name: str | None,
    signed: bool,
    changed: bool,
    base: str | None,
    fetch_all: bool,
    files: tuple[str, ...],
    repo_path: str | None,
    lock_path: str | None,
    as_json: bool,
) -> None:
    """Check the whole registry; exit 1 with a precise list when anything is wrong. Folders
    whose data this clone lacks are listed with the command that fetches them, or --fetch.

    Example: artreg verify --remote
    """
    if fetch_all and not fetching():
        raise click.UsageError("--fetch and --no-fetch contradict each other")
    source = registry_source(repo_path, lock=lock_path)
    report = verify_source(
        source, remote=check_remote, remote_name=remote_name, signed=signed, base=base,
        changed=changed, files=files, fetch=fetch_all,
    )  # fmt: skip
    root = source.root or source.label
    if report.problems:
        if as_json:
            click.echo(fmt.to_json(fmt.verify_json(report)))
        raise VerificationFailed(f"{len(report.problems)} problem(s) in {root}", report.problems)
    Output(as_json).emit(fmt.verify_json(report), fmt.verified_text(report))
