"""What a read leaves behind and what it blames (HOSTILE25 findings 1, 7, 8, 9, 12): a read
interrupted by Ctrl-C leaves the shared consumer cache usable; a git lock file a killed git
left there is removed by the next read, which says so; a read never deletes anything from the
registry's DVC remote, and an altered object there is reported as altered, and stays as
evidence; a DVC remote folder that is gone is an unreachable remote (exit 4, named), not
missing data; a deprecated artifact's history can be read; `site -o DIR` leaves DIR readable
by a web server running as another user.

Everything is real: the registry of the `source` fixture (tests/helpers/sources.py) read from
a clone, a file:// URL and a `git daemon` URL, real git and DVC, signals sent to a real artreg
process.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from helpers import ARTREG, flip_byte, git, run_tool
from helpers.sources import ENCODER, OLD, Source

URL_SOURCES = ["file-url", "git-daemon"]


def cache_repository(cache: Path) -> Path:
    """The consumer cache's one git repository for the registry a test reads."""
    (repo,) = sorted((cache / "git").glob("*.git"))
    return repo


# --- finding 1: git lock files in the consumer cache -------------------------------------------


@pytest.mark.parametrize("source", URL_SOURCES, indirect=True)
def test_a_lock_file_a_killed_git_left_in_the_cache_is_removed_by_the_next_read(
    source: Source, cache: Path, tmp_path: Path
) -> None:
    assert source.run("get", "encoder", "-o", str(tmp_path / "first")).exit_code == 0
    repo = cache_repository(cache)
    # What a git fetch killed mid-way leaves: its shallow.lock, and a ref's lock.
    (repo / "shallow.lock").write_bytes(b"")
    (repo / "refs" / "tags" / "adapter@v0.1.0.lock").write_bytes(b"")

    listed = source.run("list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert "adapter" in listed.json()
    assert f"removed {repo / 'shallow.lock'}" in listed.stderr
    assert "interrupted" in listed.stderr
    got = source.run("get", "adapter", "-o", str(tmp_path / "adapter"))
    assert got.exit_code == 0, got.stderr
    assert not list(repo.rglob("*.lock"))


@pytest.mark.parametrize("source", ["file-url"], indirect=True)
def test_ctrl_c_during_a_cold_read_from_a_url_leaves_the_cache_usable(
    source: Source, cache: Path, tmp_path: Path
) -> None:
    # A registry server slow to send its pack: the read is caught inside git's fetch, which
    # holds shallow.lock in the cache while it waits.
    release = tmp_path / "release-the-pack"
    hook = tmp_path / "slow-pack-objects"
    hook.write_text(
        f'#!/bin/sh\nfor i in $(seq 600); do [ -e "{release}" ] && break; sleep 0.05; done\n'
        'exec "$@"\n'
    )
    hook.chmod(0o755)
    git(tmp_path, "config", "--global", "uploadpack.packObjectsHook", str(hook))
    reader = subprocess.Popen(
        [ARTREG, "get", "encoder", "-o", str(tmp_path / "out"), "--repo", source.where],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not list((cache / "git").glob("*.git/shallow.lock")):
            assert reader.poll() is None, reader.communicate()
            assert time.monotonic() < deadline, "the read never reached git's fetch"
            time.sleep(0.02)
        reader.send_signal(signal.SIGINT)  # as a CI runner cancels a job: artreg alone
        _, err = reader.communicate(timeout=60)
    finally:
        release.touch()
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 130, err
    assert b"interrupted; nothing was changed" in err
    assert not list(cache_repository(cache).rglob("*.lock"))
    git(tmp_path, "config", "--global", "--unset", "uploadpack.packObjectsHook")

    again = source.run("get", "encoder", "-o", str(tmp_path / "out"))
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "out" / "model.pt").read_bytes() == source.models[
        "artifacts/production/encoder/v1.0.0"
    ]


@pytest.mark.parametrize("source", ["file-url"], indirect=True)
def test_a_git_lock_that_cannot_be_removed_is_named_and_the_url_is_not_blamed(
    source: Source, cache: Path, tmp_path: Path
) -> None:
    assert source.run("list").exit_code == 0
    repo = cache_repository(cache)
    git(repo, "tag", "-d", "encoder@v1.0.0")  # fetched again by the next read, with its depth
    (repo / "shallow.lock").mkdir()  # not a file artreg may remove
    (repo / "shallow.lock" / "kept").write_bytes(b"")

    refused = source.run("get", "encoder", "-o", str(tmp_path / "out"))
    assert refused.exit_code == 4, refused.stderr
    assert f"{repo / 'shallow.lock'}:" in refused.stderr
    assert "delete that file" in refused.stderr
    assert "check the registry URL" not in refused.stderr
    assert not (tmp_path / "out").exists()


# --- finding 7: a deprecated artifact's history ----------------------------------------------------


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon"], indirect=True)
def test_a_deprecated_artifacts_versions_can_still_be_inspected_but_not_served(
    source: Source, cache: Path, tmp_path: Path
) -> None:
    deprecated = source.cli("deprecate", "old", cwd=source.root)
    assert deprecated.exit_code == 0, deprecated.stderr
    source.publish()

    # An audit after the deprecation: what did old v1.0.0 and old's production hold?
    for spec, folder in (
        ("old@v1.0.0", OLD),
        ("old#production", "artifacts/production/old/v2.0.0"),
    ):
        shown = source.run("show", spec, "--json")
        assert shown.exit_code == 0, shown.stderr
        info = shown.json()
        assert info["folder"] == folder
        assert info["deprecated"].startswith("old@deprecated")
        said = source.run("show", spec)
        assert said.exit_code == 0 and "deprecated: old (tag old@deprecated" in said.stdout
        assert "remove the deprecation tag" not in said.stderr
    traced = source.run("lineage", "old@v1.0.0", "--json")
    assert traced.exit_code == 0, traced.stderr
    assert OLD in traced.stdout

    # Consumers are still refused it (GTO: a deprecated artifact resolves to nothing).
    for args in (("get", "old@v1.0.0", "-o", str(tmp_path / "out")), ("resolve", "old")):
        refused = source.run(*args)
        assert refused.exit_code == 2, refused.stdout
        assert "old is deprecated" in refused.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", ["clone"], indirect=True)
def test_verify_suggests_a_fetch_that_works_for_a_deprecated_release(source: Source) -> None:
    assert source.cli("deprecate", "old", cwd=source.root).exit_code == 0
    source.publish()
    assert source.clone is not None

    checked = source.cli("verify", cwd=source.clone)
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    (note,) = [line for line in checked.stdout.splitlines() if f"{OLD}:" in line]
    assert "artreg pull old@" not in note
    command = note.split("fetch it with `", 1)[1].split("`", 1)[0]
    assert run_tool(*command.split(), cwd=source.clone).returncode == 0  # the command it named
    again = source.cli("verify", cwd=source.clone)
    assert again.exit_code == 0 and f"{OLD}:" not in again.stdout


# --- findings 8 and 9: the registry's DVC remote ----------------------------------------------------


def remote_object(src: Source, model: bytes) -> Path:
    """Where the DVC remote (a local folder) keeps a model's bytes (DVC 3: files/md5/xx/yyyy)."""
    md5 = hashlib.md5(model).hexdigest()
    return src.storage / "files" / "md5" / md5[:2] / md5[2:]


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon"], indirect=True)
def test_verify_fetch_reports_an_object_altered_in_the_remote_and_leaves_it_there(
    source: Source, cache: Path, tmp_path: Path
) -> None:
    obj = remote_object(source, source.models[ENCODER])
    flip_byte(obj)  # someone with write access to the remote altered the encoder's weights
    altered = obj.read_bytes()

    for _ in range(2):  # and a second reader is told the same: the evidence is still there
        checked = source.run("verify", "--fetch")
        assert checked.exit_code == 1, checked.stdout + checked.stderr
        said = checked.stdout + checked.stderr
        assert f"{ENCODER}/model.pt" in said
        assert "altered" in said or "the remote's bytes have sha256" in said  # clone, URL
        assert "no object" not in said and "neither the DVC cache nor the remote" not in said
        assert obj.read_bytes() == altered, "a read changed the registry's DVC remote"

    refused = source.run("get", "encoder", "-o", str(tmp_path / "out"))
    assert refused.exit_code == 1, refused.stderr
    assert "altered" in refused.stderr
    assert obj.read_bytes() == altered
    assert not (tmp_path / "out" / "model.pt").exists()
    if source.kind == "clone":  # asking the remote what it holds changes nothing in it either
        asked = source.cli("verify", "--remote", cwd=source.clone)
        assert asked.exit_code == 1, asked.stdout + asked.stderr
        assert f"{obj} (md5 " in asked.stdout + asked.stderr
        assert obj.read_bytes() == altered


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon", "lock"], indirect=True)
def test_a_dvc_remote_folder_that_is_gone_is_an_unreachable_remote_not_missing_data(
    source: Source, cache: Path, tmp_path: Path
) -> None:
    away = source.storage.with_name("storage-unmounted")
    source.storage.rename(away)  # the share holding the remote is not mounted today

    got = source.run("get", "encoder", "-o", str(tmp_path / "out"))
    assert got.exit_code == 4, got.stdout + got.stderr
    assert str(source.storage) in got.stderr and "does not exist" in got.stderr
    assert "push it" not in got.stderr and "dvc push" not in got.stderr
    if source.kind != "lock":
        checked = source.run("verify", "--fetch")
        assert checked.exit_code == 4, checked.stdout + checked.stderr
        assert str(source.storage) in checked.stderr
        assert "neither the DVC cache nor the remote" not in checked.stdout + checked.stderr

    away.rename(source.storage)  # mounted again: the same command answers
    again = source.run("get", "encoder", "-o", str(tmp_path / "out"))
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "out" / "model.pt").read_bytes() == source.models[ENCODER]


# --- finding 12: the site's folder mode ----------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon"], indirect=True)
def test_site_leaves_its_folder_readable_by_a_web_server_running_as_another_user(
    source: Source, tmp_path: Path
) -> None:
    before = os.umask(0o022)
    try:
        site = tmp_path / "public"
        assert source.run("site", "-o", str(site)).exit_code == 0
        assert _mode(site) == 0o755  # what `mkdir public` gives under this umask
        assert _mode(site / "index.html") & 0o004, "others may read the pages"
        # Written again into a folder the operator restricted: that mode stays.
        site.chmod(0o750)
        assert source.run("site", "-o", str(site)).exit_code == 0
        assert _mode(site) == 0o750
        os.umask(0o027)
        fresh = tmp_path / "team-only"
        assert source.run("site", "-o", str(fresh)).exit_code == 0
        assert _mode(fresh) == 0o750
    finally:
        os.umask(before)
