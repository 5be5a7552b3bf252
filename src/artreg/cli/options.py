"""Options and small helpers the commands share: the registry option, JSON output, progress,
--no-fetch, --wait."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from artreg.adapters import settings
from artreg.present import text as fmt
from artreg.registry.clone_history import complete_history
from artreg.sources.location import find_root

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


def change_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--wait, --repo, --no-fetch and --json, in that order: the stack of a command that takes
    the registry's lock to commit and tag (`tag`, `deprecate`, `unassign`)."""
    for option in (json_option, no_fetch_option, repo_option, wait_option):
        f = option(f)
    return f


def fetching() -> bool:
    """False when this command was given --no-fetch."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and isinstance(ctx.obj, dict) and ctx.obj.get("no_fetch"))


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
    root = find_root(path)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, dict):
        ctx.obj["root"] = root
    if history:
        ensure_history(root, tags)
    return root


def ensure_history(root: Path, tags: bool = True) -> bool:
    """Fetch what the clone lacks (see `registry_root`), saying so; True if anything was fetched."""
    note = complete_history(root, fetch=fetching(), check_tags=tags)
    if note:
        click.echo(f"artreg: note: {note}", err=True)
    return note is not None


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"artreg: warning: {warning}", err=True)


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
