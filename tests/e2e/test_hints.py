"""Every hint names a command that can succeed in the state at hand: following it works, and no
two commands send the user back and forth. (The hints of unmet requirements are checked in
test_requirements.py and tests/unit/test_requirements.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from helpers import clone_repo, git, release, run_tool


def _fix(stderr: str) -> str:
    """The command a refusal's `fix:` line names first (between backquotes)."""
    found = re.search(r"fix: [^`]*`([^`]+)`", stderr)
    assert found, stderr
    return found[1]


def test_after_a_promotion_is_reverted_resolve_and_pull_name_the_restore_that_works(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    promotion = release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "revert", "--no-edit", promotion)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    folder = "artifacts/production/encoder/v1.0.0"
    service = clone_repo(bare_origin, tmp_path / "service")

    for where in (registry, service):  # the registry keeps the folder's DVC outputs untracked
        for command in ("resolve", "pull"):
            refused = cli(command, "encoder", cwd=where)
            assert refused.exit_code == 2, refused.stderr
            assert f"{folder}: removed from this branch by " in refused.stderr
            assert f"after its promotion in {promotion[:12]}" in refused.stderr
            # Neither "not pulled yet: run artreg pull" nor "git pull": the loop of before.
            assert "`git pull`" not in refused.stderr and "not pulled yet" not in refused.stderr
        restore = _fix(refused.stderr)
        assert restore == f"git checkout {promotion[:12]} -- {folder}"
        git(where, *restore.split()[1:])
        pulled = cli("pull", "encoder", cwd=where)
        assert pulled.exit_code == 0, pulled.stderr
        assert cli("resolve", "encoder", cwd=where).stdout.strip() == str(
            where / folder / "model.pt"
        )


def test_a_checkout_behind_the_promotion_is_told_to_pull(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    service = clone_repo(bare_origin, tmp_path / "service")
    promotion = release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    git(service, "fetch", "--quiet", "--tags", "origin")  # the tags, not the commits on main

    refused = cli("pull", "encoder", cwd=service)

    assert refused.exit_code == 2, refused.stderr
    assert f"not in this checkout (it was promoted in {promotion[:12]}, ahead of it)" in (
        refused.stderr
    )
    assert _fix(refused.stderr) == "git pull"
    git(service, "pull", "--quiet")
    assert cli("pull", "encoder", cwd=service).exit_code == 0


def test_index_says_commit_it_only_when_something_changed(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    unchanged = cli("index", cwd=registry)
    assert unchanged.exit_code == 0
    assert "nothing to commit" in unchanged.stdout and "commit it" not in unchanged.stdout
    assert git(registry, "status", "--porcelain") == ""

    (registry / "artifacts" / "registry.json").write_text("{}\n")  # a stale file
    git(registry, "commit", "--quiet", "-am", "stale index")
    rewritten = cli("index", cwd=registry)
    assert "(commit it)" in rewritten.stdout
    assert git(registry, "status", "--porcelain").split() == ["M", "artifacts/registry.json"]
