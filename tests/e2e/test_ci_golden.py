"""Byte for byte, the files `artreg init --ci github|gitlab` and `artreg init --server-hook` write.

The goldens under tests/e2e/golden/ were written by the code before these files became templates
(step S9 of docs/redesign-plan.md), so the move is shown to change no byte: not a space, not a
trailing newline, not an escape. The branch names cover the two ways a branch reaches the files:
as a GitHub `branches:` filter (`release/*` has a filter character to escape, `a"b` a quote that
YAML must escape and HTML-escaping would corrupt) and as plain text in the PR/MR template.

A deliberate change to a file changes its template and its goldens together:
`PYTHONPATH=src python tests/e2e/test_ci_golden.py` rewrites the goldens from the templates.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import jinja2
import pytest

from artreg.publishing.ci import CI_SYSTEMS, _environment, ci_files, write_ci_files
from artreg.publishing.serverhook import UPDATE_HOOK, install_update_hook

GOLDEN = Path(__file__).parent / "golden"
BRANCHES = {"main": "main", "release-star": "release/*", "quote": 'a"b'}


def golden_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by its POSIX path relative to `folder`."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("slug", BRANCHES)
@pytest.mark.parametrize("system", CI_SYSTEMS)
def test_ci_files_are_byte_identical_to_the_goldens(tmp_path: Path, system: str, slug: str) -> None:
    expected = golden_files(GOLDEN / "ci" / system / slug)
    assert expected, f"no goldens for {system}/{slug}"
    branch = BRANCHES[slug]

    texts = ci_files(branch, system)
    assert sorted(texts) == sorted(expected)
    assert {rel: text.encode("utf-8") for rel, text in texts.items()} == expected

    written = write_ci_files(tmp_path, branch, system)
    assert written == list(texts)  # the order `artreg init` reports them in
    assert golden_files(tmp_path) == expected


@pytest.mark.parametrize("system", CI_SYSTEMS)
def test_init_ci_commits_the_golden_files(tmp_path: Path, cli, system: str) -> None:
    target = tmp_path / "reg"
    result = cli("init", str(target), "--ci", system, "--json")
    assert result.exit_code == 0, result.stderr
    for rel, data in golden_files(GOLDEN / "ci" / system / "main").items():
        assert (target / rel).read_bytes() == data, rel
        shown = subprocess.run(
            ["git", "-C", str(target), "show", f"HEAD:{rel}"], capture_output=True, check=True
        ).stdout
        assert shown == data, rel


def test_update_hook_is_byte_identical_to_the_golden(tmp_path: Path, cli) -> None:
    expected = (GOLDEN / "hooks" / "update").read_bytes()
    assert UPDATE_HOOK.encode("utf-8") == expected

    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(origin)], check=True)
    result = cli("init", "--server-hook", str(origin), "--json")
    assert result.exit_code == 0, result.stderr
    hook = origin / "hooks" / "update"
    assert hook.read_bytes() == expected
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755
    # Installing again over the same bytes is accepted (they are artreg's hook).
    assert install_update_hook(origin) == hook.resolve()


def test_template_rules_keep_github_expressions_and_refuse_a_missing_variable() -> None:
    # What a later template (a new step, a new job) can rely on: `${{ }}` and shell's `${#x}`
    # reach the file as written, a `[% if %]` line leaves no blank line, and a variable the
    # caller does not pass stops the rendering instead of writing an empty string.
    env = _environment()
    text = "steps:\n  [% if export %]\n  - run: echo ${{ github.ref }} ${#x} <&>\n  [% endif %]\n"
    assert env.from_string(text).render(export=True) == (
        "steps:\n  - run: echo ${{ github.ref }} ${#x} <&>\n"
    )
    assert env.from_string(text).render(export=False) == "steps:\n"
    with pytest.raises(jinja2.UndefinedError, match="default_branch"):
        env.from_string("branches: [[ default_branch ]]\n").render()


def _regenerate() -> None:
    """Rewrite every golden from the current code (after a deliberate change to a file)."""
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for system in CI_SYSTEMS:
        for slug, branch in BRANCHES.items():
            for rel, text in ci_files(branch, system).items():
                path = GOLDEN / "ci" / system / slug / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text.encode("utf-8"))
    (GOLDEN / "hooks").mkdir(parents=True)
    (GOLDEN / "hooks" / "update").write_bytes(UPDATE_HOOK.encode("utf-8"))


if __name__ == "__main__":
    _regenerate()
