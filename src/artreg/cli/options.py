"""Options and small helpers the commands share: the registry option, JSON output, progress, --no-fetch, the signing and publishing option sets."""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from artreg.adapters import settings
from artreg.errors import InputError
from artreg.present import consumer, queries
from artreg.present import text as fmt

# Options most commands share, defined once.
repo_option = click.option(
    "--repo", "repo_path", type=click.Path(), help="Registry root (default: the current repo)."
)


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


remote_config_option = click.option(
    "--remote-config",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the DVC remote read from a registry URL (repeatable), as `dvc remote "
    "modify` names it, e.g. endpointurl=http://127.0.0.1:9000.",
)


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


wait_option = click.option(
    "--wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait for another artreg command's lock.",
)


def set_no_fetch(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value and isinstance(ctx.obj, dict):
        ctx.obj["no_fetch"] = True
    return value


# Kept in the context rather than passed as a parameter, so `registry_root` and the byte fetches of a
# command read the same switch.
no_fetch_option = click.option(
    "--no-fetch",
    is_flag=True,
    expose_value=False,
    callback=set_no_fetch,
    help="Fetch nothing (tags, history, DVC objects); refuse with the command to run instead.",
)


def fetching() -> bool:
    """False when this command was given --no-fetch."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and isinstance(ctx.obj, dict) and ctx.obj.get("no_fetch"))


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


class Output:
    """How to render: JSON or text; progress bars only on a terminal outside CI."""

    def __init__(self, as_json: bool = False, quiet: bool = False) -> None:
        self.as_json = as_json
        self.quiet = quiet
        if not self.interactive:
            # DVC draws its own bars (push, fetch, checkout) unless its logger is above INFO,
            # and its (and dvc-data's) transfer bars unless their loggers are above ERROR.
            logging.getLogger("dvc").setLevel(logging.WARNING)
            for bars in ("dvc.progress", "dvc_data.callbacks"):
                logging.getLogger(bars).setLevel(logging.CRITICAL)

    @property
    def interactive(self) -> bool:
        return not (self.as_json or self.quiet or settings.in_ci()) and sys.stderr.isatty()

    @contextmanager
    def progress(self, description: str) -> Iterator[Callable[[int], None] | None]:
        """A byte-counting progress bar (DVC's tqdm) on a terminal; nothing elsewhere."""
        if not self.interactive:
            yield None
            return
        from tqdm import tqdm

        with tqdm(
            desc=description, unit="B", unit_scale=True, unit_divisor=1024, leave=False
        ) as bar:
            yield bar.update

    def emit(self, data: Any, text: str) -> None:
        if self.as_json:
            click.echo(fmt.to_json(data))
        elif not self.quiet:
            click.echo(text)


def registry_root(path: str | None, history: bool = True, tags: bool = True) -> Path:
    """The registry this command works on (artreg.sources.location's rule), kept for the error report;
    with `history`, a shallow or (with `tags`) tagless clone first fetches what it lacks."""
    from artreg.sources.location import find_root

    root = find_root(path)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, dict):
        ctx.obj["root"] = root
    if history:
        ensure_history(root, tags)
    return root


def ensure_history(root: Path, tags: bool = True) -> bool:
    """Fetch what the clone lacks (see `registry_root`), saying so; True if anything was fetched."""
    from artreg.adapters.git.history import complete_history

    note = complete_history(root, fetch=fetching(), check_tags=tags)
    if note:
        click.echo(f"artreg: note: {note}", err=True)
    return note is not None


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"artreg: warning: {warning}", err=True)


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
    from artreg.publishing.publish import PublishOptions

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
    from artreg.artifacts.signing.keys import SigningKey

    return SigningKey(
        Path(key),
        Path(cert) if cert else None,
        tuple(Path(c) for c in chain),
        settings.model_key_password(),
    )


accept_moved_tag_option = click.option(
    "--accept-moved-tag",
    is_flag=True,
    help="Take a version whose tag was rewritten onto other bytes (since this cache served it).",
)


def stage_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--version", "version", help="A released version, e.g. 1.2.0 (instead of a stage)."
    )(f)
    f = click.option(
        "--stage",
        type=click.Choice(["raw", "validated", "production"]),
        help="Stage to resolve (default: production).",
    )(f)
    return repo_option(f)


lock_option = click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False),
    help="Read what this lock file (artreg.lock) pins, from the registries it names.",
)


def source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--repo, --lock and --no-fetch: where a read command reads the registry from."""
    return repo_option(lock_option(no_fetch_option(f)))


def with_requirements_option(verb: str, then: str = "") -> Callable[..., Any]:
    """--with-requirements of `pull` and `get`: `verb` (and `then`) say what each requirement
    gets."""
    return click.option(
        "--with-requirements",
        is_flag=True,
        help=f"Also {verb} every artifact it requires, transitively, each at the production "
        f"version that satisfies it{then} (exit 1 if one is not in production).",
    )


def registry_source(
    repo_path: str | os.PathLike[str] | None, *, history: bool = True, lock: str | None = None
) -> Any:
    """The registry source this command reads (sources.locate decides), kept for the error
    report; with `history`, a shallow or tagless clone first fetches what it lacks."""
    from artreg.sources.locate import open_source

    if lock is not None and repo_path is not None:
        raise InputError(
            f"--lock reads what {lock} pins, and the lock names the registry",
            hint="drop --repo, or drop --lock",
        )

    source = open_source(repo_path, lock=lock, fetch=fetching())
    ctx = click.get_current_context(silent=True)
    if source.root is not None and ctx is not None and isinstance(ctx.obj, dict):
        ctx.obj["root"] = source.root
    if history:
        note = source.prepare()
        if note:
            click.echo(f"artreg: note: {note}", err=True)
    return source


def served_json(served: Any, written: list[Path] | None = None) -> dict[str, Any]:
    """A served model as JSON, one schema whichever source served it (issue 25 item 1): a
    clone's folder (its `snapshot`), or a snapshot in the consumer cache."""
    from artreg.sources.base import Local

    if not isinstance(served, Local):
        return consumer.fetched_json(served, written) | _pin_model(served.pin)
    resolved = served.resolved
    info = queries.resolved_json(served.root, resolved) | {
        "registry": str(served.root),
        "files": _files_json(resolved.files, resolved.dvc_files),
        "snapshot": str(resolved.folder.path(served.root)),
        "downloaded": served.fetched,
    }
    if written is not None:
        info["written"] = [str(p) for p in written]
    return info


def entry_rendered(entry: Any) -> tuple[dict[str, Any], str]:
    """`show NAME@vX|NAME#STAGE` as JSON and text, whichever source answered (the same keys
    but `path`, where a clone holds the bytes already)."""
    from artreg.sources.base import Local

    if isinstance(entry.found, Local):
        found = entry.found
        info, text = queries.resolved_with_files(
            found.root, found.resolved, entry.signature, entry.retired
        )
        files = _files_json(found.resolved.files, found.resolved.dvc_files)
        return info | {"registry": str(found.root), "files": files}, text
    info = consumer.pin_json(entry.found, entry.signature) | _pin_model(entry.found)
    info |= {"requires": list(entry.requires)}
    info |= {"retired": entry.retired} if entry.retired else {}
    return info, consumer.entry_text(info, entry.signature)


def _pin_model(pin: Any) -> dict[str, Any]:
    """A pin's model as a clone's answer names it: repo-relative, with its sha256 and size."""
    primary = pin.files[pin.primary]
    return {"model": f"{pin.folder}/{pin.primary}", "sha256": primary.sha256, "size": primary.size}


def _files_json(files: Any, dvc_files: Any) -> dict[str, Any]:
    return {
        rel: {"sha256": d.sha256, "size": d.size, **({"dvc": True} if rel in dvc_files else {})}
        for rel, d in sorted(files.items())
    }


def pairs(options: tuple[str, ...]) -> dict[str, str]:
    """--remote-config KEY=VALUE options as a mapping."""
    found = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise InputError(
                f"--remote-config {option!r}: expected KEY=VALUE",
                hint="e.g. --remote-config endpointurl=http://127.0.0.1:9000",
            )
        found[key] = value
    return found


lock_file_option = click.option(
    "--file",
    "lock_path",
    type=click.Path(dir_okay=False),
    default="artreg.lock",
    show_default=True,
    help="The lock file.",
)


def finite_days(param: click.Parameter, value: float | None) -> float | None:
    """FloatRange lets nan and inf through (no comparison fails for them)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(
            f"{value} is not a number of days; give a finite number, e.g. 30 (0: all)",
            param=param,
        )
    return value
