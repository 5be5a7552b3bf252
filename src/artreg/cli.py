"""The `artreg` command line: parse, call one core function, render. Nothing else lives here."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from artreg import __version__
from artreg.errors import INTERNAL_ERROR_EXIT, ArtregError, GateFailed, VerificationFailed

# Options most commands share, defined once.
repo_option = click.option(
    "--repo", "repo_path", type=click.Path(), help="Registry root (default: the current repo)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
wait_option = click.option(
    "--wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait for another artreg command's lock.",
)


class Output:
    """How to render: JSON or text; progress bars only on a terminal outside CI."""

    def __init__(self, as_json: bool = False, quiet: bool = False) -> None:
        self.as_json = as_json
        self.quiet = quiet
        if not self.interactive:
            # DVC draws its own bars (push, pull, checkout) unless its logger is above INFO.
            logging.getLogger("dvc").setLevel(logging.WARNING)

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
            click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        elif not self.quiet:
            click.echo(text)


def _root(path: str | None) -> Path:
    from artreg.api import find_root

    return find_root(path)


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
                help="Commit on this new branch, without tags (pull-request mode; `artreg tag` tags after the merge).",
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


def _options(publishing: dict[str, Any]) -> Any:
    from artreg.publish import PublishOptions

    return PublishOptions(
        sign=publishing["sign"],
        wait=publishing["wait"],
        branch=publishing["branch"],
        push=publishing["push"],
    )


def _after_publish(root: Path, result: Any, publishing: dict[str, Any]) -> None:
    """--summary-md, once the change is committed (--push happens inside the transaction)."""
    if publishing.get("summary_md"):
        from artreg.layout import StageDir
        from artreg.review import summary_markdown

        folder = StageDir.parse(result.folder)
        assert folder is not None
        Path(publishing["summary_md"]).write_text(
            summary_markdown(root, [folder]), encoding="utf-8"
        )


def _tags_text(result: Any) -> str:
    if result.extra.get("branch"):
        return f"on branch {result.extra['branch']} (tags after the merge: `artreg tag`)"
    return f"tags {', '.join(result.tags)}"


class ArtregGroup(click.Group):
    """Turns known errors into one line and an exit code; --traceback shows the stack."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArtregError as exc:
            if ctx.obj and ctx.obj.get("traceback"):
                traceback.print_exc()
            _report(exc)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("artreg: interrupted; nothing was changed", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("traceback"):
                traceback.print_exc()
            click.echo(
                f"artreg: internal error (a bug in artreg): {type(exc).__name__}: {exc}", err=True
            )
            click.echo("  fix: run again with --traceback and report the output", err=True)
            sys.exit(INTERNAL_ERROR_EXIT)


def _report(exc: ArtregError) -> None:
    label = "error"
    if isinstance(exc, GateFailed):
        from artreg.gates import GateResult, format_table

        click.echo(format_table([GateResult(**r) for r in exc.results]), err=True)  # type: ignore[arg-type]
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
    type=click.Choice(["github"]),
    help="Also write CI workflows, a PR template and a pre-commit hook.",
)
@click.option(
    "--server-hook",
    "server_hook",
    type=click.Path(file_okay=False),
    help="Install a tag-protecting update hook into this bare origin.",
)
@json_option
def init(
    path: str, remote: str | None, ci: str | None, server_hook: str | None, as_json: bool
) -> None:
    """Make a git repository (or a new folder) a registry. Idempotent.

    Example: artreg init my-registry --remote s3://models/registry --ci github
    """
    from artreg.initrepo import init_registry

    if server_hook:
        from artreg.serverhook import install_update_hook

        hook = install_update_hook(Path(server_hook))
        Output(as_json).emit(
            {"hook": str(hook)},
            f"installed {hook}: registry tags can no longer be moved or deleted",
        )
        return
    result = init_registry(Path(path), remote=remote, ci=ci)
    created = sorted(set(result.created))
    Output(as_json).emit(
        {
            "root": str(result.root),
            "created": created,
            "commit": result.commit,
            "remote": result.remote,
        },
        f"registry at {result.root}\n"
        + (
            f"created: {', '.join(created)}\ncommit: {result.commit}\n"
            if created
            else "already a registry; nothing to do\n"
        )
        + f"remote: {result.remote}",
    )


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
    from artreg.register import register_raw

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
            options=_options(publishing),
        )
    _after_publish(root, result, publishing)
    out.emit(
        result.as_dict(),
        f"registered {result.name} session {result.id} in {result.folder}\n"
        f"commit {result.commit[:12]}, {_tags_text(result)}\n"
        f"{len(result.files)} files recorded in {result.folder}/manifest.json",
    )


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
@repo_option
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
    repo_path: str | None,
    as_json: bool,
    quiet: bool,
    **publishing: Any,
) -> None:
    """Promote raw → validated or validated → production: check gates, then commit and tag.

    Example: artreg promote encoder run42 --to validated --checkpoint epoch_70 --results validation/

    Example: artreg promote encoder run42_epoch_70_validated --to production --version 1.0.0
    --benchmarks perf/ --deployment deployment.yaml --approved-by alice
    """
    from artreg.errors import InputError
    from artreg.gates import GateResult, format_table
    from artreg.promote import promote_to_production, promote_to_validated

    out = Output(as_json, quiet)
    root = _root(repo_path)
    with out.progress("copying and hashing") as progress:
        if stage == "validated":
            if not checkpoint or not results:
                raise InputError(
                    "--to validated needs --checkpoint and --results",
                    hint="see artreg promote --help",
                )
            result = promote_to_validated(
                root,
                name,
                source_id,
                checkpoint,
                Path(results),
                validated_id=validated_id,
                formats=tuple(dict.fromkeys(("pt", *formats))),
                progress=progress,
                options=_options(publishing),
            )
        else:
            if not version:
                raise InputError("--to production needs --version", hint="e.g. --version 1.0.0")
            result = promote_to_production(
                root,
                name,
                source_id,
                version,
                deployment_config=Path(deployment) if deployment else None,
                benchmarks=Path(benchmarks) if benchmarks else None,
                resource_usage=Path(resources) if resources else None,
                approved_by=approved_by,
                security_review=Path(security_review) if security_review else None,
                notes=notes,
                optimize=optimize,
                formats=formats,
                allow_non_monotonic=allow_non_monotonic,
                progress=progress,
                options=_options(publishing),
            )
    _after_publish(root, result, publishing)
    table = format_table([GateResult(**g) for g in result.extra.get("gates", [])])
    out.emit(
        result.as_dict(),
        f"promoted {result.name} to {result.stage}: {result.folder}\n"
        f"commit {result.commit[:12]}, {_tags_text(result)}\n\n{table}",
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


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


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
@json_option
def list_(show_all: bool, as_of: str | None, repo_path: str | None, as_json: bool) -> None:
    """List every artifact with its latest version and what each stage holds (like gto show).

    Example: artreg list --json

    Example: artreg list --as-of 2024-05-01
    """
    from artreg.consume import overview

    root = _root(repo_path)
    heading = ""
    state = None
    if as_of:
        from artreg.history import load_state_as_of

        state, moment = load_state_as_of(root, as_of)
        heading = f"as of {moment.describe()}\n"
    data = overview(root, state=state, deprecated=show_all)
    stages = ["raw", "validated", "production"]
    stages += sorted({s for v in data.values() for s in v["stages"]} - set(stages))
    rows = [
        [name + (" (deprecated)" if info["deprecated"] else ""), info["latest"] or "-"]
        + [
            (e["version"] or e["id"] or e["commit"][:7]) if (e := info["stages"].get(s)) else "-"
            for s in stages
        ]
        for name, info in data.items()
    ]
    Output(as_json).emit(
        data,
        heading
        + (
            _table(["name", "latest", *[f"#{s}" for s in stages]], rows)
            if rows
            else "the registry is empty"
        ),
    )


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
    from artreg.history import history as intervals
    from artreg.history import iso

    spans = intervals(_root(repo_path), name, stage)
    rows = [
        [
            i.stage,
            i.label,
            iso(i.start),
            iso(i.end) if i.end is not None else "now",
            i.by + (" (fallback)" if i.began == "fallback" else ""),
            i.commit[:12],
            f"#{i.pull_request}" if i.pull_request else "-",
            i.ended or "-",
        ]
        for i in spans
    ]
    Output(as_json).emit(
        [i.as_dict() for i in spans],
        _table(["stage", "version", "from", "until", "by", "commit", "PR", "ended"], rows)
        if rows
        else f"{name} has never held a stage",
    )


@main.command()
@click.argument("spec")
@repo_option
@json_option
def show(spec: str, repo_path: str | None, as_json: bool) -> None:
    """Show one artifact: NAME (every stage), NAME@vX.Y.Z or NAME#STAGE (one entry).

    Example: artreg show encoder#production
    """
    from artreg.consume import overview, parse_spec, resolve

    root = _root(repo_path)
    name, stage, version = parse_spec(spec)
    if stage is None and version is None:
        data = overview(root, deprecated=True, names=[name]).get(name)
        if data is None:
            from artreg.registry import load_state

            load_state(root).get(name)  # raises the NotFoundError listing the known names
        assert data is not None
        rows = [
            [s, e["version"] or "-", e["id"] or "-", e["tag"], e["commit"][:12]]
            for s, e in data["stages"].items()
        ]
        Output(as_json).emit(
            {name: data},
            f"{name}: latest {data['latest'] or '-'}{' (deprecated)' if data['deprecated'] else ''}\n"
            + _table(["stage", "version", "id", "tag", "commit"], rows),
        )
        return
    resolved = resolve(root, name, stage=stage, version=version)
    info = resolved.as_dict(root)
    info["files"] = {rel: {"sha256": d.sha256, "size": d.size} for rel, d in resolved.files.items()}
    Output(as_json).emit(
        info,
        "\n".join(f"{k}: {v}" for k, v in info.items() if k != "files")
        + "\nfiles:\n"
        + "\n".join(f"  {rel}  {d.size:,} B  {d.sha256}" for rel, d in resolved.files.items()),
    )


@main.command()
@click.argument("name")
@_stage_options
@click.option("--no-verify", is_flag=True, help="Print the path without hashing the files.")
@json_option
def resolve(
    name: str,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    no_verify: bool,
    as_json: bool,
) -> None:
    """Print the local path of NAME's model (latest production by default), verified.

    Example: artreg resolve encoder --stage validated
    """
    from artreg import consume

    root = _root(repo_path)
    resolved = consume.resolve(root, name, stage=stage, version=version)
    if not no_verify:
        consume.verify(root, resolved)
    Output(as_json).emit(resolved.as_dict(root), str(root / resolved.model))


@main.command()
@click.argument("name")
@_stage_options
@click.option("--remote", "-r", help="DVC remote to pull from (default: the registry's).")
@click.option(
    "--force", is_flag=True, help="Restore work-tree files that differ from the manifest."
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
    as_json: bool,
    quiet: bool,
) -> None:
    """Fetch only NAME's files through DVC, then verify every sha256 of its manifest.

    Example: artreg pull encoder --version 1.2.0
    """
    from artreg import consume

    out = Output(as_json, quiet)
    root = _root(repo_path)
    resolved = consume.resolve(root, name, stage=stage, version=version)
    with out.progress("verifying") as progress:
        fetched = consume.pull(root, resolved, remote=remote, force=force, progress=progress)
    info = {**resolved.as_dict(root), "fetched": fetched, "verified": len(resolved.files)}
    out.emit(
        info,
        f"{root / resolved.model}\n{fetched} objects fetched, {len(resolved.files)} files verified",
    )


@main.command()
@click.argument("name")
@_stage_options
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to write the model into.",
)
@click.option("--remote", "-r", help="DVC remote to pull from (default: the registry's).")
@json_option
def get(
    name: str,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    out_dir: str,
    remote: str | None,
    as_json: bool,
) -> None:
    """Export a verified copy of NAME's model into a folder (like dvc artifacts get).

    Example: artreg get encoder --stage production -o /srv/models
    """
    from artreg import consume

    root = _root(repo_path)
    resolved = consume.resolve(root, name, stage=stage, version=version)
    written = consume.export(root, resolved, Path(out_dir), remote=remote)
    Output(as_json).emit(
        {**resolved.as_dict(root), "written": [str(p) for p in written]},
        "\n".join(str(p) for p in written),
    )


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
    from artreg.site import build_site

    built = build_site(_root(repo_path), Path(out_dir))
    Output(as_json).emit(
        built.as_dict(),
        f"wrote {built.pages} pages for {built.names} names into {built.out} "
        f"(open {built.out / 'index.html'})",
    )


@main.command()
@click.option(
    "--check", is_flag=True, help="Exit 1 if artifacts/registry.json is out of date; write nothing."
)
@repo_option
def index(check: bool, repo_path: str | None) -> None:
    """Regenerate artifacts/registry.json from the tags and folders (or check it).

    Example: artreg index --check
    """
    from artreg import index as registry_index
    from artreg.errors import VerificationFailed
    from artreg.layout import REGISTRY_JSON
    from artreg.registry import load_state

    root = _root(repo_path)
    state = load_state(root)
    if check:
        if registry_index.stale(root, state):
            raise VerificationFailed(
                f"{REGISTRY_JSON} is out of date",
                [f"{REGISTRY_JSON} differs from what the tags and folders say; run `artreg index`"],
            )
        click.echo(f"{REGISTRY_JSON} is up to date")
        return
    (root / REGISTRY_JSON).write_text(registry_index.render(root, state))
    click.echo(f"wrote {REGISTRY_JSON} (commit it)")


@main.command()
@click.argument("name")
@repo_option
@json_option
def log(name: str, repo_path: str | None, as_json: bool) -> None:
    """Every event of NAME (registration, promotion, deprecation, unassignment), newest first.

    Example: artreg log encoder
    """
    from artreg.consume import history

    events = history(_root(repo_path), name)
    rows = [
        [e["date"], e["action"], e["tag"], e["commit"][:10], e["by"], e["folder"] or "-"]
        for e in events
    ]
    Output(as_json).emit(events, _table(["date", "action", "tag", "commit", "by", "folder"], rows))


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
@click.argument("files", nargs=-1)
@repo_option
@json_option
def verify(
    check_remote: bool,
    remote_name: str | None,
    signed: bool,
    changed: bool,
    files: tuple[str, ...],
    repo_path: str | None,
    as_json: bool,
) -> None:
    """Check the whole registry; exit 1 with a precise list when anything is wrong.

    Example: artreg verify --remote
    """
    from artreg.errors import VerificationFailed
    from artreg.verify import verify_registry

    root = _root(repo_path)
    report = verify_registry(
        root,
        remote=check_remote,
        remote_name=remote_name,
        signed=signed,
        changed=[_inside(root, f) for f in files] if changed else None,
    )
    data = {"ok": not report.problems, "problems": report.problems, "checked": report.checked}
    if report.problems:
        if as_json:
            click.echo(json.dumps(data, indent=2, sort_keys=True))
        raise VerificationFailed(f"{len(report.problems)} problem(s) in {root}", report.problems)
    Output(as_json).emit(
        data, "registry verified: " + ", ".join(f"{n} {k}" for k, n in report.checked.items())
    )


def _inside(root: Path, file: str) -> str:
    """A path given on the command line, relative to the registry root; refuse one outside."""
    from artreg.errors import InputError

    path = Path(file).resolve() if Path(file).is_absolute() else (Path.cwd() / file).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise InputError(
            f"{file}: outside the registry {root}", hint="pass files of the registry"
        ) from None


@main.command()
@click.argument("spec")
@repo_option
@json_option
def lineage(spec: str, repo_path: str | None, as_json: bool) -> None:
    """The chain release ← validated ← raw ← training code, with gates, hashes, who and when.

    Example: artreg lineage encoder@v1.2.0
    """
    from artreg.lineage import lineage as build

    chain = build(_root(repo_path), spec)
    lines = []
    for i, step in enumerate(chain):
        arrow = "" if i == 0 else "  ← "
        if step["stage"] == "training code":
            lines.append(
                f"{arrow}training code commit {step['commit']}{' (dirty)' if step.get('dirty') else ''}"
            )
            continue
        lines.append(f"{arrow}{step['stage']} {step['id']}  ({step['folder']})")
        lines.append(
            f"      tag {step['tag'] or '(untagged)'} on {str(step['commit'] or '-')[:12]}, {step['date']}, by {step['by']}"
        )
        if step.get("approved_by"):
            lines.append(f"      approved by {step['approved_by']}")
        for gate in step["gates"]:
            lines.append(
                f"      gate {gate['metric']} = {gate['value']} ({gate['op']} {gate['threshold']}): {'pass' if gate['passed'] else 'FAIL'}"
            )
        primary = [(rel, f) for rel, f in step["files"].items() if f.get("dvc")][:3]
        for rel, f in primary:
            lines.append(f"      {rel}  sha256 {f['sha256']}")
    Output(as_json).emit(chain, "\n".join(lines))


@main.command()
@click.option(
    "--base", default="origin/main", show_default=True, help="What the pull request merges into."
)
@repo_option
def summary(base: str, repo_path: str | None) -> None:
    """Print the markdown summary of the promotions between BASE and HEAD (for pull requests).

    Example: artreg summary --base origin/main >> "$GITHUB_STEP_SUMMARY"
    """
    from artreg.review import folders_since, summary_markdown

    root = _root(repo_path)
    click.echo(summary_markdown(root, folders_since(root, base)), nl=False)


@main.command()
@click.option("--push", is_flag=True, help="Push the new tags to origin.")
@click.option(
    "--remote", default="origin", show_default=True, help="Git remote to push the tags to."
)
@wait_option
@repo_option
@json_option
def tag(push: bool, remote: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Create the tags of merged promotions that lack them (idempotent; run on main after a merge).

    Example: artreg tag --push
    """
    from artreg.review import tag_merged

    created = tag_merged(_root(repo_path), push=push, remote=remote, wait=wait)
    Output(as_json).emit(
        {"created": created}, "\n".join(created) if created else "every promotion is tagged already"
    )


@main.command()
@wait_option
@repo_option
def recover(wait: float, repo_path: str | None) -> None:
    """Repair what an interrupted artreg command left behind: finish its tags or roll it back.

    Example: artreg recover && artreg verify
    """
    from artreg.transaction import recover as run

    click.echo(run(_root(repo_path), wait=wait))


@main.command()
@click.argument("spec")
@wait_option
@repo_option
@json_option
def deprecate(spec: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Retire NAME@vX.Y.Z (deregister that version) or NAME (deprecate the whole artifact).

    Example: artreg deprecate encoder@v1.1.0
    """
    from artreg import housekeeping
    from artreg.consume import parse_spec

    root = _root(repo_path)
    name, stage, version = parse_spec(spec)
    if stage is not None:
        from artreg.errors import InputError

        raise InputError(f"{spec}: use `artreg unassign {spec}` for a stage", hint="see --help")
    done = (
        housekeeping.deregister(root, name, version.removeprefix("v"), wait=wait)
        if version
        else housekeeping.deprecate(root, name, wait=wait)
    )
    Output(as_json).emit(
        done.__dict__,
        f"tag {done.tag} on {done.target[:12]}; registry.json refreshed in {done.commit[:12]}",
    )


@main.command()
@click.argument("spec")
@wait_option
@repo_option
@json_option
def unassign(spec: str, wait: float, repo_path: str | None, as_json: bool) -> None:
    """Take NAME#STAGE away from the version that holds it (the stage no longer resolves).

    Example: artreg unassign encoder#production
    """
    from artreg import housekeeping
    from artreg.consume import parse_spec
    from artreg.errors import InputError

    name, stage, _ = parse_spec(spec)
    if stage is None:
        raise InputError(f"{spec}: give NAME#STAGE", hint="e.g. artreg unassign encoder#production")
    done = housekeeping.unassign(_root(repo_path), name, stage, wait=wait)
    Output(as_json).emit(
        done.__dict__,
        f"tag {done.tag} on {done.target[:12]}; registry.json refreshed in {done.commit[:12]}",
    )


@main.command(name="diff")
@click.argument("a")
@click.argument("b")
@repo_option
@json_option
def diff_(a: str, b: str, repo_path: str | None, as_json: bool) -> None:
    """Compare two artifacts: metric deltas, model hashes, changed files, sources.

    Example: artreg diff encoder@v1.0.0 encoder#validated
    """
    from artreg.compare import diff

    data = diff(_root(repo_path), a, b)
    rows = [
        [m["metric"], _num(m["a"]), _num(m["b"]), _num(m["delta"], signed=True)]
        for m in data["metrics"]
    ]
    text = [
        f"A: {data['a']['folder']} ({data['a']['tag']})",
        f"B: {data['b']['folder']} ({data['b']['tag']})",
        "same model bytes"
        if data["same_model"]
        else f"model sha256: {data['a']['model_sha256'][:16]}… → {data['b']['model_sha256'][:16]}…",
        "",
        _table(["metric", "A", "B", "delta"], rows) if rows else "no numeric metrics to compare",
    ]
    Output(as_json).emit(data, "\n".join(text))


def _num(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


@main.command()
@click.option(
    "--repo", "repo_path", type=click.Path(), help="Registry root (default: the current folder)."
)
@json_option
def doctor(repo_path: str | None, as_json: bool) -> None:
    """Check git, DVC, the remote, credentials and the lock; print the fix for each problem.

    Example: artreg doctor
    """
    from artreg.doctor import diagnose

    checks = diagnose(Path(repo_path or "."))
    lines = [
        f"{'ok ' if c.ok else 'XX '} {c.name}: {c.detail}"
        + (f"\n      fix: {c.fix}" if not c.ok and c.fix else "")
        for c in checks
    ]
    Output(as_json).emit([c.__dict__ for c in checks], "\n".join(lines))
    if not all(c.ok for c in checks):
        sys.exit(1)
