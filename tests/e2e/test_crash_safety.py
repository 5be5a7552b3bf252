"""Kill -9 at every named point of register, both promotions and `artreg tag` (and at random
moments): `artreg recover` then `artreg verify` succeed, and the registry holds all of the change
or none."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from artreg.publishing.transaction import recover
from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated
from artreg.services.verify.clone import verify_registry

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
    from artreg.services.init import init_registry

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


def _live_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that have not exited (a zombie has released its files)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _wait_for_group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Until every process of the killed group has exited: a forked child shares the lock's open
    file, so the lock is free only once the last of them is gone, not when the leader is."""
    deadline = time.monotonic() + timeout
    while _live_members(pgid):
        assert time.monotonic() < deadline, f"process group {pgid} alive {timeout} s after SIGKILL"
        time.sleep(0.01)


def _kill_at(args: list[str], root: Path, where: str, marker: Path) -> None:
    """Run `artreg ARGS` and SIGKILL it at fault point `where` (or `after:SECONDS`).

    Its own process group, killed whole: a crashed job takes its git children with it, and the
    kill counts as done only when every member has exited (see `_wait_for_group_gone`).
    """
    env = {**os.environ, "CI": "true", "ARTREG_PAUSE_FILE": str(marker)}
    if not where.startswith("after:"):
        env["ARTREG_PAUSE_AT"] = where
    proc = subprocess.Popen(
        [ARTREG, *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    if where.startswith("after:"):
        time.sleep(float(where.split(":")[1]) * random.uniform(0.8, 1.2))
    else:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), f"never reached {where}: {proc.communicate()}"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_for_group_gone(proc.pid)


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
    _kill_at(args, root, where, tmp_path / "paused")

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


# --- `artreg tag` after a merge: one commit of the generated files, and its tags ---------------

TAG_POINTS = [
    "transaction:begun",
    "tag:planned",
    "publish:tag:1",  # before the version tag
    "publish:tag:2",  # between the version tag and the stage tag
    "tag:tagged",
    "transaction:finishing",
]
MERGED_TAGS = ["encoder@v1.0.0", "encoder#production#3"]


@pytest.fixture(scope="module")
def merged_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template plus a production release promoted on a branch and merged, not yet tagged."""
    base = tmp_path_factory.mktemp("merged-template")
    shutil.copytree(template, base, symlinks=True, dirs_exist_ok=True)
    root = base / "registry"
    env = {
        **os.environ,
        "CI": "true",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    branch = git(root, "branch", "--show-current").strip()
    args = COMMANDS["production"][0] + ["--branch", "release/encoder-1.0.0"]
    subprocess.run([ARTREG, *args], cwd=root, env=env, check=True, capture_output=True)
    subprocess.run(["git", "switch", "--quiet", branch], cwd=root, env=env, check=True)
    subprocess.run(
        ["git", "merge", "--quiet", "--no-ff", "-m", "Merge release", "release/encoder-1.0.0"],
        cwd=root,
        env=env,
        check=True,
    )
    return base


@pytest.mark.parametrize("where", [*TAG_POINTS, "after:0.3", "after:0.6"])
def test_kill_artreg_tag_at_any_point_then_recover_leaves_all_tags_or_none(
    merged_template: Path, tmp_path: Path, where: str
) -> None:
    work = tmp_path / "copy"
    shutil.copytree(merged_template, work, symlinks=True)
    root = work / "registry"
    head_before, tags_before = _state(root)
    assert not any(f"refs/tags/{t}" in tags_before.split() for t in MERGED_TAGS)
    # The branch carried only the folder: until `artreg tag` runs, the registry verifies as is.
    assert verify_registry(root).problems == []
    _kill_at(["tag"], root, where, tmp_path / "paused")

    message = recover(root)
    if where == "transaction:begun":
        assert "planned no tag yet" in message
    elif not where.startswith("after:"):
        assert "completed the interrupted `artreg tag`" in message
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    head_after, tags_after = _state(root)
    present = [t for t in MERGED_TAGS if f"refs/tags/{t}" in tags_after.split()]
    assert present in ([], MERGED_TAGS), tags_after  # whole or absent, never half
    # Whole: one commit on the merge (dvc.yaml and registry.json), which the tags name.
    assert (git(root, "rev-parse", "HEAD~1").strip() if present else head_after) == head_before
    if where in TAG_POINTS[1:]:
        assert present == MERGED_TAGS  # the plan was journaled: recover completes it
    if where == "transaction:begun":
        assert tags_after == tags_before  # nothing planned yet: nothing happened
    # Whole or absent (as before the command, awaiting `artreg tag`): verify is clean.
    assert verify_registry(root).problems == []
    assert not (root / ".git/artreg/transaction.json").exists()

    # Running `artreg tag` again finishes the job (or finds nothing left to do).
    again = subprocess.run([ARTREG, "tag", "--json"], cwd=root, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["created"] == ([] if present else MERGED_TAGS)
    tags_final = _state(root)[1].split()
    assert all(f"refs/tags/{t}" in tags_final for t in MERGED_TAGS)
    release_commit = git(root, "rev-parse", f"{MERGED_TAGS[0]}^{{commit}}").strip()
    assert git(root, "rev-parse", f"{MERGED_TAGS[1]}^{{commit}}").strip() == release_commit
    assert release_commit == git(root, "rev-parse", "HEAD").strip()
    assert git(root, "rev-parse", "HEAD~1").strip() == head_before
    assert verify_registry(root).problems == []


def test_an_interrupted_artreg_tag_blocks_other_writers_until_recovered(
    merged_template: Path, tmp_path: Path
) -> None:
    from artreg.errors import ConflictError
    from artreg.services.review import tag_merged

    work = tmp_path / "copy"
    shutil.copytree(merged_template, work, symlinks=True)
    root = work / "registry"
    proc = start_paused(["tag"], root, "publish:tag:2", tmp_path / "paused")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert git(root, "tag", "--list", "encoder@v1.0.0").strip() == "encoder@v1.0.0"
    assert any("interrupted" in p for p in verify_registry(root).problems)
    with pytest.raises(ConflictError, match="artreg recover"):
        tag_merged(root)
    assert "created encoder#production#3" in recover(root)
    assert tag_merged(root) == []


def test_recover_after_a_killed_artreg_tag_push_says_how_to_push(
    merged_template: Path, tmp_path: Path
) -> None:
    work = tmp_path / "copy"
    shutil.copytree(merged_template, work, symlinks=True)
    root = work / "registry"
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "--quiet", "origin", "HEAD")
    proc = start_paused(["tag", "--push"], root, "tag:tagged", tmp_path / "paused")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    message = recover(root)

    branch = git(root, "branch", "--show-current").strip()
    command = (
        f"git push --atomic origin {branch} refs/tags/encoder@v1.0.0 refs/tags/encoder#production#3"
    )
    assert f"it was to push them too: `{command}`" in message
    assert git(root, "ls-remote", "--tags", "origin") == ""  # the kill came before the push
    subprocess.run(command.split(), cwd=root, check=True, capture_output=True)
    remote_tags = git(root, "ls-remote", "--tags", "origin")
    assert all(f"refs/tags/{t}^{{}}" in remote_tags for t in MERGED_TAGS)
    assert verify_registry(root).problems == []


def test_a_branch_promotion_that_fails_while_finishing_is_recovered_back_on_the_start_branch(
    template: Path, tmp_path: Path
) -> None:
    """`--branch` failing at the very end (its commit made): `artreg recover` completes it and
    returns to the branch the command began on, leaving no untracked model data behind."""
    work = tmp_path / "copy"
    shutil.copytree(template, work, symlinks=True)
    root = work / "registry"
    start = git(root, "branch", "--show-current").strip()
    head_before, tags_before = _state(root)
    env = {**os.environ, "CI": "true", "ARTREG_RAISE_AT": "transaction:finishing"}
    args = COMMANDS["production"][0] + ["--branch", "release/encoder-1.0.0"]
    failed = subprocess.run([ARTREG, *args], cwd=root, env=env, capture_output=True, text=True)
    assert failed.returncode == 3, failed.stderr

    recovered = subprocess.run(
        [ARTREG, "recover"], cwd=root, capture_output=True, text=True, check=False
    )

    assert recovered.returncode == 0, recovered.stderr
    assert f"{start} is checked out again" in recovered.stdout + recovered.stderr
    assert git(root, "branch", "--show-current").strip() == start
    assert _state(root) == (head_before, tags_before)  # the PR branch holds the change
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (root / COMMANDS["production"][2]).exists()
    held = git(root, "ls-tree", "-r", "--name-only", "release/encoder-1.0.0").split()
    assert f"{COMMANDS['production'][2]}/metadata.json" in held
    assert not (root / ".git/artreg/transaction.json").exists()
    assert verify_registry(root).problems == []


@pytest.mark.parametrize("where", ["publish:staged", "publish:committed"])
def test_ctrl_c_around_the_commit_rolls_everything_back(
    registry: Path, tmp_path: Path, where: str
) -> None:
    """Ctrl-C between `git commit` and the journal's record of it (a real SIGINT at a fault
    point) must take HEAD back too, not only the index: nothing changed, and it says so."""
    from helpers import RELEASE_ARGS, snapshot, tiny_safetensors

    model = tiny_safetensors(tmp_path / "model.safetensors", seed=1, shapes={"w": (4, 4)})
    before = snapshot(registry)
    args = ["release", "encoder", str(model), "--version", "1.0.0", *RELEASE_ARGS]
    proc = start_paused(args, registry, where, tmp_path / "paused")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "nothing was changed" in err.decode()
    after = snapshot(registry)
    # The model's DVC cache object may stay: content-addressed, it changes no state.
    cached = "!! .dvc/cache/"
    assert [line for line in after.status.splitlines() if not line.startswith(cached)] == [
        line for line in before.status.splitlines() if not line.startswith(cached)
    ]
    assert (after.head, after.tags, after.pointers, after.files) == (
        before.head,
        before.tags,
        before.pointers,
        before.files,
    )
    again = subprocess.run([ARTREG, *args], cwd=registry, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
