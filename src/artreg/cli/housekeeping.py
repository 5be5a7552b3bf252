"""Commands that retire a version or take a stage away: `deprecate`, `unassign`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from artreg.cli.group import main
from artreg.cli.options import Output, change_options, registry_root, warn
from artreg.present import text as fmt
from artreg.services.housekeeping import Housekeeping, retire, unassign_spec


def _spec_change(f: Callable[..., Any]) -> Callable[..., Any]:
    """SPEC, --sign, --wait, --repo, --no-fetch and --json: the options of the commands that
    retire a version or take a stage away (`deprecate`, `unassign`)."""
    sign = click.option(
        "--sign",
        is_flag=True,
        help="Sign the commit and the tag with your git signing key (needed where params.yaml's "
        "rights.signed lists a stage this moves).",
    )
    for option in (change_options, sign, click.argument("spec")):
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
    _housekeeping(retire, spec, wait, repo_path, as_json, sign)


@main.command()
@_spec_change
def unassign(spec: str, wait: float, repo_path: str | None, as_json: bool, sign: bool) -> None:
    """Take NAME#STAGE away from the version that holds it (the stage no longer resolves).

    Example: artreg unassign encoder#production
    """
    _housekeeping(unassign_spec, spec, wait, repo_path, as_json, sign)
