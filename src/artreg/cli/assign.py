"""Commands that move a released version between stages without copying it: `assign` (into an
extra stage declared in params.yaml) and `rollback` (production back to an earlier release)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, registry_root, repo_option, wait_option
from artreg.present import text as fmt
from artreg.publishing import gatetable
from artreg.publishing.publish import PublishOptions
from artreg.services.assign import Assigned
from artreg.services.assign import assign as assign_version
from artreg.services.assign import rollback as roll_back

sign_option = click.option(
    "--sign", is_flag=True, help="Sign the commit and the tag with your git signing key."
)
branch_option = click.option(
    "--branch",
    help="Pull-request mode: commit a request for it on this new branch; `artreg tag` makes "
    "the tag after the merge.",
)
approved_option = click.option(
    "--approved-by",
    help="Who approved it, where params.yaml's rights.<stage>.approvers asks (or "
    "ARTREG_APPROVED_BY).",
)


def _text(done: Assigned) -> str:
    was = f" (was v{done.replaced})" if done.replaced else ""
    if done.branch:
        return (
            f"{done.name} {done.stage}: v{done.version}{was} requested on branch {done.branch} "
            f"({done.request}, commit {done.commit[:12]}); `artreg tag` tags it after the merge"
        )
    lines = [
        f"{done.name} {done.stage}: v{done.version}{was}, content {done.folder}",
        f"tag {done.tag} on {done.target[:12]}; registry.json refreshed in {done.commit[:12]}",
    ]
    if done.reason:
        lines.append(f"reason: {done.reason} (by {done.by})")
    if done.approved_by:
        lines.append(f"approved by {done.approved_by}")
    if done.gates:
        lines += ["", gatetable.gate_table(done.gates)]
    return "\n".join(lines)


def assignment_options(f: Callable[..., Assigned]) -> Callable[..., None]:
    """The options `assign` and `rollback` share (--approved-by, --branch, --sign, --wait,
    --repo, --json), and what both do around their service: find the registry, call `f` with
    it, `approved_by` and the PublishOptions, and print what was written."""

    @functools.wraps(f)
    def command(
        *args: Any,
        approved_by: str | None,
        branch: str | None,
        sign: bool,
        wait: float,
        repo_path: str | None,
        as_json: bool,
        **kwargs: Any,
    ) -> None:
        root = registry_root(repo_path)
        options = PublishOptions(sign=sign, wait=wait, branch=branch)
        done = f(root, *args, approved_by=approved_by, options=options, **kwargs)
        Output(as_json).emit(*fmt.written(root, done.as_dict(), _text(done)))

    for option in reversed(
        [approved_option, branch_option, sign_option, wait_option, repo_option, json_option]
    ):
        command = option(command)
    return command


@main.command()
@click.argument("spec")
@click.argument("stage")
@click.option(
    "--results",
    type=click.Path(dir_okay=False, exists=True),
    help="A JSON file of metrics for the stage's gates, over those the release recorded.",
)
@assignment_options
def assign(
    root: Path,
    spec: str,
    stage: str,
    results: str | None,
    *,
    approved_by: str | None,
    options: PublishOptions,
) -> Assigned:
    """Assign a released version to an extra stage declared under `stages:` in params.yaml
    (a GTO tag NAME#STAGE#N on the version's commit; no folder is copied).

    Example: artreg assign encoder@v1.2.0 staging
    """
    path = Path(results) if results else None
    return assign_version(root, spec, stage, results=path, approved_by=approved_by, options=options)


@main.command()
@click.argument("name")
@click.option("--to", "to", help="The released version to go back to (default: the previous).")
@click.option("--reason", required=True, help="Why production goes back (kept in the tag).")
@assignment_options
def rollback(
    root: Path,
    name: str,
    to: str | None,
    reason: str,
    *,
    approved_by: str | None,
    options: PublishOptions,
) -> Assigned:
    """Move production back to the version that held it before (or --to vX.Y.Z), as a new
    assignment: consumers get that version at once.

    Example: artreg rollback encoder --reason "p95 latency regression"
    """
    return roll_back(root, name, reason=reason, to=to, approved_by=approved_by, options=options)
