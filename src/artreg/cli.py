"""The `artreg` command line: parse, call one core function, render. Nothing else lives here."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from artreg._version import __version__
from artreg.adapters import interrupts
from artreg.cli_options import after_publish
from artreg.errors import INTERNAL_ERROR_EXIT, ArtregError, GateFailed, VerificationFailed
from artreg.present import consumer, queries, rights
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


def _set_no_fetch(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value and isinstance(ctx.obj, dict):
        ctx.obj["no_fetch"] = True
    return value


# Kept in the context rather than passed as a parameter, so `_root` and the byte fetches of a
# command read the same switch.
no_fetch_option = click.option(
    "--no-fetch",
    is_flag=True,
    expose_value=False,
    callback=_set_no_fetch,
    help="Fetch nothing (tags, history, DVC objects); refuse with the command to run instead.",
)


def _fetching() -> bool:
    """False when this command was given --no-fetch."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and isinstance(ctx.obj, dict) and ctx.obj.get("no_fetch"))


def _model_signing_options(f: Callable[..., Any]) -> Callable[..., Any]:
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
        return not (self.as_json or self.quiet or os.environ.get("CI")) and sys.stderr.isatty()

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


def _root(path: str | None, history: bool = True, tags: bool = True) -> Path:
    """The registry this command works on (artreg.location's rule), kept for the error report;
    with `history`, a shallow or (with `tags`) tagless clone first fetches what it lacks."""
    from artreg.location import find_root

    root = find_root(path)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, dict):
        ctx.obj["root"] = root
    if history:
        _complete_history(root, tags)
    return root


def _complete_history(root: Path, tags: bool = True) -> bool:
    """Fetch what the clone lacks (see `_root`), saying so; True if anything was fetched."""
    from artreg.gitrepo import complete_history

    note = complete_history(root, fetch=_fetching(), check_tags=tags)
    if note:
        click.echo(f"artreg: note: {note}", err=True)
    return note is not None


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"artreg: warning: {warning}", err=True)


def _publish_options(f: Callable[..., Any]) -> Callable[..., Any]:
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


def _options(publishing: dict[str, Any], root: Path) -> Any:
    from artreg.publishing.publish import PublishOptions

    return PublishOptions(
        sign=publishing["sign"],
        wait=publishing["wait"],
        branch=publishing["branch"],
        push=publishing["push"],
        summary_md=Path(publishing["summary_md"]) if publishing.get("summary_md") else None,
    ).checked(root)


def _set_traceback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value and isinstance(ctx.obj, dict):
        ctx.obj["traceback"] = True
    return value


class ArtregCommand(click.Command):
    """A command that also takes --traceback after its name, and refuses text options and
    arguments that are not UTF-8 or hold control characters, naming them, before it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(
                ["--traceback"],
                is_flag=True,
                hidden=True,
                expose_value=False,
                callback=_set_traceback,
                help="Show the stack on errors.",
            )
        )

    def invoke(self, ctx: click.Context) -> Any:
        from artreg.registry.values import check_field

        if isinstance(ctx.obj, dict):
            ctx.obj["command"] = ctx.command_path
        for param in self.params:
            if param.type is click.STRING and param.name in ctx.params:
                value = ctx.params[param.name]
                field = (
                    param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
                )
                for text in value if isinstance(value, tuple) else (value,):
                    if isinstance(text, str):
                        check_field(text, field, param.name)
        return super().invoke(ctx)


class _Subgroup(click.Group):
    command_class = ArtregCommand


class ArtregGroup(click.Group):
    """Turns known errors into one line and an exit code; --traceback shows the stack."""

    command_class = ArtregCommand
    group_class = _Subgroup

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArtregError as exc:
            if ctx.obj and ctx.obj.get("traceback"):
                import traceback

                traceback.print_exc()
            _explain_not_found(exc, ctx.obj.get("root") if ctx.obj else None)
            _report(exc)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(interrupts.message(), err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: one line, the stack only with --traceback
            if ctx.obj and ctx.obj.get("traceback"):
                import traceback

                traceback.print_exc()
            click.echo(
                f"artreg: internal error (a bug in artreg): {type(exc).__name__}: {exc}", err=True
            )
            typed = ctx.obj.get("command", "artreg") if ctx.obj else "artreg"
            click.echo(
                f"  fix: run it again with --traceback added (`{typed} ... --traceback`) and "
                "report the output",
                err=True,
            )
            sys.exit(INTERNAL_ERROR_EXIT)


def _explain_not_found(exc: ArtregError, root: Path | None) -> None:
    """A read that finds nothing in a shallow or tagless clone says what to fetch instead."""
    from artreg.errors import NotFoundError

    if isinstance(exc, NotFoundError) and root is not None:
        from artreg.gitrepo import missing_history

        missing = missing_history(root)
        if missing:
            exc.hint = f"{missing[0]}: run `{missing[1]}`"


def _report(exc: ArtregError) -> None:
    label = "error"
    if isinstance(exc, GateFailed):
        from artreg.model import GateResult

        click.echo(fmt.gate_table([GateResult.from_json(r) for r in exc.results]), err=True)
        label = "gate failed"
    if isinstance(exc, VerificationFailed):
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        label = "verification failed"
    click.echo(f"artreg: {label}: {exc}", err=True)


@click.group(cls=ArtregGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="artreg")
@click.option(
    "--traceback", "show_traceback", is_flag=True, hidden=True, help="Show the stack on errors."
)
@click.pass_context
def main(ctx: click.Context, show_traceback: bool) -> None:
    """artreg: a Git-native model artifact registry built on DVC.

    Example: artreg register encoder run42 --from checkpoints/
    """
    ctx.obj = {"traceback": show_traceback}


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
@_publish_options
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

    out = Output(as_json, quiet)
    root = _root(repo_path)
    with out.progress("copying and hashing") as progress:
        result = register_raw(
            root,
            name,
            session_id,
            Path(checkpoint_dir),
            config=Path(config) if config else None,
            metrics=[Path(m) for m in metrics] if metrics else None,
            log=Path(log) if log else None,
            progress=progress,
            options=_options(publishing, root),
        )
    _warn(after_publish(root, result, publishing.get("summary_md")))
    out.emit(*fmt.written(root, result.as_dict(), fmt.registered(result)))


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
@click.option(
    "--benchmarks",
    type=click.Path(),
    help="production: benchmarks.json (or a folder with it and resource_usage.json).",
)
@click.option("--resources", type=click.Path(), help="production: resource_usage.json.")
@click.option(
    "--deployment", type=click.Path(), help="production: deployment config (YAML or JSON)."
)
@click.option("--approved-by", help="production: who approved the release (or ARTREG_APPROVED_BY).")
@click.option(
    "--security-review", type=click.Path(), help="production: security review record (JSON)."
)
@click.option("--notes", help="production: release notes for the CHANGELOG.")
@click.option(
    "--optimize", type=click.Choice(["fp16"]), help="production: cast floating weights to float16."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["pt", "safetensors"]),
    help="Also write the weights in this format (repeatable).",
)
@click.option(
    "--allow-non-monotonic",
    is_flag=True,
    help="production: allow a version lower than the latest release.",
)
@requires_option
@_model_signing_options
@repo_option
@no_fetch_option
@_publish_options
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
    benchmarks: str | None,
    resources: str | None,
    deployment: str | None,
    approved_by: str | None,
    security_review: str | None,
    notes: str | None,
    optimize: str | None,
    formats: tuple[str, ...],
    allow_non_monotonic: bool,
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
    from artreg.cli_options import promote as run

    out = Output(as_json, quiet)
    root = _root(repo_path)
    with out.progress("copying and hashing") as progress:
        result = run(
            root,
            name,
            source_id,
            stage,
            checkpoint=checkpoint,
            results=Path(results) if results else None,
            validated_id=validated_id,
            version=version,
            deployment_config=Path(deployment) if deployment else None,
            benchmarks=Path(benchmarks) if benchmarks else None,
            resource_usage=Path(resources) if resources else None,
            approved_by=approved_by,
            security_review=Path(security_review) if security_review else None,
            notes=notes,
            optimize=optimize,
            formats=formats,
            allow_non_monotonic=allow_non_monotonic,
            requires=list(requires) if requires else None,
            progress=progress,
            options=_options(publishing, root),
            fetch=_fetching(),
            sign_key=_signing_key(sign_model, sign_model_cert, sign_model_chain),
            model_signature=Path(model_signature) if model_signature else None,
        )
    _warn(after_publish(root, result, publishing.get("summary_md")))
    out.emit(*fmt.written(root, result.as_dict(), fmt.promoted(result)))


@main.command()
@click.argument("name")
@click.argument("path", type=click.Path(exists=True))
@click.option("--version", required=True, help="Semantic version of the release, e.g. 1.2.0.")
@click.option(
    "--benchmarks",
    type=click.Path(),
    help="benchmarks.json (or a folder with it and resource_usage.json).",
)
@click.option("--resources", type=click.Path(), help="resource_usage.json.")
@click.option("--approved-by", help="Who approved the release (or ARTREG_APPROVED_BY).")
@click.option("--security-review", type=click.Path(), help="Security review record (JSON).")
@click.option("--notes", help="Release notes for the CHANGELOG.")
@click.option(
    "--allow-non-monotonic", is_flag=True, help="Allow a version lower than the latest release."
)
@_model_signing_options
@requires_option
@repo_option
@_publish_options
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def release(
    name: str,
    path: str,
    version: str,
    benchmarks: str | None,
    resources: str | None,
    approved_by: str | None,
    security_review: str | None,
    notes: str | None,
    allow_non_monotonic: bool,
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
    from artreg.services.release import register_model_file

    out = Output(as_json, quiet)
    root = _root(repo_path)
    with out.progress("copying and hashing") as progress:
        result = register_model_file(
            root,
            name,
            Path(path),
            version,
            notes=notes,
            benchmarks=Path(benchmarks) if benchmarks else None,
            resource_usage=Path(resources) if resources else None,
            approved_by=approved_by,
            security_review=Path(security_review) if security_review else None,
            allow_non_monotonic=allow_non_monotonic,
            options=_options(publishing, root),
            sign_key=_signing_key(sign_model, sign_model_cert, sign_model_chain),
            model_signature=Path(model_signature) if model_signature else None,
            progress=progress,
            requires=list(requires),
        )
    _warn(after_publish(root, result, publishing.get("summary_md")))
    out.emit(*fmt.written(root, result.as_dict(), fmt.promoted(result)))


def _signing_key(key: str | None, cert: str | None, chain: tuple[str, ...]) -> Any:
    """--sign-model and its certificate options as a SigningKey (None without --sign-model)."""
    if key is None:
        if cert or chain:
            from artreg.errors import InputError

            raise InputError(
                "--sign-model-cert/--sign-model-chain need --sign-model KEY", hint="add it"
            )
        return None
    from artreg.signing import SigningKey

    return SigningKey(
        Path(key),
        Path(cert) if cert else None,
        tuple(Path(c) for c in chain),
        os.environ.get("ARTREG_MODEL_KEY_PASSWORD"),
    )


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


accept_moved_tag_option = click.option(
    "--accept-moved-tag",
    is_flag=True,
    help="Take a version whose tag was rewritten onto other bytes (since this cache served it).",
)


def _stage_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--version", "version", help="A released version, e.g. 1.2.0 (instead of a stage)."
    )(f)
    f = click.option(
        "--stage",
        type=click.Choice(["raw", "validated", "production"]),
        help="Stage to resolve (default: production).",
    )(f)
    return repo_option(f)


@main.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include deprecated artifacts.")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE|COMMIT",
    help="Answer from the tags that existed then: YYYY-MM-DD (end of day, UTC), an ISO 8601 time, or a commit (its date).",
)
@repo_option
@no_fetch_option
@json_option
def list_(show_all: bool, as_of: str | None, repo_path: str | None, as_json: bool) -> None:
    """List every artifact with its latest version and what each stage holds (like gto show).

    Example: artreg list --json

    Example: artreg list --as-of 2024-05-01
    """
    from artreg.features.queries import incomplete_clone, overview

    if _is_url(repo_path):
        from artreg.features import fetch_url

        data = fetch_url.overview(str(repo_path), deprecated=show_all)
        Output(as_json).emit(queries.overview_json(data), queries.overview_text(data))
        return
    # Whether the clone lacks its tags is asked only when the listing comes out empty: asking
    # first costs a second `git for-each-ref` over every tag (60 ms of 350 at 10,000 tags).
    root = _root(repo_path, tags=bool(as_of))
    registry = None
    heading = ""
    if as_of:
        from artreg.services.history import load_as_of

        registry, moment = load_as_of(root, as_of)
        heading = f"as of {moment.describe()}\n"
    data = overview(root, registry=registry, deprecated=show_all)
    if not data and not as_of and _complete_history(root):
        data = overview(root, deprecated=show_all)
    incomplete = incomplete_clone(root, empty=not data)
    if incomplete:
        click.echo(f"artreg: note: {incomplete[0]}: run `{incomplete[1]}`", err=True)
    text = queries.overview_text(data) + (" in this clone" if incomplete and not data else "")
    Output(as_json).emit(queries.overview_json(data), heading + text)


@main.command()
@click.argument("name")
@click.option(
    "--stage",
    type=click.Choice(["raw", "validated", "production"]),
    help="Only this stage (default: every stage).",
)
@repo_option
@json_option
def history(name: str, stage: str | None, repo_path: str | None, as_json: bool) -> None:
    """Which version held each stage of NAME, from when until when, put there by whom, through
    which commit and pull request.

    Example: artreg history encoder --stage production
    """
    from artreg.services.history import history as intervals

    spans = intervals(_root(repo_path), name, stage)
    Output(as_json).emit(queries.intervals_json(spans), queries.intervals_text(name, spans))


@main.command()
@click.argument("spec")
@repo_option
@no_fetch_option
@json_option
def show(spec: str, repo_path: str | None, as_json: bool) -> None:
    """Show one artifact: NAME (every stage), NAME@vX.Y.Z or NAME#STAGE (one entry).

    Example: artreg show encoder#production
    """
    from artreg.features.queries import show_artifact, show_entry
    from artreg.registry.tags import parse_spec

    name, stage, version = parse_spec(spec)
    if _is_url(repo_path):
        from artreg.features import fetch_url

        if stage is None and version is None:
            data = fetch_url.show(str(repo_path), name)
            Output(as_json).emit(queries.overview_json({name: data}), queries.artifact_text(data))
        else:
            pin, signature = fetch_url.show_entry(str(repo_path), name, stage, version)
            Output(as_json).emit(
                consumer.pin_json(pin, signature), consumer.pin_text(pin, signature)
            )
        return
    root = _root(repo_path)
    if stage is None and version is None:
        data = show_artifact(root, name)
        Output(as_json).emit(queries.overview_json({name: data}), queries.artifact_text(data))
        return
    resolved, signature, retired = show_entry(root, name, stage, version)
    info, text = queries.resolved_with_files(root, resolved, signature, retired or "")
    Output(as_json).emit(info, text)


@main.command()
@click.argument("name")
@_stage_options
@no_fetch_option
@click.option(
    "--no-verify",
    is_flag=True,
    help="Print the path without hashing the files (in a clone; a URL's cached files are always checked).",
)
@accept_moved_tag_option
@json_option
def resolve(
    name: str,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    no_verify: bool,
    accept_moved_tag: bool,
    as_json: bool,
) -> None:
    """Print the local path of NAME's model (latest production by default), verified.

    NAME may also be NAME@vX.Y.Z or NAME#STAGE.

    Example: artreg resolve encoder --stage validated
    """
    from artreg.features import fetch

    name, stage, version = fetch.target(name, stage, version)
    if _is_url(repo_path):
        from artreg.features import fetch_url

        fetched = fetch_url.fetch(
            str(repo_path), name, stage, version, accept_moved_tag=accept_moved_tag
        )
        Output(as_json).emit(consumer.fetched_json(fetched), str(fetched.path))
        return
    root = _root(repo_path)
    resolved = fetch.resolve(root, name, stage=stage, version=version)
    if not no_verify:
        fetch.verify(root, resolved)
    Output(as_json).emit(queries.resolved_json(root, resolved), str(root / resolved.model))


@main.command()
@click.argument("name")
@_stage_options
@click.option("--remote", "-r", help="DVC remote to pull from (default: the registry's).")
@click.option(
    "--force", is_flag=True, help="Restore work-tree files that differ from the manifest."
)
@click.option(
    "--with-requirements",
    is_flag=True,
    help="Also pull every artifact it requires, transitively, each at the production version "
    "that satisfies it (exit 1 if one is not in production).",
)
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def pull(
    name: str,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    remote: str | None,
    force: bool,
    with_requirements: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Fetch only NAME's files through DVC, then verify every sha256 of its manifest.

    NAME may also be NAME@vX.Y.Z or NAME#STAGE.

    Example: artreg pull encoder --version 1.2.0

    Example: artreg pull adapter --with-requirements
    """
    from artreg.features import fetch

    name, stage, version = fetch.target(name, stage, version)
    out = Output(as_json, quiet)
    root = _root(repo_path)
    if with_requirements:
        every = fetch.resolve_with_requirements(root, name, stage=stage, version=version)
    else:
        every = {name: fetch.resolve(root, name, stage=stage, version=version)}
    infos, lines = [], []
    for resolved in every.values():
        with out.progress("verifying") as progress:
            fetched = fetch.pull(root, resolved, remote=remote, force=force, progress=progress)
        infos.append(
            {
                **queries.resolved_json(root, resolved),
                "fetched": fetched,
                "verified": len(resolved.files),
            }
        )
        lines.append(
            f"{root / resolved.model}\n{fetched} objects fetched, "
            f"{len(resolved.files)} files verified"
        )
    out.emit(infos if with_requirements else infos[0], "\n".join(lines))


@main.command()
@click.argument("target")
@click.argument("spec", required=False)
@_stage_options
@no_fetch_option
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to write the model into (a model folder's files go into it, as with dvc "
    "artifacts get); not inside the registry's work tree unless git ignores the path.",
)
@click.option(
    "--remote",
    "-r",
    help="DVC remote to read from: a remote's name, or (with a URL) its URL (default: the registry's).",
)
@remote_config_option
@click.option(
    "--with-requirements",
    is_flag=True,
    help="Also export every artifact it requires, transitively, each at the production version "
    "that satisfies it; then each goes into OUT/NAME/ (exit 1 if one is not in production).",
)
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False),
    help="Serve exactly what this lock file (artreg.lock) pins for NAME, and nothing else.",
)
@accept_moved_tag_option
@json_option
def get(
    target: str,
    spec: str | None,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    out_dir: str,
    remote: str | None,
    remote_config: tuple[str, ...],
    with_requirements: bool,
    lock_path: str | None,
    accept_moved_tag: bool,
    as_json: bool,
) -> None:
    """Export a verified copy of a model into a folder (like dvc artifacts get).

    Every file is staged inside the folder and renamed only once all are verified: after a
    failure or Ctrl-C no file is left under its final name, and the same command can run again.

    `artreg get NAME` reads the registry you stand in (or --repo); NAME may also be
    NAME@vX.Y.Z or NAME#STAGE. `artreg get URL NAME` (or NAME --repo URL) reads a registry URL
    without a clone, model signatures checked against its trust policy as in a clone: tags
    by `git ls-remote`, a few files of one commit, and the model's objects from the DVC remote,
    through the machine's shared cache ($ARTREG_CACHE; offline with ARTREG_OFFLINE=1).

    Example: artreg get encoder --stage production -o /srv/models

    Example: artreg get https://git.example.com/ml/registry.git encoder@v1.2.0 -o /srv/models

    Example: artreg get adapter --with-requirements -o /srv/models

    Example: artreg get encoder --lock artreg.lock -o /srv/models
    """
    from artreg.features import fetch

    if lock_path is not None:
        if with_requirements or repo_path is not None:
            from artreg.errors import InputError

            raise InputError(
                f"--lock serves what {lock_path} pins, one artifact, from the registry it names",
                hint="drop --with-requirements and --repo, or drop --lock",
            )
        _get_locked(
            target, spec, stage, version, out_dir, remote, remote_config, lock_path, as_json
        )
        return
    name, stage, version = fetch.target(spec or target, stage, version)
    if (spec is not None or _is_url(repo_path)) and with_requirements:
        from artreg.errors import InputError

        raise InputError(
            "--with-requirements reads a registry clone, not a registry URL",
            hint="run it in a clone (or --repo CLONE), or get each requirement by its own call",
        )
    if spec is not None or _is_url(repo_path):
        from artreg.features import fetch_url

        out = Output(as_json)
        with out.progress("downloading") as progress:
            fetched, written = fetch_url.get(
                target if spec is not None else str(repo_path),
                name,
                stage,
                version,
                Path(out_dir),
                remote=remote,
                remote_config=_pairs(remote_config),
                progress=progress,
                accept_moved_tag=accept_moved_tag,
            )
        out.emit(consumer.fetched_json(fetched, written), "\n".join(str(p) for p in written))
        return
    if remote_config:
        from artreg.errors import InputError

        raise InputError(
            "--remote-config applies to `artreg get URL NAME`",
            hint="set it with `dvc remote modify`",
        )
    root = _root(repo_path)
    if with_requirements:
        every = fetch.resolve_with_requirements(root, name, stage=stage, version=version)
        exported = fetch.export_all(root, every, Path(out_dir), remote=remote, fetch=_fetching())
        Output(as_json).emit(
            [
                {**queries.resolved_json(root, r), "written": [str(p) for p in exported[n]]}
                for n, r in every.items()
            ],
            "\n".join(str(p) for paths in exported.values() for p in paths),
        )
        return
    resolved = fetch.resolve(root, name, stage=stage, version=version)
    written = fetch.export(root, resolved, Path(out_dir), remote=remote, fetch=_fetching())
    Output(as_json).emit(
        {**queries.resolved_json(root, resolved), "written": [str(p) for p in written]},
        "\n".join(str(p) for p in written),
    )


def _get_locked(
    target: str,
    spec: str | None,
    stage: str | None,
    version: str | None,
    out_dir: str,
    remote: str | None,
    remote_config: tuple[str, ...],
    lock_path: str,
    as_json: bool,
) -> None:
    """`artreg get NAME --lock FILE`: the pinned bytes; a retracted pin is said on stderr."""
    from artreg.features import fetch
    from artreg.features import lock as lockfile

    lockfile.refuse_url(lock_path, spec)
    name, stage, version = fetch.target(target, stage, version)
    out = Output(as_json)
    with out.progress("downloading") as progress:
        fetched, written, notes = lockfile.get(
            Path(lock_path),
            name,
            stage,
            version,
            Path(out_dir),
            remote=remote,
            remote_config=_pairs(remote_config),
            progress=progress,
        )
    _warn(notes)
    out.emit(consumer.fetched_json(fetched, written), "\n".join(str(p) for p in written))


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
@json_option
def site(out_dir: str, repo_path: str | None, as_json: bool) -> None:
    """Write the registry as a static web site: every name, stage, release and its history.

    It works from file://, any static server, a sub-path and GitHub Pages, and loads nothing
    from elsewhere. params.yaml may set site.title, site.url (commit links), site.metric.

    Example: artreg site -o _site && python -m http.server -d _site
    """
    from artreg.present.site.build import build_site

    built = build_site(_root(repo_path), Path(out_dir))
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
    from artreg.registry.layout import REGISTRY_JSON

    root = _root(repo_path)
    if check:
        registry_index.check(root)
        click.echo(f"{REGISTRY_JSON} is up to date")
        return
    if registry_index.regenerate(root):
        click.echo(fmt.written(root, None, f"wrote {REGISTRY_JSON} (commit it)")[1])
    else:
        click.echo(f"{REGISTRY_JSON} is up to date (as committed): nothing to commit")


@main.command()
@click.argument("name")
@repo_option
@no_fetch_option
@json_option
def log(name: str, repo_path: str | None, as_json: bool) -> None:
    """Every event of NAME (registration, promotion, deprecation, unassignment), newest first.

    Example: artreg log encoder
    """
    from artreg.features.queries import history

    events = history(_root(repo_path), name)
    Output(as_json).emit(queries.history_json(events), queries.history_text(events))


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
@click.argument("files", nargs=-1)
@repo_option
@no_fetch_option
@json_option
def verify(
    check_remote: bool,
    remote_name: str | None,
    signed: bool,
    changed: bool,
    base: str | None,
    files: tuple[str, ...],
    repo_path: str | None,
    as_json: bool,
) -> None:
    """Check the whole registry; exit 1 with a precise list when anything is wrong.

    Example: artreg verify --remote
    """
    from artreg.services.verify import verify_registry

    root = _root(repo_path)
    report = verify_registry(
        root,
        remote=check_remote,
        remote_name=remote_name,
        signed=signed,
        changed=list(files) if changed else None,
        fetch=_fetching(),
        base=base,
    )
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

    root = _root(repo_path)
    result = run(root, apply=apply_, remote=remote, wait=wait, grace_hours=grace_hours)
    Output(as_json).emit(consumer.gc_json(result), consumer.gc_text(result))


@main.command()
@click.argument("spec")
@repo_option
@no_fetch_option
@json_option
def lineage(spec: str, repo_path: str | None, as_json: bool) -> None:
    """The chain release ← validated ← raw ← training code, with gates, hashes, who and when.

    Example: artreg lineage encoder@v1.2.0
    """
    from artreg.features.queries import lineage as build

    Output(as_json).emit(*queries.lineage_views(root := _root(repo_path), build(root, spec)))


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

    root = _root(repo_path)  # params.yaml's "Policy changes" come before the promotions:
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

    root = _root(repo_path)
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

    root = _root(repo_path, history=False)
    click.echo(fmt.written(root, None, run(root, wait=wait))[1])


@main.command()
@click.argument("spec")
@wait_option
@repo_option
@no_fetch_option
@json_option
def deprecate(spec: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Retire NAME@vX.Y.Z (deregister that version) or NAME (deprecate the whole artifact).

    Example: artreg deprecate encoder@v1.1.0
    """
    from artreg.services import housekeeping

    root = _root(repo_path)
    done = housekeeping.retire(root, spec, wait=wait)
    _warn(list(done.warnings))
    Output(as_json).emit(*fmt.written(root, fmt.plain(done), fmt.housekeeping(done)))


@main.command()
@click.argument("spec")
@wait_option
@repo_option
@no_fetch_option
@json_option
def unassign(spec: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Take NAME#STAGE away from the version that holds it (the stage no longer resolves).

    Example: artreg unassign encoder#production
    """
    from artreg.services import housekeeping

    root = _root(repo_path)
    done = housekeeping.unassign_spec(root, spec, wait=wait)
    _warn(list(done.warnings))
    Output(as_json).emit(*fmt.written(root, fmt.plain(done), fmt.housekeeping(done)))


@main.command(name="diff")
@click.argument("a")
@click.argument("b")
@repo_option
@no_fetch_option
@json_option
def diff_(a: str, b: str, repo_path: str | None, as_json: bool) -> None:
    """Compare two artifacts: metric deltas, model hashes, changed files, sources.

    Example: artreg diff encoder@v1.0.0 encoder#validated
    """
    from artreg.features.queries import diff

    data = diff(_root(repo_path), a, b)
    Output(as_json).emit(queries.diff_json(data), queries.diff_text(data))


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


# --- consumers without a clone: registry URLs, lock files, the shared cache ----------------


def _is_url(repo_path: str | None) -> bool:
    """--repo names a registry URL (or a bare repository) rather than a clone."""
    from artreg.location import is_registry_url

    return bool(repo_path) and is_registry_url(str(repo_path))


def _pairs(options: tuple[str, ...]) -> dict[str, str]:
    """--remote-config KEY=VALUE options as a mapping."""
    from artreg.errors import InputError

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


@main.group()
def lock() -> None:
    """Pin models of registry URLs in a lock file (artreg.lock), check and update the pins.

    Example: artreg lock add https://git.example.com/ml/registry.git encoder#production
    """


@lock.command(name="add")
@click.argument("url")
@click.argument("spec")
@lock_file_option
@accept_moved_tag_option
@json_option
def lock_add(url: str, spec: str, lock_path: str, accept_moved_tag: bool, as_json: bool) -> None:
    """Pin what NAME, NAME#STAGE or NAME@vX.Y.Z resolves to in the registry at URL (tag,
    commit, folder and every file's sha256); get_artifact_path(name, lock=...) serves exactly it.

    Example: artreg lock add https://git.example.com/ml/registry.git encoder#production
    """
    from artreg.features import lock as lockfile

    pin = lockfile.add(Path(lock_path), url, spec, accept_moved_tag=accept_moved_tag)
    Output(as_json).emit(consumer.pin_json(pin), consumer.pinned_text(Path(lock_path), pin))


@lock.command(name="check")
@lock_file_option
@json_option
def lock_check(lock_path: str, as_json: bool) -> None:
    """Exit 1 if a registry has moved on from a pin (a stage promoted anew, a version gone).

    Example: artreg lock check || artreg lock update
    """
    from artreg.features import lock as lockfile

    moved = lockfile.changes(Path(lock_path))
    if moved:
        if as_json:
            click.echo(fmt.to_json(consumer.lock_changes_json(moved)))
        raise lockfile.out_of_date(lock_path, moved)
    Output(as_json).emit([], f"{lock_path}: every pin is current")


@lock.command(name="update")
@click.argument("specs", nargs=-1)
@lock_file_option
@accept_moved_tag_option
@json_option
def lock_update(
    specs: tuple[str, ...], lock_path: str, accept_moved_tag: bool, as_json: bool
) -> None:
    """Move the pins (all, or SPECS as the lock file names them) to what the registries say now.

    Example: artreg lock update encoder#production
    """
    from artreg.features import lock as lockfile

    moved = lockfile.update(Path(lock_path), specs, accept_moved_tag=accept_moved_tag)
    Output(as_json).emit(consumer.lock_changes_json(moved), lockfile.summary(lock_path, moved))


@lock.command(name="remove")
@click.argument("spec")
@lock_file_option
def lock_remove(spec: str, lock_path: str) -> None:
    """Drop the pin SPEC (as the lock file names it, e.g. encoder#production).

    Example: artreg lock remove encoder#production
    """
    from artreg.features import lock as lockfile

    lockfile.remove(Path(lock_path), spec)
    click.echo(f"{lock_path}: {spec} removed")


@main.group(name="cache")
def cache_() -> None:
    """The consumer cache shared by every process on this machine ($ARTREG_CACHE).

    Example: artreg cache prune --keep-last 2
    """


@cache_.command(name="list")
@json_option
def cache_list(as_json: bool) -> None:
    """Every cached name and version with its size, age and last use.

    Example: artreg cache list
    """
    from artreg.consumer_cache import Cache

    cache = Cache.open()
    snapshots = cache.snapshots()
    Output(as_json).emit(
        {"root": str(cache.root), "snapshots": snapshots},
        consumer.cache_text(cache.root, snapshots),
    )


def _finite_days(param: click.Parameter, value: float | None) -> float | None:
    """FloatRange lets nan and inf through (no comparison fails for them)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(
            f"{value} is not a number of days; give a finite number, e.g. 30 (0: all)",
            param=param,
        )
    return value


@cache_.command(name="prune")
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    help="Keep the N most recently used versions of each name.",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    callback=lambda _ctx, param, value: _finite_days(param, value),
    metavar="DAYS",
    help="Remove versions unused for DAYS days.",
)
@json_option
def cache_prune(keep_last: int | None, older_than: float | None, as_json: bool) -> None:
    """Remove cached versions, then every blob no remaining version uses.

    Example: artreg cache prune --older-than 30
    """
    from artreg.consumer_cache import Cache

    done = Cache.open().prune(keep_last, older_than)
    Output(as_json).emit(done, consumer.pruned_text(done))


@main.group(name="trust")
def trust_() -> None:
    """The trust policy this machine's consumers apply to each registry (it only tightens).

    Example: artreg trust accept https://git.example.com/ml/registry.git
    """


@trust_.command(name="accept")
@click.argument("registry", required=False)
@json_option
def trust_accept(registry: str | None, as_json: bool) -> None:
    """Accept REGISTRY's trust policy at its HEAD although it is weaker than the one applied
    before (a stage no longer requiring signatures, a trusted key added or replaced,
    params.yaml gone). REGISTRY is a registry URL or a clone (default: the one you stand in).

    Example: artreg trust accept https://git.example.com/ml/registry.git
    """
    from artreg.registry.trust_ratchet import accept

    accepted = accept(registry)
    Output(as_json).emit(consumer.accepted_json(accepted), consumer.accepted_text(accepted))


from artreg import cli_bundle  # noqa: E402,F401
