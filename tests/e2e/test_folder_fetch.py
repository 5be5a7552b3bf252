"""A model folder of many files is fetched in linear time: its DVC `.dir` listing is read,
verified and parsed once per fetch, not once per file.

The count is observed through the fault points on the listing's parse (`consumer.dir-listing`
for a registry URL, `dvc.dir-listing` in a clone): with ARTREG_PAUSE_AT=<point>:2 a process
that reaches the point a second time stops there and says so, so a fetch that re-reads the
listing for each file cannot finish unnoticed. Real git, DVC and processes throughout.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from artreg import register_artifact
from artreg.services.register import register_raw

from helpers import (
    ARTREG,
    EXAMPLES,
    RELEASE_INPUTS,
    clone_repo,
    git,
    run_tool,
    serve,
)
from helpers.folders import tree_bytes, write_hf_folder

EXTRA = 300  # small files beside the shards: a folder of a few hundred files


def many_file_folder(folder: Path) -> Path:
    """An HF-style folder (two shards, index, config, tokenizer) with EXTRA small JSON files
    in subfolders, as a model folder with many assets has."""
    write_hf_folder(folder)
    for i in range(EXTRA):
        item = folder / "assets" / f"group_{i // 100}" / f"item_{i:03d}.json"
        item.parent.mkdir(parents=True, exist_ok=True)
        item.write_text(f'{{"item": {i}}}\n')
    return folder


def run_counting(
    args: list[str], cwd: Path, point: str, nth: int, marker: Path
) -> tuple[int, str, bool]:
    """Run `artreg ARGS` with the fault point `point` armed at its `nth` reach. Returns the
    exit code, stderr, and whether the process got there (then it is killed at once)."""
    env = {
        **os.environ,
        "CI": "true",
        "ARTREG_PAUSE_AT": f"{point}:{nth}",
        "ARTREG_PAUSE_FILE": str(marker),
    }
    proc = subprocess.Popen(
        [ARTREG, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 600  # a guard against a hang, not a timing
    while proc.poll() is None and not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    paused = marker.exists()
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate()
    return proc.returncode, err.decode("utf-8", "replace"), paused


def test_a_cold_get_from_a_url_reads_the_folders_listing_once(
    registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = many_file_folder(tmp_path / "snapshot")
    register_artifact("assets", source, "1.0.0", repo=registry, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = serve(registry, tmp_path).as_uri()

    def get(label: str, nth: int) -> tuple[int, str, bool]:
        monkeypatch.setenv("ARTREG_CACHE", str(tmp_path / f"cache-{label}"))
        args = ["get", url, "assets", "-o", str(tmp_path / label)]
        marker = tmp_path / f"{label}.paused"
        return run_counting(args, tmp_path, "consumer.dir-listing", nth, marker)

    # A cold fetch reads the listing from the DVC remote: the point is on its path.
    assert get("control", 1)[2], "a cold fetch never read the folder's .dir listing"
    out = tmp_path / "out"
    code, err, paused = get("out", 2)
    assert not paused, "the folder's .dir listing was read and parsed a second time"
    assert code == 0, err
    got = tree_bytes(out)  # a model folder's files go into OUT, as `dvc artifacts get` writes
    assert len(got) == EXTRA + 7 and got == tree_bytes(source)


def test_promoting_a_folder_a_clone_lacks_reads_its_listing_once(
    registry: Path, bare_origin: Path, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "training" / "checkpoints"
    source = many_file_folder(checkpoints / "hf_model")
    register_raw(registry, "tiny", "s1", checkpoints)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clone = clone_repo(bare_origin, tmp_path / "ci")
    assert not (clone / "artifacts/raw/tiny/s1/checkpoints").exists()  # no `dvc pull`

    promote = [
        "promote", "tiny", "s1", "--to", "validated", "--checkpoint", "hf_model",
        "--results", str(EXAMPLES / "validation_results.json"),
    ]  # fmt: skip

    # Every file of the checkpoint folder is found through the cache's `.dir` listing: the
    # point is on the path (in a clone of its own, since the process is killed there).
    control = clone_repo(bare_origin, tmp_path / "control")
    assert run_counting(promote, control, "dvc.dir-listing", 1, tmp_path / "control-paused")[2]
    code, err, paused = run_counting(promote, clone, "dvc.dir-listing", 2, tmp_path / "paused")
    assert not paused, "the checkpoints' .dir listing was parsed a second time"
    assert code == 0, err
    promoted = clone / "artifacts/validated/tiny/s1_hf_model_validated/model"
    assert tree_bytes(promoted) == tree_bytes(source)
