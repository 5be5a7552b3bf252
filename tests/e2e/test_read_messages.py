"""What a read says when it cannot answer (HOSTILE25B N2, N3, N6-N11, N14): each message names
the file, the field or the value at fault and a fix that works where the command was run: a lock
file's edited pin is the lock file's fault, not the registry URL's or the DVC remote's; a URL is
named in the commands a hint suggests; an empty or pathless --repo is refused as bad input.

Real registries over the `source` fixture (tests/helpers/sources.py), where a case applies."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from helpers import free_port, snapshot
from helpers.sources import Source


def _edited_lock(source: Source, field: str, value: object) -> Path:
    """A copy of the source's lock file whose encoder#production pin has `field` set to
    `value` ("size" edits the model file's size)."""
    assert source.lock is not None
    lock = json.loads(source.lock.read_text())
    pin = lock["artifacts"]["encoder#production"]
    if field == "size":
        pin["files"][pin["model"]]["size"] = value
    else:
        pin[field] = value
    edited = source.lock.parent / f"edited-{field}.lock"
    edited.write_text(json.dumps(lock, indent=2))
    return edited


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_a_lock_pin_whose_size_was_edited_is_the_lock_files_fault(
    source: Source, tmp_path: Path
) -> None:
    edited = _edited_lock(source, "size", 1)
    got = source.cli("get", "encoder", "--lock", str(edited), "-o", str(tmp_path / "out"))
    assert got.exit_code == 1, got.stderr
    assert str(edited) in got.stderr and "files/model.pt/size" in got.stderr
    assert "the lock file was altered" in got.stderr and f"restore {edited}" in got.stderr
    assert "push the right ones" not in got.stderr and "remote's bytes" not in got.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_a_lock_pin_whose_commit_the_registry_lacks_names_the_pin_and_its_commit(
    source: Source, tmp_path: Path
) -> None:
    edited = _edited_lock(source, "commit", "1" * 40)
    got = source.cli("get", "encoder", "--lock", str(edited), "-o", str(tmp_path / "out"))
    assert got.exit_code == 2, got.stderr
    assert f"{edited}: the pin encoder#production names commit {'1' * 40}" in got.stderr
    assert "`commit`" in got.stderr and f"restore {edited} from git" in got.stderr
    assert f"artreg lock add {source.bare.as_uri()} encoder#production" in got.stderr
    assert "not a git repository" not in got.stderr and "check the registry URL" not in got.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", ["file-url", "git-daemon"], indirect=True)
def test_no_fetch_refusal_names_the_cli_options_not_the_api_keyword(source: Source) -> None:
    got = source.run("resolve", "encoder", "--no-fetch")  # a cold cache: never resolved
    assert got.exit_code == 2, got.stderr
    assert f"`artreg lock add {source.where} encoder#production`" in got.stderr
    assert "`--lock artreg.lock`" in got.stderr
    assert "pass lock=" not in got.stderr


@pytest.mark.parametrize("source", ["file-url", "git-daemon"], indirect=True)
def test_a_registry_gone_online_says_the_cache_answers_offline(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert source.run("resolve", "encoder").exit_code == 0  # the cache holds the answer
    source.bare.rename(source.bare.with_name("moved.git"))
    gone = source.run("resolve", "encoder")
    assert gone.exit_code == 2, gone.stderr
    assert "ARTREG_OFFLINE=1 answers encoder#production from the cache as of" in gone.stderr
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    offline = source.run("resolve", "encoder")  # as the hint says
    assert offline.exit_code == 0, offline.stderr
    assert (
        Path(offline.stdout.strip()).read_bytes()
        == source.models["artifacts/production/encoder/v1.0.0"]
    )


@pytest.mark.parametrize("source", ["clone"], indirect=True)
def test_an_empty_repo_is_refused_rather_than_the_current_folder_read(source: Source) -> None:
    assert source.clone is not None
    before = snapshot(source.clone)
    for args in (["resolve", "encoder"], ["list"], ["show", "encoder"]):
        got = source.cli(*args, "--repo", "", cwd=source.clone)  # `--repo "$UNSET"`
        assert got.exit_code == 2, got.stdout
        assert "--repo is empty" in got.stderr and got.stdout == ""
    assert snapshot(source.clone) == before


def test_a_url_without_a_path_is_bad_input_naming_it(cli, tmp_path: Path) -> None:
    for url in ("file://", "file:///", "git://"):
        got = cli("resolve", "encoder", "--repo", url, cwd=tmp_path)
        assert got.exit_code == 2, got.stderr
        assert f"--repo {url!r}" in got.stderr and "no repository after it" in got.stderr
        assert "did not answer" not in got.stderr


def test_a_refused_connection_points_at_the_server_not_at_git_remotes(cli, tmp_path: Path) -> None:
    url = f"git://127.0.0.1:{free_port()}/registry.git"
    got = cli("resolve", "encoder", "--repo", url, cwd=tmp_path)
    assert got.exit_code == 4, got.stderr
    assert f"check that the server of {url} is up" in got.stderr
    assert "git remote -v" not in got.stderr


def test_an_unknown_name_suggests_listing_the_source_it_was_asked_of(source: Source) -> None:
    got = source.run("show", "nosuch")
    assert got.exit_code == 2 and "nosuch" in got.stderr
    suggested = re.findall(r"`artreg list[^`]*`", got.stderr)
    address = " ".join(shlex.quote(a) for a in source.address)
    assert all(s == f"`artreg list {address}`" for s in suggested), got.stderr
    if source.kind != "lock":  # the lock's own hint says what it pins
        assert suggested, got.stderr
    for command in suggested:  # and the command it suggests works from here
        listed = source.cli(*shlex.split(command.strip("`"))[1:], cwd=source.root.parent)
        assert listed.exit_code == 0, listed.stderr


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_the_lock_hint_for_a_version_lock_add_refuses_keeps_the_version(source: Source) -> None:
    assert source.lock is not None
    lock = source.lock.parent / "encoder-only.lock"
    url = source.bare.as_uri()
    assert source.cli("lock", "add", url, "encoder#production", "--file", str(lock)).exit_code == 0
    assert source.cli("deprecate", "old", "--repo", str(source.root)).exit_code == 0
    source.publish()
    got = source.cli("show", "old@v1.0.0", "--lock", str(lock), cwd=source.root.parent)
    assert got.exit_code == 2, got.stderr  # not pinned, and `lock add` refuses a deprecated name
    hinted = f"artreg show old@v1.0.0 --repo {url}"
    assert f"`{hinted}`" in got.stderr, got.stderr
    shown = source.cli(*hinted.split()[1:], "--json", cwd=source.root.parent)
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["version"] == "1.0.0"
