"""What `artreg get ... -o OUT` writes, from a clone and from a registry URL: a model folder's
files into OUT as `dvc artifacts get` writes them, never into the registry's own work tree, and
atomically: Ctrl-C, a kill or a full disk leave no file under a final name, and the same command
then succeeds. And a consumer cache that cannot be written is a clear error.

Real processes interrupted at fault points (SIGINT, SIGKILL), a real full tmpfs where the
machine allows mounting one, `dvc artifacts get` as the oracle of the folder layout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from artreg import register_artifact
from artreg.services.register import register_raw

from helpers import ARTREG, RELEASE_INPUTS, git, run_tool, serve, snapshot, start_paused
from helpers.folders import tree_bytes, write_hf_folder
from helpers.modelfiles import write_safetensors

MiB = 1 << 20
BIG = 9 * MiB  # more than two of the 4 MiB chunks a copy writes at a time


@pytest.fixture
def models(registry: Path, tmp_path: Path) -> Path:
    """`big` (a 9 MiB safetensors file) and `tiny` (a Hugging Face folder that requires big),
    each released as v1.0.0 and pushed to the registry's DVC remote."""
    (tmp_path / "src").mkdir()
    big = write_safetensors(tmp_path / "src" / "big.safetensors", BIG)
    register_artifact("big", big, "1.0.0", repo=registry, **RELEASE_INPUTS)
    folder = write_hf_folder(tmp_path / "src" / "snapshot")
    register_artifact(
        "tiny", folder, "1.0.0", repo=registry, requires=["big@v1.0.0"], **RELEASE_INPUTS
    )
    run_tool("dvc", "push", "--quiet", cwd=registry)
    return registry


def expected(root: Path, case: str) -> dict[str, bytes]:
    """What `get` must write into OUT, file by file, for each kind of call."""
    big = (root / "artifacts/production/big/v1.0.0/big.safetensors").read_bytes()
    folder = tree_bytes(root / "artifacts/production/tiny/v1.0.0/model")
    if case in ("clone", "url"):
        return {"big.safetensors": big}
    if case == "folder":
        return folder
    assert case == "with-requirements"
    return {**{f"tiny/{rel}": data for rel, data in folder.items()}, "big/big.safetensors": big}


def get_args(case: str, url: str, out: Path) -> list[str]:
    return {
        "clone": ["get", "big"],
        "url": ["get", url, "big"],
        "folder": ["get", "tiny"],
        "with-requirements": ["get", "tiny", "--with-requirements"],
    }[case] + ["-o", str(out)]


def staged(out: Path) -> dict[str, int]:
    """The files of `get`'s staging folders in OUT, with their sizes."""
    return {
        str(p.relative_to(out)): p.stat().st_size
        for p in out.glob(".artreg-get-*/**/*")
        if p.is_file() and p.name != ".lock"
    }


def finals(out: Path, case: str, root: Path) -> list[str]:
    """Which of the files `get` writes exist under their final names."""
    return [rel for rel in expected(root, case) if (out / rel).exists()]


# --- 24.9: atomic outputs ---------------------------------------------------------------------

INTERRUPTS = {
    # case: (fault point, what stands in OUT when the process is stopped there)
    "clone": ("get.write", "half of big.safetensors, staged"),
    "url": ("get.write", "half of big.safetensors, staged"),
    "folder": ("get.place", "every file staged, the first under its final name"),
    "with-requirements": ("get.write:8", "tiny's seven files staged, half of big"),
}


@pytest.mark.parametrize("case", list(INTERRUPTS))
def test_ctrl_c_during_get_leaves_no_file_under_a_final_name_and_the_rerun_succeeds(
    models: Path, tmp_path: Path, cache: Path, cli, case: str
) -> None:
    url = str(serve(models, tmp_path))
    out = tmp_path / "serving" / "models"  # serving/ exists, models/ is made by the call
    out.parent.mkdir()
    where, _ = INTERRUPTS[case]
    marker = tmp_path / "paused"
    proc = start_paused(get_args(case, url, out), models, where, marker)
    try:
        # Stopped in the middle: the bytes so far are in a staging folder inside OUT.
        partial = staged(out)
        if where == "get.place":
            assert len(finals(out, case, models)) == 1
            assert len(partial) == len(expected(models, case)) - 1
        else:
            assert finals(out, case, models) == []
            assert 0 < max(partial.values()) < BIG, partial  # big.safetensors, half written
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert b"interrupted; nothing was changed" in err
    assert not out.exists(), list(out.rglob("*"))  # OUT was made by this call: gone again
    assert out.parent.is_dir()  # what existed before stays

    again = cli(*get_args(case, url, out), cwd=models)
    assert again.exit_code == 0, again.stderr
    assert tree_bytes(out) == expected(models, case)


def test_a_killed_get_leaves_only_a_staging_folder_that_the_rerun_removes(
    models: Path, tmp_path: Path, cli
) -> None:
    out = tmp_path / "models"
    out.mkdir()
    (out / "README.txt").write_text("someone else's file\n")
    marker = tmp_path / "paused"
    proc = start_paused(get_args("clone", "", out), models, "get.write", marker)
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup can run: the staging folder stays
    proc.wait()
    assert finals(out, "clone", models) == []
    assert 0 < max(staged(out).values()) < BIG

    again = cli(*get_args("clone", "", out), cwd=models)
    assert again.exit_code == 0, again.stderr
    assert staged(out) == {} and not list(out.glob(".artreg-*"))  # the dead writer's, removed
    assert tree_bytes(out) == {**expected(models, "clone"), "README.txt": b"someone else's file\n"}


@pytest.mark.parametrize("case", ["clone", "url", "with-requirements"])
def test_a_full_disk_is_a_clear_error_naming_out_and_the_space_needed(
    models: Path, tmp_path: Path, cache: Path, cli, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The disk fills after the first chunk of big.safetensors (an ENOSPC injected at the
    fault point): exit 2, not an internal error; nothing under a final name; then the rerun."""
    url = str(serve(models, tmp_path))
    out = tmp_path / "models"
    out.mkdir()
    need = sum(len(data) for data in expected(models, case).values())
    before = snapshot(models)
    monkeypatch.setenv("ARTREG_RAISE_AT", "get.write")
    monkeypatch.setenv("ARTREG_RAISE_ERRNO", "ENOSPC")

    full = cli(*get_args(case, url, out), cwd=models)

    assert full.exit_code == 2, full.stderr
    assert f"-o/--out {out}: no space left on its disk: the model needs {need} bytes" in (
        full.stderr
    )
    assert "free space on that disk, or give -o a folder on a disk with room" in full.stderr
    assert "internal error" not in full.stderr
    assert list(out.iterdir()) == []  # no final name, no staging folder
    assert snapshot(models) == before

    monkeypatch.delenv("ARTREG_RAISE_AT")
    again = cli(*get_args(case, url, out), cwd=models)
    assert again.exit_code == 0, again.stderr
    assert tree_bytes(out) == expected(models, case)


@contextlib.contextmanager
def small_disk(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at `mount` (needs CAP_SYS_ADMIN, as root in a container has)."""
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}); the injected ENOSPC "
                    "test covers the same code")  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("case", ["clone", "url"])
def test_a_really_full_disk_leaves_it_empty_and_the_rerun_succeeds_once_there_is_room(
    models: Path, tmp_path: Path, cache: Path, cli, case: str
) -> None:
    url = str(serve(models, tmp_path))
    with small_disk(tmp_path / "disk", "4m") as disk:
        out = disk / "models"
        full = cli(*get_args(case, url, out), cwd=models)
        assert full.exit_code == 2, full.stderr
        need = sum(len(data) for data in expected(models, case).values())
        assert f"-o/--out {out}: no space left on its disk: the model needs {need} bytes" in (
            full.stderr
        )
        assert os.listdir(disk) == []  # not even OUT, which this call had made

        subprocess.run(["mount", "-o", "remount,size=32m", str(disk)], check=True)
        again = cli(*get_args(case, url, out), cwd=models)
        assert again.exit_code == 0, again.stderr
        assert tree_bytes(out) == expected(models, case)


@pytest.mark.parametrize("how", ["injected ENOSPC", "tmpfs"])
def test_a_full_cache_disk_during_get_url_is_a_clear_error_and_the_rerun_succeeds(
    models: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The download into the consumer cache is where a `get URL` usually meets a full disk."""
    url = str(serve(models, tmp_path))
    out = tmp_path / "models"
    size = len(expected(models, "clone")["big.safetensors"])
    with contextlib.ExitStack() as stack:
        if how == "tmpfs":
            cache = stack.enter_context(small_disk(tmp_path / "disk", "4m")) / "cache"
        else:
            cache = tmp_path / "cache"
            monkeypatch.setenv("ARTREG_RAISE_AT", "consumer.download")
            monkeypatch.setenv("ARTREG_RAISE_ERRNO", "ENOSPC")
        monkeypatch.setenv("ARTREG_CACHE", str(cache))

        full = cli("get", url, "big", "-o", str(out))

        assert full.exit_code == 2, full.stderr
        assert f"the artreg cache {cache} cannot be written: no space left on its disk " in (
            full.stderr
        )
        assert f"(a file of {size} bytes, " in full.stderr
        assert "set ARTREG_CACHE" in full.stderr and "internal error" not in full.stderr
        assert not out.exists()
        assert not [p for p in (cache / "blobs").rglob("*") if p.is_file()]
        assert not list((cache / "tmp").iterdir())  # the partial download is gone

        if how == "tmpfs":
            subprocess.run(["mount", "-o", "remount,size=32m", str(cache.parent)], check=True)
        monkeypatch.delenv("ARTREG_RAISE_AT", raising=False)
        again = cli("get", url, "big", "-o", str(out))
        assert again.exit_code == 0, again.stderr
        assert tree_bytes(out) == expected(models, "clone")


# --- 29.2: a model folder's files go into OUT, as `dvc artifacts get` writes them -------------


def test_a_model_folder_is_written_into_out_exactly_as_dvc_artifacts_get_writes_it(
    models: Path, tmp_path: Path, cache: Path, cli
) -> None:
    url = str(serve(models, tmp_path))
    dvc_out = tmp_path / "dvc-get"
    run_tool("dvc", "artifacts", "get", str(models), "tiny", "-o", str(dvc_out), cwd=tmp_path)
    oracle = tree_bytes(dvc_out)
    assert "config.json" in oracle and "model.safetensors.index.json" in oracle

    from_clone = cli("get", "tiny", "-o", str(tmp_path / "clone-get"), cwd=models)
    assert from_clone.exit_code == 0, from_clone.stderr
    from_url = cli("get", url, "tiny", "-o", str(tmp_path / "url-get"), cwd=tmp_path)
    assert from_url.exit_code == 0, from_url.stderr
    assert tree_bytes(tmp_path / "clone-get") == oracle
    assert tree_bytes(tmp_path / "url-get") == oracle
    assert from_clone.stdout.split() == [str(tmp_path / "clone-get" / rel) for rel in oracle]

    # --with-requirements: each artifact into OUT/NAME/, exactly what `get NAME -o OUT/NAME` is.
    both = cli("get", "tiny", "--with-requirements", "-o", str(tmp_path / "all"), cwd=models)
    assert both.exit_code == 0, both.stderr
    assert tree_bytes(tmp_path / "all" / "tiny") == oracle
    assert tree_bytes(tmp_path / "all" / "big") == expected(models, "clone")


def test_a_raw_sessions_checkpoints_are_written_into_out_as_dvc_artifacts_get_writes_them(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    dvc_out = tmp_path / "dvc-get"
    run_tool(
        "dvc", "artifacts", "get", str(registry), "encoder", "--stage", "raw", "-o", str(dvc_out),
        cwd=tmp_path,
    )  # fmt: skip
    got = cli("get", "encoder#raw", "-o", str(tmp_path / "artreg-get"), cwd=registry)
    assert got.exit_code == 0, got.stderr
    assert "best.pt" in tree_bytes(dvc_out)
    assert tree_bytes(tmp_path / "artreg-get") == tree_bytes(dvc_out)


# --- 29.3: never into the registry's own work tree --------------------------------------------


@pytest.mark.parametrize(
    "out", ["artifacts", ".", "artifacts/production/big/v2.0.0", "new-folder/models", ".git/models"]
)
def test_get_into_the_registrys_own_work_tree_is_refused_and_writes_nothing(
    models: Path, cli, out: str
) -> None:
    before = snapshot(models)
    for args in (["get", "big", "-o", out], ["get", str(models), "tiny", "-o", out]):
        refused = cli(*args, cwd=models)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert f"-o/--out {out}: inside the registry's work tree {models}" in refused.stderr
        assert "where git would track" in refused.stderr
        assert "write the model outside the registry's clone" in refused.stderr
        assert snapshot(models) == before
    assert not (models / "new-folder").exists() and not (models / ".git/models").exists()


def test_get_into_a_folder_of_the_work_tree_that_git_ignores_is_allowed(models: Path, cli) -> None:
    """An ignored folder is harmless: git never tracks what lands there (git's own rule,
    `git check-ignore`, decides)."""
    with (models / ".git/info/exclude").open("a") as fh:
        fh.write("/serving/\n")
    got = cli("get", "tiny", "-o", "serving/tiny", cwd=models)
    assert got.exit_code == 0, got.stderr
    assert tree_bytes(models / "serving/tiny") == expected(models, "folder")
    assert git(models, "status", "--porcelain") == ""


def test_get_url_into_another_registrys_clone_is_refused_and_writes_nothing(
    models: Path, tmp_path: Path, cli
) -> None:
    """`get URL NAME` with the default `-o .` from inside another registry's clone: the model
    would be an untracked file `git add -A` commits to git there, so it is refused too."""
    from artreg.services.init import init_registry

    url = str(serve(models, tmp_path))
    other = tmp_path / "other-registry"
    init_registry(other)
    before = snapshot(other)
    for args in (["get", url, "big"], ["get", url, "tiny", "-o", "artifacts/models"]):
        refused = cli(*args, cwd=other)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert f"inside the registry's work tree {other}" in refused.stderr
        assert "write the model outside the registry's clone" in refused.stderr
        assert snapshot(other) == before
        assert git(other, "status", "--porcelain", "--untracked-files=all") == ""

    plain = tmp_path / "app"  # a git work tree that is no registry: models go there as asked
    plain.mkdir()
    git(plain, "init", "--quiet")
    assert cli("get", url, "big", cwd=plain).exit_code == 0
    assert (plain / "big.safetensors").read_bytes() == expected(models, "url")["big.safetensors"]


@pytest.mark.parametrize(
    ("out", "errno_name"),
    [("/proc/artreg-x", None), ("/sys/kernel/artreg-x", None), ("models", "EACCES")],
)
@pytest.mark.parametrize("case", ["clone", "url"])
def test_an_out_that_cannot_be_written_is_bad_input_naming_it(
    models: Path,
    tmp_path: Path,
    cache: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    out: str,
    errno_name: str | None,
) -> None:
    """A pseudo file system that refuses new files (even to root), or EACCES while the files
    get their names: exit 2 naming OUT, never an internal error, and nothing left behind."""
    url = str(serve(models, tmp_path))
    target = Path(out) if out.startswith("/") else tmp_path / out
    if errno_name:
        monkeypatch.setenv("ARTREG_RAISE_AT", "get.place")
        monkeypatch.setenv("ARTREG_RAISE_ERRNO", errno_name)
    before = snapshot(models)

    result = cli(*get_args(case, url, target), cwd=models)

    assert result.exit_code == 2, result.stderr
    assert f"-o/--out {target}: cannot be written" in result.stderr, result.stderr
    assert "give -o a folder you can create and write to" in result.stderr
    assert "internal error" not in result.stderr
    assert not target.exists()
    assert snapshot(models) == before


# --- 24.13: a consumer cache that cannot be written -------------------------------------------


def _refused_cleanly(result: subprocess.CompletedProcess[str], cache: Path, out: Path) -> None:
    assert result.returncode == 2, result.stderr
    assert f"the artreg cache {cache} cannot be written" in result.stderr
    assert "fix: set ARTREG_CACHE (cache_dir= in Python) to a folder you can write" in (
        result.stderr
    )
    assert "internal error" not in result.stderr
    assert not out.exists()


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARTREG, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True
    )


def test_a_cache_under_a_regular_file_is_a_clear_error(models: Path, tmp_path: Path) -> None:
    url = str(serve(models, tmp_path))
    (tmp_path / "file").write_text("not a folder\n")
    out = tmp_path / "out"
    for cache in (tmp_path / "file" / "cache", tmp_path / "file"):
        result = _run(["get", url, "big", "-o", str(out)], tmp_path, ARTREG_CACHE=str(cache))
        _refused_cleanly(result, cache, out)
        assert f"{tmp_path / 'file'} is a file, not a folder" in result.stderr
    assert (tmp_path / "file").read_text() == "not a folder\n"


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """Make `folder` unwritable even for root: the immutable flag (`chattr +i`), which stops
    root too (mode bits do not); for another user, mode 0555 is enough. Yields which."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "mode 0555"
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("root, and no chattr to make a folder read-only for root")
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is refused here: {made.stderr.strip()}")
    try:
        with pytest.raises(PermissionError):
            (folder / "probe").mkdir()  # it really stops root
        yield "chattr +i"
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_cache_is_a_clear_error_and_a_warm_one_still_serves(
    models: Path, tmp_path: Path
) -> None:
    url = str(serve(models, tmp_path))
    cold, warm, out = tmp_path / "cold-cache", tmp_path / "warm-cache", tmp_path / "out"
    cold.mkdir()
    with read_only(cold) as how:
        result = _run(["get", url, "big", "-o", str(out)], tmp_path, ARTREG_CACHE=str(cold))
        _refused_cleanly(result, cold, out)
        expected_why = "may not be changed" if how == "chattr +i" else "no permission to write"
        assert expected_why in result.stderr
        pruned = _run(["cache", "prune", "--older-than", "0"], tmp_path, ARTREG_CACHE=str(cold))
        _refused_cleanly(pruned, cold, out)
        assert list(cold.iterdir()) == []
    # A read needs no write: a warm cache made read-only (a container's image) still serves.
    assert (
        _run(["get", url, "big", "-o", str(out)], tmp_path, ARTREG_CACHE=str(warm)).returncode == 0
    )
    shutil.rmtree(out)
    with read_only(warm):
        served = _run(["get", url, "big", "-o", str(out)], tmp_path, ARTREG_CACHE=str(warm))
    assert served.returncode == 0, served.stderr
    assert tree_bytes(out) == expected(models, "clone")


def test_another_users_cache_is_a_clear_error(models: Path, tmp_path: Path) -> None:
    """A cache folder that belongs to another user. Run as root, the folder is given to
    `nobody` and artreg runs without the capabilities that let root write anyone's files
    (setpriv drops CAP_DAC_OVERRIDE and CAP_FOWNER); run as a user, root's `/` is the cache."""
    url = str(serve(models, tmp_path))
    out = tmp_path / "out"
    if os.geteuid() != 0:
        result = _run(["get", url, "big", "-o", str(out)], tmp_path, ARTREG_CACHE="/")
        _refused_cleanly(result, Path("/"), out)
        assert "no permission to write in / (it belongs to root)" in result.stderr
        return
    if shutil.which("setpriv") is None:
        pytest.skip("root, and no setpriv to run artreg without root's override capabilities")
    cache = tmp_path / "nobodys-cache"
    cache.mkdir(mode=0o755)
    os.chown(cache, 65534, 65534)
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    result = subprocess.run(
        [*drop, ARTREG, "get", url, "big", "-o", str(out)],
        cwd=tmp_path,
        env={**os.environ, "ARTREG_CACHE": str(cache)},
        capture_output=True,
        text=True,
    )
    _refused_cleanly(result, cache, out)
    assert f"no permission to write in {cache} (it belongs to nobody)" in result.stderr
    assert list(cache.iterdir()) == []
