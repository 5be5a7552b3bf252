"""Every source answers alike, second round (issue 25; the second hostile review's findings
N1, N4, N5 and N13): a deregistered version can still be inspected, `--stage` takes the extra
stages a registry declares, offline `list`/`history` answer from what an online read left in
the cache, and `get -o` run again over the same bytes succeeds.

Every test runs over the `source` fixture (tests/helpers/sources.py: a clone, a file:// URL, a
`git daemon` URL, a lock file) where the case applies to it. Everything is real: git
repositories, a bare registry served by file:// and `git daemon` on 127.0.0.1, a local DVC
remote, lock files written by `artreg lock add`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git, set_params
from helpers.sources import ENCODER, OLD, Source

# --- N13: `get -o DIR` again over the same bytes ----------------------------------------------


def test_get_again_into_a_folder_that_holds_the_same_bytes_succeeds_and_rewrites_nothing(
    source: Source, tmp_path: Path
) -> None:
    out = tmp_path / "deploy"
    first = source.run("get", "encoder", "-o", str(out))
    assert first.exit_code == 0, first.stderr
    model = out / "model.pt"
    before = model.stat()
    # A deploy step run again: the same files are there already, so it succeeds as it is.
    again = source.run("get", "encoder", "-o", str(out))
    assert again.exit_code == 0, again.stderr
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert model.read_bytes() == source.models[ENCODER]
    assert sorted(p.name for p in out.iterdir()) == ["model.pt"]  # no staging folder left

    # A file with other bytes is never replaced: exit 2, saying which one differs and what to do.
    model.write_bytes(b"something else")
    differs = source.run("get", "encoder", "-o", str(out))
    assert differs.exit_code == 2, differs.stdout
    assert str(model) in differs.stderr and "other bytes" in differs.stderr
    assert "remove those files" in differs.stderr and "empty" not in differs.stderr
    assert model.read_bytes() == b"something else"


# --- N4: --stage takes the extra stages a registry declares ----------------------------------


def declare_staging(source: Source) -> str:
    """Declare `staging` in params.yaml, assign old@v1.0.0 to it, publish; the tag made."""
    root = source.root
    set_params(root, "declare the staging stage", stages={"staging": {"after": "validated"}})
    assigned = source.cli("assign", "old@v1.0.0", "staging", "--json", cwd=root)
    assert assigned.exit_code == 0, assigned.stderr
    source.publish()
    if source.lock is not None:
        pin = ["lock", "add", source.bare.as_uri(), "old#staging", "--file", str(source.lock)]
        assert source.cli(*pin).exit_code == 0
    tag: str = assigned.json()["tag"]
    return tag


def test_stage_option_takes_a_declared_extra_stage_as_name_hash_stage_does(
    source: Source, tmp_path: Path
) -> None:
    tag = declare_staging(source)
    by_spec = source.run("resolve", "old#staging", "--json")
    by_option = source.run("resolve", "old", "--stage", "staging", "--json")
    assert by_option.exit_code == 0, by_option.stderr
    same = ("version", "tag", "commit", "folder", "path")
    assert {k: by_option.json()[k] for k in same} == {k: by_spec.json()[k] for k in same}
    assert by_option.json()["tag"] == tag
    got = source.run("get", "old", "--stage", "staging", "-o", str(tmp_path / "st"))
    assert got.exit_code == 0, got.stderr
    assert (tmp_path / "st" / "old.safetensors").read_bytes() == source.models[OLD]


@pytest.mark.parametrize("source", ["clone", "file-url"], indirect=True)
def test_stage_option_refuses_a_stage_the_registry_does_not_have(source: Source) -> None:
    declare_staging(source)
    unknown = source.run("resolve", "old", "--stage", "stagign")
    assert unknown.exit_code == 2, unknown.stdout
    assert "stagign" in unknown.stderr and "staging" in unknown.stderr
    malformed = source.run("resolve", "old", "--stage", "no such")
    assert malformed.exit_code == 2 and "not a stage name" in malformed.stderr


# --- N1: a deregistered version can be inspected, and is never served -------------------------


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon"], indirect=True)
def test_a_deregistered_version_is_shown_with_its_tag_and_get_and_resolve_refuse_it(
    source: Source, tmp_path: Path
) -> None:
    deregistered = source.cli("deprecate", "old@v1.0.0", "--repo", str(source.root))
    assert deregistered.exit_code == 0, deregistered.stderr
    source.publish()
    (tag,) = git(source.root, "tag", "--list", "old@v1.0.0!*").split()

    shown = source.run("show", "old@v1.0.0", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["folder"] == OLD and shown.json()["deregistered"] == tag
    text = source.run("show", "old@v1.0.0")
    assert text.exit_code == 0 and f"deregistered: old@v1.0.0 (tag {tag})" in text.stdout
    for audit in (("lineage", "old@v1.0.0"), ("diff", "old@v1.0.0", "old@v2.0.0")):
        answer = source.run(*audit, "--json")
        assert answer.exit_code == 0, (audit, answer.stderr)
        assert (
            answer.json()
            == source.cli(*audit, "--json", "--repo", str(source.root), cwd=tmp_path).json()
        )

    # Serving it stays refused (GTO's rule), naming the tag that deregistered it.
    for serve in (("resolve", "old@v1.0.0"), ("get", "old@v1.0.0", "-o", str(tmp_path / "o"))):
        refused = source.run(*serve)
        assert refused.exit_code == 2, refused.stdout
        assert f"old@v1.0.0 is deregistered (tag {tag})" in refused.stderr
    assert not (tmp_path / "o").exists()


# --- N5: offline list and history answer from what an online read left in the cache ----------


@pytest.mark.parametrize("source", ["file-url", "git-daemon"], indirect=True)
def test_offline_list_and_history_answer_from_the_last_online_read_and_refuse_before_it(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    for never in (("list",), ("history", "encoder")):
        refused = source.run(*never)
        assert refused.exit_code == 2, refused.stdout
        assert "never read online" in refused.stderr
        assert f"artreg {' '.join(never)} --repo {source.where}" in refused.stderr
    monkeypatch.delenv("ARTREG_OFFLINE")

    listed = source.run("list", "--json")
    history = source.run("history", "encoder", "--json")
    log = source.run("log", "encoder", "--json")
    assert listed.exit_code == history.exit_code == log.exit_code == 0, listed.stderr
    for gone in (source.bare, source.storage):  # nothing but the cache can answer now
        gone.rename(tmp_path / f"away-{gone.name}")

    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    for args, online in ((("list",), listed), (("history", "encoder"), history),
                         (("log", "encoder"), log)):  # fmt: skip
        offline = source.run(*args, "--json")
        assert offline.exit_code == 0, (args, offline.stderr)
        assert offline.json() == online.json(), args
        assert "answered from the consumer cache" in offline.stderr
        assert "UTC)" in offline.stderr  # as of when
    # A name whose history was never read online is still refused, truthfully.
    other = source.run("history", "old")
    assert other.exit_code == 2 and "never read online" in other.stderr
