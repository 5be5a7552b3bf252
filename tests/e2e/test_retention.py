"""`artreg gc` end to end: a registry of several names × (10 raw sessions, 5 validated, 3
releases), on a local remote and on S3 (moto): the kept set is exactly the policy's, every kept
tag still pulls with `dvc pull` and verifies, dropped folders read as retired, the bytes freed
are what the dry run said, shared objects survive, and a gc killed mid-delete completes on rerun.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from artreg.services.init import init_registry
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import ARTREG, EXAMPLES, RELEASE_INPUTS, clone_repo, git, run_tool, snapshot

NAMES = ("encoder", "decoder")
SESSIONS = 10
POLICY = """
retention:
  raw: {keep_last: 2}
  validated: {keep_last: 3}
  production: {keep: all}
  deprecated_after_days: 90
  min_age_days: 0
  overrides:
    decoder: {production: {keep_last: 2}}
"""
SHARED = b'{"vocab": 512, "layers": 2}\n'  # the same bytes in every session: one object


@pytest.fixture(scope="session")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Ten training runs, each with its own checkpoints and one file they all share."""
    from artreg.demo import train_tiny_model

    base = tmp_path_factory.mktemp("sessions")
    runs = []
    for i in range(1, SESSIONS + 1):
        out = base / f"s{i:02d}"
        train_tiny_model(out, epochs=1, seed=i)
        (out / "config.json").write_bytes(SHARED)
        runs.append(out)
    return runs


def expected_fates(name: str) -> dict[str, bool]:
    """Folder → kept, worked out by hand from POLICY for the history `build` makes."""
    if name == "decoder":  # production keep_last 2: v1.0.0 goes, and with it its lineage
        raw_kept, val_kept, releases = {6, 8, 9, 10}, {6, 8, 10}, {1, 2}
    else:  # last 2 raw + sources of kept validated; last 3 validated + source of v1.0.0
        raw_kept, val_kept, releases = {2, 6, 8, 9, 10}, {2, 6, 8, 10}, {0, 1, 2}
    fates = {f"artifacts/raw/{name}/s{i:02d}": i in raw_kept for i in range(1, SESSIONS + 1)}
    for i in (2, 4, 6, 8, 10):
        fates[f"artifacts/validated/{name}/s{i:02d}_best_validated"] = i in val_kept
    fates.update({f"artifacts/production/{name}/v1.{k}.0": k in releases for k in range(3)})
    return fates


def build(root: Path, sessions: list[Path]) -> dict[str, bool]:
    """Commit the policy, then per name: sessions 1..10, every even one validated, the
    validated artifacts of sessions 2, 6 and 10 released as v1.0.0, v1.1.0, v1.2.0."""
    with (root / "params.yaml").open("a") as fh:
        fh.write(POLICY)
    git(root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    fates: dict[str, bool] = {}
    for name in NAMES:
        release = 0
        # The second name's sessions in reverse: the names share training runs, not histories.
        runs = sessions if name == NAMES[0] else sessions[::-1]
        for i, ckpt in enumerate(runs, start=1):
            register_raw(root, name, f"s{i:02d}", ckpt)
            if i % 2 == 0:
                results = EXAMPLES / "validation_results.json"
                vid = promote_to_validated(root, name, f"s{i:02d}", "best", results).id
                if i in (2, 6, 10):
                    promote_to_production(root, name, vid, f"1.{release}.0", **RELEASE_INPUTS)
                    release += 1
        fates.update(expected_fates(name))
    run_tool("dvc", "push", "--quiet", cwd=root)
    return fates


def remote_objects(root: Path, s3: object | None) -> set[str]:
    """Object ids in the remote (`<md5>` or `<md5>.dir`), listed without DVC."""
    if s3 is not None:
        keys = s3.keys()  # type: ignore[attr-defined]
        return {"".join(k.split("/")[-2:]) for k in keys if "/files/md5/" in k}
    storage = root / ".dvc-storage" / "files" / "md5"
    return {p.parent.name + p.name for p in storage.glob("*/*")}


def _cache(root: Path) -> set[str]:
    return {p.parent.name + p.name for p in (root / ".dvc/cache/files/md5").glob("*/*")}


@pytest.fixture(params=["local", "s3"])
def built(request: pytest.FixtureRequest, tmp_path: Path, sessions: list[Path]):
    """A registry on the local remote or on moto's S3, with origin, built and pushed."""
    root = tmp_path / "registry"
    s3 = None
    if request.param == "s3":
        s3 = request.getfixturevalue("s3")
        init_registry(root, remote=s3.url)
        s3.configure(root)
    else:
        init_registry(root)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    fates = build(root, sessions)
    return root, origin, s3, fates


def test_gc_keeps_exactly_the_policy_and_every_kept_tag_still_pulls(built, cli, tmp_path):
    root, origin, s3, fates = built
    before_remote = remote_objects(root, s3)

    dry = cli("gc", "--json", "--repo", str(root))
    assert dry.exit_code == 0, dry.stderr
    planned = dry.json()
    decided = {f["folder"]: f["keep"] for f in planned["folders"]}
    assert decided == fates  # folder by folder
    assert remote_objects(root, s3) == before_remote  # a dry run deletes nothing

    # The shared config.json is referenced by dropped and kept sessions: it must stay.
    shared = {oid for f in planned["folders"] if not f["keep"] for oid in f["shared"]}
    assert shared, "the dropped sessions share config.json with kept ones"
    doomed = {oid for f in planned["folders"] if not f["keep"] for oid in f["objects"]}
    assert doomed and not doomed & shared
    assert doomed <= before_remote

    # DVC's own gc on the same registry, keeping what any tag or branch references, drops
    # nothing: every tag's commit holds every folder promoted before it.
    cached = _cache(root)
    run_tool("dvc", "gc", "--all-tags", "--all-branches", "--workspace", "--force", cwd=root)
    assert _cache(root) == cached

    applied = cli(
        "gc", "--apply", "--grace-hours", "0", "--remote", "local", "--json", "--repo", str(root)
    )
    assert applied.exit_code == 0, applied.stderr
    done = applied.json()["applied"]
    assert done["remote"] == "local"
    assert done["remote_bytes"] == planned["bytes"]  # bytes freed = what the dry run printed
    assert done["remote_objects"] == planned["objects"] == len(doomed)
    after = remote_objects(root, s3)
    assert after == before_remote - doomed
    assert shared <= after and shared <= _cache(root)

    # The tombstones are committed: one per dropped folder, with who, when and the policy.
    tombs = json.loads(git(root, "show", "HEAD:artifacts/retired.json"))["retired"]
    assert sorted(t["folder"] for t in tombs) == sorted(r for r, k in fates.items() if not k)
    assert all(t["by"] and t["date"] and t["policy"]["raw"] == {"keep_last": 2} for t in tombs)
    assert git(root, "status", "--porcelain").strip() == ""

    verified = cli("verify", "--remote", "--repo", str(root))
    assert verified.exit_code == 0, verified.stderr + verified.stdout
    assert "retired by gc on" in verified.stdout

    # A consumer's clone: `dvc pull` at every kept tag, and every file matches its manifest.
    git(root, "push", "--quiet", "origin", "main", "--tags")
    clone = clone_repo(origin, tmp_path / "consumer")
    if s3 is not None:
        s3.configure(clone)
    pulled = set()
    for tag in git(clone, "tag", "-l").split():
        folder = _tag_folder(clone, tag)
        if folder is None or not fates[folder] or folder in pulled:
            continue
        git(clone, "checkout", "--quiet", tag)
        pointers = [str(p.relative_to(clone)) for p in (clone / folder).rglob("*.dvc")]
        run_tool("dvc", "pull", "--quiet", *pointers, cwd=clone)
        assert _matches_manifest(clone, folder), folder
        pulled.add(folder)
    assert pulled == {r for r, k in fates.items() if k}
    git(clone, "checkout", "--quiet", "main")

    # A dropped release that is still registered reads as retired, not as missing.
    from artreg.api import get_artifact_path
    from artreg.errors import NotFoundError

    assert get_artifact_path("decoder", version="1.2.0", repo=clone).is_file()
    with pytest.raises(NotFoundError, match=r"retired by gc on .* under the retention policy"):
        get_artifact_path("decoder", version="1.0.0", repo=clone)
    assert not (clone / "artifacts/production/decoder/v1.0.0/model.pt").exists()


def _matches_manifest(root: Path, folder: str) -> bool:
    """Every file the folder's manifest lists is there with its sha256 (artreg's own check)."""
    from artreg.adapters.hashing import FileDigest, compare_files

    manifest = json.loads((root / folder / "manifest.json").read_text())
    files = {k: FileDigest(v["sha256"], v["size"]) for k, v in manifest["files"].items()}
    result = compare_files(root / folder, files)
    return not result.missing and not result.mismatched


def _tag_folder(root: Path, tag: str) -> str | None:
    for line in git(root, "tag", "-l", "--format=%(contents)", tag).splitlines():
        if line.startswith("folder: "):
            return line.removeprefix("folder: ").strip()
    return None


def test_gc_killed_while_deleting_completes_on_rerun(tmp_path: Path, sessions: list[Path]) -> None:
    root = tmp_path / "registry"
    init_registry(root)
    fates = build(root, sessions)
    before = remote_objects(root, None)
    planned = json.loads(
        subprocess.run([ARTREG, "gc", "--json"], cwd=root, capture_output=True, check=True).stdout
    )
    doomed = {oid for f in planned["folders"] if not f["keep"] for oid in f["objects"]}
    assert len(doomed) > 3

    _kill_at(root, "gc:delete-remote:3", tmp_path / "paused")  # two objects deleted

    # Killed after the tombstones were committed and two objects deleted: consistent.
    partial = remote_objects(root, None)
    assert len(before - partial) == 2 and (before - partial) <= doomed
    assert not (state := root / ".git/artreg/transaction.json").exists(), state
    assert git(root, "status", "--porcelain").strip() == ""
    verified = subprocess.run(
        [ARTREG, "verify", "--remote"], cwd=root, capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr

    again = subprocess.run(
        [ARTREG, "gc", "--apply", "--grace-hours", "0", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)["applied"]
    assert done["commit"] is None  # nothing new to retire: the tombstones were committed first
    assert done["remote_objects"] == len(doomed) - 2
    assert remote_objects(root, None) == before - doomed
    assert not doomed & _cache(root)
    tombs = json.loads(git(root, "show", "HEAD:artifacts/retired.json"))["retired"]
    assert sorted(t["folder"] for t in tombs) == sorted(r for r, k in fates.items() if not k)
    # A third run has nothing left to do.
    third = subprocess.run(
        [ARTREG, "gc", "--apply", "--grace-hours", "0", "--json"], cwd=root, capture_output=True
    )
    assert json.loads(third.stdout)["applied"]["remote_objects"] == 0


def test_gc_refuses_an_uncommitted_policy_and_changes_nothing(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    with (registry / "params.yaml").open("a") as fh:
        fh.write(POLICY)
    before = snapshot(registry)
    result = cli("gc", "--apply", "--repo", str(registry))
    assert result.exit_code == 2
    assert "params.yaml" in result.stderr and "/retention" in result.stderr
    assert snapshot(registry) == before
    shutil.rmtree(registry / ".dvc-storage", ignore_errors=True)


def test_an_open_pull_request_and_the_work_tree_protect_what_they_reference(
    registry: Path, sessions: list[Path], cli
) -> None:
    from artreg.publishing.publish import PublishOptions

    with (registry / "params.yaml").open("a") as fh:
        fh.write("retention:\n  raw: {keep_last: 1}\n")
    git(registry, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    register_raw(registry, "encoder", "s1", sessions[0])
    register_raw(registry, "encoder", "s2", sessions[1])
    folder = "artifacts/raw/encoder/s1"

    def plan() -> dict[str, object]:
        result = cli("gc", "--json", "--repo", str(registry))
        assert result.exit_code == 0, result.stderr
        return result.json()  # type: ignore[return-value]

    alone = plan()
    (s1,) = [f for f in alone["folders"] if f["folder"] == folder]  # type: ignore[index, union-attr]
    assert not s1["keep"] and s1["objects"] and alone["bytes"] > 0

    # The same run registered again on a review branch, not merged nor tagged yet.
    register_raw(
        registry, "encoder", "s3", sessions[0], options=PublishOptions(branch="promote-s3")
    )
    git(registry, "switch", "--quiet", "main")
    protected = plan()
    (s1,) = [f for f in protected["folders"] if f["folder"] == folder]  # type: ignore[index, union-attr]
    # Its checkpoints are the branch's too: they stay. Only what differs (the session's own
    # checkpoint listing and the `.dir` object) would go.
    checkpoints = {hashlib.md5(p.read_bytes()).hexdigest() for p in sessions[0].iterdir()}
    assert checkpoints <= set(s1["shared"]) and not checkpoints & set(s1["objects"])
    assert 0 < protected["bytes"] < alone["bytes"]  # type: ignore[operator]
    assert "artifacts/raw/encoder/s3" not in {f["folder"] for f in protected["folders"]}  # type: ignore[union-attr]

    # Without the branch, an untracked pointer in the work tree protects them as well.
    pointer = (registry / folder / "checkpoints.dvc").read_text()
    git(registry, "branch", "--quiet", "-D", "promote-s3")
    assert plan()["bytes"] == alone["bytes"]
    (registry / "experiments").mkdir()
    (registry / "experiments" / "checkpoints.dvc").write_text(pointer)
    assert plan()["bytes"] == 0
    before = snapshot(registry)
    applied = cli("gc", "--apply", "--grace-hours", "0", "--json", "--repo", str(registry))
    assert applied.exit_code == 0 and applied.json()["applied"]["cache_objects"] == 0
    assert snapshot(registry).pointers == before.pointers


def test_a_plan_applied_after_the_registry_changed_deletes_nothing(
    registry: Path, sessions: list[Path]
) -> None:
    from artreg.errors import RetryableError
    from artreg.services.retention import apply_plan, gc

    with (registry / "params.yaml").open("a") as fh:
        fh.write("retention:\n  raw: {keep_last: 1}\n")
    git(registry, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    register_raw(registry, "encoder", "s1", sessions[0])
    register_raw(registry, "encoder", "s2", sessions[1])
    planned = gc(registry, grace_hours=0)
    register_raw(registry, "encoder", "s3", sessions[2])  # now s2 would go too
    before, cached = snapshot(registry), _cache(registry)
    with pytest.raises(RetryableError, match="changed since this gc was planned") as caught:
        apply_plan(registry, planned, grace_hours=0)  # type: ignore[arg-type]
    assert caught.value.exit_code == 4
    assert snapshot(registry) == before and _cache(registry) == cached

    fresh = gc(registry, grace_hours=0)
    done = apply_plan(registry, fresh, grace_hours=0)  # type: ignore[arg-type]
    assert [d.folder.entry for d in done.plan.dropped] == ["s1", "s2"]
    assert done.cache_bytes == fresh.bytes > 0  # type: ignore[union-attr]


def test_a_fresh_clone_plans_from_the_remote_listings_and_applies_there(
    registry: Path, bare_origin: Path, sessions: list[Path], cli, tmp_path: Path
) -> None:
    """CI runs gc in a clone with an empty cache: `.dir` listings come from the remote."""
    with (registry / "params.yaml").open("a") as fh:
        fh.write("retention:\n  raw: {keep_last: 1}\n")
    git(registry, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    for i in range(3):
        register_raw(registry, "encoder", f"s{i + 1}", sessions[i])
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    here = cli("gc", "--json", "--repo", str(registry)).json()

    clone = clone_repo(bare_origin, tmp_path / "ci")
    assert not _cache(clone)
    there = cli("gc", "--json", "--repo", str(clone)).json()
    assert there["folders"] == here["folders"] and there["bytes"] == here["bytes"] > 0  # type: ignore[index, operator]

    before = remote_objects(registry, None)
    applied = cli("gc", "--apply", "--grace-hours", "0", "--json", "--repo", str(clone))
    assert applied.exit_code == 0, applied.stderr
    assert applied.json()["applied"]["remote_bytes"] == here["bytes"]  # type: ignore[index]
    doomed = {o for f in here["folders"] if not f["keep"] for o in f["objects"]}  # type: ignore[index, union-attr]
    assert remote_objects(registry, None) == before - doomed


def _kill_at(root: Path, where: str, marker: Path) -> None:
    """Start `artreg gc --apply`, SIGKILL its process group once it stands at `where`."""
    env = {**os.environ, "ARTREG_PAUSE_AT": where, "ARTREG_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        [ARTREG, "gc", "--apply", "--grace-hours", "0"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("where", ["gc:tombstone-staged", "gc:tombstoned"])
def test_gc_killed_around_its_tombstone_commit_deletes_nothing_until_rerun(
    registry: Path, sessions: list[Path], tmp_path: Path, where: str
) -> None:
    with (registry / "params.yaml").open("a") as fh:
        fh.write("retention:\n  raw: {keep_last: 1}\n")
    git(registry, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    for i in range(3):
        register_raw(registry, "encoder", f"s{i + 1}", sessions[i])
    run_tool("dvc", "push", "--quiet", cwd=registry)
    before, cached = remote_objects(registry, None), _cache(registry)

    _kill_at(registry, where, tmp_path / "paused")
    assert remote_objects(registry, None) == before and _cache(registry) == cached
    if where == "gc:tombstone-staged":  # killed inside the transaction: recover rolls it back
        blocked = subprocess.run(
            [ARTREG, "gc", "--apply", "--grace-hours", "0"], cwd=registry, capture_output=True
        )
        assert blocked.returncode == 2 and b"artreg recover" in blocked.stderr
        subprocess.run([ARTREG, "recover"], cwd=registry, check=True, capture_output=True)
        assert not (registry / "artifacts/retired.json").exists()
    assert git(registry, "status", "--porcelain").strip() == ""

    again = subprocess.run(
        [ARTREG, "gc", "--apply", "--grace-hours", "0", "--json"],
        cwd=registry,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert (result["applied"]["commit"] is None) == (where == "gc:tombstoned")
    doomed = {o for f in result["folders"] if not f["keep"] for o in f["objects"]}
    assert doomed and remote_objects(registry, None) == before - doomed
    tombs = json.loads(git(registry, "show", "HEAD:artifacts/retired.json"))["retired"]
    assert [t["folder"] for t in tombs] == ["artifacts/raw/encoder/s1", "artifacts/raw/encoder/s2"]
