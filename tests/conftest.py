"""Shared fixtures: a registry repo, real tiny PyTorch checkpoints, a bare origin, snapshots.

Everything is real: git repositories in temporary folders, DVC, torch checkpoints. HOME and git's
global configuration are isolated per test, so the user's settings never leak in or out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from artreg.cli import main
from artreg.initrepo import init_registry

BIN = Path(sys.executable).parent
ARTREG = str(BIN / "artreg")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


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


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


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


@dataclass(frozen=True)
class Snapshot:
    """What must be exactly as before after a refused command."""

    status: str
    tags: str
    head: str
    pointers: tuple[str, ...]
    files: tuple[str, ...]


def snapshot(root: Path) -> Snapshot:
    return Snapshot(
        status=git(root, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        tags=git(root, "for-each-ref", "refs/tags", "--format=%(refname) %(objectname)"),
        head=git(root, "rev-parse", "HEAD"),
        pointers=tuple(sorted(str(p.relative_to(root)) for p in root.rglob("*.dvc"))),
        files=tuple(
            sorted(str(p.relative_to(root)) for p in (root / "artifacts").rglob("*") if p.is_file())
        ),
    )


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """Run `artreg ARGS...` in-process from a given folder; returns exit code and outputs."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        result = CliRunner().invoke(main, list(args), prog_name="artreg", catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


def run_tool(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a console script of this environment (gto, dvc, artreg) as a separate process."""
    exe = BIN / args[0]
    return subprocess.run(
        [str(exe), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ},
    )


@pytest.fixture(scope="session")
def _moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/registry"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def configure(self, root: Path) -> None:
        """Point the registry's remote at this server: endpoint in the untracked config.local."""
        (root / ".dvc" / "config.local").write_text(
            f"['remote \"local\"']\n    endpointurl = {self.endpoint}\n"
        )


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


def clone_repo(origin: Path, target: Path) -> Path:
    """`git clone` with every tag, as a teammate's or a service's checkout."""
    subprocess.run(["git", "clone", "--quiet", str(origin), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "fetch", "--quiet", "--tags"], check=True)
    return target


def start_paused(args: list[str], cwd: Path, where: str, marker: Path) -> subprocess.Popen[bytes]:
    """Start `artreg ARGS` and return once it stands still at fault point `where`."""
    import time

    env = {**os.environ, "CI": "true", "ARTREG_PAUSE_AT": where, "ARTREG_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        [ARTREG, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), f"never reached {where}: {proc.communicate()}"
    return proc


RELEASE_INPUTS = {
    "benchmarks": EXAMPLES / "benchmarks.json",
    "resource_usage": EXAMPLES / "resource_usage.json",
    "approved_by": "rm",
}


def release(root: Path, name: str, session: str, ckpt: Path, version: str) -> str:
    """The whole lifecycle for one session: register raw, validate `best`, release `version`.

    Returns the release commit."""
    from artreg.promote import promote_to_production, promote_to_validated
    from artreg.register import register_raw

    register_raw(root, name, session, ckpt)
    vid = promote_to_validated(root, name, session, "best", EXAMPLES / "validation_results.json").id
    return promote_to_production(root, name, vid, version, **RELEASE_INPUTS).commit
