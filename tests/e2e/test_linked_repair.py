"""A linked work-tree file made writable and changed in place changes the DVC cache object it
is, and every stage folder linked to it; DVC trusts the object once it is read-only again.
`artreg pull NAME@vX --force` repairs the object from the remote and re-links every file;
`artreg verify` says so. DVC is the oracle: `dvc status`, `dvc status -c`, a fresh clone's pull."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from artreg.adapters import hashing
from artreg.errors import IntegrityError
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, clone_repo, git, release, run_tool, snapshot

PRODUCTION = "artifacts/production/enc/v1.0.0/model.pt"
VALIDATED = "artifacts/validated/enc/s1_best_validated/model.pt"


def dvc(root: Path, *args: str) -> str:
    return run_tool("dvc", *args, cwd=root).stdout


def cache_object(root: Path, tracked: str, cache: Path | None = None) -> Path:
    md5 = next(
        line.split(": ", 1)[1]
        for line in (root / f"{tracked}.dvc").read_text().splitlines()
        if line.startswith("- md5: ")
    )
    return (cache or root / ".dvc" / "cache") / "files" / "md5" / md5[:2] / md5[2:]


def alter_in_place(path: Path) -> None:
    """What a careless user does: make the file writable, change one byte in place (same size),
    put the old mtime back and the read-only mode too, so DVC's checks see nothing."""
    before = path.stat()
    os.chmod(path, 0o644)
    with path.open("r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    os.chmod(path, 0o444)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
def released(registry: Path, checkpoint_dir: Path) -> Path:
    """enc v1.0.0: validated and production hold the same bytes, both linked to one object."""
    release(registry, "enc", "s1", checkpoint_dir, "1.0.0")
    dvc(registry, "push", "--quiet")
    obj = cache_object(registry, PRODUCTION)
    for tracked in (PRODUCTION, VALIDATED):
        if not os.path.samefile(registry / tracked, obj):
            pytest.skip("this file system links DVC's cache by reflink, so edits stay apart")
    return registry


def test_pull_force_repairs_the_shared_cache_object_and_relinks_every_stage_folder(
    released: Path, tmp_path: Path, bare_origin: Path, cli
) -> None:
    registry = released
    production, validated = registry / PRODUCTION, registry / VALIDATED
    obj = cache_object(registry, PRODUCTION)
    sha = hashing.hash_file(production).sha256
    alter_in_place(production)
    assert validated.read_bytes() == production.read_bytes() == obj.read_bytes()  # one inode
    assert "in sync" in dvc(registry, "status", "--cloud")  # DVC trusts the read-only object

    checked = cli("verify", cwd=registry)
    assert checked.exit_code == 1
    said = checked.stdout + checked.stderr
    for tracked in (PRODUCTION, VALIDATED):
        assert f"{tracked}: sha256" in said
    assert f"the DVC cache object {obj} is the same file, so it is altered too" in said
    assert "`artreg pull enc@v1.0.0 --force` repairs it" in said

    pulled = cli("pull", "enc@v1.0.0", "--force", cwd=registry)
    assert pulled.exit_code == 0, pulled.stdout + pulled.stderr
    assert f"repaired: {PRODUCTION}: the DVC cache object {obj} was altered" in pulled.stdout
    assert f"also re-linked {VALIDATED}" in pulled.stdout
    for path in (production, validated, obj):
        assert hashing.hash_file(path).sha256 == sha
        assert not path.stat().st_mode & 0o222  # read-only, as DVC keeps them
    assert os.path.samefile(production, obj) and os.path.samefile(validated, obj)  # linked again
    assert json.loads(dvc(registry, "status", "--json")) == {}
    assert "in sync" in dvc(registry, "status", "--cloud")
    assert cli("verify", cwd=registry).exit_code == 0

    # The oracle: a fresh clone with a cache of its own pulls the same bytes with DVC alone.
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    clone = clone_repo(bare_origin, tmp_path / "teammate")
    dvc(clone, "config", "--local", "cache.dir", str(tmp_path / "teammate-cache"))
    dvc(clone, "pull", "--quiet")
    assert hashing.hash_file(clone / PRODUCTION).sha256 == sha
    assert hashing.hash_file(clone / VALIDATED).sha256 == sha


@pytest.mark.parametrize("remote_copy", ["altered", "absent"])
def test_pull_force_without_good_bytes_in_the_remote_names_the_object_and_the_remote(
    released: Path, cli, remote_copy: str
) -> None:
    registry = released
    obj = cache_object(registry, PRODUCTION)
    pushed = cache_object(registry, PRODUCTION, registry / ".dvc-storage")
    alter_in_place(registry / PRODUCTION)
    if remote_copy == "altered":
        shutil.copyfile(obj, tmp := pushed.with_name("altered"))
        os.replace(tmp, pushed)
    else:
        pushed.unlink()

    pulled = cli("pull", "enc@v1.0.0", "--force", cwd=registry)
    assert pulled.exit_code == 1
    said = pulled.stdout + pulled.stderr
    assert f"the DVC cache object {obj} was altered with the work-tree file" in said
    name = dvc(registry, "config", "core.remote").strip()
    assert f"the DVC remote {name} ({registry / '.dvc-storage'})" in said
    assert "does not hold good bytes either" in said
    # Nothing keeps serving the altered bytes: the object and both linked files are gone.
    assert not obj.exists()
    assert not (registry / PRODUCTION).exists() and not (registry / VALIDATED).exists()


def test_pull_force_of_a_file_altered_alone_leaves_a_good_cache_object_in_place(
    released: Path, cli
) -> None:
    registry = released
    production = registry / PRODUCTION
    obj = cache_object(registry, PRODUCTION)
    inode = obj.stat().st_ino
    data = bytearray(production.read_bytes())  # written anew: the object keeps its bytes
    data[100] ^= 1
    production.unlink()
    production.write_bytes(bytes(data))

    pulled = cli("pull", "enc@v1.0.0", "--force", cwd=registry)
    assert pulled.exit_code == 0, pulled.stdout + pulled.stderr
    assert "repaired" not in pulled.stdout
    assert obj.stat().st_ino == inode and os.path.samefile(production, obj)
    assert cli("verify", cwd=registry).exit_code == 0


def test_a_promotion_from_an_altered_linked_folder_names_the_repair_which_then_works(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    register_raw(registry, "enc", "s1", checkpoint_dir)
    promote_to_validated(registry, "enc", "s1", "best", EXAMPLES / "validation_results.json")
    dvc(registry, "push", "--quiet")
    validated = registry / VALIDATED
    if not os.path.samefile(validated, cache_object(registry, VALIDATED)):
        pytest.skip("this file system links DVC's cache by reflink, so edits stay apart")
    alter_in_place(validated)
    before = snapshot(registry)

    with pytest.raises(IntegrityError) as refused:
        promote_to_production(registry, "enc", "s1_best_validated", "1.0.0", **RELEASE_INPUTS)
    assert "which `dvc checkout` trusts" in refused.value.hint
    assert "`artreg pull NAME#validated --force`" in refused.value.hint
    assert snapshot(registry) == before

    pulled = cli("pull", "enc#validated", "--force", "--json", cwd=registry)
    assert pulled.exit_code == 0, pulled.stdout + pulled.stderr
    [repaired] = pulled.json()["repaired"]
    assert repaired.startswith(f"{VALIDATED}: the DVC cache object")
    promote_to_production(registry, "enc", "s1_best_validated", "1.0.0", **RELEASE_INPUTS)
    assert cli("verify", cwd=registry).exit_code == 0
    assert json.loads(dvc(registry, "status", "--json")) == {}
