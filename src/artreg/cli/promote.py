"""Commands that promote: `promote` (the --to dispatch) and `release`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from artreg.cli.edge import publish_command
from artreg.cli.group import main
from artreg.cli.options import fetching, json_option, no_fetch_option, repo_option
from artreg.cli.write_options import (
    model_signing_options,
    publish_options,
    release_options,
    requires_option,
    signing_key,
)
from artreg.errors import InputError
from artreg.present import text as fmt
from artreg.registry.formatnames import WRITABLE
from artreg.services.release import promote_to_production, register_model_file
from artreg.services.validate import promote_to_validated

if TYPE_CHECKING:
    from artreg.adapters.hashing import ProgressFn
    from artreg.publishing.publish import Published, PublishOptions


@main.command()
@click.argument("name")
@click.argument("source_id")
@click.option(
    "--to",
    "stage",
    required=True,
    type=click.Choice(["validated", "production"]),
    help="Stage to promote to.",
)
@click.option(
    "--checkpoint", help="validated: checkpoint of the raw session (e.g. epoch_70, best)."
)
@click.option(
    "--results",
    type=click.Path(),
    help="validated: validation results, a JSON file or a folder of them.",
)
@click.option(
    "--id",
    "validated_id",
    help="validated: id of the new artifact (default SESSION_CHECKPOINT_validated).",
)
@click.option(
    "--version", "version", help="production: semantic version of the release, e.g. 1.2.0."
)
@release_options("production")
@click.option(
    "--deployment", type=click.Path(), help="production: deployment config (YAML or JSON)."
)
@click.option(
    "--optimize", type=click.Choice(["fp16"]), help="production: cast floating weights to float16."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(WRITABLE),
    help="Also write the weights in this format (repeatable).",
)
@requires_option
@model_signing_options
@repo_option
@no_fetch_option
@publish_options
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def promote(
    name: str,
    source_id: str,
    stage: str,
    checkpoint: str | None,
    results: str | None,
    validated_id: str | None,
    version: str | None,
    deployment: str | None,
    optimize: str | None,
    formats: tuple[str, ...],
    release: dict[str, Any],
    requires: tuple[str, ...],
    sign_model: str | None,
    sign_model_cert: str | None,
    sign_model_chain: tuple[str, ...],
    model_signature: str | None,
    repo_path: str | None,
    as_json: bool,
    quiet: bool,
    **publishing: Any,
) -> None:
    """Promote raw → validated or validated → production: check gates, then commit and tag.

    Example: artreg promote encoder run42 --to validated --checkpoint epoch_70 --results validation/

    Example: artreg promote encoder run42_epoch_70_validated --to production --version 1.0.0
    --benchmarks perf/ --deployment deployment.yaml --approved-by alice

    Example: artreg promote encoder run42_epoch_70_validated --to production --version 1.0.0
    --approved-by alice --sign-model ~/.keys/release-2026.pem

    Example: artreg promote adapter run7_best_validated --to production --version 1.0.0
    --requires base@v2.1.0 --benchmarks perf/ --approved-by alice
    """

    def write(root: Path, progress: ProgressFn | None, options: PublishOptions) -> Published:
        return to_stage(
            root,
            name,
            source_id,
            stage,
            checkpoint=checkpoint,
            results=Path(results) if results else None,
            validated_id=validated_id,
            version=version,
            formats=formats,
            release={
                **release,
                "deployment_config": Path(deployment) if deployment else None,
                "optimize": optimize,
            },
            requires=list(requires) if requires else None,
            progress=progress,
            options=options,
            fetch=fetching(),
            sign_key=signing_key(sign_model, sign_model_cert, sign_model_chain),
            model_signature=Path(model_signature) if model_signature else None,
        )

    publish_command(write, fmt.promoted, repo_path, as_json, quiet, publishing)


@main.command()
@click.argument("name")
@click.argument("path", type=click.Path(exists=True))
@click.option("--version", required=True, help="Semantic version of the release, e.g. 1.2.0.")
@release_options()
@model_signing_options
@requires_option
@repo_option
@publish_options
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def release(
    name: str,
    path: str,
    version: str,
    release: dict[str, Any],
    sign_model: str | None,
    sign_model_cert: str | None,
    sign_model_chain: tuple[str, ...],
    model_signature: str | None,
    requires: tuple[str, ...],
    repo_path: str | None,
    as_json: bool,
    quiet: bool,
    **publishing: Any,
) -> None:
    """Release a ready model file or model folder (no training session) to production.

    The same release policy as `promote --to production` applies (gates, approval, security
    review). A folder (sharded safetensors with their index, config.json, tokenizer files)
    becomes the release's model/ folder, every file listed in model.sha256.

    Example: artreg release distill threat_student_v1.onnx --version 1.0.0 --benchmarks perf/
    --approved-by alice

    Example: artreg release encoder ./hf-snapshot --version 2.0.0 --approved-by alice
    """

    def write(root: Path, progress: ProgressFn | None, options: PublishOptions) -> Published:
        return register_model_file(
            root,
            name,
            Path(path),
            version,
            **release,
            options=options,
            sign_key=signing_key(sign_model, sign_model_cert, sign_model_chain),
            model_signature=Path(model_signature) if model_signature else None,
            progress=progress,
            requires=list(requires),
        )

    publish_command(write, fmt.promoted, repo_path, as_json, quiet, publishing)


def to_stage(
    root: Path,
    name: str | None,
    source_id: str,
    to: str,
    *,
    checkpoint: str | None = None,
    results: Mapping[str, Any] | Path | str | None = None,
    validated_id: str | None = None,
    version: str | None = None,
    formats: tuple[str, ...] = (),
    release: Mapping[str, Any] | None = None,
    **common: Any,
) -> Published:
    """`artreg promote NAME ID --to STAGE`: the options each stage needs, then its promotion.

    `common` holds the keywords both promotions take (progress, options, fetch, sign_key,
    model_signature, requires), handed on as they are; `release` holds those only a release
    to production takes (deployment_config, benchmarks, approved_by, ...)."""
    if to == "validated":
        if not checkpoint or results is None:
            raise InputError(
                "--to validated needs --checkpoint and --results",
                hint="see artreg promote --help",
            )

        return promote_to_validated(
            root,
            name,
            source_id,
            checkpoint,
            results,
            validated_id=validated_id,
            formats=tuple(dict.fromkeys(("pt", *formats))),
            **common,
        )
    if to != "production":
        raise InputError(f"cannot promote to {to!r}", hint="use --to validated or --to production")
    if not version:
        raise InputError("--to production needs --version", hint="e.g. --version 1.0.0")

    return promote_to_production(
        root, name, source_id, version, formats=formats, **common, **(release or {})
    )
