"""`artreg gc` as a hostile review met it: a stage falling back to a retired folder, a
tombstone on the current folder, gc on a side branch, a branch forked before a gc, Ctrl-C in
the sweep, absurd grace periods, a DVC remote that is gone, and a second gc after a sweep.
Real git, DVC and a local DVC remote; the interrupt is a real SIGINT at a fault point."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from artreg.api import register_artifact
from artreg.services.register import register_raw

from helpers import (
    ARTREG,
    RELEASE_INPUTS,
    clone_repo,
    git,
    run_tool,
    snapshot,
    start_paused,
    tiny_safetensors,
)

POLICY = (
    "retention:\n  raw: {keep_last: 1}\n  validated: {keep_last: 1}\n"
    "  production: {keep_last: 1}\n  min_age_days: 0\n  grace_hours: 0\n"
)
OLD = "artifacts/production/enc/v1.1.0"
SHAPES = {"embed.weight": (32, 16), "proj.weight": (16, 16)}


def storage(root: Path) -> set[str]:
    return {p.parent.name + p.name for p in (root / ".dvc-storage/files/md5").glob("*/*")}


def two_releases(root: Path, tmp_path: Path, policy: str = POLICY) -> None:
    """enc v1.1.0 and v1.2.0 from two sessions of different bytes, pushed; the policy keeps
    only the newest of each stage, so v1.1.0 and its lineage are gc's to drop."""
    if policy:
        with (root / "params.yaml").open("a") as fh:
            fh.write(policy)
        git(root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    for i, version in ((1, "1.1.0"), (2, "1.2.0")):
        model = tiny_safetensors(tmp_path / f"run{i}" / "model.safetensors", i, SHAPES)
        register_artifact("enc", model, version, repo=root, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=root)


def test_a_stage_falling_back_to_a_retired_folder_is_warned_and_fails_verify(
    registry: Path, tmp_path: Path, cli
) -> None:
    two_releases(registry, tmp_path)
    swept = cli("gc", "--apply", "--json", "--repo", str(registry))
    assert swept.exit_code == 0, swept.stderr
    assert OLD in swept.json()["applied"]["marked"]  # type: ignore[index]

    # Retracting v1.2.0 stays possible, but production falls back to the retired v1.1.0.
    retracted = cli("deprecate", "enc@v1.2.0", "--repo", str(registry))
    assert retracted.exit_code == 0, retracted.stderr
    assert f"enc#production resolves to {OLD}, retired by gc on" in retracted.stderr
    assert "promote another version to production" in retracted.stderr

    for args in (("verify",), ("verify", "--remote")):
        verified = cli(*args, "--repo", str(registry))
        assert verified.exit_code == 1, verified.stdout
        assert f"enc#production resolves to {OLD}, retired by gc" in verified.stderr
        assert "consumers cannot fetch it" in verified.stderr

    # gc no longer claims the objects of the needed folder "stay": they were swept.
    again = cli("gc", "--repo", str(registry))
    assert again.exit_code == 0, again.stderr
    assert "its objects stay" not in again.stdout + again.stderr
    assert (
        f"{OLD}: retired, but current production: gc deletes no more of its objects, but "
        "those already swept are gone" in again.stdout + again.stderr
    )


def test_a_later_gc_does_not_warn_about_listings_it_swept(
    registry: Path, tmp_path: Path, cli
) -> None:
    # A folder of two files is tracked with a `.dir` listing, which the sweep deletes last.
    with (registry / "params.yaml").open("a") as fh:
        fh.write(POLICY)
    git(registry, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    for i in (1, 2):
        run = tmp_path / "runs" / f"s{i}"
        (run / "ckpt").mkdir(parents=True)
        (run / "ckpt" / "a.bin").write_bytes(f"a{i}".encode() * 100)
        (run / "ckpt" / "b.bin").write_bytes(f"b{i}".encode() * 100)
        register_raw(registry, "enc", f"s{i}", run)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    assert cli("gc", "--apply", "--repo", str(registry)).exit_code == 0
    later = cli("gc", "--repo", str(registry))
    assert later.exit_code == 0, later.stderr
    assert "is in neither the cache nor the remote" not in later.stdout + later.stderr


def test_a_hand_made_tombstone_on_the_current_folder_fails_verify(
    registry: Path, tmp_path: Path, cli
) -> None:
    two_releases(registry, tmp_path, "")
    folder = "artifacts/production/enc/v1.2.0"  # current production, every object there
    (registry / "artifacts" / "retired.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "retired": [
                    {"folder": folder, "objects": [], "date": "2026-01-01T00:00:00Z", "by": "x"}
                ],
            }
        )
    )
    git(registry, "add", "artifacts/retired.json")
    git(registry, "commit", "--quiet", "-m", "a tombstone by hand")
    verified = cli("verify", "--repo", str(registry))
    assert verified.exit_code == 1, verified.stdout
    assert f"enc#production resolves to {folder}, retired by gc on 2026-01-01" in verified.stderr


def test_gc_apply_off_the_default_branch_is_refused(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    two_releases(registry, tmp_path)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clone = clone_repo(bare_origin, tmp_path / "clone")
    git(clone, "switch", "--quiet", "-c", "experiment")
    before, stored = snapshot(clone), storage(registry)
    refused = cli("gc", "--apply", "--repo", str(clone))
    assert refused.exit_code == 2, refused.stderr
    assert "on branch experiment, not on the default branch main" in refused.stderr
    assert "git switch main" in refused.stderr
    assert snapshot(clone) == before and storage(registry) == stored
    assert cli("gc", "--repo", str(clone)).exit_code == 0  # the dry run works anywhere


def test_gc_apply_where_git_names_no_default_branch_is_refused(
    registry: Path, tmp_path: Path, cli
) -> None:
    """No origin, and the default branch renamed away from init.defaultBranch: the branch
    checked out is no proof of being the default, so --apply refuses rather than guess."""
    two_releases(registry, tmp_path)
    git(registry, "branch", "--quiet", "-m", "main", "master")
    git(registry, "switch", "--quiet", "-c", "experiment")
    before, stored = snapshot(registry), storage(registry)
    refused = cli("gc", "--apply", "--repo", str(registry))
    assert refused.exit_code == 2, refused.stderr
    assert "git names no default branch here" in refused.stderr
    assert "init.defaultBranch" in refused.stderr and "nothing was changed" in refused.stderr
    assert snapshot(registry) == before and storage(registry) == stored


def test_a_branch_forked_before_gc_reads_main_s_tombstones(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    two_releases(registry, tmp_path)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    git(registry, "push", "--quiet", "origin", "main:feature")  # forked before the gc
    assert cli("gc", "--apply", "--repo", str(registry)).exit_code == 0
    git(registry, "push", "--quiet", "origin", "main")

    fresh = clone_repo(bare_origin, tmp_path / "fresh")
    git(fresh, "switch", "--quiet", "feature")
    assert not (fresh / "artifacts" / "retired.json").exists()
    for args in (("verify",), ("verify", "--remote")):
        verified = cli(*args, "--repo", str(fresh))
        assert verified.exit_code == 0, verified.stdout + verified.stderr
        assert f"{OLD}: retired on main by gc on" in verified.stdout
        assert "merge main" in verified.stdout
        assert "run `dvc push`" not in verified.stdout


@pytest.mark.parametrize("where", ["gc:tombstoned", "gc:delete-remote"])
def test_ctrl_c_after_the_retirement_commit_says_what_was_done_and_the_rerun_finishes(
    registry: Path, tmp_path: Path, where: str
) -> None:
    two_releases(registry, tmp_path)
    head = git(registry, "rev-parse", "HEAD").strip()
    proc = start_paused(["gc", "--apply"], registry, where, tmp_path / "paused")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    retired_at = git(registry, "rev-parse", "HEAD").strip()
    assert retired_at != head
    text = err.decode()
    assert "nothing was changed" not in text
    assert f"interrupted after gc committed the retirement {retired_at[:12]}" in text
    if where == "gc:delete-remote":
        assert "was deleting the retired folders' objects (some may be gone already)" in text
    assert "run `artreg gc --apply` again to finish" in text

    rerun = subprocess.run([ARTREG, "gc", "--apply", "--json"], cwd=registry, capture_output=True)
    assert rerun.returncode == 0, rerun.stderr
    done = json.loads(rerun.stdout)
    assert done["applied"]["commit"] is None and done["applied"]["remote_objects"] == 1
    assert cli_free_verify(registry) == 0


def cli_free_verify(root: Path) -> int:
    return subprocess.run([ARTREG, "verify", "--remote"], cwd=root, capture_output=True).returncode


def test_absurd_grace_periods_are_refused_naming_the_option_or_key(registry: Path, cli) -> None:
    before = snapshot(registry)
    refused = cli("gc", "--apply", "--grace-hours", "100000000", "--repo", str(registry))
    assert refused.exit_code == 2, refused.stderr
    assert "--grace-hours" in refused.stderr and "87600" in refused.stderr
    with (registry / "params.yaml").open("a") as fh:
        fh.write("retention:\n  grace_hours: 100000000\n")
    git(registry, "commit", "--quiet", "-m", "ten thousand years", "params.yaml")
    before = snapshot(registry)
    refused = cli("gc", "--repo", str(registry))
    assert refused.exit_code == 2, refused.stderr
    assert "params.yaml" in refused.stderr and "/retention/grace_hours" in refused.stderr
    assert snapshot(registry) == before


def test_gc_with_a_missing_dvc_remote_says_so(registry: Path, tmp_path: Path, cli) -> None:
    with (registry / "params.yaml").open("a") as fh:
        fh.write(POLICY)
    git(registry, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    for i in (1, 2):
        run = tmp_path / "runs" / f"s{i}"
        (run / "ckpt").mkdir(parents=True)
        (run / "ckpt" / "a.bin").write_bytes(f"a{i}".encode() * 100)
        register_raw(registry, "enc", f"s{i}", run)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    shutil.rmtree(registry / ".dvc" / "cache")  # the listings only the remote holds now
    shutil.rmtree(registry / ".dvc-storage")  # and the remote is gone (an unmounted disk)
    before = snapshot(registry)
    refused = cli("gc", "--apply", "--repo", str(registry))
    assert refused.exit_code == 4, refused.stderr
    assert "not found or not reachable" in refused.stderr
    assert "directory listing" not in refused.stderr
    assert snapshot(registry) == before


def test_pulling_a_retired_version_in_a_fresh_clone_says_retired_without_dvc_warnings(
    registry: Path, bare_origin: Path, tmp_path: Path
) -> None:
    two_releases(registry, tmp_path)
    assert (
        subprocess.run([ARTREG, "gc", "--apply"], cwd=registry, capture_output=True).returncode == 0
    )
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    fresh = clone_repo(bare_origin, tmp_path / "fresh")
    for args in (
        ["pull", "enc", "--version", "1.1.0"],
        ["get", "enc@v1.1.0", "-o", str(tmp_path / "out")],
    ):
        pulled = subprocess.run([ARTREG, *args], cwd=fresh, capture_output=True, text=True)
        assert pulled.returncode == 2, pulled.stderr
        assert f"{OLD}: retired by gc on" in pulled.stderr
        assert "failed to collect" not in pulled.stderr and "WARNING" not in pulled.stderr
    kept = subprocess.run([ARTREG, "pull", "enc"], cwd=fresh, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stderr
