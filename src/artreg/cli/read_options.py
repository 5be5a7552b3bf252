"""Options and helpers of the commands that read a registry source: where from (--repo,
--lock), which version, and a served model as JSON."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from artreg.cli.options import fetching, no_fetch_option, repo_option
from artreg.errors import InputError
from artreg.present import consumer, queries
from artreg.sources.base import Local
from artreg.sources.locate import open_source

remote_config_option = click.option(
    "--remote-config",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the DVC remote read from a registry URL (repeatable), as `dvc remote "
    "modify` names it, e.g. endpointurl=http://127.0.0.1:9000.",
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
        metavar="STAGE",
        # Any stage the registry defines (params.yaml `stages:`), as NAME#STAGE takes: the
        # registry's own tags decide, once it is opened, whether anything is in it.
        help="Stage to resolve: raw, validated, production or an extra stage the registry "
        "declares (default: production).",
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
    if lock is not None and repo_path is not None:
        raise InputError(
            f"--lock reads what {lock} pins, and the lock names the registry",
            hint="drop --repo, or drop --lock",
        )

    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, dict) and (repo_path or lock):
        import shlex  # the hints' commands name the registry as this command was given it

        given = ("--lock", lock) if lock is not None else ("--repo", os.fspath(repo_path or ""))
        ctx.obj["address"] = f"{given[0]} {shlex.quote(given[1])}"
    source = open_source(repo_path, lock=lock, fetch=fetching())
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
    if isinstance(entry.found, Local):
        found = entry.found
        info, text = queries.resolved_with_files(
            found.root, found.resolved, entry.signature, entry.retired, entry.signer
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
