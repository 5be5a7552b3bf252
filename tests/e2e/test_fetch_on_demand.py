"""Promotions in CI clones (issue 14, items 1 and 4): a fresh clone fetches exactly the stage
bytes a command needs (DVC cache first, then the remote, verified against the committed
manifest), and a shallow, tagless clone (actions/checkout's default) fetches the tags and
history it lacks; with --no-fetch both are refused with the command to run.

Everything is real: a bare origin, clones made by git, a local DVC remote and S3 (moto).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from artreg.adapters.dvc.repo import remote_url
from artreg.services.init import init_registry
from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated

from helpers import (
    EXAMPLES,
    RELEASE_ARGS,
    Snapshot,
    clone_repo,
    git,
    release,
    run_tool,
    snapshot,
)

RESULTS = EXAMPLES / "validation_results.json"


def _cache_objects(root: Path) -> set[str]:
    """md5 addresses of every object in a clone's DVC cache (`.dir` listings included)."""
    base = root / ".dvc/cache/files/md5"
    return (
        {p.parent.name + p.name for p in base.rglob("*") if p.is_file()} if base.is_dir() else set()
    )


def _snapshot(root: Path) -> Snapshot:
    """snapshot(), less DVC's scratch folder: the first time any DVC code opens a repository
    (here: to ask where its cache is) DVC writes `.dvc/tmp/btime`, git-ignored by DVC itself.
    It is no registry state, and everything else must be exactly as before."""
    taken = snapshot(root)
    status = "".join(
        line
        for line in taken.status.splitlines(keepends=True)
        if not line.startswith("!! .dvc/tmp/")
    )
    return dataclasses.replace(taken, status=status)


def _pointer_md5(pointer: Path) -> str:
    return next(
        line.split(":", 1)[1].strip()
        for line in pointer.read_text().splitlines()
        if line.lstrip("- ").startswith("md5:")
    )


def _team_registry(root: Path, checkpoint_dir: Path, tmp_path: Path) -> str:
    """A registry with one validated encoder (not released) among other artifacts' bytes, all
    pushed to the DVC remote; returns the validated id."""
    other = tmp_path / "decoder-run"
    shutil.copytree(checkpoint_dir, other)
    shutil.copy(other / "epoch_1.pt", other / "best.pt")  # different weights, other objects
    release(root, "decoder", "d1", other, "1.0.0")
    register_raw(root, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(root, "encoder", "s1", "best", RESULTS).id
    run_tool("dvc", "push", "--quiet", cwd=root)
    return vid


def _promote_in_fresh_clone(cli, clone: Path, vid: str, *extra: str):
    return cli(
        "promote",
        "encoder",
        vid,
        "--to",
        "production",
        "--version",
        "1.0.0",
        *RELEASE_ARGS,
        "--branch",
        "release/encoder-1.0.0",
        "--json",
        *extra,
        cwd=clone,
    )


def test_a_fresh_clone_promotes_to_production_fetching_only_the_sources_object(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    vid = _team_registry(registry, checkpoint_dir, tmp_path)
    source = registry / f"artifacts/validated/encoder/{vid}"
    remote = Path(str(remote_url(registry)))
    in_remote = {p.parent.name + p.name for p in (remote / "files/md5").rglob("*") if p.is_file()}
    clone = clone_repo(registry, tmp_path / "ci")
    assert _cache_objects(clone) == set()
    assert not (clone / f"artifacts/validated/encoder/{vid}/model.pt").exists()

    result = _promote_in_fresh_clone(cli, clone, vid)

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # --json (and CI): no progress bars, no DVC chatter
    wanted = _pointer_md5(source / "model.pt.dvc")
    # The release copies the model unchanged, so its object is the source's: one object in all,
    # out of the remote's many.
    assert _cache_objects(clone) == {wanted}
    assert len(in_remote) > 5
    # Fetched into the cache only: the work tree's source folder is as the clone made it.
    assert not (clone / f"artifacts/validated/encoder/{vid}/model.pt").exists()
    # Back on main, where it began (the release waits on its branch for the merge), verify
    # --fetch's content checks fetch and hash every DVC-tracked file the clone lacks.
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert "release/encoder-1.0.0" in git(clone, "branch", "--list")
    verified = cli("verify", "--fetch", "--json", cwd=clone)
    assert verified.exit_code == 0, verified.stderr
    tracked = sum(
        1
        for m in clone.glob("artifacts/*/*/*/manifest.json")
        for f in json.loads(m.read_text())["files"].values()
        if f.get("dvc")
    )
    assert verified.json()["checked"]["files hashed from the DVC cache"] == tracked


def test_a_fresh_clone_validates_a_checkpoint_fetching_only_that_checkpoint(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = clone_repo(registry, tmp_path / "ci")

    result = cli(
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "epoch_2",
        "--results",
        str(RESULTS),
        "--branch",
        "validate/encoder",
        "--json",
        cwd=clone,
    )

    assert result.exit_code == 0, result.stderr
    raw = registry / "artifacts/raw/encoder/s1"
    listing = _pointer_md5(raw / "checkpoints.dvc")
    entries = json.loads(
        (registry / ".dvc/cache/files/md5" / listing[:2] / listing[2:]).read_text()
    )
    by_name = {e["relpath"]: e["md5"] for e in entries}
    fetched = _cache_objects(clone)
    assert listing in fetched and by_name["epoch_2.pt"] in fetched
    others = {md5 for rel, md5 in by_name.items() if rel != "epoch_2.pt"} - {by_name["epoch_2.pt"]}
    assert not fetched & others  # no other checkpoint's object
    git(clone, "switch", "--quiet", "validate/encoder")  # the command went back to main
    written = _pointer_md5(clone / result.json()["folder"] / "model.pt.dvc")
    assert fetched == {listing, by_name["epoch_2.pt"], written}


def test_no_fetch_refuses_with_the_command_to_run_and_changes_nothing(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    vid = _team_registry(registry, checkpoint_dir, tmp_path)
    clone = clone_repo(registry, tmp_path / "ci")
    before = _snapshot(clone)

    result = _promote_in_fresh_clone(cli, clone, vid, "--no-fetch")

    assert result.exit_code == 2
    where = f"artifacts/validated/encoder/{vid}/model.pt"
    assert f"{where}: its bytes are in neither the work tree nor the DVC cache" in result.stderr
    assert f"fix: run `dvc fetch {where}` (or leave out --no-fetch)" in result.stderr
    assert _snapshot(clone) == before
    assert _cache_objects(clone) == set()

    run_tool("dvc", "fetch", "--quiet", where, cwd=clone)  # the command it named
    assert _promote_in_fresh_clone(cli, clone, vid, "--no-fetch").exit_code == 0


def test_an_altered_object_in_the_remote_is_refused_before_anything_is_written(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    vid = _team_registry(registry, checkpoint_dir, tmp_path)
    clone = clone_repo(registry, tmp_path / "ci")
    wanted = _pointer_md5(registry / f"artifacts/validated/encoder/{vid}/model.pt.dvc")
    # An object of a local remote whose md5 is wrong is refused before DVC fetches; one that
    # reached the cache (another tool, a bad disk) must be caught by the sha256 of the manifest.
    cached = clone / ".dvc/cache/files/md5" / wanted[:2] / wanted[2:]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the model")
    before = _snapshot(clone)

    result = _promote_in_fresh_clone(cli, clone, vid)

    assert result.exit_code == 1
    assert f"the DVC cache object {cached} has sha256" in result.stderr
    assert _snapshot(clone) == before


def test_a_fresh_clone_fetches_only_the_sources_object_from_s3(
    tmp_path: Path, checkpoint_dir: Path, s3, cli
) -> None:
    root = tmp_path / "team-registry"
    init_registry(root, remote=s3.url)
    s3.configure(root)
    vid = _team_registry(root, checkpoint_dir, tmp_path)
    keys = s3.keys()
    clone = clone_repo(root, tmp_path / "ci")
    s3.configure(clone)

    result = _promote_in_fresh_clone(cli, clone, vid)

    assert result.exit_code == 0, result.stderr
    wanted = _pointer_md5(root / f"artifacts/validated/encoder/{vid}/model.pt.dvc")
    assert f"registry/files/md5/{wanted[:2]}/{wanted[2:]}" in keys and len(keys) > 5
    assert _cache_objects(clone) == {wanted}


def test_get_no_fetch_refuses_then_get_fetches(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = clone_repo(registry, tmp_path / "svc")
    out = tmp_path / "out"

    refused = cli("get", "encoder", "-o", str(out), "--no-fetch", cwd=clone)
    assert refused.exit_code == 2
    assert "run `artreg pull encoder@v1.0.0` (or leave out --no-fetch)" in refused.stderr
    assert not out.exists()
    got = cli("get", "encoder", "-o", str(out), cwd=clone)
    assert got.exit_code == 0, got.stderr
    assert (out / "model.pt").read_bytes() == (
        registry / "artifacts/production/encoder/v1.0.0/model.pt"
    ).read_bytes()


# --- shallow and tagless clones (item 4) ---------------------------------------------------------


def _checkout_like_actions(origin: Path, target: Path) -> Path:
    """What actions/checkout makes by default: one commit, no tags."""
    git(
        target.parent,
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--no-tags",
        f"file://{origin}",
        str(target),
    )
    assert git(target, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert git(target, "tag") == ""
    return target


def test_a_shallow_tagless_clone_lists_verifies_and_promotes(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    vid = _team_registry(registry, checkpoint_dir, tmp_path)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clone = _checkout_like_actions(bare_origin, tmp_path / "ci")

    listed = cli("list", "--json", cwd=clone)
    assert listed.exit_code == 0, listed.stderr
    assert set(listed.json()) == {"decoder", "encoder"}
    assert "fetched what it lacks (`git fetch --tags --unshallow origin`)" in listed.stderr
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "false"
    assert git(clone, "tag", "--list", "encoder#validated#*").strip()

    verified = cli("verify", "--fetch", cwd=clone)
    assert verified.exit_code == 0, verified.stderr
    promoted = _promote_in_fresh_clone(cli, clone, vid)
    assert promoted.exit_code == 0, promoted.stderr


def test_a_tagless_clone_fetches_only_tags(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clone = tmp_path / "tagless"
    git(tmp_path, "clone", "--quiet", "--no-tags", f"file://{bare_origin}", str(clone))
    # A commit on origin after the clone: fetching tags must not move origin/main.
    register_raw(registry, "encoder", "s2", checkpoint_dir)
    git(registry, "push", "--quiet", "origin", "main")
    tracking = git(clone, "rev-parse", "origin/main")

    shown = cli("show", "encoder#production", "--json", cwd=clone)

    assert shown.exit_code == 0, shown.stderr
    assert "`git fetch origin refs/tags/*:refs/tags/*`" in shown.stderr
    assert git(clone, "rev-parse", "origin/main") == tracking


def test_no_fetch_in_a_shallow_tagless_clone_says_what_to_run(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clone = _checkout_like_actions(bare_origin, tmp_path / "ci")

    result = cli("resolve", "encoder", "--no-verify", "--no-fetch", cwd=clone)

    assert result.exit_code == 2
    assert "run `git fetch --tags --unshallow`" in result.stderr
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert git(clone, "tag") == ""


# --- the pull-request job of `artreg init --ci github`, run as CI runs it (item 5) --------------


def _promotion_pull_request(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> tuple[Path, str]:
    """A promotion branch pushed from a developer's fresh clone, then checked out as
    actions/checkout does with `fetch-depth: 0`; returns (CI clone, promoted folder)."""
    vid = _team_registry(registry, checkpoint_dir, tmp_path)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    dev = clone_repo(bare_origin, tmp_path / "dev")
    pushed = _promote_in_fresh_clone(cli, dev, vid, "--push")
    assert pushed.exit_code == 0, pushed.stderr
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "--quiet", f"file://{bare_origin}", str(ci))
    git(ci, "checkout", "--quiet", "release/encoder-1.0.0")
    return ci, pushed.json()["folder"]


def _workflow_steps() -> list[str]:
    from ruamel.yaml import YAML

    from artreg.publishing.ci import PR_WORKFLOW_PATH, ci_files

    workflow = ci_files("main")[PR_WORKFLOW_PATH]
    steps = YAML(typ="safe", pure=True).load(workflow)["jobs"]["verify"]["steps"]
    return [s["run"] for s in steps if "run" in s and not s["run"].startswith("pip install")]


def _run_step(script: str, cwd: Path, tmp_path: Path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "CI": "true",
        "BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
    }
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_pull_request_job_fetches_only_the_promoted_folders_objects(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    ci, folder = _promotion_pull_request(registry, checkpoint_dir, bare_origin, tmp_path, cli)
    changed = next(s for s in _workflow_steps() if "artreg verify --fetch --changed" in s)

    _run_step(
        changed.replace(
            "artreg verify --fetch --changed", "artreg verify --fetch --json --changed"
        ),
        ci,
        tmp_path,
    )

    # The promoted model is hashed from its object, fetched alone; no other object came along.
    assert _cache_objects(ci) == {_pointer_md5(ci / folder / "model.pt.dvc")}
    report = cli("verify", "--json", "--no-fetch", "--changed", f"{folder}/manifest.json", cwd=ci)
    assert report.json()["checked"]["files hashed from the DVC cache"] == 1


def test_the_pull_request_job_passes_on_a_promotion_branch(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    ci, _ = _promotion_pull_request(registry, checkpoint_dir, bare_origin, tmp_path, cli)
    for script in _workflow_steps():
        done = _run_step(script, ci, tmp_path)
        assert done.returncode == 0, f"{script}\n{done.stderr}"


def test_a_blob_filtered_shallow_clone_stays_blob_filtered(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    git(bare_origin, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "partial"
    git(
        tmp_path,
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--no-tags",
        "--filter=blob:none",
        f"file://{bare_origin}",
        str(clone),
    )

    shown = cli("show", "encoder@v1.0.0", "--json", cwd=clone)

    assert shown.exit_code == 0, shown.stderr
    assert "`git fetch --filter=blob:none --tags --unshallow origin`" in shown.stderr
    assert git(clone, "config", "remote.origin.promisor").strip() == "true"
    diffed = cli("diff", "encoder@v1.0.0", "encoder#validated", "--json", cwd=clone)
    assert diffed.exit_code == 0, diffed.stderr


def test_the_python_api_promotes_from_a_fresh_clone_and_loads_the_fetched_weights(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    from artreg import ArtifactRepository

    vid = _team_registry(registry, checkpoint_dir, tmp_path)
    clone = clone_repo(registry, tmp_path / "notebook")

    # --optimize loads the source with torch (weights_only=True) from its DVC cache object,
    # which has no file suffix: the format comes from the manifest's file name.
    published = ArtifactRepository(clone, name="encoder", branch="rel").promote_to_production(
        vid,
        "1.0.0",
        benchmarks=EXAMPLES / "benchmarks.json",
        resource_usage=EXAMPLES / "resource_usage.json",
        approved_by="rm",
        optimize="fp16",
    )

    source = _pointer_md5(registry / f"artifacts/validated/encoder/{vid}/model.pt.dvc")
    git(clone, "switch", "--quiet", "rel")  # the promotion went back to main once made
    written = _pointer_md5(clone / published.folder / "model.pt.dvc")
    assert written != source  # fp16 weights: a new object, made from the fetched one
    assert _cache_objects(clone) == {source, written}
