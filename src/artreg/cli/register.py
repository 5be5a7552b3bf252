"""`artreg register`: register a training session's checkpoints as raw."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from artreg.cli.edge import publish_command
from artreg.cli.group import main
from artreg.cli.options import json_option, no_fetch_option, repo_option
from artreg.cli.write_options import publish_options
from artreg.present import text as fmt
from artreg.services.register import register_raw

if TYPE_CHECKING:
    from artreg.adapters.hashing import ProgressFn
    from artreg.publishing.publish import Published, PublishOptions


@main.command()
@click.argument("name")
@click.argument("session_id")
@click.option(
    "--from",
    "checkpoint_dir",
    required=True,
    type=click.Path(),
    help="Folder of checkpoints written by training.",
)
@click.option("--config", type=click.Path(), help="Training config (YAML).")
@click.option("--metrics", multiple=True, type=click.Path(), help="Metrics JSON file (repeatable).")
@click.option("--log", type=click.Path(), help="Training log.")
@repo_option
@no_fetch_option
@publish_options
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def register(
    name: str,
    session_id: str,
    checkpoint_dir: str,
    config: str | None,
    metrics: tuple[str, ...],
    log: str | None,
    repo_path: str | None,
    as_json: bool,
    quiet: bool,
    **publishing: Any,
) -> None:
    """Register a training session's outputs as a raw artifact (one commit, one tag).

    Example: artreg register encoder run42 --from ckpt/ --config config.yaml --metrics metrics.json
    """

    def write(root: Path, progress: ProgressFn | None, options: PublishOptions) -> Published:
        return register_raw(
            root,
            name,
            session_id,
            Path(checkpoint_dir),
            config=Path(config) if config else None,
            metrics=[Path(m) for m in metrics] if metrics else None,
            log=Path(log) if log else None,
            progress=progress,
            options=options,
        )

    publish_command(write, fmt.registered, repo_path, as_json, quiet, publishing)
