"""Commands of the pull-request flow: `summary` (the description of its promotions) and
`tag` (the tags of merged promotions)."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import Output, change_options, no_fetch_option, registry_root, repo_option
from artreg.present import rights
from artreg.present import text as fmt
from artreg.services.review import summaries_since, tag_merged_report


@main.command()
@click.option(
    "--base",
    help="What the pull request merges into (default: the repository's default branch, "
    "origin/<branch> when origin has it).",
)
@repo_option
@no_fetch_option
def summary(base: str | None, repo_path: str | None) -> None:
    """Print the markdown summary of the promotions between BASE and HEAD (for pull requests).

    Example: artreg summary --base "origin/$GITHUB_BASE_REF" >> "$GITHUB_STEP_SUMMARY"
    """
    root = registry_root(repo_path)  # params.yaml's "Policy changes" come before the promotions:
    click.echo(rights.with_policy(root, base, summaries_since(root, base)), nl=False)


@main.command()
@click.option(
    "--push", is_flag=True, help="Push the branch and the new tags to origin, in one atomic push."
)
@click.option(
    "--remote", default="origin", show_default=True, help="Git remote to push the tags to."
)
@change_options
def tag(push: bool, remote: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Create the tags of merged promotions that lack them (idempotent; run on the default branch
    after a merge). Each gets a commit pointing dvc.yaml and registry.json at it, then its tags.

    Example: artreg tag --push
    """
    root = registry_root(repo_path)
    tagged = tag_merged_report(root, push=push, remote=remote, wait=wait)
    Output(as_json).emit(*fmt.written(root, tagged.as_dict(), fmt.tagged(tagged)))
