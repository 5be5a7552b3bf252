"""Promotion pull requests: branch, push, merge (three ways), `artreg tag`, and what others see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artreg.services.register import register_raw
from artreg.sources.listing import overview

from helpers import EXAMPLES, clone_repo, git, release, run_tool


def _merge(maintainer: Path, branch: str, how: str) -> None:
    git(maintainer, "fetch", "--quiet", "origin")
    if how == "merge":
        git(maintainer, "merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}")
    elif how == "squash":
        git(maintainer, "merge", "--quiet", "--squash", f"origin/{branch}")
        git(maintainer, "commit", "--quiet", "-m", f"{branch} (squashed)")
    else:
        git(maintainer, "switch", "--quiet", "-c", "rebasing", f"origin/{branch}")
        git(maintainer, "rebase", "--quiet", "main")
        git(maintainer, "switch", "--quiet", "main")
        git(maintainer, "merge", "--quiet", "--ff-only", "rebasing")
        git(maintainer, "branch", "--quiet", "-D", "rebasing")
    git(maintainer, "push", "--quiet", "origin", "main")


def _unrelated_change(maintainer: Path, n: int) -> None:
    (maintainer / f"notes-{n}.md").write_text("unrelated work on main\n")
    git(maintainer, "add", f"notes-{n}.md")
    git(maintainer, "commit", "--quiet", "-m", "unrelated change on main")
    git(maintainer, "push", "--quiet", "origin", "main")


@pytest.mark.parametrize("how", ["merge", "squash", "rebase"])
def test_review_flow_tags_exactly_the_merged_promotions(
    how: str, registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    trainer = clone_repo(bare_origin, tmp_path / "trainer")
    maintainer = clone_repo(bare_origin, tmp_path / "maintainer")
    run_tool("dvc", "pull", "--quiet", cwd=trainer)

    summary = tmp_path / "pr-validated.md"
    result = cli(
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(EXAMPLES / "validation_results.json"),
        "--branch",
        "promote/encoder-validated",
        "--summary-md",
        str(summary),
        "--push",
        cwd=trainer,
    )
    assert result.exit_code == 0, result.stderr
    assert git(trainer, "tag", "--list").split() == ["encoder#raw#1"]  # no tag on the branch
    text = summary.read_text()
    assert "Promotes raw `s1` → validated `s1_best_validated`" in text
    assert "| coverage | 0.97 | >= 0.95 | ✅ pass |" in text and "model.pt" in text

    _unrelated_change(maintainer, 1)
    _merge(maintainer, "promote/encoder-validated", how)
    first = cli("tag", "--push", "--json", cwd=maintainer)
    assert first.exit_code == 0, first.stderr
    assert first.json()["created"] == ["encoder#validated#2"]
    again = cli("tag", "--json", cwd=maintainer)
    assert again.json()["created"] == []

    git(trainer, "switch", "--quiet", "main")
    git(trainer, "pull", "--quiet", "--tags", "origin", "main")
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
        "--deployment",
        str(EXAMPLES / "deployment.yaml"),
        "--approved-by",
        "release manager",
        "--branch",
        "release/encoder-1.0.0",
        "--push",
        cwd=trainer,
    )
    assert result.exit_code == 0, result.stderr
    _unrelated_change(maintainer, 2)
    _merge(maintainer, "release/encoder-1.0.0", how)
    second = cli("tag", "--push", "--json", cwd=maintainer)
    assert second.json()["created"] == ["encoder@v1.0.0", "encoder#production#3"]
    assert cli("tag", "--json", cwd=maintainer).json()["created"] == []

    reader = clone_repo(bare_origin, tmp_path / "reader")
    git(reader, "fetch", "--quiet", "--tags")
    shown = json.loads(run_tool("gto", "show", "--json", cwd=reader).stdout)["encoder"]
    ours = overview(reader)["encoder"]
    assert shown["version"] == ours.latest == "v1.0.0"
    assert {s: v for s, v in shown["stage"].items() if v} == {
        s: e.version or e.commit for s, e in ours.stages.items()
    }
    chain = cli("lineage", "encoder@v1.0.0", "--json", cwd=reader).json()
    assert [step["stage"] for step in chain] == ["production", "validated", "raw"]
    assert [step["tag"] for step in chain] == [
        "encoder@v1.0.0",
        "encoder#validated#2",
        "encoder#raw#1",
    ]
    pulled = cli("pull", "encoder", cwd=reader)
    assert pulled.exit_code == 0, pulled.stderr
    assert cli("verify", "--fetch", "--remote", cwd=reader).exit_code == 0


def test_a_refused_branch_promotion_returns_to_the_original_branch(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"coverage": 0.1}))
    result = cli(
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(bad),
        "--branch",
        "promote/x",
        cwd=registry,
    )
    assert result.exit_code == 1
    assert git(registry, "branch", "--show-current").strip() == "main"
    assert "promote/x" not in git(registry, "branch", "--list")
    assert git(registry, "status", "--porcelain") == ""


def test_a_branch_promotion_or_release_leaves_you_where_you_were(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    """`promote --branch` and `release --branch` commit on the new branch, then return to the
    branch they started from with a clean work tree: the pull request's folder (its DVC
    outputs too) is not left behind, so a later release on main is not "released already"."""
    from helpers import RELEASE_ARGS
    from helpers.modelfiles import write_safetensors

    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    register_raw(registry, "encoder", "s2", checkpoint_dir)
    model = write_safetensors(tmp_path / "distilled.safetensors", 4096)
    git(registry, "switch", "--quiet", "-c", "work")
    for branch, args in (
        ("promote/s2", ["promote", "encoder", "s2", "--to", "validated", "--checkpoint", "best",
                        "--results", str(EXAMPLES / "validation_results.json")]),
        ("release/distill", ["release", "distill", str(model), "--version", "1.0.0",
                             *RELEASE_ARGS]),
    ):  # fmt: skip
        start = git(registry, "rev-parse", "HEAD").strip()
        result = cli(*args, "--branch", branch, "--json", cwd=registry)
        assert result.exit_code == 0, result.stderr
        folder = result.json()["folder"]  # type: ignore[index]

        assert git(registry, "branch", "--show-current").strip() == "work"
        assert git(registry, "rev-parse", "HEAD").strip() == start
        assert git(registry, "status", "--porcelain", "--untracked-files=all") == ""
        assert not (registry / folder).exists()
        # The branch keeps its commit: the folder, pointers and all, on top of where we were.
        assert git(registry, "rev-parse", f"{branch}~1").strip() == start
        held = git(registry, "ls-tree", "-r", "--name-only", branch, folder).split()
        assert f"{folder}/metadata.json" in held and any(p.endswith(".dvc") for p in held)

    # Back on main, the same release is made there directly.
    git(registry, "switch", "--quiet", "main")
    again = cli("release", "distill", str(model), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert again.exit_code == 0, again.stderr
    assert "distill@v1.0.0" in git(registry, "tag", "--list")
    assert git(registry, "status", "--porcelain") == ""


def test_a_pull_request_branch_that_exists_only_on_origin_is_refused_up_front(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    """`release --branch B --push` where someone pushed B already: the push could never
    succeed, so it is bad input (exit 2) naming the branch on origin and the fix, before
    anything changes; not a retryable error that CI would retry for ever."""
    from helpers import RELEASE_ARGS, snapshot
    from helpers.modelfiles import write_safetensors

    other = clone_repo(bare_origin, tmp_path / "colleague")
    git(other, "switch", "--quiet", "-c", "release/enc-1.0.0")
    git(other, "push", "--quiet", "origin", "release/enc-1.0.0")
    model = write_safetensors(tmp_path / "enc.safetensors", 4096)
    before = snapshot(registry)
    origin_refs = git(bare_origin, "show-ref")

    result = cli(
        "release", "enc", str(model), "--version", "1.0.0", *RELEASE_ARGS,
        "--branch", "release/enc-1.0.0", "--push", cwd=registry,
    )  # fmt: skip

    assert result.exit_code == 2, result.stderr
    assert "origin has a branch 'release/enc-1.0.0' already" in result.stderr, result.stderr
    assert "choose another --branch name, or fetch it" in result.stderr
    assert "git pull --rebase" not in result.stderr
    assert snapshot(registry) == before
    assert git(registry, "branch", "--show-current").strip() == "main"
    assert git(bare_origin, "show-ref") == origin_refs

    fresh = cli(
        "release", "enc", str(model), "--version", "1.0.0", *RELEASE_ARGS,
        "--branch", "release/enc-1.0.0-b", "--push", cwd=registry,
    )  # fmt: skip
    assert fresh.exit_code == 0, fresh.stderr
    assert "release/enc-1.0.0-b" in git(bare_origin, "branch", "--list")


def test_summary_of_a_release_shows_metric_deltas_against_the_release_before(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    from artreg.services.release import promote_to_production

    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    vid = "s1_best_validated"
    faster = tmp_path / "benchmarks.json"
    faster.write_text(
        json.dumps(
            {**json.loads((EXAMPLES / "benchmarks.json").read_text()), "latency_p95_ms": 21.0}
        )
    )
    promote_to_production(
        registry,
        "encoder",
        vid,
        "1.1.0",
        benchmarks=faster,
        resource_usage=EXAMPLES / "resource_usage.json",
        approved_by="rm",
    )
    text = cli("summary", "--base", "HEAD~1", cwd=registry).stdout
    assert "### Metric deltas against production v1.0.0" in text
    assert "| latency_p95_ms | 31.0 | 21.0 | -10 |" in text
