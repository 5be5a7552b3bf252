"""Raw registration end to end: folder, manifest, DVC pointers, one commit, one GTO tag."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from artreg import ArtifactRepository
from artreg.adapters import schemas
from artreg.services.register import register_raw

from helpers import git, run_tool


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_register_records_every_file_with_its_hash_in_one_commit_and_tag(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("lr: 0.01\nepochs: 3\n")
    metrics = tmp_path / "training_metrics.json"
    metrics.write_text(json.dumps({"best_val_loss": 0.38, "coverage": 0.99}))
    log = tmp_path / "train.log"
    log.write_text("epoch 1: loss=0.5\n")
    head_before = git(registry, "rev-parse", "HEAD").strip()

    result = cli(
        "register",
        "encoder",
        "v5_5_20251124",
        "--from",
        str(checkpoint_dir),
        "--config",
        str(config),
        "--metrics",
        str(metrics),
        "--log",
        str(log),
        "--json",
        cwd=registry,
    )

    assert result.exit_code == 0, result.stderr
    out = result.json()
    folder = registry / "artifacts/raw/encoder/v5_5_20251124"
    assert out["folder"] == "artifacts/raw/encoder/v5_5_20251124"
    assert out["tags"] == ["encoder#raw#1"]
    for rel in (
        "checkpoints/best.pt",
        "checkpoints/latest.pt",
        "checkpoints/epoch_1.pt",
        "checkpoints/manifest.json",
        "metrics/training_metrics.json",
        "config.yaml",
        "training.log",
        "README.md",
        "manifest.json",
        "checkpoints.dvc",
    ):
        assert (folder / rel).is_file(), rel

    manifest = json.loads((folder / "manifest.json").read_text())
    assert schemas.errors(manifest, "manifest") == []
    assert manifest["primary"] == "checkpoints/best.pt"
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == sha256(folder / rel), rel
        assert entry["size"] == (folder / rel).stat().st_size
    assert manifest["files"]["checkpoints/best.pt"]["sha256"] == sha256(checkpoint_dir / "best.pt")

    # One commit on top of the previous HEAD, holding no checkpoint bytes, and the GTO tag on it.
    assert git(registry, "rev-parse", "HEAD~1").strip() == head_before
    tracked = git(registry, "ls-files").split()
    assert not [f for f in tracked if f.endswith(".pt")]
    assert "artifacts/raw/encoder/v5_5_20251124/checkpoints.dvc" in tracked
    assert git(registry, "rev-parse", "encoder#raw#1^{commit}") == git(
        registry, "rev-parse", "HEAD"
    )
    assert git(registry, "cat-file", "-t", "encoder#raw#1").strip() == "tag"  # annotated
    assert git(registry, "status", "--porcelain") == ""
    dvc_yaml = (registry / "dvc.yaml").read_text()
    assert "artifacts/raw/encoder/v5_5_20251124/checkpoints" in dvc_yaml


def test_dvc_sees_the_registered_data_as_its_own(registry: Path, checkpoint_dir: Path) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    status = run_tool("dvc", "status", "--json", cwd=registry)
    assert json.loads(status.stdout) == {}


def test_gto_and_dvc_artifacts_get_see_the_raw_stage(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    commit = git(registry, "rev-parse", "HEAD").strip()

    shown = json.loads(run_tool("gto", "show", "--json", cwd=registry).stdout)
    assert shown["encoder"]["stage"] == {"raw": commit}

    run_tool("dvc", "push", "--quiet", cwd=registry)
    out = tmp_path / "fetched"
    out.mkdir()
    run_tool("dvc", "artifacts", "get", str(registry), "encoder", "--stage", "raw", cwd=out)
    for name in ("best.pt", "latest.pt", "epoch_3.pt"):
        assert (out / "checkpoints" / name).read_bytes() == (checkpoint_dir / name).read_bytes()


def test_second_session_gets_the_next_gto_counter(registry: Path, checkpoint_dir: Path) -> None:
    first = register_raw(registry, "encoder", "s1", checkpoint_dir)
    second = register_raw(registry, "encoder", "s2", checkpoint_dir)
    other = register_raw(registry, "decoder", "s1", checkpoint_dir)
    assert (first.tags, second.tags, other.tags) == (
        ["encoder#raw#1"],
        ["encoder#raw#2"],
        ["decoder#raw#1"],
    )
    tag_date = git(
        registry, "for-each-ref", "--format=%(creatordate:unix)", "refs/tags/encoder#raw#*"
    )
    first_time, second_time = (int(x) for x in tag_date.split())
    assert second_time > first_time  # never a tie, so GTO's time order is unambiguous


def test_seed_python_call_works_as_written(
    registry: Path, checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = registry / "params.yaml"
    params.write_text(re.sub(r"default_name: \S+", "default_name: encoder", params.read_text()))
    git(registry, "commit", "--quiet", "-am", "default artifact name")
    monkeypatch.chdir(registry)
    config = {"model": "v5_5", "lr": 0.001}

    repo = ArtifactRepository("artifacts")
    repo.register_training_session(
        session_id="v5_5_20251124",
        checkpoint_dir=checkpoint_dir,
        config=config,
        metrics={"best_val_loss": 0.38, "coverage": 0.99},
    )

    folder = registry / "artifacts/raw/encoder/v5_5_20251124"
    assert json.loads((folder / "metrics/training_metrics.json").read_text()) == {
        "best_val_loss": 0.38,
        "coverage": 0.99,
    }
    assert "lr: 0.001" in (folder / "config.yaml").read_text()
    assert git(registry, "tag", "--list").split() == ["encoder#raw#1"]


def test_manifest_records_the_training_code_commit(
    registry: Path, tmp_path: Path, checkpoint_dir: Path
) -> None:
    code = tmp_path / "training"
    git(code, "init", "--quiet")
    git(code, "add", "checkpoints")
    git(code, "commit", "--quiet", "-m", "run")
    commit = git(code, "rev-parse", "HEAD").strip()
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    manifest = json.loads((registry / "artifacts/raw/encoder/s1/manifest.json").read_text())
    assert manifest["provenance"]["training_code"]["commit"] == commit
    assert manifest["provenance"]["training_code"]["dirty"] is False
