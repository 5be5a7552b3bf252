"""`artreg verify`: a clean registry passes; every kind of damage is found and named."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, git, run_tool


@pytest.fixture
def promoted(registry: Path, checkpoint_dir: Path) -> Path:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    promote_to_validated(registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    return registry


VALIDATED = "artifacts/validated/encoder/s1_best_validated"


def test_a_clean_registry_verifies(promoted: Path, cli) -> None:
    result = cli("verify", "--json", cwd=promoted)
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()
    assert data["ok"] and data["checked"]["folders"] == 2 and data["checked"]["tags"] == 2


def _commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", message)


def _edit_metadata(root: Path) -> str:
    path = root / VALIDATED / "README.md"
    path.write_text(path.read_text() + "\nimproved wording\n")
    _commit_all(root, "edit a promoted model card")
    return f"{VALIDATED}: changed since it was promoted"


def _edit_pointer(root: Path) -> str:
    pointer = root / VALIDATED / "model.pt.dvc"
    pointer.write_text(pointer.read_text().replace("size:", "size: 1\n  # size:"))
    _commit_all(root, "edit a pointer")
    return "model.pt.dvc"


def _delete_folder(root: Path) -> str:
    git(root, "rm", "-r", "--quiet", VALIDATED)
    git(root, "commit", "--quiet", "-m", "delete a promoted folder")
    return f"{VALIDATED}: promoted in"


def _flip_model(root: Path) -> str:
    model = root / VALIDATED / "model.pt"
    model.chmod(0o644)
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    return f"{VALIDATED}/model.pt: sha256"


def _stale_index(root: Path) -> str:
    path = root / "artifacts/registry.json"
    path.write_text("{}\n")
    _commit_all(root, "clobber the index")
    return "artifacts/registry.json: out of date"


def _credential_in_config(root: Path) -> str:
    with (root / ".dvc/config").open("a") as fh:
        fh.write("    secret_access_key = AKIAEXAMPLE\n")
    _commit_all(root, "oops")
    return ".dvc/config:"


def _model_in_git(root: Path) -> str:
    (root / "artifacts/raw/weights.pt").write_bytes(b"\x00" * 64)
    git(root, "add", "-f", "artifacts/raw/weights.pt")
    git(root, "commit", "--quiet", "-m", "a model file in git")
    return "artifacts/raw/weights.pt: a model file is tracked by git"


def _invalid_metadata(root: Path) -> str:
    path = root / VALIDATED / "metadata.json"
    path.write_text(path.read_text().replace('"stage": "validated"', '"stage": "staging"'))
    _commit_all(root, "bad metadata")
    return "/stage"


DAMAGE = {
    "edited promoted file": _edit_metadata,
    "edited dvc pointer": _edit_pointer,
    "deleted promoted folder": _delete_folder,
    "flipped model byte": _flip_model,
    "stale registry.json": _stale_index,
    "credential in tracked config": _credential_in_config,
    "model file in git": _model_in_git,
    "metadata against its schema": _invalid_metadata,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_verify_finds_and_names_the_damage(promoted: Path, cli, damage: str) -> None:
    expected = DAMAGE[damage](promoted)
    result = cli("verify", cwd=promoted)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert expected in result.stderr, result.stderr


def test_verify_remote_names_data_that_was_never_pushed(promoted: Path, cli) -> None:
    missing = cli("verify", "--remote", cwd=promoted)
    assert missing.exit_code == 1
    assert "model.pt.dvc: its data is not in the DVC remote" in missing.stderr
    run_tool("dvc", "push", "--quiet", cwd=promoted)
    assert cli("verify", "--remote", cwd=promoted).exit_code == 0


def test_changed_mode_checks_only_the_touched_folder(promoted: Path, cli) -> None:
    _flip_model(promoted)
    raw_readme = "artifacts/raw/encoder/s1/README.md"
    assert cli("verify", "--changed", raw_readme, cwd=promoted).exit_code == 0
    result = cli("verify", "--changed", f"{VALIDATED}/model.pt", cwd=promoted)
    assert result.exit_code == 1 and "model.pt: sha256" in result.stderr


def _ssh_signing(root: Path, tmp_path: Path) -> None:
    key = tmp_path / "signing_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "trainer", "-f", str(key)], check=True
    )
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"trainer@example.com {(tmp_path / 'signing_key.pub').read_text()}")
    for key_name, value in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
    ):
        git(root, "config", key_name, value)


def test_signed_history_verifies_and_unsigned_does_not(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    _ssh_signing(registry, tmp_path)
    signed = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--sign", cwd=registry)
    assert signed.exit_code == 0, signed.stderr
    assert (
        "Good"
        in subprocess.run(
            ["git", "-C", str(registry), "verify-tag", "encoder#raw#1"],
            capture_output=True,
            text=True,
        ).stderr
    )
    assert cli("verify", "--signed", cwd=registry).exit_code == 0
    shutil.copytree(checkpoint_dir, tmp_path / "again")
    cli("register", "encoder", "s2", "--from", str(tmp_path / "again"), cwd=registry)
    unsigned = cli("verify", "--signed", cwd=registry)
    assert unsigned.exit_code == 1
    assert "tag encoder#raw#2: no valid signature" in unsigned.stderr
