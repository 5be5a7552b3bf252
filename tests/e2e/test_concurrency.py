"""Concurrent promotions: a live lock makes others wait or fail; racing clones pushing to one
origin produce exactly one winner, and the losers undo their local change."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from artreg.features.promote import promote_to_validated
from artreg.features.register import register_raw

from helpers import ARTREG, EXAMPLES, git, run_tool, start_paused


def _paused_register(root: Path, ckpt: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A registration that holds the lock: stopped just after taking it."""
    args = ["register", "encoder", "held", "--from", str(ckpt)]
    return start_paused(args, root, "publish:locked", tmp_path / "holding-lock")


def test_a_live_lock_makes_the_second_command_fail_clearly_or_wait(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    holder = _paused_register(registry, checkpoint_dir, tmp_path)
    busy = cli("register", "encoder", "other", "--from", str(checkpoint_dir), cwd=registry)
    assert busy.exit_code == 4  # retryable: nothing changed, the same command may succeed later
    assert f"another artreg command (process {holder.pid}" in busy.stderr
    assert "--wait" in busy.stderr

    waiting = subprocess.Popen(
        [ARTREG, "register", "encoder", "waiter", "--from", str(checkpoint_dir), "--wait", "60"],
        cwd=registry,
        env={**os.environ, "CI": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    assert waiting.poll() is None  # still waiting for the lock
    os.kill(holder.pid, signal.SIGKILL)  # the holder dies: its lock is stale, its change half done
    holder.wait()
    _, err = waiting.communicate(timeout=60)
    assert (
        waiting.returncode == 2 and b"artreg recover" in err
    )  # never builds on a half-done change
    assert cli("recover", cwd=registry).exit_code == 0
    assert (
        cli("register", "encoder", "waiter", "--from", str(checkpoint_dir), cwd=registry).exit_code
        == 0
    )
    assert cli("verify", cwd=registry).exit_code == 0
    assert git(registry, "tag", "--list").split() == ["encoder#raw#1"]


@pytest.fixture
def four_clones(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path
) -> list[Path]:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    promote_to_validated(registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clones = []
    for i in range(4):
        clone = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "--quiet", str(bare_origin), str(clone))
        run_tool("dvc", "pull", "--quiet", cwd=clone)
        clones.append(clone)
    return clones


def _race(clones: list[Path], versions: list[str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [
                ARTREG,
                "promote",
                "encoder",
                "s1_best_validated",
                "--to",
                "production",
                "--version",
                v,
                "--benchmarks",
                str(EXAMPLES),
                "--approved-by",
                f"rm{i}",
                "--push",
            ],
            cwd=c,
            env={**os.environ, "CI": "true"},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i, (c, v) in enumerate(zip(clones, versions, strict=True))
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


def _origin_tags(origin: Path) -> dict[str, str]:
    out = git(origin, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags")
    return dict(line.split() for line in out.splitlines())


@pytest.mark.parametrize(
    "same_version", [True, False], ids=["same version", "racing for the counter"]
)
def test_racing_clones_produce_exactly_one_release(
    four_clones: list[Path], bare_origin: Path, same_version: bool
) -> None:
    versions = ["1.0.0"] * 4 if same_version else ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    results = _race(four_clones, versions)

    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1, [r.stderr for r in results]
    winner_clone = four_clones[results.index(winners[0])]
    winner_commit = git(winner_clone, "rev-parse", "HEAD").strip()
    for loser in losers:
        # Losing a version is final and names the winner; losing a counter race is retryable.
        assert loser.returncode == (2 if same_version else 4), loser.stderr
        assert "push to origin was rejected, so this promotion was undone locally" in loser.stderr
        if same_version:
            assert (
                f"encoder@v1.0.0 was already released on origin by commit {winner_commit[:12]}"
                in loser.stderr
            )
        assert "Traceback" not in loser.stderr
    tags = _origin_tags(bare_origin)
    releases = [t for t in tags if t.startswith("encoder@v")]
    production = [t for t in tags if t.startswith("encoder#production#")]
    assert len(releases) == 1 and production == ["encoder#production#3"]
    main_history = set(git(bare_origin, "rev-list", "main").split())
    assert all(commit in main_history for commit in tags.values())  # no tag is lost off-history
    for clone, result in zip(four_clones, results, strict=True):
        local = git(clone, "tag", "--list").split()
        if result.returncode != 0:  # the loser's local promotion was undone
            assert not [t for t in local if "production" in t or "@v" in t]
            assert git(clone, "status", "--porcelain") == ""
