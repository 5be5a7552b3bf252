"""Consuming models: list/show/resolve agree with gto; pull, get and the Python API verify bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from artreg import (
    IntegrityError,
    NotFoundError,
    get_artifact_path,
    load_registry,
    register_artifact,
    verify_artifact,
)
from artreg.adapters import schemas
from artreg.services.register import register_raw
from artreg.sources.clone_fetch import resolve
from artreg.sources.listing import overview

from helpers import (
    EXAMPLES,
    RELEASE_INPUTS,
    clone_repo,
    flip_byte,
    git,
    release,
    run_tool,
    snapshot,
)
from helpers.modelfiles import write_onnx

RESULTS = EXAMPLES / "validation_results.json"


def gto_tag(root: Path, tag: str, commit: str) -> None:
    """Write a tag exactly as `gto` would (annotated), one second after the newest tag."""
    newest = git(
        root,
        "for-each-ref",
        "--sort=-creatordate",
        "--count=1",
        "--format=%(creatordate:unix)",
        "refs/tags",
    ).strip()
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{int(newest) + 1} +0000"}
    subprocess.run(
        ["git", "-C", str(root), "tag", "-a", "-m", f"gto: {tag}", tag, commit], check=True, env=env
    )


@pytest.fixture
def busy_registry(registry: Path, checkpoint_dir: Path) -> Path:
    """Several names, stages and versions, then a deregistration, an unassignment, a deprecation."""
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    second = release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    release(registry, "decoder", "d1", checkpoint_dir, "0.1.0")
    third = release(registry, "decoder", "d2", checkpoint_dir, "0.2.0")
    register_raw(registry, "tagger", "t1", checkpoint_dir)
    release(registry, "legacy", "l1", checkpoint_dir, "3.0.0")
    gto_tag(registry, "encoder@v1.1.0!", second)  # deregister the newest encoder release
    gto_tag(registry, "decoder#production!#9", third)  # unassign production from decoder v0.2.0
    gto_tag(registry, "legacy@deprecated", git(registry, "rev-parse", "HEAD").strip())
    return registry


def _gto_view(root: Path) -> dict[str, object]:
    shown = json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)
    return {
        name: {
            "latest": info["version"],
            "stages": {s: v for s, v in info["stage"].items() if v is not None},
        }
        for name, info in shown.items()
    }


def _our_view(root: Path) -> dict[str, object]:
    return {
        name: {
            "latest": info.latest,
            "stages": {s: e.version or e.commit for s, e in info.stages.items()},
        }
        for name, info in overview(root).items()
    }


def test_list_agrees_with_gto_show_through_deregister_unassign_and_deprecate(
    busy_registry: Path, cli
) -> None:
    ours = _our_view(busy_registry)
    assert ours == _gto_view(busy_registry)
    assert "legacy" not in ours
    assert ours["encoder"]["latest"] == "v1.0.0"
    assert ours["encoder"]["stages"]["production"] == "v1.0.0"
    assert ours["decoder"]["stages"]["production"] == "v0.1.0"
    listed = cli("list", "--json", cwd=busy_registry)
    assert listed.exit_code == 0 and set(listed.json()) == {"encoder", "decoder", "tagger"}


def test_resolve_follows_gto_where_dvc_artifacts_get_does_not(
    busy_registry: Path, tmp_path: Path
) -> None:
    root = busy_registry
    # dvc artifacts get ignores deregistration and still serves encoder's v1.1.0 commit.
    run_tool("dvc", "push", "--quiet", cwd=root)
    out = tmp_path / "dvc-get"
    out.mkdir()
    run_tool("dvc", "artifacts", "get", str(root), "encoder", "--stage", "production", cwd=out)
    v110 = root / "artifacts/production/encoder/v1.1.0/model.pt"
    v100 = root / "artifacts/production/encoder/v1.0.0/model.pt"
    assert (out / "model.pt").read_bytes() == v110.read_bytes()
    # artreg follows GTO: v1.1.0 no longer resolves, production is v1.0.0 again.
    assert resolve(root, "encoder").folder.relpath == "artifacts/production/encoder/v1.0.0"
    assert get_artifact_path("encoder", repo=root) == v100
    with pytest.raises(
        NotFoundError, match=r"encoder@v1\.1\.0 is deregistered \(tag encoder@v1\.1\.0!"
    ):
        resolve(root, "encoder", version="1.1.0")
    assert resolve(root, "decoder", stage="production").version == "0.1.0"
    with pytest.raises(NotFoundError, match="deprecated"):
        resolve(root, "legacy")
    with pytest.raises(NotFoundError, match="nothing in stage 'production'"):
        resolve(root, "tagger")
    assert resolve(root, "tagger", stage="raw").folder.entry == "t1"


def test_resolve_prints_the_verified_local_path(busy_registry: Path, cli) -> None:
    result = cli("resolve", "decoder", "--version", "0.2.0", cwd=busy_registry)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(
        busy_registry / "artifacts/production/decoder/v0.2.0/model.pt"
    )
    shown = cli("show", "decoder@v0.2.0", "--json", cwd=busy_registry).json()
    assert (
        shown["sha256"]
        == json.loads(
            (busy_registry / "artifacts/production/decoder/v0.2.0/metadata.json").read_text()
        )["model"]["files"][0]["sha256"]
    )


def test_registry_json_is_valid_and_index_check_catches_a_stale_one(
    busy_registry: Path, cli
) -> None:
    run_tool("artreg", "index", cwd=busy_registry)  # the gto-made tags changed the state
    data = load_registry(repo=busy_registry)
    assert schemas.errors(data, "registry") == []
    assert data["encoder"]["version"] == "1.0.0"
    assert data["encoder"]["file"] == "production/encoder/v1.0.0/model.pt"
    assert cli("index", "--check", cwd=busy_registry).exit_code == 0
    path = busy_registry / "artifacts/registry.json"
    path.write_text(path.read_text().replace('"1.0.0"', '"9.9.9"', 1))
    stale = cli("index", "--check", cwd=busy_registry)
    assert stale.exit_code == 1 and "out of date" in stale.stderr


def test_fresh_clone_gets_the_newest_production_model_verified_and_follows_new_releases(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = clone_repo(registry, tmp_path / "inference")
    path = get_artifact_path("encoder", repo=clone)
    assert path == clone / "artifacts/production/encoder/v1.0.0/model.pt"
    assert (
        path.read_bytes()
        == (registry / "artifacts/production/encoder/v1.0.0/model.pt").read_bytes()
    )
    assert verify_artifact("encoder", repo=clone)

    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(clone, "pull", "--quiet", "--tags")
    assert (
        get_artifact_path("encoder", repo=clone)
        == clone / "artifacts/production/encoder/v1.1.0/model.pt"
    )


def test_pull_fetches_only_that_artifacts_objects(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    other = tmp_path / "other-run"
    shutil.copytree(checkpoint_dir, other)
    (other / "extra.pt").write_bytes(os.urandom(4096))
    register_raw(registry, "decoder", "d1", other)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = clone_repo(registry, tmp_path / "clone")

    result = cli("pull", "encoder", "--json", cwd=clone)

    assert result.exit_code == 0, result.stderr
    assert result.json()["fetched"] == 1  # the one model.pt object of the release
    cached = [p for p in (clone / ".dvc/cache/files/md5").rglob("*") if p.is_file()]
    assert len(cached) == 1
    assert not (clone / "artifacts/raw/decoder/d1/checkpoints").exists()


def test_a_flipped_byte_in_the_work_tree_is_refused_everywhere(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    model = registry / "artifacts/production/encoder/v1.0.0/model.pt"
    flip_byte(model)
    for args in (("resolve", "encoder"), ("pull", "encoder")):
        result = cli(*args, cwd=registry)
        assert result.exit_code == 1, args
        assert "model.pt" in result.stderr and "sha256" in result.stderr
    with pytest.raises(IntegrityError, match="expected sha256"):
        get_artifact_path("encoder", repo=registry, pull=False)
    with pytest.raises(IntegrityError, match="does not match"):
        get_artifact_path("encoder", repo=registry)
    assert not verify_artifact("encoder", repo=registry)
    restored = cli("pull", "encoder", "--force", cwd=registry)
    assert restored.exit_code == 0, restored.stderr
    assert verify_artifact("encoder", repo=registry)


def test_a_flipped_byte_in_the_dvc_cache_is_refused(registry: Path, checkpoint_dir: Path) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    model = registry / "artifacts/production/encoder/v1.0.0/model.pt"
    md5 = (model.parent / "model.pt.dvc").read_text().split()[3]
    flip_byte(registry / ".dvc/cache/files/md5" / md5[:2] / md5[2:])
    model.unlink()
    with pytest.raises((IntegrityError, NotFoundError)) as refused:
        get_artifact_path("encoder", repo=registry)
    assert "model.pt" in str(refused.value)
    assert not model.exists() or not verify_artifact("encoder", repo=registry)


def test_a_flipped_byte_in_a_local_remote_is_refused(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    md5 = (registry / "artifacts/production/encoder/v1.0.0/model.pt.dvc").read_text().split()[3]
    flip_byte(registry / ".dvc-storage/files/md5" / md5[:2] / md5[2:])
    clone = clone_repo(registry, tmp_path / "clone")
    result = cli("pull", "encoder", cwd=clone)
    # artreg hashes the objects of a *local* remote before DVC fetches (DVC would delete the
    # altered one): a refusal naming the file, the object left in place. (S3: the moto test.)
    assert result.exit_code in (1, 2) and "Traceback" not in result.stderr
    assert "encoder/v1.0.0/model.pt" in result.stderr
    with pytest.raises((IntegrityError, NotFoundError)):
        get_artifact_path("encoder", repo=clone)
    assert not (clone / "artifacts/production/encoder/v1.0.0/model.pt").exists()


def test_an_artifact_missing_from_the_remote_gives_a_clear_error(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    clone = clone_repo(registry, tmp_path / "clone")  # nothing was pushed
    result = cli("pull", "encoder", cwd=clone)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "encoder" in result.stderr and ("push" in result.stderr or "missing" in result.stderr)


def test_get_exports_a_verified_copy(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    out = tmp_path / "export"
    result = cli("get", "encoder", "--stage", "validated", "-o", str(out), cwd=registry)
    assert result.exit_code == 0, result.stderr
    assert (out / "model.pt").read_bytes() == (
        registry / "artifacts/validated/encoder/s1_best_validated/model.pt"
    ).read_bytes()


def test_register_artifact_releases_a_ready_model_file(registry: Path, tmp_path: Path) -> None:
    model = tmp_path / "threat_student_v1.onnx"
    write_onnx(model)
    before = load_registry(repo=registry)
    assert "distill" not in before
    reg = register_artifact("distill", model, "1.0.0", repo=registry, **RELEASE_INPUTS)
    entry = reg["distill"]
    assert entry["version"] == "1.0.0"
    assert entry["file"] == "production/distill/v1.0.0/threat_student_v1.onnx"
    assert get_artifact_path("distill", repo=registry).read_bytes() == model.read_bytes()
    release_dir = registry / "artifacts/production/distill/v1.0.0"
    check = subprocess.run(
        ["sha256sum", "-c", "threat_student_v1.onnx.sha256"],
        cwd=release_dir,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    before_again = snapshot(registry)
    with pytest.raises(Exception, match="released already"):
        register_artifact("distill", model, "1.0.0", repo=registry, **RELEASE_INPUTS)
    assert snapshot(registry) == before_again


def test_s3_push_fresh_clone_pull_verify_through_moto(
    tmp_path: Path, checkpoint_dir: Path, s3, cli
) -> None:
    from artreg.services.init import init_registry

    root = tmp_path / "team-registry"
    init_registry(root, remote=s3.url)
    s3.configure(root)
    assert s3.endpoint not in (root / ".dvc/config").read_text()
    assert "config.local" in (root / ".dvc/.gitignore").read_text()
    release(root, "encoder", "s1", checkpoint_dir, "1.0.0")
    other = tmp_path / "decoder-run"
    shutil.copytree(checkpoint_dir, other)
    shutil.copy(other / "epoch_1.pt", other / "best.pt")  # different weights, different objects
    release(root, "decoder", "d1", other, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=root)
    keys = s3.keys()
    assert keys and all(k.startswith("registry/files/md5/") for k in keys)

    clone = clone_repo(root, tmp_path / "clone")
    s3.configure(clone)
    result = cli("pull", "encoder", "--json", cwd=clone)
    assert result.exit_code == 0, result.stderr
    assert result.json()["fetched"] == 1
    assert (
        get_artifact_path("encoder", repo=clone).read_bytes()
        == (root / "artifacts/production/encoder/v1.0.0/model.pt").read_bytes()
    )

    # A tampered S3 object is pulled by DVC without complaint, and refused by artreg.
    md5 = (root / "artifacts/production/decoder/v1.0.0/model.pt.dvc").read_text().split()[3]
    key = f"registry/files/md5/{md5[:2]}/{md5[2:]}"
    body = bytearray(s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read())
    body[10] ^= 0xFF
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=bytes(body))
    tampered = cli("pull", "decoder", cwd=clone)
    assert tampered.exit_code == 1
    assert "decoder/v1.0.0/model.pt: expected sha256" in tampered.stderr


def test_tags_gto_itself_wrote_are_read_through_dvc_yaml_at_their_commits(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    """gto's own messages say nothing of artreg's folders: list, show and log take the folder
    from `artifacts.NAME.path` in dvc.yaml at each tag's commit (one `git cat-file --batch`)."""
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    head = git(registry, "rev-parse", "HEAD").strip()
    run_tool("gto", "assign", "encoder", head, "--stage", "validated", "--sr", cwd=registry)
    run_tool("gto", "register", "encoder", head, "--version", "v0.1.0", cwd=registry)
    tag = git(registry, "tag", "--list", "encoder#validated*").strip()
    message = git(registry, "tag", "--list", "--format=%(contents)", tag)
    assert message.startswith("Assigning stage validated") and "folder:" not in message

    listed = cli("list", "--json", cwd=registry).json()["encoder"]
    assert listed["stages"]["validated"]["folder"] == "artifacts/raw/encoder/s1"
    assert listed["latest"] == "v0.1.0"
    log = cli("log", "encoder", "--json", cwd=registry).json()
    assert [e["folder"] for e in log] == ["artifacts/raw/encoder/s1"] * 3
    shown = cli("show", "encoder@v0.1.0", "--json", cwd=registry)
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["folder"] == "artifacts/raw/encoder/s1"
