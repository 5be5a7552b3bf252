"""Shared fixtures: a registry repo, real tiny PyTorch checkpoints, a bare origin, an S3 server.
(Shared helpers that are not fixtures live in the `helpers` package.)

Everything is real: git repositories in temporary folders, DVC, torch checkpoints. HOME and git's
global configuration are isolated per test, so the user's settings never leak in or out.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from artreg.cli import main
from artreg.services.init import init_registry

from helpers import S3, CliResult, git
from helpers import git_daemon as serve_git_daemon

# Fixture modules of the helpers package (the `source` fixture: one registry, every source).
pytest_plugins = ["helpers.sources"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME with a git identity; no AWS profile or CI variables from the host."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Trainer\n\temail = trainer@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(home / ".dvc-site-cache"))
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE", "GITHUB_ACTOR", "CI"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A fresh registry repo (git + DVC + artreg layout) with its own local DVC remote."""
    root = tmp_path / "registry"
    init_registry(root)
    return root


@pytest.fixture
def bare_origin(tmp_path: Path, registry: Path) -> Path:
    """A bare repository as `origin` of the registry, holding its first commit."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(origin)], check=True)
    git(registry, "remote", "add", "origin", str(origin))
    git(registry, "push", "--quiet", "origin", "main")
    return origin


def _train(out: Path, epochs: int, seed: int) -> None:
    from artreg.demo import train_tiny_model

    train_tiny_model(out, epochs=epochs, seed=seed)


@pytest.fixture(scope="session")
def _checkpoint_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ckpt-template") / "checkpoints"
    _train(out, epochs=3, seed=0)
    return out


@pytest.fixture
def checkpoint_dir(tmp_path: Path, _checkpoint_template: Path) -> Path:
    """A training run's checkpoint folder: epoch_1..3.pt, best.pt, latest.pt (real torch files)."""
    target = tmp_path / "training" / "checkpoints"
    shutil.copytree(_checkpoint_template, target)
    return target


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """Run `artreg ARGS...` in-process from a given folder; returns exit code and outputs."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        result = CliRunner().invoke(main, list(args), prog_name="artreg", catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="session")
def _moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(_moto_server: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> S3:
    """A fresh bucket on a moto S3 server on 127.0.0.1, with fake credentials in the env."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = "bucket-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    server = S3(_moto_server, bucket)
    server.client().create_bucket(Bucket=bucket)
    return server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty consumer cache for this test ($ARTREG_CACHE), online."""
    root = tmp_path / "consumer-cache"
    monkeypatch.setenv("ARTREG_CACHE", str(root))
    monkeypatch.delenv("ARTREG_OFFLINE", raising=False)
    return root


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[str]:
    """`git daemon` on 127.0.0.1 exporting tmp_path/srv (where `helpers.serve` puts a
    registry); yields its git:// base URL."""
    with serve_git_daemon(tmp_path / "srv") as url:
        yield url
