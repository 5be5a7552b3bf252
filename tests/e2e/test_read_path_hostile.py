"""The read path under a hostile new user (HOSTILE28 findings): what a consumer is served is
exactly what the registry vouches for, from a clone or a URL, warm or cold, and every reader
gives the same verdict for the same registry state. Real git, DVC and processes throughout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from artreg import IntegrityError, get_artifact_path, register_artifact
from artreg.reading import tmp_owner
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import (
    EXAMPLES,
    RELEASE_ARGS,
    RELEASE_INPUTS,
    clone_repo,
    flip_byte,
    git,
    release,
    run_tool,
    serve,
    snapshot,
    start_paused,
    tiny_safetensors,
)
from helpers.folders import write_hf_folder

CALL = "import sys; from artreg import get_artifact_path as g; print(g('fold', repo=sys.argv[1]))"


def released_folder(registry: Path, tmp_path: Path) -> Path:
    """`fold` v1.0.0, a Hugging Face-style model folder, released and pushed to DVC."""
    register_artifact(
        "fold", write_hf_folder(tmp_path / "snap"), "1.0.0", repo=registry, **RELEASE_INPUTS
    )
    run_tool("dvc", "push", "--quiet", cwd=registry)
    return registry


def served_twice(repo: str, cache: Path) -> Path:
    """get_artifact_path("fold") in new processes until the answer is kept warm (its folders
    must be older than a tick of the clock for their stat to prove the listing unchanged)."""
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", CALL, repo], capture_output=True, text=True, check=True
        )
        time.sleep(0.1)
    assert list((cache / "warm").glob("*.memo")), "the warm memo was never kept"
    return Path(out.stdout.strip())


def refused(repo: str) -> str:
    """get_artifact_path("fold") in a new process, which must refuse: its message."""
    out = subprocess.run([sys.executable, "-c", CALL, repo], capture_output=True, text=True)
    assert out.returncode != 0, f"served {out.stdout.strip()}"
    assert "IntegrityError" in out.stderr, out.stderr
    return out.stderr


def test_a_file_planted_in_a_clones_model_folder_is_refused_warm_cold_and_by_pull(
    registry: Path, tmp_path: Path, cache: Path, cli
) -> None:
    root = released_folder(registry, tmp_path)
    folder = served_twice(str(root), cache)
    assert folder.name == "model" and (folder / "config.json").is_file()

    (folder / "evil.py").write_text("import os  # loaded as custom code by from_pretrained\n")
    planted = "artifacts/production/fold/v1.0.0/model/evil.py: not listed in the manifest"
    assert planted in refused(str(root))  # the warm memo's folder stat changed
    shutil.rmtree(cache / "warm")
    assert planted in refused(str(root))  # the full way, and the clone's last answer
    with pytest.raises(IntegrityError, match=r"model/evil\.py: not listed in the manifest"):
        get_artifact_path("fold", repo=root)

    before = snapshot(root)
    for command in (["pull", "fold"], ["get", "fold", "-o", str(tmp_path / "out")]):
        result = cli(*command, cwd=root)
        assert result.exit_code == 1 and planted in result.stderr, result.stderr
    verify = cli("verify", cwd=root)
    assert verify.exit_code == 1 and planted in verify.stderr + verify.stdout  # same words
    assert snapshot(root) == before

    (folder / "evil.py").unlink()
    assert get_artifact_path("fold", repo=root) == folder


def test_a_file_planted_in_a_url_snapshot_is_refused_warm_and_cold(
    registry: Path, tmp_path: Path, cache: Path
) -> None:
    url = serve(released_folder(registry, tmp_path), tmp_path).as_uri()
    folder = served_twice(url, cache)
    assert folder.is_relative_to(cache) and (folder / "config.json").is_file()

    os.chmod(folder, 0o755)  # read-only as artreg leaves it; any writer can undo that
    (folder / "extra.safetensors").write_bytes(b"a stray shard")
    planted = f"{folder}/extra.safetensors: not listed in the manifest"
    assert planted in refused(url)
    shutil.rmtree(cache / "warm")
    assert planted in refused(url)  # the snapshot's own check, and again after healing it

    (folder / "extra.safetensors").unlink()
    assert get_artifact_path("fold", repo=url) == folder


def production_by_gto(root: Path) -> str:
    return json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)["encoder"]["stage"][
        "production"
    ]


def test_deregistering_the_version_a_rollback_went_to_never_rereleases_the_one_it_left(
    registry: Path,
    checkpoint_dir: Path,
    bare_origin: Path,
    tmp_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        promote_to_production(registry, "encoder", vid, version, **RELEASE_INPUTS)
    rolled = cli("rollback", "encoder", "--reason", "v1.2.0 regressed", cwd=registry)
    assert rolled.exit_code == 0, rolled.stderr
    assert production_by_gto(registry) == "v1.1.0"
    git(registry, "push", "--quiet", "origin", "main", "--tags")

    # GTO itself (the oracle of the tags' meaning) falls back onto the newest earlier
    # assignment, v1.2.0, the version the rollback withdrew: the fold cannot pass over it.
    other = clone_repo(bare_origin, tmp_path / "gto-only")
    # GTO's deregistration tag (as `gto deprecate` names it), dated after the last tag: GTO
    # orders tags by their time in whole seconds, and artreg's may be ahead of the clock.
    last = max(map(int, git(other, "for-each-ref", "--format=%(taggerdate:unix)").split()))
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"@{last + 1} +0000")
    git(other, "tag", "-a", "encoder@v1.1.0!", "-m", "deregister", "encoder@v1.1.0^{commit}")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    assert production_by_gto(other) == "v1.2.0"

    # So artreg refuses to make that move silently, naming where production would go.
    before = snapshot(registry)
    for command in (["deprecate", "encoder@v1.1.0"], ["unassign", "encoder#production"]):
        refused = cli(*command, cwd=registry)
        assert refused.exit_code == 2, refused.stderr
        assert "would put production back on v1.2.0" in refused.stderr
        assert "artreg rollback encoder --reason TEXT --to v1.0.0" in refused.stderr
    assert snapshot(registry) == before
    assert production_by_gto(registry) == "v1.1.0"

    # Moving production first, as the fix says, makes the deregistration safe.
    assert cli("rollback", "encoder", "--reason", "v1.1.0 too", cwd=registry).exit_code == 0
    done = cli("deprecate", "encoder@v1.1.0", cwd=registry)
    assert done.exit_code == 0, done.stderr
    assert production_by_gto(registry) == "v1.0.0"
    assert cli("resolve", "encoder", "--json", cwd=registry).json()["version"] == "1.0.0"


def test_a_clone_says_the_remote_holds_altered_bytes_as_a_url_does(
    registry: Path, checkpoint_dir: Path, bare_origin: Path, tmp_path: Path, cache: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    pointer = (registry / "artifacts/production/encoder/v1.0.0").glob("*.dvc")
    md5 = yaml.safe_load(next(iter(pointer)).read_text())["outs"][0]["md5"]
    remote = registry / ".dvc-storage"  # the registry's own local DVC remote
    stored = remote / "files" / "md5" / md5[:2] / md5[2:]
    flip_byte(stored)  # same size, other bytes
    altered = stored.read_bytes()

    url = cli("get", bare_origin.as_uri(), "encoder", "-o", str(tmp_path / "u"),
              "--remote", str(remote))  # fmt: skip
    assert url.exit_code == 1 and "altered" in url.stderr, url.stderr

    clone = clone_repo(bare_origin, tmp_path / "consumer")
    run_tool("dvc", "remote", "add", "--local", "-f", "local", str(remote), cwd=clone)
    pulled = cli("pull", "encoder@v1.0.0", cwd=clone)
    assert pulled.exit_code == 1, pulled.stderr
    assert md5 in pulled.stderr and str(remote) in pulled.stderr
    assert "the remote holds altered bytes" in pulled.stderr
    assert "its object is in neither" not in pulled.stderr
    # The read left the altered object in the remote, as the URL read it, for the next reader.
    assert stored.read_bytes() == altered
    with pytest.raises(IntegrityError, match=md5):
        get_artifact_path("encoder", version="1.0.0", repo=clone)
    assert not (clone / "artifacts/production/encoder/v1.0.0/model.pt").exists()


def test_verify_during_a_release_says_who_is_changing_and_a_killed_release_says_recover(
    registry: Path, tmp_path: Path, cli
) -> None:
    first = tiny_safetensors(tmp_path / "m1.safetensors", seed=1, shapes={"w": (4, 4)})
    done = cli("release", "encoder", str(first), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert done.exit_code == 0, done.stderr
    model = tiny_safetensors(tmp_path / "m2.safetensors", seed=2, shapes={"w": (4, 4)})
    args = ["release", "encoder", str(model), "--version", "1.1.0", *RELEASE_ARGS]
    release_ = start_paused(args, registry, "publish:tag", tmp_path / "committed")

    busy = cli("verify", cwd=registry)  # the release has committed, its tags are not made yet
    assert busy.exit_code == 4, busy.stderr
    assert f"another artreg command (process {release_.pid}" in busy.stderr
    assert "recover" not in busy.stderr + busy.stdout

    os.kill(release_.pid, signal.SIGKILL)  # killed between its commit and its tags
    release_.wait()
    lost = cli("resolve", "encoder@v1.1.0", cwd=registry)
    assert lost.exit_code == 2, lost.stderr
    assert "artreg recover" in lost.stderr and "deregistered" not in lost.stderr

    assert cli("recover", cwd=registry).exit_code == 0
    assert cli("resolve", "encoder@v1.1.0", cwd=registry).exit_code == 0
    assert cli("verify", cwd=registry).exit_code == 0


def test_a_killed_downloads_leftovers_are_removed_by_the_next_download_never_a_live_ones(
    registry: Path, tmp_path: Path, cache: Path, cli
) -> None:
    model = tiny_safetensors(tmp_path / "m1.safetensors", seed=1, shapes={"w": (64, 64)})
    done = cli("release", "encoder", str(model), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert done.exit_code == 0, done.stderr
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = serve(registry, tmp_path).as_uri()
    store = str(registry / ".dvc-storage")

    def get(out: str) -> list[str]:
        return ["get", url, "encoder", "-o", str(tmp_path / out), "--remote", store]

    stalled = start_paused(get("a"), tmp_path, "consumer.download", tmp_path / "downloading")
    partial = list((cache / "tmp").glob("*.part"))
    assert len(partial) == 1
    assert len(list((cache / "tmp").glob("*.snapshot"))) == 1
    assert tmp_owner.sweep(cache / "tmp") == [] and partial[0].exists()  # its writer lives

    os.kill(stalled.pid, signal.SIGKILL)
    stalled.wait()
    again = cli(*get("b"), cwd=tmp_path)
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "b" / "m1.safetensors").read_bytes() == model.read_bytes()
    assert not partial[0].exists()
    assert list((cache / "tmp").iterdir()) == []  # its staging folder went too


def test_a_release_with_a_relative_dvc_remote_tells_the_cli_user_to_pass_remote(
    registry: Path, tmp_path: Path, cache: Path, cli
) -> None:
    run_tool("dvc", "remote", "modify", "local", "url", ".dvc-storage", cwd=registry)
    git(registry, "commit", "--quiet", "-am", "the DVC remote, relative to the clone")
    model = tiny_safetensors(tmp_path / "m1.safetensors", seed=1, shapes={"w": (4, 4)})
    done = cli("release", "encoder", str(model), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry)
    assert done.exit_code == 0, done.stderr
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = serve(registry, tmp_path).as_uri()

    refused = cli("get", url, "encoder", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert refused.exit_code == 2, refused.stderr
    assert "is the relative path" in refused.stderr
    assert "`--remote PATH`" in refused.stderr and "release's own .dvc/config" in refused.stderr
    store = str(registry / ".dvc-storage")
    fixed = cli("get", url, "encoder", "-o", str(tmp_path / "out"), "--remote", store, cwd=tmp_path)
    assert fixed.exit_code == 0, fixed.stderr


def test_a_tampered_remote_listing_cannot_plant_a_file_in_a_clones_model_folder(
    registry: Path, bare_origin: Path, tmp_path: Path, cache: Path, cli
) -> None:
    released_folder(registry, tmp_path)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    pointer = registry / "artifacts/production/fold/v1.0.0/model.dvc"
    md5 = yaml.safe_load(pointer.read_text())["outs"][0]["md5"]
    store = registry / ".dvc-storage"
    listing = store / "files" / "md5" / md5[:2] / md5[2:]
    entries = json.loads(listing.read_text())
    entries.append({"md5": entries[0]["md5"], "relpath": "extra.py"})  # an object it holds
    listing.chmod(0o644)
    listing.write_text(json.dumps(entries))

    clone = clone_repo(bare_origin, tmp_path / "consumer")
    run_tool("dvc", "remote", "add", "--local", "-f", "local", str(store), cwd=clone)
    pulled = cli("pull", "fold", cwd=clone)
    assert pulled.exit_code == 1, pulled.stderr + pulled.stdout
    # The listing is refused before any file is placed (its hash is not its name), and the bad
    # listing does not stay in the DVC cache: what is served holds the manifest's files only.
    assert ".dir does not hash to its name" in pulled.stderr
    assert not (clone / "artifacts/production/fold/v1.0.0/model/extra.py").exists()
    try:
        served = get_artifact_path("fold", repo=clone)
    except IntegrityError as refused:
        assert "does not hash to its name" in refused.message
    else:
        assert not (served / "extra.py").exists() and (served / "config.json").is_file()
