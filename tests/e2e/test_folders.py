"""Model folders through every stage: a sharded Hugging Face-style folder registered raw,
validated, released; `sha256sum -c`, `dvc artifacts get` and `get_artifact_path` as oracles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from artreg import ArtifactRepository, IntegrityError, get_artifact_path, register_artifact
from artreg.services.register import register_raw

from helpers import (
    EXAMPLES,
    RELEASE_ARGS,
    RELEASE_INPUTS,
    clone_repo,
    flip_byte,
    git,
    run_tool,
    snapshot,
    tiny_safetensors,
)
from helpers.folders import tree_bytes, write_hf_folder

RESULTS = str(EXAMPLES / "validation_results.json")


@pytest.fixture
def hf_session(registry: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Raw session s1 of `tiny` whose checkpoints folder holds a model folder `hf_model/`;
    returns (registry, that model folder as training wrote it)."""
    checkpoints = tmp_path / "training" / "checkpoints"
    model = write_hf_folder(checkpoints / "hf_model")
    register_raw(registry, "tiny", "s1", checkpoints)
    return registry, model


def sha256sum_check(folder: Path, checksums: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "-c", checksums], cwd=folder, capture_output=True, text=True
    )


def front_matter(card: Path) -> dict[str, object]:
    return yaml.safe_load(card.read_text().split("---\n")[1])


def test_hf_folder_goes_raw_to_validated_to_production_and_every_reader_gets_it_whole(
    hf_session: tuple[Path, Path], tmp_path: Path, cli
) -> None:
    root, source = hf_session
    val = cli(
        "promote", "tiny", "s1", "--to", "validated", "--checkpoint", "hf_model",
        "--results", RESULTS, "--json", cwd=root,
    )  # fmt: skip
    assert val.exit_code == 0, val.stderr
    vdir = root / "artifacts/validated/tiny/s1_hf_model_validated"
    assert tree_bytes(vdir / "model") == tree_bytes(source)
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert {r for r in manifest["files"] if r.startswith("model/")} == {
        f"model/{r}" for r in tree_bytes(source)
    }
    assert manifest["primary"] == "model/model.safetensors.index.json"
    check = sha256sum_check(vdir, "model.sha256")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(tree_bytes(source)) == 7
    front = front_matter(vdir / "README.md")
    assert front["library_name"] == "transformers"
    artreg_front = front["artreg"]
    assert isinstance(artreg_front, dict)
    assert artreg_front["layout"] == "huggingface"
    assert artreg_front["shards"] == 2
    assert artreg_front["weight_files"] == 2
    assert artreg_front["index"] == ["model.safetensors.index.json"]
    assert "tokenizer.json" in artreg_front["tokenizer"]

    rel = cli(
        "promote", "tiny", "s1_hf_model_validated", "--to", "production", "--version", "1.0.0",
        *RELEASE_ARGS, cwd=root,
    )  # fmt: skip
    assert rel.exit_code == 0, rel.stderr
    pdir = root / "artifacts/production/tiny/v1.0.0"
    got = get_artifact_path("tiny", repo=root)
    assert got == pdir / "model"
    assert tree_bytes(got) == tree_bytes(source)
    assert sha256sum_check(pdir, "model.sha256").returncode == 0
    index = json.loads((root / "artifacts/registry.json").read_text())
    assert index["tiny"]["file"] == "production/tiny/v1.0.0/model"
    assert (
        "sha256sum -c --quiet model.sha256" in (pdir / "deployment/docker/Dockerfile").read_text()
    )

    # DVC as the oracle: `dvc artifacts get --stage production` returns the identical folder.
    run_tool("dvc", "push", "--quiet", cwd=root)
    out = tmp_path / "dvc-get"
    out.mkdir()
    run_tool("dvc", "artifacts", "get", str(root), "tiny", "--stage", "production", cwd=out)
    assert tree_bytes(out / "model") == tree_bytes(source)
    out_val = tmp_path / "dvc-get-validated"
    out_val.mkdir()
    run_tool("dvc", "artifacts", "get", str(root), "tiny", "--stage", "validated", cwd=out_val)
    assert tree_bytes(out_val / "model") == tree_bytes(source)


def test_a_flipped_byte_in_one_shard_is_refused(registry: Path, tmp_path: Path, cli) -> None:
    source = write_hf_folder(tmp_path / "snapshot")
    register_artifact("tiny", source, "1.0.0", repo=registry, **RELEASE_INPUTS)
    pdir = registry / "artifacts/production/tiny/v1.0.0"
    shard = pdir / "model/model-00002-of-00002.safetensors"
    flip_byte(shard, offset=-3)
    assert sha256sum_check(pdir, "model.sha256").returncode == 1  # the oracle agrees
    result = cli("verify", cwd=registry)
    assert result.exit_code == 1
    assert "model/model-00002-of-00002.safetensors" in result.stdout + result.stderr
    assert "model-00001-of-00002" not in result.stdout + result.stderr
    with pytest.raises(IntegrityError, match=r"model-00002-of-00002\.safetensors"):
        get_artifact_path("tiny", repo=registry, pull=False, verify="full")


def test_pickled_bin_shards_become_safetensors_on_validation(
    registry: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    checkpoints = tmp_path / "training" / "checkpoints"
    source = write_hf_folder(checkpoints / "hf_model", pickled=True)
    repo = ArtifactRepository(registry, name="tiny")
    repo.register_training_session("s1", checkpoints)
    val = repo.promote_to_validated("s1", "checkpoints/hf_model", Path(RESULTS))
    assert val.id == "s1_hf_model_validated"
    model = registry / "artifacts/validated/tiny/s1_hf_model_validated/model"
    names = set(tree_bytes(model))
    assert names == {
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    }
    index = json.loads((model / "model.safetensors.index.json").read_text())
    original = json.loads((source / "pytorch_model.bin.index.json").read_text())
    assert index["weight_map"] == {
        k: v.replace("pytorch_model", "model").replace(".bin", ".safetensors")
        for k, v in original["weight_map"].items()
    }
    for i in (1, 2):
        pickled = torch.load(source / f"pytorch_model-0000{i}-of-00002.bin", weights_only=True)
        cleaned = load_file(str(model / f"model-0000{i}-of-00002.safetensors"))
        assert cleaned.keys() == pickled.keys()
        assert all(torch.equal(cleaned[k], pickled[k]) for k in pickled)
    meta = json.loads((model.parent / "metadata.json").read_text())
    assert meta["model"]["parameter_count"] == 16 * 8 + 8 * 8 + 8 * 8 + 8
    assert meta["model"]["layout"]["weights"] == ["safetensors"]
    assert sha256sum_check(model.parent, "model.sha256").returncode == 0


def test_an_index_naming_a_missing_shard_is_refused_and_nothing_changes(
    registry: Path, tmp_path: Path, cli
) -> None:
    checkpoints = tmp_path / "training" / "checkpoints"
    source = write_hf_folder(checkpoints / "hf_model")
    (source / "model-00002-of-00002.safetensors").unlink()
    register_raw(registry, "tiny", "s1", checkpoints)  # raw keeps what training wrote
    before = snapshot(registry)
    val = cli(
        "promote", "tiny", "s1", "--to", "validated", "--checkpoint", "hf_model",
        "--results", RESULTS, cwd=registry,
    )  # fmt: skip
    assert val.exit_code == 2
    assert "model.safetensors.index.json" in val.stderr
    assert "model-00002-of-00002.safetensors" in val.stderr
    assert snapshot(registry) == before
    rel = cli("release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert rel.exit_code == 2
    assert "lacks: model-00002-of-00002.safetensors" in rel.stderr
    assert snapshot(registry) == before


def test_an_index_naming_a_tensor_its_shard_lacks_is_refused_and_nothing_changes(
    registry: Path, tmp_path: Path, cli
) -> None:
    # The index maps layer1.bias to the second shard, whose header holds only layer1.weight
    # (a shard from another save): a loader would fail only when the service loads the model.
    checkpoints = tmp_path / "training" / "checkpoints"
    source = write_hf_folder(checkpoints / "hf_model")
    shard = "model-00002-of-00002.safetensors"
    tiny_safetensors(source / shard, 7, {"layer1.weight": (8, 8)})
    register_raw(registry, "tiny", "s1", checkpoints)  # raw keeps what training wrote
    before = snapshot(registry)
    expected = (
        f"model.safetensors.index.json: /weight_map/layer1.bias names {shard}, "
        f"and {shard} holds no tensor 'layer1.bias'"
    )

    val = cli(
        "promote", "tiny", "s1", "--to", "validated", "--checkpoint", "hf_model",
        "--results", RESULTS, cwd=registry,
    )  # fmt: skip
    assert val.exit_code == 2, val.stderr
    assert f"artifacts/raw/tiny/s1/checkpoints/hf_model/{expected}" in val.stderr
    assert snapshot(registry) == before

    rel = cli("release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert rel.exit_code == 2, rel.stderr
    assert f"{source}/{expected}" in rel.stderr
    assert "fix: the index and the shards come from different saves" in rel.stderr
    assert snapshot(registry) == before


def test_release_cli_registers_a_folder_and_a_single_file(
    registry: Path, tmp_path: Path, cli
) -> None:
    source = write_hf_folder(tmp_path / "snapshot")
    result = cli(
        "release", "encoder", str(source), "--version", "1.2.0", *RELEASE_ARGS,
        "--notes", "HF snapshot", "--json", cwd=registry,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.json()["folder"] == "artifacts/production/encoder/v1.2.0"
    assert tree_bytes(get_artifact_path("encoder", repo=registry)) == tree_bytes(source)
    meta = json.loads((registry / "artifacts/production/encoder/v1.2.0/metadata.json").read_text())
    assert meta["source"]["stage"] == "external"
    assert meta["notes"] == "HF snapshot"

    # the seed's LoRA weights: a .bin whose content (safetensors) says what it is
    lora = tiny_safetensors(tmp_path / "lora_weights_v1.bin", 1, {"proj.lora_A.weight": (4, 16)})
    single = cli("release", "lora", str(lora), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert single.exit_code == 0, single.stderr
    got = get_artifact_path("lora", repo=registry)
    assert got.name == "lora_weights_v1.bin"
    assert got.read_bytes() == lora.read_bytes()
    again = snapshot(registry)
    refused = cli("release", "lora", str(lora), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert refused.exit_code == 2
    assert "released already" in refused.stderr
    assert snapshot(registry) == again


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("tokenizer/nul", "NUL is a Windows device name"),
        ("CON.txt", "CON is a Windows device name"),
        ("q?.txt", "the name holds ?, which Windows forbids in names"),
        ("extra. /notes.md", "it ends with a dot or a space, which Windows drops"),
    ],
)
def test_a_model_folder_with_a_name_windows_cannot_check_out_is_refused(
    registry: Path, tmp_path: Path, cli, rel: str, why: str
) -> None:
    """One rule for every name inside a folder: the portable-name rule of artifact names."""
    source = write_hf_folder(tmp_path / "snapshot")
    (source / rel).parent.mkdir(parents=True, exist_ok=True)
    (source / rel).write_text("extra")
    before = snapshot(registry)

    result = cli("release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)

    assert result.exit_code == 2, result.stderr
    named = source / rel.split("/")[0] if rel.startswith("extra") else source / rel
    assert f"{named}: {why}" in result.stderr, result.stderr
    assert "names inside a model folder follow the portable-name rule" in result.stderr
    assert snapshot(registry) == before  # with ignored files: nothing in DVC's cache either


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Config.json", "config.json"),  # one file on Windows and on macOS (case-insensitive)
        ("e\u0301.txt", "\u00e9.txt"),  # NFD and NFC é: one file on macOS
        ("tokenizer/Vocab.txt", "tokenizer/VOCAB.TXT"),  # in a subfolder too
    ],
)
def test_two_names_that_are_one_file_on_windows_or_macos_are_refused_naming_both(
    registry: Path, tmp_path: Path, cli, first: str, second: str
) -> None:
    source = write_hf_folder(tmp_path / "snapshot")
    for rel in (first, second):
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(rel)
    before = snapshot(registry)

    result = cli("release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)

    assert result.exit_code == 2, result.stderr
    assert str(source / first) in result.stderr and str(source / second) in result.stderr
    assert "letter case is ignored or Unicode is normalised" in result.stderr
    assert snapshot(registry) == before


def test_a_shard_with_a_damaged_header_is_refused_by_its_content(
    registry: Path, tmp_path: Path, cli
) -> None:
    source = write_hf_folder(tmp_path / "snapshot")
    shard = source / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-5])  # the header's offsets now pass the file's end
    before = snapshot(registry)
    result = cli("release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert result.exit_code == 2
    assert "model-00001-of-00002.safetensors" in result.stderr
    assert snapshot(registry) == before


def test_a_folder_release_merged_from_a_pull_request_is_tagged_pointing_at_the_folder(
    registry: Path, tmp_path: Path, cli
) -> None:
    source = write_hf_folder(tmp_path / "snapshot")
    result = cli(
        "release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS,
        "--branch", "release/tiny-1.0.0", cwd=registry,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    git(registry, "checkout", "--quiet", "main")
    git(registry, "merge", "--quiet", "--no-ff", "-m", "Merge release", "release/tiny-1.0.0")
    tagged = cli("tag", "--json", cwd=registry)
    assert tagged.exit_code == 0, tagged.stderr
    assert "tiny@v1.0.0" in tagged.json()["created"]
    dvc_yaml = yaml.safe_load((registry / "dvc.yaml").read_text())
    assert dvc_yaml["artifacts"]["tiny"]["path"] == "artifacts/production/tiny/v1.0.0/model"
    run_tool("dvc", "checkout", "--quiet", cwd=registry)
    assert tree_bytes(get_artifact_path("tiny", repo=registry)) == tree_bytes(source)
    assert cli("verify", cwd=registry).exit_code == 0


def test_a_folder_checkpoint_is_promoted_from_a_clone_that_lacks_its_bytes(
    hf_session: tuple[Path, Path], bare_origin: Path, tmp_path: Path, cli
) -> None:
    root, source = hf_session
    run_tool("dvc", "push", "--quiet", cwd=root)
    git(root, "push", "--quiet", "origin", "main", "--tags")
    clone = clone_repo(bare_origin, tmp_path / "ci")
    assert not (clone / "artifacts/raw/tiny/s1/checkpoints").exists()  # no `dvc pull`
    val = cli(
        "promote", "tiny", "s1", "--to", "validated", "--checkpoint", "hf_model",
        "--results", RESULTS, cwd=clone,
    )  # fmt: skip
    assert val.exit_code == 0, val.stderr
    assert tree_bytes(clone / "artifacts/validated/tiny/s1_hf_model_validated/model") == (
        tree_bytes(source)
    )


def test_a_registry_url_serves_the_model_folder_without_a_clone(
    registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTREG_CACHE", str(tmp_path / "consumer-cache"))
    source = write_hf_folder(tmp_path / "snapshot")
    register_artifact("tiny", source, "1.0.0", repo=registry, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = tmp_path / "srv" / "registry.git"
    subprocess.run(["git", "clone", "--bare", "--quiet", str(registry), str(bare)], check=True)
    got = get_artifact_path("tiny", repo=str(bare))
    assert got.name == "model" and got.is_dir()
    assert tree_bytes(got) == tree_bytes(source)


def test_an_adapter_folder_with_one_pickled_file_is_cleaned_to_safetensors(
    registry: Path, tmp_path: Path, cli
) -> None:
    import torch
    from safetensors.torch import load_file

    checkpoints = tmp_path / "training" / "checkpoints"
    adapter = checkpoints / "lora"
    adapter.mkdir(parents=True)
    weights = {"lora_A.weight": torch.randn(4, 8), "lora_B.weight": torch.zeros(8, 4)}
    torch.save({"model_state_dict": weights, "optimizer": {"lr": 1e-3}}, adapter / "adapter.bin")
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 4, "base": "encoder"}))
    register_raw(registry, "lora", "s1", checkpoints)
    val = cli(
        "promote", "lora", "s1", "--to", "validated", "--checkpoint", "lora",
        "--results", RESULTS, cwd=registry,
    )  # fmt: skip
    assert val.exit_code == 0, val.stderr
    vdir = registry / "artifacts/validated/lora/s1_lora_validated"
    assert set(tree_bytes(vdir / "model")) == {"adapter.safetensors", "adapter_config.json"}
    cleaned = load_file(str(vdir / "model/adapter.safetensors"))
    assert (
        all(torch.equal(cleaned[k], weights[k]) for k in weights)
        and cleaned.keys() == weights.keys()
    )
    front = front_matter(vdir / "README.md")["artreg"]
    assert isinstance(front, dict) and front["layout"] == "files"


def test_an_arbitrary_pickle_in_a_folder_is_refused_naming_it(
    registry: Path, tmp_path: Path, cli
) -> None:
    import pickle

    source = write_hf_folder(tmp_path / "snapshot")
    (source / "training_args.bin").write_bytes(pickle.dumps({"learning_rate": 1e-3}))
    before = snapshot(registry)
    result = cli("release", "tiny", str(source), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert result.exit_code == 2
    assert "training_args.bin" in result.stderr and "pickle" in result.stderr
    assert snapshot(registry) == before


def test_a_raw_shard_altered_after_registration_is_refused_on_promotion(
    hf_session: tuple[Path, Path], cli
) -> None:
    root, _ = hf_session
    shard = root / "artifacts/raw/tiny/s1/checkpoints/hf_model/model-00001-of-00002.safetensors"
    flip_byte(shard, offset=-1)
    before = snapshot(root)
    val = cli(
        "promote", "tiny", "s1", "--to", "validated", "--checkpoint", "hf_model",
        "--results", RESULTS, cwd=root,
    )  # fmt: skip
    assert val.exit_code == 1
    assert "hf_model/model-00001-of-00002.safetensors: sha256" in val.stderr
    assert snapshot(root) == before
