"""Long work shows a progress bar on a terminal, and nothing in CI, with --json or --quiet."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ARTREG = str(Path(sys.executable).parent / "artreg")


def _run_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal, as a person at a shell would."""
    leader, follower = pty.openpty()
    # A real terminal has a size; a fresh pty has 0 columns, where tqdm draws nothing.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


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
    code, output = _run_on_a_terminal(
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
    code, output = _run_on_a_terminal(args, cwd=clone, env=env)
    assert code == 0, output
    assert ("Fetching from" in output) is expect_bar, output  # DVC's own transfer bar
