"""git's rules, taken from git (issue 12, items 7-10): who made a change, which registry a command
works on, the states of a checkout, and names every platform can check out.

Every situation is met as a user meets it: the `artreg` command line in real repositories, with
git's identity, state and history set up by git itself. After every refusal, HEAD, the tags,
`git status` and every `.dvc` file are as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artreg.register import register_raw

from conftest import git, snapshot


def _register(cli, root: Path | None, ckpt: Path, *args: str, cwd: Path | None = None):
    """`artreg register ARGS --from CKPT` from `cwd` (default: the registry root)."""
    return cli("register", *args, "--from", str(ckpt), cwd=cwd or root)


def _tag_by(root: Path, tag: str) -> str:
    message = git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
    return next(line[4:] for line in message.splitlines() if line.startswith("by: "))


def _who_recorded(root: Path, published: dict) -> tuple[str, str, str]:
    """(manifest created_by, the tag's `by:` line, the commit's author) of one registration."""
    manifest = json.loads((root / published["folder"] / "manifest.json").read_text())
    author = git(root, "log", "-1", "--format=%an <%ae>", published["commit"]).strip()
    return manifest["created_by"], _tag_by(root, published["tags"][0]), author


# --- 10. portable names, end to end -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "session", "named"),
    [
        ("CON", "s1", "invalid artifact name 'CON': CON is a Windows device name"),
        ("lpt1", "s1", "invalid artifact name 'lpt1': LPT1 is a Windows device name"),
        ("encoder", "nul.v1", "invalid session id 'nul.v1': NUL is a Windows device name"),
        ("encoder", "s1.", "invalid session id 's1.': it ends with a dot or a space"),
        ("encoder", "s1 ", "invalid session id 's1 ': it ends with a dot or a space"),
    ],
)
def test_register_refuses_names_windows_cannot_check_out(
    registry: Path, checkpoint_dir: Path, name: str, session: str, named: str, cli
) -> None:
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, name, session)

    assert result.exit_code == 2
    assert named in result.stderr
    assert "fix: a name becomes a folder, and Windows cannot check out" in result.stderr
    assert snapshot(registry) == before


def test_a_name_differing_only_by_case_from_an_existing_artifact_is_refused(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "Encoder", "s2")

    assert result.exit_code == 2
    assert "artifact name 'Encoder' differs only by letter case from the existing 'encoder'" in (
        result.stderr
    )
    assert "fix: use 'encoder' itself" in result.stderr
    assert snapshot(registry) == before


def test_an_artifact_known_only_from_its_tags_counts_as_existing(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    side = registry.parent / "side"
    git(registry, "worktree", "add", "--quiet", "-b", "side", str(side))
    register_raw(side, "encoder", "s1", checkpoint_dir)  # tags are shared with main's checkout
    assert not (registry / "artifacts/raw/encoder").exists()
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "ENCODER", "s1")

    assert result.exit_code == 2
    assert "from the existing 'encoder' (in the registry's tags)" in result.stderr
    assert snapshot(registry) == before


def test_a_session_id_differing_only_by_case_is_refused(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    register_raw(registry, "encoder", "run1", checkpoint_dir)
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "encoder", "RUN1")

    assert result.exit_code == 2
    assert (
        "new folder 'RUN1' differs only by letter case from the existing 'run1' "
        "(artifacts/raw/encoder/run1)"
    ) in result.stderr
    assert snapshot(registry) == before
