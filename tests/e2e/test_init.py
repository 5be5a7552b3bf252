"""`artreg init`: a registry from a new folder or an existing repo; idempotent; never overwrites."""

from __future__ import annotations

from pathlib import Path

from artreg.services.init import init_registry

from helpers import git, run_tool


def test_init_makes_a_new_folder_a_registry_in_one_commit(tmp_path: Path, cli) -> None:
    target = tmp_path / "models"
    result = cli("init", str(target), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert Path(data["root"]) == target
    for rel in (
        "artifacts/raw/README.md",
        "artifacts/validated/README.md",
        "artifacts/production/README.md",
        "dvc.yaml",
        "params.yaml",
        ".dvc/config",
        "artifacts/registry.json",
    ):
        assert (target / rel).is_file(), rel
    assert git(target, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(target, "status", "--porcelain") == ""
    assert data["remote"] == str(target / ".dvc-storage")
    assert "/.dvc-storage/" in (target / ".gitignore").read_text()


def test_init_twice_changes_nothing(registry: Path) -> None:
    head = git(registry, "rev-parse", "HEAD")
    again = init_registry(registry)
    assert again.created == []
    assert again.commit is None
    assert git(registry, "rev-parse", "HEAD") == head


def test_init_keeps_a_users_existing_files(tmp_path: Path) -> None:
    repo = tmp_path / "training-repo"
    repo.mkdir()
    git(repo, "init", "--quiet")
    (repo / "params.yaml").write_text("lr: 0.1\n")
    (repo / "train.py").write_text("print('train')\n")
    git(repo, "add", "params.yaml", "train.py")
    git(repo, "commit", "--quiet", "-m", "training code")
    result = init_registry(repo)
    assert (repo / "params.yaml").read_text() == "lr: 0.1\n"
    assert "params.yaml" not in result.created
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "2"


def test_init_with_remote_url_sets_the_default_remote(tmp_path: Path) -> None:
    result = init_registry(tmp_path / "r", remote="s3://models/registry")
    assert result.remote == "s3://models/registry"
    config = (tmp_path / "r" / ".dvc" / "config").read_text()
    assert "s3://models/registry" in config
    assert not (tmp_path / "r" / ".dvc-storage").exists()


def test_another_clone_on_the_machine_pulls_through_the_default_remote(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    from artreg.services.register import register_raw

    published = register_raw(registry, "encoder", "s1", checkpoint_dir)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(registry), str(clone))
    run_tool("dvc", "pull", "--quiet", cwd=clone)
    pulled = clone / published.folder / "checkpoints" / "best.pt"
    assert pulled.read_bytes() == (checkpoint_dir / "best.pt").read_bytes()
