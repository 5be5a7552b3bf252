"""Generate docs/cli.md, the command-line reference, from the click commands of `artreg`.

Usage:
    python scripts/gen_cli_docs.py          # (re)write docs/cli.md
    python scripts/gen_cli_docs.py --check  # exit 1 if docs/cli.md is stale; write nothing

Everything is rendered from the commands' metadata (help texts, parameters), never from
click's terminal formatter, so the output does not depend on the terminal width.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from artreg.cli import main as cli_main

PROG = "artreg"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "cli.md"
REGENERATE = "python scripts/gen_cli_docs.py"
EXAMPLE = "Example:"


def iter_commands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """Yield `command` and then, sorted by name and depth first, every visible subcommand."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from iter_commands(sub, click.Context(sub, info_name=name, parent=ctx))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def help_text(command: click.Command) -> str:
    """The command's help, dedented, without anything after click's `\\f` marker."""
    return inspect.cleandoc(command.help or "").partition("\f")[0].strip()


def first_paragraph(command: click.Command) -> str:
    """The first paragraph of the help, on one line (the summary used in the contents)."""
    paragraph = help_text(command).split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def render_help(text: str) -> list[str]:
    """Render a help text as markdown lines.

    Prose paragraphs are joined onto one line. A line starting with `Example:` opens a fenced
    bash block holding the command after `Example: `; the following lines of the same paragraph
    (indented or not) continue that command and are kept as shell line continuations. A paragraph
    opened by click's `\\b` (no-rewrap) marker is kept verbatim in a text block.
    """
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.rstrip() for line in paragraph.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].strip() == "\b":
            out += ["```text", *lines[1:], "```", ""]
            continue
        prose: list[str] = []
        example: list[str] | None = None
        for line in lines:
            stripped = line.strip()
            if stripped.startswith(EXAMPLE):
                if prose:
                    out += [" ".join(prose), ""]
                    prose = []
                if example is not None:
                    out += _example_block(example)
                example = [stripped[len(EXAMPLE) :].strip()]
            elif example is not None:
                example.append(stripped)
            else:
                prose.append(stripped)
        if prose:
            out += [" ".join(prose), ""]
        if example is not None:
            out += _example_block(example)
    return out


def _example_block(lines: list[str]) -> list[str]:
    """A fenced bash block for one example; wrapped lines become `\\` continuations."""
    body = [line + " \\" for line in lines[:-1]] + [lines[-1]]
    return ["```bash", body[0], *("    " + line for line in body[1:]), "```", ""]


def usage(command: click.Command, ctx: click.Context) -> str:
    """The usage line, built from the command path and click's usage pieces."""
    return " ".join(["Usage:", ctx.command_path, *command.collect_usage_pieces(ctx)])


def cell(text: str) -> str:
    """Make text safe inside a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def param_type(param: click.Parameter) -> str:
    """A short human description of what a parameter takes."""
    if isinstance(param, click.Option) and param.count:
        kind = "count"
    elif isinstance(param, click.Option) and param.is_flag:
        kind = "flag"
    elif param.metavar:
        kind = f"`{param.metavar}`"
    elif isinstance(param.type, click.Choice):
        kind = "one of " + ", ".join(f"`{choice}`" for choice in param.type.choices)
    elif isinstance(param.type, click.Path):
        if not param.type.file_okay:
            kind = "directory"
        elif not param.type.dir_okay:
            kind = "file"
        else:
            kind = "path"
    else:
        kind = param.type.name
    if param.multiple or (isinstance(param, click.Argument) and param.nargs == -1):
        kind += ", repeatable"
    return kind


def _plain(value: object) -> bool:
    """Whether a default is a real value worth printing (not None or click's unset sentinel)."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_plain(v) for v in value)
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def default(param: click.Parameter, ctx: click.Context, shown_only: bool) -> str:
    """The default of a parameter as markdown, or '' (options: only when click would show it)."""
    if shown_only and isinstance(param, click.Option):
        show = param.show_default if param.show_default is not None else ctx.show_default
        if isinstance(show, str):
            return cell(show)
        if not show or param.is_flag:
            return ""
    value = param.get_default(ctx, call=False)
    if not _plain(value):
        return ""
    values = value if isinstance(value, (list, tuple)) else [value]
    return ", ".join(f"`{v}`" for v in values)


def option_names(option: click.Option) -> str:
    """`-o`, `--out` style names, short ones first; secondary (`--no-x`) names after a slash."""
    names = sorted(option.opts, key=lambda name: name.startswith("--"))
    text = ", ".join(f"`{name}`" for name in names)
    if option.secondary_opts:
        text += " / " + ", ".join(f"`{name}`" for name in option.secondary_opts)
    return text


def render_command(command: click.Command, ctx: click.Context) -> list[str]:
    """The section of one command: heading, help, usage, arguments and options."""
    out = [f"## {ctx.command_path}", ""]
    if command.deprecated:
        out += ["> **Deprecated.**", ""]
    out += render_help(help_text(command))
    out += ["```text", usage(command, ctx), "```", ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        out += ["| Argument | Takes | Required | Default |", "| --- | --- | --- | --- |"]
        for arg in arguments:
            out.append(
                f"| `{arg.human_readable_name}` | {param_type(arg)} | "
                f"{'yes' if arg.required else 'no'} | {default(arg, ctx, shown_only=False)} |"
            )
        out.append("")
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    if options:
        out += ["| Option | Takes | Default | Description |", "| --- | --- | --- | --- |"]
        for opt in options:
            description = ("**Required.** " if opt.required else "") + cell(opt.help or "")
            out.append(
                f"| {option_names(opt)} | {param_type(opt)} | "
                f"{default(opt, ctx, shown_only=True)} | {description.strip()} |"
            )
        out.append("")
    if isinstance(command, click.Group) and ctx.parent is not None:
        paths = [f"{ctx.command_path} {name}" for name in sorted(command.list_commands(ctx))]
        out += ["Commands: " + ", ".join(f"[`{path}`](#{slug(path)})" for path in paths), ""]
    return out


COMPLETION = [
    "## Shell completion",
    "",
    "`artreg` uses click's shell completion: the shell asks `artreg` itself for the candidates",
    "(commands, options, choices such as `--stage`), so completion follows the installed version.",
    "Add one line to your shell's start-up file, then open a new shell:",
    "",
    "```bash",
    "# bash (4.4 or later), in ~/.bashrc",
    'eval "$(_ARTREG_COMPLETE=bash_source artreg)"',
    "",
    "# zsh, in ~/.zshrc",
    'eval "$(_ARTREG_COMPLETE=zsh_source artreg)"',
    "",
    "# fish, in ~/.config/fish/completions/artreg.fish",
    "_ARTREG_COMPLETE=fish_source artreg | source",
    "```",
    "",
    "The `eval` runs `artreg` at every shell start-up; to avoid that, write the script once and",
    "source the file instead (regenerate it after upgrading artreg):",
    "",
    "```bash",
    "_ARTREG_COMPLETE=bash_source artreg > ~/.artreg-complete.bash",
    "echo '. ~/.artreg-complete.bash' >> ~/.bashrc",
    "```",
]


EXIT_MEANINGS = {
    0: "success",
    1: "a gate or a verification failed; the output names each, with the numbers",
    2: "bad input or usage; the message names the file, the field and the fix",
    3: "an internal error (a bug in artreg): run again with `--traceback` and report the output",
    4: "retryable: nothing was changed and the same command may succeed later",
}


def exit_codes() -> list[str]:
    """The exit-code table, with the error classes of src/artreg/errors.py that produce each."""
    from artreg import errors

    classes: dict[int, list[str]] = {}
    bases = (errors.ArtregError, errors.RetryableError)
    for obj in vars(errors).values():
        if isinstance(obj, type) and issubclass(obj, errors.ArtregError) and obj not in bases:
            doc = re.sub(r" \(exit \d\)", "", (obj.__doc__ or "").strip().split("\n")[0])
            classes.setdefault(obj.exit_code, []).append(f"`{obj.__name__}`: {doc.rstrip('.')}")
    classes.setdefault(errors.INTERNAL_ERROR_EXIT, []).append("any other exception")
    rows = [
        f"| `{code}` | {meaning} | {'; '.join(classes.get(code, [])) or '—'} |"
        for code, meaning in EXIT_MEANINGS.items()
    ]
    return [
        "## Exit codes",
        "",
        "Every command exits with one of these, so CI can retry exactly what is retryable (`4`).",
        "After any non-zero exit, HEAD, the tags, `git status` and the DVC pointers are as before.",
        "",
        "| code | meaning | raised as |",
        "| --- | --- | --- |",
        *rows,
        "",
    ]


def render(group: click.Command = cli_main) -> str:
    """The whole of docs/cli.md for the given (root) command."""
    root_ctx = click.Context(group, info_name=PROG)
    commands = list(iter_commands(group, root_ctx))
    out = [
        f"# `{PROG}` command-line reference",
        "",
        f"This file is generated from the click commands in `src/artreg/cli/` by "
        f"`{REGENERATE}`; do not edit it by hand. After changing a command, its help or its "
        f"options, run `{REGENERATE}` and commit the result (the test suite fails while this "
        f"file is out of date). Every command also accepts `-h` / `--help`.",
        "",
        "## Contents",
        "",
    ]
    for command, ctx in commands:
        path = ctx.command_path
        indent = "  " * (len(path.split()) - 2) if command is not group else ""
        summary = first_paragraph(command)
        out.append(f"{indent}- [`{path}`](#{slug(path)})" + (f" — {summary}" if summary else ""))
    out += ["- [Exit codes](#exit-codes)", "- [Shell completion](#shell-completion)", ""]
    out += exit_codes()
    for command, ctx in commands:
        out += render_command(command, ctx)
    out += COMPLETION
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/cli.md, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file is out of date; write nothing"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: docs/cli.md")
    args = parser.parse_args(argv)
    text = render()
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else None
        if current != text:
            print(f"{output} is out of date; run `{REGENERATE}` and commit it", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
