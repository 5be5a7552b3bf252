"""A warm `get_artifact_path` in a new process (sources/warm_memo.py): the last full answer stands
while the registry and the files are unchanged, with no git process in a clone and one
`git ls-remote` for a URL, and loads nothing of the full read path; any change is seen by the
next process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import git, release, run_tool, serve

CALL = """
import json, sys
from artreg import get_artifact_path
try:
    path = get_artifact_path("encoder", repo=sys.argv[1])
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    raise SystemExit(0)
loaded = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("subprocess", "typing", "jsonschema", "yaml", "dvc", "torch")
    or m.startswith(("artreg.sources.base", "artreg.adapters.hashing", "artreg.registry.fold",
                     "artreg.features", "artreg.publishing", "artreg.reading"))
)
print(json.dumps({"path": str(path), "bytes": path.read_bytes().hex(), "loaded": loaded}))
"""


@pytest.fixture
def git_log(tmp_path: Path) -> Path:
    """A `git` first on PATH that writes each command line to a log, then runs the real git."""
    folder = tmp_path / "counted-git"
    folder.mkdir()
    log = tmp_path / "git-calls.log"
    real = shutil.which("git")
    assert real is not None
    script = folder / "git"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    script.chmod(0o755)
    return log


def _call(repo: str, git_log: Path) -> tuple[dict[str, object], list[str]]:
    """get_artifact_path("encoder", repo=repo) in a new process: its answer, and the git
    commands it ran (git's own children, as upload-pack, are not counted)."""
    git_log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{git_log.parent / 'counted-git'}{os.pathsep}{os.environ['PATH']}",
    }
    out = subprocess.run(
        [sys.executable, "-c", CALL, repo], env=env, capture_output=True, text=True, check=True
    )
    commands = []
    for line in git_log.read_text().splitlines() if git_log.exists() else []:
        words = line.split()
        while words[:1] == ["-C"]:
            words = words[2:]
        commands.append(words[0])
    return json.loads(out.stdout.splitlines()[-1]), commands


def test_a_warm_read_of_a_clone_in_a_new_process_runs_no_git_and_loads_no_read_path(
    registry: Path, checkpoint_dir: Path, cache: Path, git_log: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    cold, cold_calls = _call(str(registry), git_log)
    assert cold_calls  # the full way: git finds the clone and lists its tags
    warm, calls = _call(str(registry), git_log)
    assert warm["path"] == cold["path"] and warm["bytes"] == cold["bytes"]
    assert calls == []
    assert warm["loaded"] == [], warm["loaded"]


def test_a_warm_read_of_a_url_in_a_new_process_asks_the_registry_once(
    registry: Path, checkpoint_dir: Path, cache: Path, tmp_path: Path, git_log: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = serve(registry, tmp_path).as_uri()
    cold, _ = _call(url, git_log)
    warm, calls = _call(url, git_log)
    assert warm["path"] == cold["path"] and warm["bytes"] == cold["bytes"]
    assert calls == ["ls-remote"]
    assert warm["loaded"] == [], warm["loaded"]

    # A new release pushed to the registry: the next process answers it.
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", url, "main", "--tags")
    newer, _ = _call(url, git_log)
    assert Path(str(newer["path"])).parent.name == "v1.1.0"


def _rewrite_in_place(path: Path) -> None:
    """Flip one byte of `path` in place, its size kept and its mtime restored: only its ctime
    (which no user can set) tells."""
    st = path.stat()
    path.chmod(0o644)
    with path.open("r+b") as fh:
        fh.seek(st.st_size // 2)
        byte = fh.read(1)
        fh.seek(st.st_size // 2)
        fh.write(bytes([byte[0] ^ 1]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    path.chmod(st.st_mode & 0o777)


def test_a_file_rewritten_in_place_after_a_warm_answer_is_caught_by_the_next_process(
    registry: Path, checkpoint_dir: Path, cache: Path, git_log: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    _call(str(registry), git_log)
    warm, calls = _call(str(registry), git_log)
    assert calls == []  # answered by the memo
    _rewrite_in_place(Path(str(warm["path"])))
    caught, _ = _call(str(registry), git_log)
    assert caught.get("error") == "IntegrityError", caught


def test_a_cached_file_rewritten_in_place_is_fetched_again_by_the_next_process(
    registry: Path, checkpoint_dir: Path, cache: Path, tmp_path: Path, git_log: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = serve(registry, tmp_path).as_uri()
    cold, _ = _call(url, git_log)
    _rewrite_in_place(Path(str(cold["path"])))
    healed, calls = _call(url, git_log)
    assert healed["bytes"] == cold["bytes"]
    assert len(calls) > 1  # the full way: the snapshot was checked and fetched again
