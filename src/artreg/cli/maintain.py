"""Commands that check and maintain a registry: `verify`, `index`, `site`, `gc`, `summary`, `tag`, `recover`, `deprecate`, `unassign`, `doctor`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from artreg.cli.group import main
from artreg.cli.options import (
    Output,
    fetching,
    json_option,
    lock_option,
    no_fetch_option,
    registry_root,
    registry_source,
    repo_option,
    wait_option,
    warn,
)
from artreg.errors import VerificationFailed
from artreg.present import consumer, rights
from artreg.present import text as fmt
from artreg.registry.layout import REGISTRY_JSON

if TYPE_CHECKING:
    from artreg.services.housekeeping import Housekeeping


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
    from artreg.present.site.build import build_site

    # The site reads committed files only: a clone's own repository, or a URL's cache
    # repository with the history and committed files fetched (as lineage and diff read).
    root = registry_source(repo_path, lock=lock_path).history_root(None, files=True)
    built = build_site(root, Path(out_dir))
    Output(as_json).emit(consumer.site_json(built), consumer.site_text(built))


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
    from artreg.publishing import index as registry_index

    root = registry_root(repo_path)
    if check:
        registry_index.check(root)
        click.echo(f"{REGISTRY_JSON} is up to date")
        return
    if registry_index.regenerate(root):
        click.echo(fmt.written(root, None, f"wrote {REGISTRY_JSON} (commit it)")[1])
    else:
        click.echo(f"{REGISTRY_JSON} is up to date (as committed): nothing to commit")


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
    from artreg.services.verify.clone import verify_registry

    if fetch_all and not fetching():
        raise click.UsageError("--fetch and --no-fetch contradict each other")
    source = registry_source(repo_path, lock=lock_path)
    if source.root is None:  # a URL or a lock file: what the consumer cache holds of it
        from artreg.services.verify.url import verify_without_clone

        report = verify_without_clone(
            source, fetch=fetch_all, remote=check_remote, remote_name=remote_name,
            signed=signed, changed=changed or bool(files), base=base,
        )  # fmt: skip
    else:
        report = verify_registry(
            source.root, remote=check_remote, remote_name=remote_name, signed=signed, base=base,
            changed=list(files) if changed else None, fetch=fetch_all,
        )  # fmt: skip
    root = source.root or source.label
    if report.problems:
        if as_json:
            click.echo(fmt.to_json(fmt.verify_json(report)))
        raise VerificationFailed(f"{len(report.problems)} problem(s) in {root}", report.problems)
    Output(as_json).emit(fmt.verify_json(report), fmt.verified_text(report))


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
    from artreg.services.retention import gc as run

    root = registry_root(repo_path)
    result = run(root, apply=apply_, remote=remote, wait=wait, grace_hours=grace_hours)
    Output(as_json).emit(consumer.gc_json(result), consumer.gc_text(result))


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
    from artreg.services.review import summaries_since

    root = registry_root(repo_path)  # params.yaml's "Policy changes" come before the promotions:
    click.echo(rights.with_policy(root, base, summaries_since(root, base)), nl=False)


@main.command()
@click.option(
    "--push", is_flag=True, help="Push the branch and the new tags to origin, in one atomic push."
)
@click.option(
    "--remote", default="origin", show_default=True, help="Git remote to push the tags to."
)
@wait_option
@repo_option
@no_fetch_option
@json_option
def tag(push: bool, remote: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Create the tags of merged promotions that lack them (idempotent; run on the default branch
    after a merge). Each gets a commit pointing dvc.yaml and registry.json at it, then its tags.

    Example: artreg tag --push
    """
    from artreg.services.review import tag_merged_report

    root = registry_root(repo_path)
    tagged = tag_merged_report(root, push=push, remote=remote, wait=wait)
    Output(as_json).emit(*fmt.written(root, tagged.as_dict(), fmt.tagged(tagged)))


@main.command()
@wait_option
@repo_option
def recover(wait: float, repo_path: str | None) -> None:
    """Repair what an interrupted artreg command left behind: finish its tags or roll it back.

    Example: artreg recover && artreg verify
    """
    from artreg.publishing.transaction import recover as run

    root = registry_root(repo_path, history=False)
    click.echo(fmt.written(root, None, run(root, wait=wait))[1])


def _spec_change(f: Callable[..., Any]) -> Callable[..., Any]:
    """SPEC, --sign, --wait, --repo, --no-fetch and --json: the options of the commands that
    retire a version or take a stage away (`deprecate`, `unassign`)."""
    sign = click.option(
        "--sign",
        is_flag=True,
        help="Sign the commit and the tag with your git signing key (needed where params.yaml's "
        "rights.signed lists a stage this moves).",
    )
    for option in (
        json_option,
        no_fetch_option,
        repo_option,
        wait_option,
        sign,
        click.argument("spec"),
    ):
        f = option(f)
    return f


def _housekeeping(
    run: Callable[..., Housekeeping],
    spec: str,
    wait: float,
    repo_path: str | None,
    as_json: bool,
    sign: bool = False,
) -> None:
    """Run one housekeeping change on SPEC, then say what it committed and its warnings."""
    root = registry_root(repo_path)
    done = run(root, spec, wait=wait, sign=sign)
    warn(list(done.warnings))
    Output(as_json).emit(*fmt.written(root, fmt.plain(done), fmt.housekeeping(done)))


@main.command()
@_spec_change
def deprecate(spec: str, wait: float, repo_path: str | None, as_json: bool, sign: bool) -> None:
    """Retire NAME@vX.Y.Z (deregister that version) or NAME (deprecate the whole artifact).

    Example: artreg deprecate encoder@v1.1.0
    """
    from artreg.services.housekeeping import retire

    _housekeeping(retire, spec, wait, repo_path, as_json, sign)


@main.command()
@_spec_change
def unassign(spec: str, wait: float, repo_path: str | None, as_json: bool, sign: bool) -> None:
    """Take NAME#STAGE away from the version that holds it (the stage no longer resolves).

    Example: artreg unassign encoder#production
    """
    from artreg.services.housekeeping import unassign_spec

    _housekeeping(unassign_spec, spec, wait, repo_path, as_json, sign)


@main.command()
@repo_option
@json_option
def doctor(repo_path: str | None, as_json: bool) -> None:
    """Check git, DVC, the remote, credentials and the lock; print the fix for each problem.

    Example: artreg doctor
    """
    from artreg.services.doctor import diagnose

    checks = diagnose(repo_path)
    Output(as_json).emit(fmt.doctor_json(checks), fmt.doctor_text(checks))
    if not all(c.ok for c in checks):
        sys.exit(1)
