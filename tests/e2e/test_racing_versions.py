"""Racing `--push` obeys the version order a direct promote obeys: a release that lost the race
to a higher one, rebased and renumbered, is refused (or lands only with --allow-non-monotonic,
which then moves production as a direct promote with the flag does). Production is never
handed from a higher release to a lower one behind anyone's back."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated

from helpers import ARTREG, EXAMPLES, clone_repo, git, run_tool


def _release(version: str, *extra: str) -> list[str]:
    return [
        "promote", "encoder", "s1_best_validated", "--to", "production", "--version", version,
        "--benchmarks", str(EXAMPLES), "--approved-by", "rm", "--push", *extra,
    ]  # fmt: skip


@pytest.fixture
def two_clones(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path
) -> tuple[Path, Path]:
    """origin/main with encoder validated, and two release managers' clones of it."""
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    promote_to_validated(registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clones = []
    for who in ("a", "b"):
        clone = clone_repo(bare_origin, tmp_path / who)
        run_tool("dvc", "pull", "--quiet", cwd=clone)
        clones.append(clone)
    return clones[0], clones[1]


def _production(origin: Path, where: Path, cli) -> tuple[str, list[dict[str, object]]]:
    """Production as a fresh clone reads it, checked against gto show (the oracle); and the
    production history."""
    reader = clone_repo(origin, where)
    run_tool("dvc", "pull", "--quiet", cwd=reader)
    listed = cli("list", "--json", cwd=reader).json()["encoder"]  # type: ignore[index]
    shown = json.loads(run_tool("gto", "show", "--json", cwd=reader).stdout)["encoder"]
    production = listed["stages"]["production"]["version"]
    assert shown["stage"]["production"] == production
    assert shown["version"] == listed["latest"]
    resolved = cli("resolve", "encoder", "--json", cwd=reader)
    assert resolved.exit_code == 0, resolved.stderr
    assert resolved.json()["version"] == production.removeprefix("v")  # type: ignore[index]
    history = cli("history", "encoder", "--stage", "production", "--json", cwd=reader).json()
    return production, history  # type: ignore[return-value]


def test_a_release_overtaken_by_a_higher_one_is_refused_after_its_rebase(
    two_clones: tuple[Path, Path], bare_origin: Path, tmp_path: Path, cli
) -> None:
    a, b = two_clones
    head = git(a, "rev-parse", "HEAD").strip()
    # b lands v2.1.0 while a, not knowing it, releases v2.0.0: a's own checks pass, its push
    # is rejected, it rebases onto origin and renumbers, and there the order rule refuses it.
    assert cli(*_release("2.1.0"), cwd=b).exit_code == 0
    winner = git(b, "rev-parse", "HEAD").strip()

    lost = cli(*_release("2.0.0"), cwd=a)

    assert lost.exit_code == 2, lost.stderr
    assert (
        "push to origin was rejected, so this promotion was undone locally: encoder v2.1.0 was "
        f"released on origin meanwhile (commit {winner[:12]}), and 2.0.0 is lower than that "
        "latest release" in lost.stderr
    )
    assert "--allow-non-monotonic" in lost.stderr and "Traceback" not in lost.stderr
    assert git(a, "rev-parse", "HEAD").strip() == head  # undone locally
    assert git(a, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(a, "tag", "--list", "encoder@v2.0.0") == ""
    assert git(bare_origin, "tag", "--list", "encoder@v2.0.0") == ""
    production, history = _production(bare_origin, tmp_path / "reader", cli)
    assert production == "v2.1.0"
    assert [(i["label"], i["end"]) for i in history] == [("v2.1.0", None)]

    # The same release made with the flag lands, renumbered, and takes production, as a
    # direct promote with the flag does.
    landed = cli(*_release("2.0.0", "--allow-non-monotonic", "--json"), cwd=a)
    assert landed.exit_code == 0, landed.stderr
    assert landed.json()["tags"] == ["encoder@v2.0.0", "encoder#production#4"]  # type: ignore[index]
    production, history = _production(bare_origin, tmp_path / "reader2", cli)
    assert production == "v2.0.0"
    assert [i["ended"] for i in history] == ["replaced by v2.0.0", None]


def test_racing_pushers_of_two_versions_leave_production_on_the_higher(
    two_clones: tuple[Path, Path], bare_origin: Path, tmp_path: Path, cli
) -> None:
    # A real race: whichever lands first, production ends on v2.1.0; v2.0.0 either landed
    # first (then v2.1.0 replaced it) or lost and was refused after its rebase.
    procs = [
        subprocess.Popen(
            [ARTREG, *_release(version)],
            cwd=clone,
            env={**os.environ, "CI": "true"},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for clone, version in zip(two_clones, ("2.0.0", "2.1.0"), strict=True)
    ]
    (_, lower_err), (_, higher_err) = (p.communicate(timeout=300) for p in procs)
    assert procs[1].returncode == 0, higher_err
    assert procs[0].returncode in (0, 2), lower_err
    production, history = _production(bare_origin, tmp_path / "reader", cli)
    assert production == "v2.1.0"
    assert all(i["successor"] != "v2.0.0" for i in history), history
    if procs[0].returncode == 2:
        assert "and 2.0.0 is lower than that latest release" in lower_err
        assert git(bare_origin, "tag", "--list", "encoder@v2.0.0") == ""
