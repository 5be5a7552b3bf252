"""The command line as a whole: help everywhere, version, and no heavy imports on read paths."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from artreg.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # loads each command's module (the group is lazy)
        command = group.get_command(ctx, name)
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(main), ids=" ".join)
def test_every_command_and_option_has_help_text_and_an_example(path: tuple[str, ...], cli) -> None:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, path
        command = found
    assert command.help and "Example:" in command.help, path
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, (path, param.name)
    result = cli(*path, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout


def test_version_prints_and_imports_neither_dvc_nor_torch() -> None:
    code = (
        "import sys\n"
        "from artreg.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('dvc', 'torch', 'git', 'jsonschema') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "artreg, version" in out.stdout
    assert "HEAVY []" in out.stdout


def test_unknown_errors_become_one_line_without_a_stack(cli, tmp_path) -> None:
    result = cli("register", "encoder", "s1", "--from", str(tmp_path), "--repo", str(tmp_path))
    assert result.exit_code == 2
    assert "not inside a git repository" in result.stderr
    assert "Traceback" not in result.stderr
