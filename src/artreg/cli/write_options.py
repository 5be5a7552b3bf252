"""Options of the commands that write: the publishing and release option sets, model
signing, --requires."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from artreg.adapters import settings
from artreg.artifacts.signing.keys import SigningKey
from artreg.cli.options import wait_option
from artreg.errors import InputError
from artreg.publishing.publish import PublishOptions

requires_option = click.option(
    "--requires",
    "requires",
    metavar="NAME@vX.Y.Z",
    multiple=True,
    help="An artifact version this one needs, e.g. a LoRA adapter's base model (repeatable); "
    "production refuses the release unless it is in production at a compatible version "
    "(params.yaml requirements.compatibility). Default for production: what the validated "
    "artifact recorded.",
)


def model_signing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--sign-model (with its certificate and chain) and --model-signature, shared by every
    command that releases to production."""
    for option in reversed(
        [
            click.option(
                "--sign-model",
                metavar="KEY",
                type=click.Path(dir_okay=False),
                help="Sign the model with this EC private key (PEM) as model.sig, in the OpenSSF "
                "model-signing format (needs artreg[signing]; password in "
                "ARTREG_MODEL_KEY_PASSWORD).",
            ),
            click.option(
                "--sign-model-cert",
                metavar="CERT",
                type=click.Path(dir_okay=False),
                help="With --sign-model: sign with this certificate of the key (PEM).",
            ),
            click.option(
                "--sign-model-chain",
                metavar="PEM",
                multiple=True,
                type=click.Path(dir_okay=False),
                help="With --sign-model-cert: a certificate of its chain (repeatable).",
            ),
            click.option(
                "--model-signature",
                type=click.Path(dir_okay=False),
                help="A model-signing bundle made elsewhere over the model file "
                "(`model_signing sign`); checked and committed as model.sig.",
            ),
        ]
    ):
        f = option(f)
    return f


def release_options(scope: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The release policy's inputs (--benchmarks, --resources, --approved-by, --security-review,
    --notes, --allow-non-monotonic), shared by `promote --to production` and `release`: the
    command gets them as one `release` mapping of the keywords the release services take.
    `scope` ("production") starts each help text, for a command that has other stages too."""

    def helped(text: str) -> str:
        return f"{scope}: {text[0].lower()}{text[1:]}" if scope else text

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(
            *args: Any,
            benchmarks: str | None,
            resources: str | None,
            approved_by: str | None,
            security_review: str | None,
            notes: str | None,
            allow_non_monotonic: bool,
            **kwargs: Any,
        ) -> Any:
            release = {
                "benchmarks": Path(benchmarks) if benchmarks else None,
                "resource_usage": Path(resources) if resources else None,
                "approved_by": approved_by,
                "security_review": Path(security_review) if security_review else None,
                "notes": notes,
                "allow_non_monotonic": allow_non_monotonic,
            }
            return f(*args, release=release, **kwargs)

        path = click.Path()
        for option in reversed(
            [
                click.option(
                    "--benchmarks",
                    type=path,
                    help=helped("benchmarks.json (or a folder with it and resource_usage.json)."),
                ),
                click.option("--resources", type=path, help=helped("resource_usage.json.")),
                click.option(
                    "--approved-by",
                    help=helped("Who approved the release (or ARTREG_APPROVED_BY)."),
                ),
                click.option(
                    "--security-review", type=path, help=helped("Security review record (JSON).")
                ),
                click.option("--notes", help=helped("Release notes for the CHANGELOG.")),
                click.option(
                    "--allow-non-monotonic",
                    is_flag=True,
                    help=helped("Allow a version lower than the latest release."),
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


def publish_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--wait, --sign, --branch, --summary-md and --push, shared by every command that writes."""
    for option in reversed(
        [
            wait_option,
            click.option(
                "--sign", is_flag=True, help="Sign the commit and tags with your git signing key."
            ),
            click.option(
                "--branch",
                help="Commit on this new branch, without tags, then return to the current branch "
                "(pull-request mode; `artreg tag` tags after the merge).",
            ),
            click.option(
                "--summary-md",
                type=click.Path(dir_okay=False),
                help="Write the pull-request description (markdown) to this file.",
            ),
            click.option(
                "--push",
                is_flag=True,
                help="Push data (dvc push) and then commit and tags (git push --atomic) to origin.",
            ),
        ]
    ):
        f = option(f)
    return f


def common_options(publishing: dict[str, Any], root: Path) -> Any:
    return PublishOptions(
        sign=publishing["sign"],
        wait=publishing["wait"],
        branch=publishing["branch"],
        push=publishing["push"],
        summary_md=Path(publishing["summary_md"]) if publishing.get("summary_md") else None,
    ).checked(root)


def signing_key(key: str | None, cert: str | None, chain: tuple[str, ...]) -> Any:
    """--sign-model and its certificate options as a SigningKey (None without --sign-model)."""
    if key is None:
        if cert or chain:
            raise InputError(
                "--sign-model-cert/--sign-model-chain need --sign-model KEY", hint="add it"
            )
        return None

    return SigningKey(
        Path(key),
        Path(cert) if cert else None,
        tuple(Path(c) for c in chain),
        settings.model_key_password(),
    )
