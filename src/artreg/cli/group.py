"""The `artreg` click group: how every command runs, and how an ArtregError becomes a message and an exit code."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from artreg._version import __version__
from artreg.adapters import interrupts
from artreg.errors import (
    INTERNAL_ERROR_EXIT,
    ArtregError,
    GateFailed,
    NotFoundError,
    VerificationFailed,
)
from artreg.publishing import gatetable
from artreg.reading import cache_wait
from artreg.sources import git_locks


def set_traceback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value and isinstance(ctx.obj, dict):
        ctx.obj["traceback"] = True
    return value


# Which module defines each command: importing it registers the command on `main`, and
# only the command that runs is imported, so `artreg list` never loads what `artreg bundle`
# needs. A test checks the table against the modules.
COMMANDS: dict[str, str] = {
    "assign": "assign",
    "bundle": "bundle",
    "cache": "consumer",
    "demo": "demo",
    "deprecate": "housekeeping",
    "diff": "history",
    "doctor": "doctor",
    "export": "oci",
    "gc": "gc",
    "get": "fetch",
    "history": "history",
    "index": "index",
    "init": "init",
    "lineage": "history",
    "list": "read",
    "lock": "lock",
    "log": "history",
    "promote": "promote",
    "pull": "fetch",
    "recover": "recover",
    "register": "register",
    "release": "promote",
    "resolve": "read",
    "rollback": "assign",
    "show": "read",
    "site": "site",
    "summary": "review",
    "tag": "review",
    "trust": "consumer",
    "unassign": "housekeeping",
    "verify": "verify",
}


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
                callback=set_traceback,
                help="Show the stack on errors.",
            )
        )

    def invoke(self, ctx: click.Context) -> Any:
        from artreg.adapters.values import check_field

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


class Subgroup(click.Group):
    command_class = ArtregCommand


class ArtregGroup(click.Group):
    """Turns known errors into one line and an exit code; --traceback shows the stack."""

    command_class = ArtregCommand
    group_class = Subgroup

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"artreg.cli.{COMMANDS[cmd_name]}")
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArtregError as exc:
            if ctx.obj and ctx.obj.get("traceback"):
                import traceback

                traceback.print_exc()
            explain_not_found(exc, ctx.obj.get("root") if ctx.obj else None)
            if ctx.obj and ctx.obj.get("address"):  # `artreg list` run from elsewhere
                listing = f"`artreg list {ctx.obj['address']}`"
                exc.message = exc.message.replace("`artreg list`", listing)
                exc.hint = exc.hint and exc.hint.replace("`artreg list`", listing)
            report_error(exc)
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


def explain_not_found(exc: ArtregError, root: Path | None) -> None:
    """A read that finds nothing in a shallow or tagless clone says what to fetch instead."""
    if isinstance(exc, NotFoundError) and root is not None:
        from artreg.registry.clone_history import missing_history

        missing = missing_history(root)
        if missing and "artreg recover" not in (exc.hint or ""):  # a killed change: not a fetch
            exc.hint = f"{missing[0]}: run `{missing[1]}`"


def report_error(exc: ArtregError) -> None:
    label = "error"
    if isinstance(exc, GateFailed):
        # Start-up time: the registry's documents load only when a gate failed
        from artreg.registry.documents import GateResult

        click.echo(gatetable.gate_table([GateResult.from_json(r) for r in exc.results]), err=True)
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
    # a repair of the consumer cache is said whoever reads stderr (one notice per main())
    git_locks.NOTICES[:] = [lambda message: click.echo(f"artreg: {message}", err=True)]
    if sys.stderr.isatty():  # a person at a shell is told why nothing happens for a while
        cache_wait.NOTICES.append(lambda message: click.echo(f"artreg: {message}", err=True))
