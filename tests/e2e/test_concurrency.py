"""Concurrent promotions: a live lock makes others wait or fail; racing clones pushing to one
origin all land unless they release the same version (then exactly one wins, and the losers
undo their local change)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated

from helpers import ARTREG, EXAMPLES, clone_repo, git, run_tool, start_paused


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


def _race(
    clones: list[Path], versions: list[str], *extra: str
) -> list[subprocess.CompletedProcess[str]]:
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
                *extra,
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


def test_racing_clones_releasing_the_same_version_produce_exactly_one_release(
    four_clones: list[Path], bare_origin: Path
) -> None:
    results = _race(four_clones, ["1.0.0"] * 4)

    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1, [r.stderr for r in results]
    winner_clone = four_clones[results.index(winners[0])]
    winner_commit = git(winner_clone, "rev-parse", "HEAD").strip()
    for loser in (r for r in results if r.returncode != 0):
        # Losing a version is final (exit 2) and names the winner's commit.
        assert loser.returncode == 2, loser.stderr
        assert "push to origin was rejected, so this promotion was undone locally" in loser.stderr
        assert (
            f"encoder@v1.0.0 was already released on origin by commit {winner_commit[:12]}"
            in loser.stderr
        )
        assert "Traceback" not in loser.stderr
    tags = _origin_tags(bare_origin)
    assert [t for t in tags if t.startswith("encoder@v")] == ["encoder@v1.0.0"]
    assert [t for t in tags if t.startswith("encoder#production#")] == ["encoder#production#3"]
    main_history = set(git(bare_origin, "rev-list", "main").split())
    assert all(commit in main_history for commit in tags.values())  # no tag is lost off-history
    for clone, result in zip(four_clones, results, strict=True):
        if result.returncode != 0:  # the loser's local promotion was undone
            local = git(clone, "tag", "--list").split()
            assert not [t for t in local if "production" in t or "@v" in t]
            assert git(clone, "status", "--porcelain", "--untracked-files=all") == ""


def test_racing_clones_releasing_different_versions_all_land_renumbered(
    four_clones: list[Path], bare_origin: Path, tmp_path: Path
) -> None:
    # Same name, different versions: not the same name and version, so each loser of a race
    # rebases onto origin, takes the next counter and pushes again. (Patches of four lines,
    # so a lower version landing after a higher one is allowed; without the flag it is refused:
    # test_racing_versions.py.)
    heads = [git(c, "rev-parse", "HEAD").strip() for c in four_clones]
    results = _race(four_clones, ["1.0.0", "1.1.0", "1.2.0", "1.3.0"], "--allow-non-monotonic")

    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    tags = _origin_tags(bare_origin)
    assert sorted(t for t in tags if t.startswith("encoder@v")) == [
        f"encoder@v1.{i}.0" for i in range(4)
    ]
    production = sorted(t for t in tags if t.startswith("encoder#production#"))
    assert production == [f"encoder#production#{n}" for n in (3, 4, 5, 6)]
    _assert_counters_follow_gto(bare_origin, tmp_path / "check")
    main_history = set(git(bare_origin, "rev-list", "main").split())
    assert all(commit in main_history for commit in tags.values())
    assert len(git(bare_origin, "rev-list", f"{heads[0]}..main").split()) == 4  # linear, no merges
    reader = clone_repo(bare_origin, tmp_path / "reader")
    run_tool("dvc", "pull", "--quiet", cwd=reader)
    verified = run_tool("artreg", "verify", "--remote", cwd=reader, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _assert_counters_follow_gto(origin: Path, where: Path) -> None:
    """Every counter is 1 + the highest counter of that artifact's earlier tags (GTO's rule),
    so each is unique per artifact, and `gto show` reads what artreg's own overview reads."""
    from artreg.registry.tags import parse_tag
    from artreg.sources.listing import overview

    reader = clone_repo(origin, where)
    out = git(
        reader, "for-each-ref", "--sort=creatordate", "--format=%(refname:strip=2)", "refs/tags"
    )
    highest: dict[str, int] = {}
    for tag in out.split():
        parsed = parse_tag(tag)
        assert parsed is not None, tag
        if parsed.counter is not None:
            assert parsed.counter == highest.get(parsed.name, 0) + 1, (tag, out)
            highest[parsed.name] = parsed.counter
    shown = json.loads(run_tool("gto", "show", "--json", cwd=reader).stdout)
    ours = overview(reader)
    assert set(shown) == set(ours)
    for name, artifact in ours.items():
        assert shown[name]["version"] == artifact.latest, name
        assert {s: v for s, v in shown[name]["stage"].items() if v} == {
            s: e.version or e.commit for s, e in artifact.stages.items()
        }, name


def test_six_fresh_clones_promoting_six_names_at_once_all_land(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    names = [f"model-{i}" for i in range(6)]
    for name in names:
        register_raw(registry, name, "s1", checkpoint_dir)
    for name in names[3:]:  # these three go on to production; the first three to validated
        promote_to_validated(registry, name, "s1", "best", EXAMPLES / "validation_results.json")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    start = git(registry, "rev-parse", "HEAD").strip()

    commands = []
    for i, name in enumerate(names):
        clone = tmp_path / f"ci-{i}"
        git(tmp_path, "clone", "--quiet", str(bare_origin), str(clone))
        # A fresh clone with an empty DVC cache; it pulls only its promotion's source.
        # (Fetch on demand, issue 14 item 1, makes this pull unnecessary.)
        stage = "raw" if i < 3 else "validated"
        source = "s1" if i < 3 else "s1_best_validated"
        pointers = (clone / "artifacts" / stage / name / source).rglob("*.dvc")
        run_tool(
            "dvc", "pull", "--quiet", *(str(p.relative_to(clone)) for p in pointers), cwd=clone
        )
        if i < 3:
            args = ["--to", "validated", "--checkpoint", "best"]
            args += ["--results", str(EXAMPLES / "validation_results.json")]
        else:
            args = ["--to", "production", "--version", "1.0.0", "--benchmarks", str(EXAMPLES)]
            args += ["--approved-by", "rm"]
        commands.append((clone, [ARTREG, "promote", name, source, *args, "--push"]))
    procs = [
        subprocess.Popen(
            cmd,
            cwd=clone,
            env={**os.environ, "CI": "true"},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for clone, cmd in commands
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outputs]

    tags = _origin_tags(bare_origin)
    new = {t for t in tags if not git(registry, "tag", "--list", t).strip()}
    assert new == {f"model-{i}#validated#2" for i in range(3)} | {
        t for i in range(3, 6) for t in (f"model-{i}@v1.0.0", f"model-{i}#production#3")
    }
    assert len(git(bare_origin, "rev-list", f"{start}..main").split()) == 6
    _assert_counters_follow_gto(bare_origin, tmp_path / "check")
    reader = clone_repo(bare_origin, tmp_path / "reader")
    for i, name in enumerate(names):
        stage = "validated" if i < 3 else "production"
        pulled = run_tool("artreg", "pull", name, "--stage", stage, cwd=reader, check=False)
        assert pulled.returncode == 0, pulled.stderr
        verified = run_tool("artreg", "verify", "--fetch", cwd=reader, check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    verified = run_tool("artreg", "verify", "--remote", cwd=reader, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_push_rejected_every_time_gives_up_retryably_leaving_the_clone_as_it_was(
    four_clones: list[Path], bare_origin: Path, cli
) -> None:
    from helpers import snapshot

    clone, other = four_clones[0], four_clones[1]
    # origin moves on (an unrelated commit), then refuses every push from now on.
    (other / "notes.md").write_text("unrelated work\n")
    git(other, "add", "notes.md")
    git(other, "commit", "--quiet", "-m", "unrelated change")
    git(other, "push", "--quiet", "origin", "main")
    hook = bare_origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'frozen for maintenance' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(clone)

    result = cli(
        "promote",
        "encoder",
        "s1_best_validated",
        "--to",
        "production",
        "--version",
        "1.0.0",
        "--benchmarks",
        str(EXAMPLES),
        "--approved-by",
        "rm",
        "--push",
        cwd=clone,
    )

    assert result.exit_code == 4, result.stderr  # retryable: the same command may land later
    assert "was rejected 8 times" in result.stderr
    assert "so this promotion was undone locally" in result.stderr
    assert snapshot(clone) == before  # rebased onto origin meanwhile, and taken back exactly
    assert git(bare_origin, "tag", "--list", "encoder@*") == ""


def test_a_push_killed_while_rebasing_onto_origin_is_rolled_back_by_recover(
    four_clones: list[Path], tmp_path: Path, cli
) -> None:
    from helpers import snapshot

    clone, other = four_clones[0], four_clones[1]
    (other / "notes.md").write_text("unrelated work\n")
    git(other, "add", "notes.md")
    git(other, "commit", "--quiet", "-m", "unrelated change")
    git(other, "push", "--quiet", "origin", "main")
    before = snapshot(clone)
    args = ["promote", "encoder", "s1_best_validated", "--to", "production", "--version", "1.0.0"]
    args += ["--benchmarks", str(EXAMPLES), "--approved-by", "rm", "--push"]
    # Rejected once (origin moved), then killed on the remote's branch, mid-rebase.
    proc = start_paused(args, clone, "publish:rebased", tmp_path / "paused")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert git(clone, "rev-parse", "HEAD") != before.head  # it was on origin's branch
    assert cli("verify", cwd=clone).exit_code == 1  # the journal is reported

    recovered = cli("recover", cwd=clone)

    assert recovered.exit_code == 0, recovered.stderr
    assert "rolled back the interrupted change" in recovered.stdout
    assert snapshot(clone) == before
    assert cli("verify", cwd=clone).exit_code == 0
