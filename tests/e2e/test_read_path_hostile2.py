"""The read path under a hostile registry or remote (review HOSTILE28, part 2): a version
rewritten on the server and asked for by stage, a tampered DVC directory object in a clone.

Everything is real: git repositories served bare (file://), a local DVC remote, real DVC in the
clone; the hostile edits are what a maintainer with push rights (or a writer of the remote)
can do with git and a shell.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from artreg import IntegrityError, NotFoundError, get_artifact_path
from artreg.errors import InputError, LockBusy
from artreg.services.release import register_model_file

from helpers import ARTREG, RELEASE_INPUTS, clone_repo, git, run_tool, serve, snapshot, start_paused
from helpers.modelfiles import write_safetensors
from helpers.sources import ENCODER, Source
from helpers.terminal import run_on_a_terminal

PRODUCTION = "artifacts/production/encoder"


def _release(root: Path, models: Path, version: str, size: int) -> bytes:
    (models / version).mkdir(parents=True)
    model = write_safetensors(models / version / "model.safetensors", size)
    register_model_file(root, "encoder", model, version, **RELEASE_INPUTS)
    return model.read_bytes()


def _force_tag(root: Path, tag: str, commit: str) -> None:
    """Make `tag` again, same message, on `commit` (`git tag -f -a`)."""
    message = git(root, "tag", "--list", "--format=%(contents)", tag)
    # Dated after every tag (artreg may date its own a second ahead to keep their order), so
    # the forced tag is the newest event whatever the clock says.
    latest = max(map(int, git(root, "tag", "-l", "--format=%(creatordate:unix)").split()))
    subprocess.run(
        ["git", "-C", str(root), "tag", "-f", "-a", tag, "-m", message, commit],
        env={**os.environ, "GIT_COMMITTER_DATE": f"@{latest + 1} +0000"},
        check=True,
        capture_output=True,
    )


def _rewrite_onto(root: Path, bare: Path, version: str, other: str) -> None:
    """What a maintainer with push rights can do: copy version `other`'s tracked files over
    `version`'s folder (pointer, sha256, manifest: consistent), commit, force the version tag
    and the production tag onto that commit, push with force."""
    target = root / PRODUCTION / f"v{version}"
    source = root / PRODUCTION / f"v{other}"
    for rel in git(root, "ls-files", str(source)).split():
        dest = target / Path(rel).relative_to(source.relative_to(root))
        dest.unlink(missing_ok=True)
        shutil.copyfile(root / rel, dest)
    git(root, "add", str(target))
    git(root, "commit", "--quiet", "-m", "fix metadata")
    head = git(root, "rev-parse", "HEAD").strip()
    old = f"encoder@v{version}^{{commit}}"
    promoted = git(root, "tag", "--points-at", old, "--list", "encoder#*")
    _force_tag(root, f"encoder@v{version}", head)
    for tag in promoted.split():
        _force_tag(root, tag, head)
    git(root, "push", "--quiet", "--force", str(bare), "main", "--tags")


# --- #9: a version rewritten on the server, asked for by stage -----------------------------------


def test_a_stage_resolving_to_a_rewritten_version_is_refused(
    registry: Path, tmp_path: Path, cache: Path, cli
) -> None:
    models = tmp_path / "models"
    _release(registry, models, "1.0.0", 4096)
    served_bytes = _release(registry, models, "1.1.0", 6144)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = serve(registry, tmp_path)
    url = bare.as_uri()
    first = get_artifact_path("encoder", repo=url)  # production: v1.1.0, by stage
    assert first.read_bytes() == served_bytes

    _rewrite_onto(registry, bare, "1.1.0", "1.0.0")

    for asked in ({}, {"stage": "production"}, {"version": "1.1.0"}):
        with pytest.raises(IntegrityError) as caught:
            get_artifact_path("encoder", repo=url, **asked)
        message = str(caught.value)
        assert "encoder@v1.1.0 moved" in message, message
        assert "--accept-moved-tag" in message
    for args in (["resolve", "encoder", "--repo", url], ["get", url, "encoder", "-o", "out"]):
        refused = cli(*args, cwd=tmp_path)
        assert refused.exit_code == 1 and "encoder@v1.1.0 moved" in refused.stderr, args
    assert not (tmp_path / "out" / "model.safetensors").exists()
    assert first.read_bytes() == served_bytes, "the path handed out kept its bytes"


# --- #13: a tampered `.dir` object on the DVC remote, pulled into a clone -------------------------


def _folder_release(root: Path, tmp_path: Path) -> str:
    """`fold` v1.0.0, a model folder (weights and config), pushed; returns its `.dir` md5."""
    snap = tmp_path / "snap"
    snap.mkdir()
    write_safetensors(snap / "model.safetensors", 4096)
    (snap / "config.json").write_text('{"hidden": 8}\n')
    register_model_file(root, "fold", snap, "1.0.0", **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=root)
    pointer = (root / "artifacts/production/fold/v1.0.0/model.dvc").read_text()
    return next(w for w in pointer.split() if w.endswith(".dir"))


def _storage(root: Path) -> Path:
    """The registry's DVC remote (a local folder)."""
    return Path(run_tool("dvc", "config", "remote.local.url", cwd=root).stdout.strip())


def test_a_clone_refuses_a_directory_object_that_lists_an_extra_file(
    registry: Path, tmp_path: Path, cli
) -> None:
    md5 = _folder_release(registry, tmp_path)
    remote_obj = _storage(registry) / "files" / "md5" / md5[:2] / md5[2:]
    genuine = remote_obj.read_bytes()
    entries = json.loads(genuine)
    planted = [*entries, {"md5": entries[0]["md5"], "relpath": "extra.py"}]
    remote_obj.unlink()  # DVC keeps remote objects read-only
    remote_obj.write_text(json.dumps(sorted(planted, key=lambda e: e["relpath"])))

    clone = clone_repo(serve(registry, tmp_path), tmp_path / "clone")
    model = clone / "artifacts/production/fold/v1.0.0/model"
    refused = cli("pull", "fold", cwd=clone)
    assert refused.exit_code == 1, refused.stderr
    assert f"directory object {md5} does not hash to its name" in refused.stderr
    assert "DVC remote" in refused.stderr and "model.dvc" in refused.stderr
    assert not (model / "extra.py").exists()
    with pytest.raises(IntegrityError):
        get_artifact_path("fold", repo=clone)
    assert not (model / "extra.py").exists()

    # The bad object was not kept: once the remote is repaired, pulling again fetches the
    # genuine listing (nothing to --force), and the folder holds exactly what was released.
    remote_obj.unlink()
    remote_obj.write_bytes(genuine)
    pulled = cli("pull", "fold", cwd=clone)
    assert pulled.exit_code == 0, pulled.stderr
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "model.safetensors"]
    assert cli("verify", cwd=clone).exit_code == 0


def test_a_fresh_clone_refuses_a_stage_folder_rewritten_since_its_promotion(
    registry: Path, tmp_path: Path, cli
) -> None:
    """A clone has no memory of earlier bytes; it has the history: the folder at the tag's
    commit must be the folder as promoted, or it is refused, as `artreg verify` reports it."""
    models = tmp_path / "models"
    _release(registry, models, "1.0.0", 4096)
    _release(registry, models, "1.1.0", 6144)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = serve(registry, tmp_path)
    _rewrite_onto(registry, bare, "1.1.0", "1.0.0")
    clone = clone_repo(bare, tmp_path / "clone")

    changed = "artifacts/production/encoder/v1.1.0: changed since it was promoted in"
    for asked in ({}, {"version": "1.1.0"}):
        with pytest.raises(IntegrityError, match=changed):
            get_artifact_path("encoder", repo=clone, **asked)
    for args in (["resolve", "encoder"], ["get", "encoder", "-o", "out"], ["verify"]):
        refused = cli(*args, cwd=clone)
        assert refused.exit_code == 1 and changed in refused.stderr, (args, refused.stderr)
    assert not (clone / "out" / "model.safetensors").exists()
    # The version the rewrite copied is untouched and still served.
    assert get_artifact_path("encoder", version="1.0.0", repo=clone).is_file()


# --- #14: `verify --remote` when the remote cannot be reached ------------------------------------


@pytest.fixture
def s3_served_clone(tmp_path: Path, s3, cli) -> Path:
    """A registry whose DVC remote is S3 (moto) with one release, and a clone of it."""
    from artreg.services.init import init_registry

    root = tmp_path / "team-registry"
    init_registry(root, remote=s3.url)
    s3.configure(root)
    _release(root, tmp_path / "models", "1.0.0", 4096)
    run_tool("dvc", "push", "--quiet", cwd=root)
    clone = clone_repo(root, tmp_path / "service")
    s3.configure(clone)
    return clone


@pytest.mark.parametrize("how", ["no credentials", "unreachable"])
def test_verify_remote_without_a_reachable_remote_names_it_and_is_no_problem(
    s3_served_clone: Path, how: str, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    clone = s3_served_clone
    assert cli("verify", "--remote", cwd=clone).exit_code == 0  # reachable: the control
    if how == "no credentials":
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(var)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(clone.parent / "no-such-file"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(clone.parent / "no-such-file"))
    else:
        from helpers import free_port

        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # one refused connection says enough
        (clone / ".dvc" / "config.local").write_text(
            f"['remote \"local\"']\n    endpointurl = http://127.0.0.1:{free_port()}\n"
            "    connect_timeout = 1\n    read_timeout = 1\n"
        )

    checked = cli("verify", "--remote", cwd=clone)

    # Retryable (exit 4): the remote, not the registry, failed; never a problem (exit 1).
    assert checked.exit_code == 4, checked.stderr
    assert "DVC remote local did not answer, so nothing was checked in it" in checked.stderr
    assert "problem" not in checked.stderr


# --- #16: offline in a clone never contacts the DVC remote ----------------------------------------


def test_offline_in_a_clone_refuses_what_is_not_pulled_without_asking_the_remote(
    registry: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    _release(registry, tmp_path / "models", "1.0.0", 4096)
    run_tool("dvc", "push", "--quiet", cwd=registry)  # reachable: online, a get would fetch
    clone = clone_repo(serve(registry, tmp_path), tmp_path / "service")
    model = clone / PRODUCTION / "v1.0.0" / "model.safetensors"
    # This machine's DVC remote is across a network (an S3 endpoint nothing listens on): offline
    # must not try it. (A remote that is a local folder, an air-gapped site's, is read offline:
    # tests/e2e/test_bundle.py.)
    net = ["remote", "add", "--local", "--default", "net", "s3://models/store"]
    run_tool("dvc", *net, cwd=clone)
    endpoint = ["remote", "modify", "--local", "net", "endpointurl", "http://127.0.0.1:9"]
    run_tool("dvc", *endpoint, cwd=clone)
    before = snapshot(clone)

    with pytest.raises(NotFoundError) as caught:
        get_artifact_path("encoder", repo=clone, offline=True)
    assert "offline" in str(caught.value) and "artreg pull encoder" in str(caught.value)
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    for args in (["get", "encoder", "-o", str(tmp_path / "out")], ["resolve", "encoder"]):
        refused = cli(*args, cwd=clone)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert "offline: " in refused.stderr and "never contacts the DVC remote" in refused.stderr
    assert not model.exists(), "offline fetched from the DVC remote"
    assert snapshot(clone) == before

    # Pulled while online (from the registry's own remote), the same reads answer offline from
    # the work tree.
    monkeypatch.delenv("ARTREG_OFFLINE")
    run_tool("dvc", "remote", "remove", "--local", "net", cwd=clone)
    assert cli("pull", "encoder", cwd=clone).exit_code == 0
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    assert get_artifact_path("encoder", repo=clone) == model
    assert cli("get", "encoder", "-o", str(tmp_path / "out"), cwd=clone).exit_code == 0


# --- #10: a consumer-cache lock held by a stalled download ---------------------------------------


def test_a_get_waiting_for_a_stalled_download_says_so_and_gives_up(
    registry: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    _release(registry, tmp_path / "models", "1.0.0", 4096)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = serve(registry, tmp_path).as_uri()
    # A download that stands still mid-copy (a slow remote, a Ctrl-Z'd get) holds the lock.
    stalled = start_paused(
        ["get", url, "encoder", "-o", str(tmp_path / "a")],
        tmp_path, "consumer.download", tmp_path / "paused",
    )  # fmt: skip
    try:
        monkeypatch.setenv("ARTREG_CACHE_WAIT", "1")
        waited = cli("get", url, "encoder", "-o", str(tmp_path / "b"))
        assert waited.exit_code == 4, waited.stderr
        assert f"another artreg process (pid {stalled.pid} on " in waited.stderr
        assert "ARTREG_CACHE_WAIT" in waited.stderr
        assert not (tmp_path / "b" / "model.safetensors").exists()
        with pytest.raises(LockBusy, match=f"pid {stalled.pid}"):
            get_artifact_path("encoder", repo=url)
        # At a shell, the wait is said while it lasts.
        env = {**os.environ, "ARTREG_CACHE_WAIT": "1"}
        code, shown = run_on_a_terminal(
            [ARTREG, "get", url, "encoder", "-o", str(tmp_path / "c")], tmp_path, env
        )
        assert code == 4 and "; waiting up to 1 s" in shown, shown
    finally:
        stalled.kill()
        stalled.wait()
    # Its holder gone, the lock is free: nothing stale is left to clear.
    assert get_artifact_path("encoder", repo=url).is_file()


# --- #8: one JSON answer for resolve, get and show, whatever the source --------------------------

WHERE = {"registry", "path", "snapshot", "downloaded", "written"}  # where, not what


def _same_answer(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    """The same keys, and the same values but where the bytes are (or were fetched from)."""
    assert set(got) == set(expected), (what, set(got) ^ set(expected))
    assert {k: v for k, v in got.items() if k not in WHERE} == {
        k: v for k, v in expected.items() if k not in WHERE
    }, what


def test_resolve_get_and_show_answer_one_schema_from_every_source(
    source: Source, tmp_path: Path
) -> None:
    def both(*args: str) -> tuple[dict[str, Any], dict[str, Any]]:
        here = source.cli(*args, "--json", "--repo", str(source.root), cwd=source.root.parent)
        there = source.run(*args, "--json")
        assert here.exit_code == 0 and there.exit_code == 0, (here.stderr, there.stderr)
        return there.json(), here.json()

    for spec in ("encoder#production", "encoder@v1.0.0", "old@v1.0.0"):
        shown, expected = both("show", spec)
        shown.pop("path", None), expected.pop("path")  # a clone holds the bytes already
        # A lock says the stage a pinned version holds as the registry does (its cached tags).
        _same_answer(shown, expected, f"show {spec}")
        text = source.run("show", spec)
        assert text.exit_code == 0 and "None" not in text.stdout, text.stdout
    assert both("show", "encoder@v1.0.0")[0]["model"] == f"{ENCODER}/model.pt"
    _same_answer(*both("resolve", "encoder"), "resolve")
    here = source.cli("get", "encoder", "-o", str(tmp_path / "a"), "--json", "--repo",
                      str(source.root), cwd=source.root.parent)  # fmt: skip
    there = source.run("get", "encoder", "-o", str(tmp_path / "b"), "--json")
    assert here.exit_code == 0 and there.exit_code == 0, (here.stderr, there.stderr)
    _same_answer(there.json(), here.json(), "get")


# --- #11: a stage and a version together --------------------------------------------------------


def test_a_stage_and_a_version_together_are_refused_from_every_source(source: Source) -> None:
    assert get_artifact_path("encoder", version="1.0.0", **source.api).is_file()  # kept warm
    for stage in ("production", "nosuch"):
        with pytest.raises(InputError, match="a stage or a version, not both"):
            get_artifact_path("encoder", stage=stage, version="1.0.0", **source.api)
