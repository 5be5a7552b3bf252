"""`artreg gc` where it meets the other capabilities: requirements between artifacts, a DVC
pipeline's dvc.lock and `.dvc` files outside artifacts/, an open promotion pull request, a
release another clone makes while gc marks, and what a fresh clone sees afterwards (`dvc pull`,
`artreg verify`, `verify --remote`). Real git, DVC, a local DVC remote shared by the clones."""

from __future__ import annotations

import hashlib
from pathlib import Path

from artreg.api import register_artifact
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, clone_repo, git, run_tool, tiny_safetensors

BASE = {"embed.weight": (32, 16), "proj.weight": (16, 16)}
LORA = {"proj.lora_A.weight": (4, 16), "proj.lora_B.weight": (16, 4)}


def commit_policy(root: Path, text: str) -> None:
    with (root / "params.yaml").open("a") as fh:
        fh.write(text)
    git(root, "commit", "--quiet", "-m", "retention policy", "params.yaml")


def storage(root: Path) -> set[str]:
    """Object ids in the registry's local DVC remote (`<md5>` or `<md5>.dir`)."""
    return {p.parent.name + p.name for p in (root / ".dvc-storage/files/md5").glob("*/*")}


def session(tmp_path: Path, name: str, payload: bytes) -> Path:
    """A training run's folder: one checkpoint of the given bytes and a log of its own."""
    out = tmp_path / "runs" / name
    out.mkdir(parents=True)
    (out / "best.pt").write_bytes(payload)
    (out / "train.log").write_text(f"run {name}\n")
    return out


def plan(cli, root: Path, *extra: str) -> dict[str, object]:
    result = cli("gc", "--json", *extra, "--repo", str(root))
    assert result.exit_code == 0, result.stderr
    return result.json()  # type: ignore[return-value]


def fates(planned: dict[str, object]) -> dict[str, tuple[bool, list[str]]]:
    return {f["folder"]: (f["keep"], f["reasons"]) for f in planned["folders"]}  # type: ignore[index, union-attr]


def test_a_kept_release_keeps_the_exact_base_it_requires(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    commit_policy(
        registry,
        "requirements: {compatibility: same-major}\n"
        "retention:\n  production: {keep_last: 1}\n  min_age_days: 0\n",
    )
    base3 = tiny_safetensors(tmp_path / "b3" / "base.safetensors", 3, BASE)
    register_artifact("base", base3, "3.0.0", repo=registry, **RELEASE_INPUTS)
    lora = tiny_safetensors(tmp_path / "lora" / "adapter.safetensors", 1, LORA)
    register_artifact(
        "adapter", lora, "1.0.0", repo=registry, requires=["base@v3.0.0"], **RELEASE_INPUTS
    )
    base31 = tiny_safetensors(tmp_path / "b31" / "base.safetensors", 31, BASE)
    register_artifact("base", base31, "3.1.0", repo=registry, **RELEASE_INPUTS)
    base2 = tiny_safetensors(tmp_path / "b2" / "base.safetensors", 2, BASE)
    register_artifact("other", base2, "1.0.0", repo=registry, **RELEASE_INPUTS)
    register_artifact("other", base31, "1.1.0", repo=registry, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)

    decided = fates(plan(cli, registry))
    keep, reasons = decided["artifacts/production/base/v3.0.0"]
    assert keep, reasons
    assert "required by kept artifacts/production/adapter/v1.0.0" in reasons
    assert decided["artifacts/production/base/v3.1.0"][0]
    # The control: without a requirement, keep_last 1 drops the older release.
    assert decided["artifacts/production/other/v1.0.0"] == (
        False,
        ["older than the last 1 production (production: keep_last 1)"],
    )

    applied = cli("gc", "--apply", "--grace-hours", "0", "--json", "--repo", str(registry))
    assert applied.exit_code == 0, applied.stderr
    assert applied.json()["applied"]["marked"] == ["artifacts/production/other/v1.0.0"]  # type: ignore[index]
    git(registry, "push", "--quiet", "origin", "main", "--tags")

    # A service that runs the adapter fetches the base it requires, in a fresh clone.
    clone = clone_repo(bare_origin, tmp_path / "service")
    pulled = run_tool("dvc", "pull", cwd=clone, check=False)
    assert pulled.returncode == 0, pulled.stderr
    assert (clone / "artifacts/production/base/v3.0.0/base.safetensors").read_bytes() == (
        base3.read_bytes()
    )
    verified = cli("verify", "--remote", "--repo", str(clone))
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_pipeline_outputs_and_pointers_outside_artifacts_survive_and_a_fresh_clone_pulls(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    commit_policy(registry, "retention:\n  raw: {keep_last: 1}\n  min_age_days: 0\n")
    weights, features = b"trained weights\n" * 64, b"feature table\n" * 64
    old = session(tmp_path, "s1", weights)
    (old / "features.bin").write_bytes(features)
    register_raw(registry, "enc", "s1", old)
    register_raw(registry, "enc", "s2", session(tmp_path, "s2", b"newer weights\n" * 64))

    # A training pipeline in the same repository: its stage writes the bytes s1 holds.
    pipeline = registry / "pipeline"
    pipeline.mkdir()
    (pipeline / "source.txt").write_bytes(weights)
    stage = ("stage", "add", "-n", "train", "-d", "source.txt", "-o", "model.bin")
    run_tool("dvc", *stage, "cp source.txt model.bin", cwd=pipeline)
    run_tool("dvc", "repro", "--quiet", cwd=pipeline)
    # And data tracked with `dvc add` outside artifacts/, the same bytes as s1's features.
    (registry / "data").mkdir()
    (registry / "data" / "features.bin").write_bytes(features)
    run_tool("dvc", "add", "--quiet", "data/features.bin", cwd=registry)
    git(registry, "add", "pipeline", "data")
    git(registry, "commit", "--quiet", "-m", "training pipeline and its data")
    run_tool("dvc", "push", "--quiet", cwd=registry)

    planned = plan(cli, registry)
    (s1,) = [f for f in planned["folders"] if f["folder"] == "artifacts/raw/enc/s1"]  # type: ignore[index, union-attr]
    assert not s1["keep"]
    shared = set(s1["shared"])
    assert {hashlib.md5(weights).hexdigest(), hashlib.md5(features).hexdigest()} <= shared
    assert not shared & set(s1["objects"])

    applied = cli("gc", "--apply", "--grace-hours", "0", "--json", "--repo", str(registry))
    assert applied.exit_code == 0, applied.stderr
    assert applied.json()["applied"]["remote_objects"] == len(s1["objects"]) > 0  # type: ignore[index]
    assert applied.json()["warnings"] == [  # type: ignore[index]
        "artifacts/raw/enc/s1: no git remote has its tombstone yet: push the commit that "
        "retired it (`git push`), or other clones read it as missing, not retired"
    ]
    git(registry, "push", "--quiet", "origin", "main", "--tags")

    clone = clone_repo(bare_origin, tmp_path / "fresh")
    pulled = run_tool("dvc", "pull", cwd=clone, check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (clone / "pipeline/model.bin").read_bytes() == weights
    assert (clone / "data/features.bin").read_bytes() == features
    assert not (clone / "artifacts/raw/enc/s1/checkpoints").exists()  # retired: not pulled
    for args in (["verify"], ["verify", "--remote"]):
        verified = cli(*args, "--repo", str(clone))
        assert verified.exit_code == 0, verified.stdout + verified.stderr
        assert "artifacts/raw/enc/s1: retired by gc on" in verified.stdout
    status = run_tool("dvc", "status", "--quiet", cwd=clone, check=False)
    assert status.returncode == 0, status.stdout  # the pipeline is up to date in the clone


def test_an_open_promotion_branch_keeps_its_lineage_until_merged(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    from artreg.publishing.publish import PublishOptions
    from artreg.services.review import tag_merged

    commit_policy(registry, "retention:\n  raw: {keep_last: 1}\n  validated: {keep_last: 1}\n")
    results = EXAMPLES / "validation_results.json"
    register_raw(registry, "enc", "s1", checkpoint_dir)
    v1 = promote_to_validated(registry, "enc", "s1", "best", results).id
    promote_to_production(
        registry, "enc", v1, "1.0.0", **RELEASE_INPUTS, options=PublishOptions(branch="rel-1")
    )
    git(registry, "switch", "--quiet", "main")
    register_raw(registry, "enc", "s2", checkpoint_dir)
    promote_to_validated(registry, "enc", "s2", "best", results)
    run_tool("dvc", "push", "--quiet", cwd=registry)

    decided = fates(plan(cli, registry))
    pending = "artifacts/production/enc/v1.0.0"
    for folder in (f"artifacts/validated/enc/{v1}", "artifacts/raw/enc/s1"):
        keep, reasons = decided[folder]
        assert keep, (folder, reasons)
    assert any(
        r.startswith(f"source of untagged promotion {pending}")
        for r in decided[f"artifacts/validated/enc/{v1}"][1]
    )
    before = storage(registry)
    applied = cli("gc", "--apply", "--grace-hours", "0", "--json", "--repo", str(registry))
    assert applied.exit_code == 0, applied.stderr
    assert applied.json()["applied"]["marked"] == []  # type: ignore[index]
    assert storage(registry) == before

    # The pull request merges with its lineage; after `artreg tag` the tags keep it.
    git(registry, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #1", "rel-1")
    assert tag_merged(registry) == ["enc@v1.0.0", "enc#production#5"]
    git(registry, "branch", "--quiet", "-D", "rel-1")
    decided = fates(plan(cli, registry))
    assert decided[f"artifacts/validated/enc/{v1}"] == (True, [f"source of kept {pending}"])
    lineage = cli("lineage", "enc@v1.0.0", "--json", "--repo", str(registry))
    assert lineage.exit_code == 0, lineage.stderr
    verified = cli("verify", "--remote", "--repo", str(registry))
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_a_deleted_promotion_branch_no_longer_protects_its_lineage(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    from artreg.publishing.publish import PublishOptions

    commit_policy(registry, "retention:\n  raw: {keep_last: 1}\n  validated: {keep_last: 1}\n")
    results = EXAMPLES / "validation_results.json"
    register_raw(registry, "enc", "s1", checkpoint_dir)
    v1 = promote_to_validated(registry, "enc", "s1", "best", results).id
    promote_to_production(
        registry, "enc", v1, "1.0.0", **RELEASE_INPUTS, options=PublishOptions(branch="rel-1")
    )
    git(registry, "switch", "--quiet", "main")
    register_raw(registry, "enc", "s2", checkpoint_dir)
    promote_to_validated(registry, "enc", "s2", "best", results)
    assert fates(plan(cli, registry))[f"artifacts/validated/enc/{v1}"][0]
    git(registry, "branch", "--quiet", "-D", "rel-1")
    assert not fates(plan(cli, registry))[f"artifacts/validated/enc/{v1}"][0]


def test_a_release_pushed_between_mark_and_sweep_keeps_its_objects(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    commit_policy(registry, "retention:\n  raw: {keep_last: 1}\n  min_age_days: 0\n")
    shared = session(tmp_path, "s1", b"the same weights\n" * 64)
    register_raw(registry, "enc", "s1", shared)
    register_raw(registry, "enc", "s2", session(tmp_path, "s2", b"other weights\n" * 64))
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    a = clone_repo(bare_origin, tmp_path / "a")

    # Clone A marks: s1 is retired, its objects wait for the grace period.
    marked = cli("gc", "--apply", "--json", "--repo", str(a))
    assert marked.exit_code == 0, marked.stderr
    done = marked.json()
    assert done["applied"]["marked"] == ["artifacts/raw/enc/s1"]  # type: ignore[index]
    assert done["applied"]["remote_objects"] == 0 and done["pending"]["objects"] > 0  # type: ignore[index]
    assert done["grace_hours"] == 24 and done["pending"]["sweepable_from"]  # type: ignore[index]
    text = cli("gc", "--repo", str(a)).stdout
    assert "wait for the grace period 24 h (retention.grace_hours)" in text
    dropping = {
        o for f in done["folders"] if f["folder"] == "artifacts/raw/enc/s1" for o in f["objects"]
    }  # type: ignore[index, union-attr]

    git(a, "push", "--quiet", "origin", "main")  # the mark is shared, as CI would push it

    # Clone B releases the very same bytes as a new session; `dvc push` skips what the remote
    # holds, so B's release relies on the objects A is about to drop.
    best = hashlib.md5((shared / "best.pt").read_bytes()).hexdigest()
    assert best in dropping
    b = clone_repo(bare_origin, tmp_path / "b")
    register_raw(b, "enc", "s3", shared)
    run_tool("dvc", "push", "--quiet", cwd=b)
    git(b, "push", "--quiet", "origin", "main", "--tags")

    # A sweeps (grace over): the refs on the remote are read first, so B's objects stay.
    swept = cli("gc", "--apply", "--grace-hours", "0", "--json", "--repo", str(a))
    assert swept.exit_code == 0, swept.stderr
    result = swept.json()
    (s1,) = [f for f in result["folders"] if f["folder"] == "artifacts/raw/enc/s1"]  # type: ignore[index, union-attr]
    assert best in s1["shared"] and best not in s1["objects"]
    assert best in storage(registry)
    assert result["applied"]["git_remotes"] == ["origin"]  # type: ignore[index]
    assert result["warnings"] == []  # the mark was pushed: every clone reads s1 as retired

    # B's release pulls in a fresh clone, and verifies against the remote.
    fresh = clone_repo(bare_origin, tmp_path / "fresh")
    pulled = run_tool("dvc", "pull", "artifacts/raw/enc/s3/checkpoints.dvc", cwd=fresh, check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (fresh / "artifacts/raw/enc/s3/checkpoints/best.pt").read_bytes() == (
        b"the same weights\n" * 64
    )
    verified = cli("verify", "--remote", "--repo", str(fresh))
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_a_bad_grace_period_is_refused_naming_the_key(registry: Path, cli) -> None:
    from helpers import snapshot

    for value in ("-1", "soon", "1.5"):
        with (registry / "params.yaml").open("a") as fh:
            fh.write(f"retention:\n  grace_hours: {value}\n")
        git(registry, "commit", "--quiet", "-m", "bad grace", "params.yaml")
        before = snapshot(registry)
        refused = cli("gc", "--apply", "--repo", str(registry))
        assert refused.exit_code == 2, refused.stderr
        assert "params.yaml" in refused.stderr and "/retention/grace_hours" in refused.stderr
        assert snapshot(registry) == before
        git(registry, "reset", "--quiet", "--hard", "HEAD~1")


def test_a_git_remote_that_cannot_be_read_stops_gc_before_it_marks(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    from helpers import snapshot

    commit_policy(registry, "retention:\n  raw: {keep_last: 1}\n  min_age_days: 0\n")
    register_raw(registry, "enc", "s1", checkpoint_dir)
    register_raw(registry, "enc", "s2", checkpoint_dir)
    git(registry, "remote", "add", "origin", str(tmp_path / "moved-away.git"))
    before, stored = snapshot(registry), storage(registry)
    refused = cli("gc", "--apply", "--grace-hours", "0", "--repo", str(registry))
    assert refused.exit_code == 2, refused.stderr
    assert "git remote origin: cannot read its refs, so gc deleted nothing" in refused.stderr
    assert snapshot(registry) == before and storage(registry) == stored


def test_show_and_list_name_the_stage_a_version_holds_and_say_which_folders_are_retired(
    registry: Path, tmp_path: Path, cli
) -> None:
    """`show NAME@vX` says `stage: production` for the production version (not None), and once
    gc retired a folder, `show` and `list` say so (artifacts/retired.json, via retirements)."""
    commit_policy(registry, "retention:\n  production: {keep_last: 1}\n  min_age_days: 0\n")
    for version, seed in (("1.0.0", 1), ("1.1.0", 2), ("1.2.0", 3)):
        model = tiny_safetensors(tmp_path / version / "enc.safetensors", seed, BASE)
        register_artifact("enc", model, version, repo=registry, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)

    current = cli("show", "enc@v1.2.0", cwd=registry)
    assert current.exit_code == 0, current.stderr
    assert "stage: production\n" in current.stdout
    assert "stage: None" not in current.stdout
    assert cli("show", "enc@v1.2.0", "--json", cwd=registry).json()["stage"] == "production"  # type: ignore[index]
    older = cli("show", "enc@v1.1.0", cwd=registry)
    assert "stage: -\n" in older.stdout and "retired" not in older.stdout

    # keep_last 1: gc retires v1.0.0 and v1.1.0; deprecating v1.2.0 then makes production
    # fall back to the retired v1.1.0, which `list` and `show` must not present as usable.
    swept = cli("gc", "--apply", "--grace-hours", "0", cwd=registry)
    assert swept.exit_code == 0, swept.stderr
    retired = cli("show", "enc@v1.1.0", cwd=registry)
    assert retired.exit_code == 0, retired.stderr
    assert "retired: 20" in retired.stdout, retired.stdout
    assert cli("show", "enc@v1.1.0", "--json", cwd=registry).json()["retired"]  # type: ignore[index]
    assert "retired" not in cli("show", "enc@v1.2.0", cwd=registry).stdout
    assert "retired" not in cli("list", cwd=registry).stdout

    assert cli("deprecate", "enc@v1.2.0", cwd=registry).exit_code == 0
    listed = cli("list", cwd=registry)
    assert "v1.1.0 (retired)" in listed.stdout, listed.stdout
    shown = cli("show", "enc", cwd=registry)
    assert "v1.1.0 (retired)" in shown.stdout, shown.stdout
    entry = cli("list", "--json", cwd=registry).json()["enc"]["stages"]["production"]  # type: ignore[index]
    assert entry["version"] == "v1.1.0" and entry["retired"]
