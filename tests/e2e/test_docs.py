"""docs/cli.md is generated from the click commands and must match them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click

from artreg.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_cli_docs.py"
REFERENCE = ROOT / "docs" / "cli.md"
REGENERATE = "run `python scripts/gen_cli_docs.py` and commit docs/cli.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_cli_docs", module)
    spec.loader.exec_module(module)
    return module


def _command_paths(group: click.Group, prefix: str = "artreg") -> Iterator[str]:
    """Every visible command as 'artreg <name>' (and 'artreg <group> <name>' for subgroups)."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _command_paths(command, f"{prefix} {name}")


def test_cli_reference_is_up_to_date() -> None:
    rendered = _generator().render()
    assert REFERENCE.exists(), f"{REFERENCE} is missing; {REGENERATE}"
    on_disk = REFERENCE.read_text(encoding="utf-8")
    assert rendered == on_disk, f"docs/cli.md is out of date with src/artreg/cli.py; {REGENERATE}"


def test_every_command_appears_in_the_reference() -> None:
    rendered = set(_generator().render().splitlines())
    on_disk = set(REFERENCE.read_text(encoding="utf-8").splitlines())
    paths = list(_command_paths(main))
    assert paths, "artreg.cli.main has no commands"
    missing_rendered = [p for p in paths if f"## {p}" not in rendered]
    assert not missing_rendered, f"the generator left out: {missing_rendered}"
    missing_on_disk = [p for p in paths if f"## {p}" not in on_disk]
    assert not missing_on_disk, f"docs/cli.md has no section for {missing_on_disk}; {REGENERATE}"


def test_examples_become_bash_blocks() -> None:
    text = _generator().render()
    # one-line example
    assert "```bash\nartreg tag --push\n```" in text
    # an example wrapped over two lines in the docstring stays one shell command
    assert (
        "```bash\nartreg promote encoder run42_epoch_70_validated --to production --version 1.0.0 \\\n"
        "    --benchmarks perf/ --deployment deployment.yaml --approved-by alice\n```"
    ) in text
    assert "Example:" not in text
    assert "| `--traceback`" not in text  # hidden: named only where exit code 3 says to use it
