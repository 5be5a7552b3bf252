"""Commands that create a registry or register a model: `init`, `register`, `demo`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from artreg.cli.edge import publish_command
from artreg.cli.group import main
from artreg.cli.options import (
    Output,
    json_option,
    no_fetch_option,
    publish_options,
    repo_option,
)
from artreg.present import text as fmt

if TYPE_CHECKING:
    from artreg.adapters.hashing import ProgressFn
    from artreg.publishing.publish import Published, PublishOptions


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False))
@click.option(
    "--remote",
    metavar="URL",
    help="DVC remote URL (default: a git-ignored local folder), e.g. s3://bucket/prefix.",
)
@click.option(
    "--ci",
    type=click.Choice(["github", "gitlab"]),
    help="Also write CI workflows (GitHub Actions or .gitlab-ci.yml), a PR/MR template and a "
    "pre-commit hook.",
)
@click.option(
    "--server-hook",
    "server_hook",
    type=click.Path(file_okay=False),
    help="Install a tag-protecting update hook into this bare origin.",
)
@click.option(
    "--name",
    help="Default artifact name, recorded in params.yaml (default: from the folder's name).",
)
@json_option
def init(
    path: str,
    remote: str | None,
    ci: str | None,
    server_hook: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Make a git repository (or a new folder) a registry. Idempotent.

    Example: artreg init my-registry --remote s3://models/registry --ci github
    """
    from artreg.services import init as feature

    if server_hook:
        hook = feature.install_server_hook(Path(server_hook))
        Output(as_json).emit(
            {"hook": str(hook)},
            f"installed {hook}: registry tags can no longer be moved or deleted",
        )
        return
    result = feature.init_registry(Path(path), remote=remote, ci=ci, name=name)
    Output(as_json).emit(fmt.init_json(result), fmt.init_text(result))


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
    from artreg.services.register import register_raw

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


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option(
    "--epochs", type=int, default=4, show_default=True, help="Epochs to train the tiny demo model."
)
def demo(directory: str | None, epochs: int) -> None:
    """Build a demonstration registry and run the lifecycle in it; prints what was recorded.

    Example: artreg demo /tmp/artreg-demo
    """
    from artreg.demo import run_demo

    run_demo(Path(directory) if directory else None, epochs=epochs, echo=click.echo)
