"""One write per byte: registries `artreg init` makes link the work tree to DVC's cache
(`cache.type: reflink,hardlink,copy`), a push to a local remote copies in the kernel, and a
registry that copies keeps working. DVC itself is the oracle: status, checkout, push, pull."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from artreg import get_artifact_path
from artreg.adapters import hashing
from artreg.adapters.fastcopy import LINKED_CACHE, kernel_copy
from artreg.errors import IntegrityError
from artreg.publishing.publish import PublishOptions
from artreg.services.release import register_model_file

from helpers import RELEASE_INPUTS, clone_repo, git, run_tool
from helpers.modelfiles import write_safetensors

MODEL = "artifacts/production/enc/v1.0.0/model.safetensors"


def dvc(root: Path, *args: str) -> str:
    return run_tool("dvc", *args, cwd=root).stdout


def cache_object(root: Path, cache: Path | None = None) -> Path:
    md5 = next(
        line.split(": ", 1)[1]
        for line in (root / f"{MODEL}.dvc").read_text().splitlines()
        if line.startswith("- md5: ")
    )
    return (cache or root / ".dvc" / "cache") / "files" / "md5" / md5[:2] / md5[2:]


def release(root: Path, tmp_path: Path, push: bool = False) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    source = write_safetensors(tmp_path / "src" / "model.safetensors", 64 * 1024)
    options = PublishOptions(push=push)
    register_model_file(root, "enc", source, "1.0.0", options=options, **RELEASE_INPUTS)
    assert (root / MODEL).read_bytes() == source.read_bytes()
    return root / MODEL


def reflinks_here(folder: Path) -> bool:
    """Whether this file system clones blocks (then DVC links by reflink, not by inode)."""
    (folder / "probe-a").write_bytes(b"probe")
    try:
        return kernel_copy(folder / "probe-a", folder / "probe-b") == "reflink"
    finally:
        for name in ("probe-a", "probe-b"):
            (folder / name).unlink(missing_ok=True)


def read_only(path: Path) -> bool:
    return not stat.S_IMODE(path.stat().st_mode) & 0o222


def test_init_writes_the_linked_cache_type_which_dvc_reads_back(registry: Path, cli) -> None:
    assert dvc(registry, "config", "cache.type").strip() == LINKED_CACHE
    committed = git(registry, "show", "HEAD:.dvc/config")
    assert "[cache]" in committed and f'type = "{LINKED_CACHE}"' in committed
    assert git(registry, "status", "--porcelain").strip() == ""
    doctor = cli("doctor", "--repo", str(registry))
    assert doctor.exit_code == 0, doctor.stdout
    assert f"DVC cache links: {LINKED_CACHE} (one write per byte)" in doctor.stdout


def test_a_release_writes_each_byte_once_and_dvc_keeps_the_linked_cache_valid(
    registry: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    model = release(registry, tmp_path, push=True)
    obj = cache_object(registry)
    # One copy of the bytes in the registry: the work-tree file is the cache object's inode
    # (or, where the file system clones blocks, a reflink of it), and both are read-only.
    if not reflinks_here(registry):
        assert (model.stat().st_dev, model.stat().st_ino) == (obj.stat().st_dev, obj.stat().st_ino)
        assert model.stat().st_nlink == 2
    assert read_only(model) and read_only(obj)
    assert json.loads(dvc(registry, "status", "--json")) == {}
    assert dvc(registry, "checkout", "--summary").strip() == "No changes."
    assert cli("verify", cwd=registry).exit_code == 0
    # The push (kernel-side copy) left the remote an independent, read-only copy DVC accepts.
    pushed = cache_object(registry, registry / ".dvc-storage")
    assert pushed.read_bytes() == obj.read_bytes() and read_only(pushed)
    assert pushed.stat().st_ino != obj.stat().st_ino
    assert "in sync" in dvc(registry, "status", "--cloud")
    # A teammate's clone, with a cache of its own, pulls every byte and links it the same way.
    clone = clone_repo(bare_origin, tmp_path / "teammate")
    dvc(clone, "config", "--local", "cache.dir", str(tmp_path / "teammate-cache"))
    dvc(clone, "pull", "--quiet")
    assert (clone / MODEL).read_bytes() == model.read_bytes()
    assert json.loads(dvc(clone, "status", "--json")) == {}
    assert cli("verify", cwd=clone).exit_code == 0


def test_a_linked_file_unprotected_and_changed_in_place_is_caught_by_verify(
    registry: Path, tmp_path: Path, cache: Path, cli
) -> None:
    model = release(registry, tmp_path)
    dvc(registry, "push", "--quiet")
    assert read_only(model)  # protected: a stray write fails instead of changing the cache too
    manifest = json.loads((model.parent / "manifest.json").read_text())
    sha = manifest["files"]["model.safetensors"]["sha256"]
    assert hashing.recorded(cache, model.stat()) == sha  # recorded by the release, at once
    assert get_artifact_path("enc", repo=registry, pull=False) == model
    before = model.stat()
    os.chmod(model, 0o644)
    with model.open("r+b") as fh:  # in place, same size, and the old mtime put back: only
        fh.seek(100)  # the ctime (which no user can set) shows the change
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(IntegrityError, match=r"model\.safetensors"):
        get_artifact_path("enc", repo=registry, pull=False)  # the record no longer applies
    result = cli("verify", cwd=registry)
    assert result.exit_code == 1
    assert f"{MODEL}: sha256" in result.stdout + result.stderr
    # The cache object was that inode too; the remote's copy is not: pull --force restores.
    restored = cli("pull", "enc", "--force", cwd=registry)
    assert restored.exit_code == 0, restored.stdout + restored.stderr
    assert hashing.hash_file(model).sha256 == sha and read_only(model)
    assert cli("verify", cwd=registry).exit_code == 0


@pytest.mark.parametrize("configured", ["copy", None])
def test_a_registry_that_copies_keeps_working_and_doctor_suggests_links(
    registry: Path, tmp_path: Path, cli, configured: str | None
) -> None:
    # A registry made before links: cache.type copy, or DVC's default (reflink,copy) unset.
    if configured:
        dvc(registry, "config", "cache.type", configured)
    else:
        dvc(registry, "config", "--unset", "cache.type")
    git(registry, "commit", "--quiet", "-m", "an older registry's DVC config", ".dvc/config")
    doctor = cli("doctor", "--repo", str(registry))
    assert doctor.exit_code == 0, doctor.stdout  # a suggestion, not a failure
    assert "each release then writes every byte twice" in doctor.stdout
    assert f"dvc config cache.type {LINKED_CACHE}" in doctor.stdout

    model = release(registry, tmp_path)
    obj = cache_object(registry)
    assert model.stat().st_ino != obj.stat().st_ino and model.stat().st_nlink == 1
    assert model.read_bytes() == obj.read_bytes()
    assert json.loads(dvc(registry, "status", "--json")) == {}
    assert cli("verify", cwd=registry).exit_code == 0
    shown = run_tool("dvc", "config", "cache.type", cwd=registry, check=False).stdout.strip()
    assert shown == (configured or "")
