"""Kill -9 at every named point of register and both promotions (and at random moments):
`artreg recover` then `artreg verify` succeed, and the registry holds all of the change or none."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from artreg.features.promote import promote_to_validated
from artreg.features.register import register_raw
from artreg.features.verify import verify_registry
from artreg.transaction import recover

from helpers import ARTREG, EXAMPLES, git, start_paused

COMMON = [
    "transaction:begun",
    "publish:locked",
    "publish:before-move",
    "publish:moved",
    "publish:dvc-yaml",
    "publish:index",
    "publish:staged",
    "publish:committed",
    "publish:tag:1",
    "publish:tagged",
    "transaction:finishing",
]
COMMANDS = {
    "register": (
        ["register", "encoder", "s2", "--from", "{ckpt}"],
        [f"build:file:{i}" for i in range(1, 6)] + ["build:pointer", *COMMON],
        "artifacts/raw/encoder/s2",
        ["encoder#raw#3"],
    ),
    "validated": (
        [
            "promote",
            "encoder",
            "s1",
            "--to",
            "validated",
            "--checkpoint",
            "epoch_2",
            "--results",
            str(EXAMPLES / "validation_results.json"),
            "--id",
            "v2",
        ],
        ["build:file", "build:pointer", *COMMON],
        "artifacts/validated/encoder/v2",
        ["encoder#validated#3"],
    ),
    "production": (
        [
            "promote",
            "encoder",
            "s1_best_validated",
            "--to",
            "production",
            "--version",
            "1.0.0",
            "--benchmarks",
            str(EXAMPLES),
            "--approved-by",
            "rm",
        ],
        ["build:file", "build:pointer", *COMMON, "publish:tag:2"],
        "artifacts/production/encoder/v1.0.0",
        ["encoder@v1.0.0", "encoder#production#3"],
    ),
}
POINT_RUNS = [(cmd, p) for cmd, (_, points, _, _) in COMMANDS.items() for p in points]
TIMED_RUNS = [(cmd, f"after:{delay}") for cmd in COMMANDS for delay in (0.4, 0.8, 1.2, 1.6)]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, _checkpoint_template: Path) -> Path:
    """A registry with raw s1 and its validated best checkpoint, built once per worker."""
    from artreg.features.init import init_registry

    base = tmp_path_factory.mktemp("crash-template")
    ckpt = base / "ckpt"
    shutil.copytree(_checkpoint_template, ckpt)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        root = base / "registry"
        init_registry(root)
        register_raw(root, "encoder", "s1", ckpt)
        promote_to_validated(root, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return base


def _state(root: Path) -> tuple[str, str]:
    return (
        git(root, "rev-parse", "HEAD").strip(),
        git(root, "for-each-ref", "--format=%(refname)", "refs/tags"),
    )


@pytest.mark.parametrize(("command", "where"), POINT_RUNS + TIMED_RUNS, ids=lambda v: str(v))
def test_kill_at_any_point_then_recover_leaves_all_or_nothing(
    template: Path, tmp_path: Path, command: str, where: str
) -> None:
    work = tmp_path / "copy"
    shutil.copytree(template, work, symlinks=True)
    root = work / "registry"
    args, _, folder, tags = COMMANDS[command]
    args = [a.replace("{ckpt}", str(work / "ckpt")) for a in args]
    head_before, tags_before = _state(root)
    marker = tmp_path / "paused"
    env = {**os.environ, "CI": "true", "ARTREG_PAUSE_FILE": str(marker)}
    if not where.startswith("after:"):
        env["ARTREG_PAUSE_AT"] = where
    proc = subprocess.Popen(
        [ARTREG, *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if where.startswith("after:"):
        time.sleep(float(where.split(":")[1]) * random.uniform(0.8, 1.2))
    else:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), f"never reached {where}: {proc.communicate()}"
    # SIGKILL from this (second) process, exactly where the command stands.
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    recover(root)
    report = verify_registry(root)
    assert report.problems == [], report.problems
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    head_after, tags_after = _state(root)
    whole = (root / folder).is_dir()
    if whole:
        assert all(f"refs/tags/{t}" in tags_after.split() for t in tags), tags_after
        assert git(root, "rev-parse", "HEAD~1").strip() == head_before
        manifest = json.loads((root / folder / "manifest.json").read_text())
        assert manifest["files"]
    else:
        assert (head_after, tags_after) == (head_before, tags_before)
    # Every earlier artifact is intact, bytes included (verify hashed every file present).
    assert (root / "artifacts/validated/encoder/s1_best_validated/model.pt").is_file()
    assert not (root / ".git/artreg/transaction.json").exists()


def _killed_at(root: Path, ckpt: Path, where: str, tmp_path: Path) -> None:
    args = ["register", "encoder", "s2", "--from", str(ckpt)]
    proc = start_paused(args, root, where, tmp_path / f"paused-{where.replace(':', '-')}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_recover_completes_tags_even_after_the_user_committed_on_top(
    template: Path, tmp_path: Path
) -> None:
    work = tmp_path / "copy"
    shutil.copytree(template, work, symlinks=True)
    root = work / "registry"
    _killed_at(root, work / "ckpt", "publish:tag", tmp_path)
    (root / "notes.md").write_text("the user's own work\n")
    git(root, "add", "notes.md")
    git(root, "commit", "--quiet", "-m", "user: unrelated")
    user_head = git(root, "rev-parse", "HEAD").strip()

    message = recover(root)

    assert "completed" in message
    assert git(root, "rev-parse", "HEAD").strip() == user_head  # nothing of the user's is lost
    assert (
        git(root, "rev-parse", "encoder#raw#3^{commit}").strip()
        == git(root, "rev-parse", "HEAD~1").strip()
    )
    assert verify_registry(root).problems == []


def test_recover_refuses_to_guess_when_the_checkout_moved_on(
    template: Path, tmp_path: Path
) -> None:
    from artreg.errors import ConflictError

    work = tmp_path / "copy"
    shutil.copytree(template, work, symlinks=True)
    root = work / "registry"
    branch = git(root, "branch", "--show-current").strip()
    _killed_at(root, work / "ckpt", "publish:staged", tmp_path)
    git(root, "switch", "--quiet", "-c", "elsewhere")
    with pytest.raises(ConflictError, match=f"made on branch '{branch}'"):
        recover(root)
    git(root, "switch", "--quiet", branch)
    assert "rolled back" in recover(root)
    assert verify_registry(root).problems == []
    assert not (root / "artifacts/raw/encoder/s2").exists()
