"""Long work shows a progress bar on a terminal, and nothing in CI, with --json or --quiet."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers.terminal import run_on_a_terminal

ARTREG = str(Path(sys.executable).parent / "artreg")


@pytest.mark.parametrize(
    ("extra", "ci", "expect_bar"),
    [([], False, True), (["--json"], False, False), (["--quiet"], False, False), ([], True, False)],
    ids=["terminal", "json", "quiet", "CI"],
)
def test_register_shows_progress_only_for_a_person_at_a_terminal(
    registry: Path, tmp_path: Path, extra: list[str], ci: bool, expect_bar: bool
) -> None:
    ckpt = tmp_path / "big"
    ckpt.mkdir()
    (ckpt / "best.pt").write_bytes(os.urandom(8 << 20))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    code, output = run_on_a_terminal(
        [ARTREG, "register", "encoder", "s1", "--from", str(ckpt), *extra], cwd=registry, env=env
    )
    assert code == 0, output
    assert ("copying and hashing" in output) is expect_bar, output


@pytest.mark.parametrize(
    ("ci", "expect_bar"), [(False, True), (True, False)], ids=["terminal", "CI"]
)
def test_a_fetch_on_demand_shows_progress_only_at_a_terminal(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, ci: bool, expect_bar: bool
) -> None:
    from artreg.services.register import register_raw
    from artreg.services.validate import promote_to_validated

    from helpers import EXAMPLES, clone_repo, run_tool

    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = clone_repo(registry, tmp_path / "clone")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    args = [ARTREG, "promote", "encoder", vid, "--to", "production", "--version", "1.0.0"]
    args += ["--benchmarks", str(EXAMPLES / "benchmarks.json"), "--approved-by", "rm"]
    args += ["--resources", str(EXAMPLES / "resource_usage.json"), "--branch", "rel"]
    code, output = run_on_a_terminal(args, cwd=clone, env=env)
    assert code == 0, output
    assert ("Fetching from" in output) is expect_bar, output  # DVC's own transfer bar
