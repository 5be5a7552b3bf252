"""Edges where a registry could be fooled: swapped bytes vouched for by edited metadata,
unlisted files, forged tag fields, failed pushes, odd file names."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from artreg import get_artifact_path, register_artifact
from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated
from artreg.sources.clone_fetch import resolve

from helpers import EXAMPLES, RELEASE_INPUTS, git, run_tool, snapshot
from helpers.modelfiles import write_safetensors

VALIDATED = "artifacts/validated/encoder/s1_best_validated"


@pytest.fixture
def validated(registry: Path, checkpoint_dir: Path) -> Path:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    promote_to_validated(registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    return registry


def _release(cli, root: Path, version: str = "1.0.0"):
    return cli(
        "promote",
        "encoder",
        "s1_best_validated",
        "--to",
        "production",
        "--version",
        version,
        "--benchmarks",
        str(EXAMPLES),
        "--approved-by",
        "rm",
        cwd=root,
    )


def test_swapped_weights_with_edited_metadata_are_never_released(validated: Path, cli) -> None:
    folder = validated / VALIDATED
    model = folder / "model.pt"
    model.chmod(0o644)
    model.write_bytes(b"SWAPPED WEIGHTS")
    digest = hashlib.sha256(b"SWAPPED WEIGHTS").hexdigest()
    for name in ("manifest.json", "metadata.json"):
        text = (folder / name).read_text()
        old = json.loads((folder / "manifest.json").read_text())["files"]["model.pt"]["sha256"]
        (folder / name).write_text(text.replace(old, digest))
    before = snapshot(validated)

    result = _release(cli, validated)

    assert result.exit_code == 1, result.stderr
    assert "differs from its promotion" in result.stderr
    assert snapshot(validated) == before


def test_an_unassigned_validated_artifact_cannot_be_released(validated: Path, cli) -> None:
    assert cli("unassign", "encoder#validated", cwd=validated).exit_code == 0
    result = _release(cli, validated)
    assert result.exit_code == 2 and "was unassigned" in result.stderr


def _forged_release(root: Path) -> None:
    """A hand-made production folder whose manifest names a model it gives no hash for."""
    folder = root / "artifacts/production/encoder/v1.0.0"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("totally legit\n")
    (folder / "weights.dat").write_bytes(b"UNVERIFIED BYTES")
    manifest = {
        "schema_version": 1,
        "stage": "production",
        "name": "encoder",
        "id": "v1.0.0",
        "created_at": "2026-01-01T00:00:00Z",
        "tool": {"name": "artreg", "version": "0"},
        "primary": "weights.dat",
        "files": {
            "README.md": {"sha256": hashlib.sha256(b"totally legit\n").hexdigest(), "size": 14}
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "a forged release")


def test_a_folder_with_unvouched_files_is_neither_tagged_nor_resolved(validated: Path, cli) -> None:
    _forged_release(validated)
    tagged = cli("tag", cwd=validated)
    assert tagged.exit_code == 1
    assert "weights.dat: not listed in the manifest" in tagged.stderr
    assert "encoder@v1.0.0" not in git(validated, "tag", "--list")
    verified = cli("verify", cwd=validated)
    assert verified.exit_code == 1 and "weights.dat" in verified.stderr
    git(
        validated,
        "tag",
        "-a",
        "-m",
        "forged\n\nfolder: artifacts/production/encoder/v1.0.0",
        "encoder#production#9",
        "HEAD",
    )  # by hand, naming the forged folder
    with pytest.raises(Exception, match="not among the files it lists"):
        resolve(validated, "encoder")
    with pytest.raises(Exception, match="not among the files it lists"):
        get_artifact_path("encoder", repo=validated)


def test_tag_push_that_fails_leaves_the_promotions_untagged_for_the_next_run(
    validated: Path, bare_origin: Path, cli
) -> None:
    git(validated, "switch", "--quiet", "-c", "release")
    assert _release(cli, validated).exit_code == 0  # made on main in the flow; tags exist here
    # simulate the merge of an untagged promotion: drop the tags the promotion made
    for tag in ("encoder@v1.0.0", "encoder#production#3"):
        git(validated, "tag", "-d", tag)
    failed = cli("tag", "--push", "--remote", "nowhere", cwd=validated)
    assert failed.exit_code == 2
    assert "encoder@v1.0.0" not in git(validated, "tag", "--list")
    retried = cli("tag", "--push", "--json", cwd=validated)
    assert retried.exit_code == 0 and retried.json()["created"] == [
        "encoder@v1.0.0",
        "encoder#production#3",
    ]
    assert "encoder@v1.0.0" in git(bare_origin, "tag", "--list")


def test_pre_commit_mode_reports_a_deleted_promoted_folder(validated: Path, cli) -> None:
    git(validated, "rm", "-r", "--quiet", VALIDATED)
    result = cli("verify", "--changed", f"{VALIDATED}/README.md", cwd=validated)
    assert result.exit_code == 1 and "since deleted" in result.stderr
    outside = cli("verify", "--changed", "/etc/passwd", cwd=validated)
    assert outside.exit_code == 2 and "outside the registry" in outside.stderr


def test_a_newline_in_a_source_path_cannot_forge_the_tags_folder(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    tricky = tmp_path / "ck\nfolder: artifacts/raw/encoder/s1"
    shutil.copytree(checkpoint_dir, tricky)
    register_raw(registry, "encoder", "s2", tricky)
    assert resolve(registry, "encoder", stage="raw").folder.entry == "s2"


def test_register_artifact_looks_only_at_the_file_it_is_given(
    registry: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    os.mkfifo(downloads / "some-pipe")
    (downloads / "elsewhere").symlink_to("/etc")
    model = downloads / "lora_weights_v1.bin"
    write_safetensors(model, 400)
    released = register_artifact("lora", model, "1.0.0", repo=registry, **RELEASE_INPUTS)
    assert released["lora"]["version"] == "1.0.0"


def test_file_names_starting_with_two_dots_are_not_mistaken_for_traversal(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    (checkpoint_dir / "..notes").write_text("run notes\n")
    published = register_raw(registry, "encoder", "s1", checkpoint_dir)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    shutil.rmtree(registry / published.folder / "checkpoints")
    result = cli("pull", "encoder", "--stage", "raw", cwd=registry)
    assert result.exit_code == 0, result.stderr
    assert (registry / published.folder / "checkpoints/..notes").read_text() == "run notes\n"
