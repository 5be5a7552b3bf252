"""Same registry state, same answer, whatever the source (issue 25; the hostile review's
findings 4, 5, 6, 10, 11 and 13): `--no-fetch` fetches nothing from a URL either, offline
answers whatever the cache holds, `list --as-of` and `pull` take a URL, a lock file reads the
history of the registry it names, `show` gives one entry from a clone and a URL, a lock lists
and shows its version pins, and a bare repository is found by git's own lookup.

Every test runs over the `source` fixture (tests/helpers/sources.py: a clone, a file:// URL, a
`git daemon` URL, a lock file) where the case applies to it. Everything is real: git
repositories, a bare registry served by file:// and `git daemon` on 127.0.0.1, a local DVC
remote, lock files written by `artreg lock add`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import CliResult, git
from helpers.sources import ADAPTER, ENCODER, Source


def answered(result: CliResult) -> Any:
    assert result.exit_code == 0, result.stderr
    return result.json()


def reference(src: Source, *args: str) -> Any:
    """The answer of the registry's own work tree: `artreg ARGS --json --repo ROOT`."""
    return answered(src.cli(*args, "--json", "--repo", str(src.root), cwd=src.root.parent))


def snapshots(cache: Path) -> list[Path]:
    """Every model file the consumer cache holds."""
    return sorted(p for p in cache.rglob("model.pt") if p.is_file()) if cache.exists() else []


# --- finding 4: --no-fetch fetches nothing, from any source -----------------------------------


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon"], indirect=True)
def test_no_fetch_refuses_what_is_not_here_yet_and_answers_once_it_is(
    source: Source, cache: Path
) -> None:
    cold = source.run("resolve", "encoder", "--no-fetch")
    # Nothing was resolved or pulled before: refused (exit 2) with the command to run, as a
    # clone refuses a model it has not pulled; nothing was downloaded into the cache.
    assert cold.exit_code == 2, cold.stdout
    assert "encoder" in cold.stderr
    assert snapshots(cache) == []
    if source.kind != "clone":
        assert "--no-fetch" in cold.stderr and "without --no-fetch" in cold.stderr
        got = source.run("get", "encoder", "--no-fetch", "-o", str(cache.parent / "out"))
        assert got.exit_code == 2 and not (cache.parent / "out" / "model.pt").exists()
        listing = source.run("list", "--no-fetch")
        assert listing.exit_code == 2 and "--no-fetch" in listing.stderr

    online = answered(source.run("resolve", "encoder", "--json"))
    # Now it is here: --no-fetch answers the same path, downloading nothing.
    again = answered(source.run("resolve", "encoder", "--no-fetch", "--json"))
    assert again["path"] == online["path"] and again["version"] == online["version"]
    assert again["downloaded"] == 0
    assert Path(again["path"]).read_bytes() == source.models[ENCODER]


# --- finding 13: a bare repository by any path git accepts ------------------------------------


@pytest.mark.parametrize("source", ["file-url"], indirect=True)
def test_a_bare_repository_named_without_its_git_suffix_is_read_as_git_reads_it(
    source: Source,
) -> None:
    assert source.bare.name.endswith(".git")
    plain = str(source.bare)[: -len(".git")]
    assert not Path(plain).exists()
    git(source.root, "ls-remote", plain, "HEAD")  # git accepts it
    listed = answered(source.cli("list", "--json", "--repo", plain, cwd=source.root.parent))
    assert listed == answered(source.run("list", "--json"))
    shown = answered(source.cli("show", "encoder#production", "--json", "--repo", plain))
    assert shown["folder"] == ENCODER
    # A path git does not accept either is still refused as a missing folder (exit 2).
    typo = source.cli("list", "--repo", plain + "-typo", cwd=source.root.parent)
    assert typo.exit_code == 2 and "no such folder" in typo.stderr


# --- finding 6: list --as-of, and the history of a lock's registry ----------------------------


def test_list_as_of_answers_the_same_from_every_source(source: Source) -> None:
    # The moment the last release was tagged (tags are dated one after another).
    dates = git(source.root, "for-each-ref", "--format=%(creatordate:unix)", "refs/tags")
    before = max(int(d) for d in dates.split())
    deprecated = source.cli("deprecate", "old", "--repo", str(source.root))
    assert deprecated.exit_code == 0, deprecated.stderr
    source.publish()
    asked = source.run("list", "--as-of", f"@{before}", "--json")
    if source.kind == "lock":
        # A lock pins versions; the registry's past is read from the registry (the URL it names).
        assert asked.exit_code == 2, asked.stdout
        assert source.where in asked.stderr and "--repo" in asked.stderr
        return
    then = answered(asked)
    assert then == reference(source, "list", "--as-of", f"@{before}")
    assert "old" in then, sorted(then)
    assert "old" not in answered(source.run("list", "--json"))
    text = source.run("list", "--as-of", f"@{before}")
    assert text.exit_code == 0 and text.stdout.startswith("as of ")


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_history_lineage_and_diff_of_a_lock_read_the_registry_it_names(source: Source) -> None:
    for args in (
        ("history", "encoder"),
        ("log", "encoder"),
        ("lineage", "encoder#production"),
        ("diff", "old@v1.0.0", "old@v2.0.0"),
    ):
        assert answered(source.run(*args, "--json")) == reference(source, *args), args
    # A name the lock does not pin names no registry: refused, saying what to pass.
    unnamed = source.run("history", "nosuch")
    assert unnamed.exit_code == 2, unnamed.stdout
    assert source.where in unnamed.stderr and "--repo URL" in unnamed.stderr


@pytest.mark.parametrize("source", ["file-url", "git-daemon", "lock"], indirect=True)
def test_pull_from_a_url_fills_the_consumer_cache_for_offline_reads(
    source: Source, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled = answered(source.run("pull", "encoder", "--json"))
    assert Path(pulled["path"]).read_bytes() == source.models[ENCODER]
    assert pulled["downloaded"] > 0
    assert not (Path.cwd() / "model.pt").exists()  # nothing written where the user stands
    for gone in (source.bare, source.storage):
        gone.rename(tmp_path / f"away-{gone.name}")
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    offline = answered(source.run("resolve", "encoder", "--json"))
    assert offline["path"] == pulled["path"]


# --- finding 5: offline answers whatever the cache holds -----------------------------------------


@pytest.mark.parametrize("source", ["file-url", "git-daemon"], indirect=True)
def test_offline_answers_every_spec_the_cache_holds_and_says_as_of_when(
    source: Source, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Online: encoder by its stage, adapter with its requirement (encoder@v1.0.0).
    online = answered(source.run("resolve", "encoder", "--json"))
    got = source.run("get", "adapter", "--with-requirements", "-o", str(tmp_path / "g"))
    assert got.exit_code == 0, got.stderr
    shown = answered(source.run("show", "encoder", "--json"))
    entry = answered(source.run("show", "adapter@v0.1.0", "--json"))
    # The registry and its DVC remote go away; the cache is all there is.
    for gone in (source.bare, source.storage):
        gone.rename(tmp_path / f"away-{gone.name}")
    monkeypatch.setenv("ARTREG_OFFLINE", "1")

    # The same version by another spec: the same verified bytes.
    by_version = source.run("resolve", "encoder@v1.0.0", "--json")
    assert answered(by_version)["path"] == online["path"]
    assert answered(by_version)["registry"] == online["registry"] == source.where
    assert "answered from the consumer cache" in by_version.stderr
    assert "last read it" in by_version.stderr
    # What --with-requirements fetched: each of its artifacts.
    adapter = answered(source.run("resolve", "adapter", "--json"))
    assert Path(adapter["path"]).read_bytes() == source.models[ADAPTER]
    assert answered(source.run("resolve", "encoder#production", "--json"))["folder"] == ENCODER
    again = answered(
        source.run("get", "adapter", "--with-requirements", "-o", str(tmp_path / "off"), "--json")
    )
    assert {each["name"]: each["folder"] for each in again} == {
        "adapter": ADAPTER,
        "encoder": ENCODER,
    }
    # show NAME and show NAME@vX as online.
    assert answered(source.run("show", "encoder", "--json")) == shown
    offline_entry = answered(source.run("show", "adapter@v0.1.0", "--json"))
    assert {k: offline_entry[k] for k in ("name", "version", "tag", "commit", "folder")} == {
        k: entry[k] for k in ("name", "version", "tag", "commit", "folder")
    }
    # What the cache never held is still refused, saying so (exit 2).
    never = source.run("resolve", "old@v1.0.0")
    assert never.exit_code == 2, never.stdout
    assert "offline" in never.stderr and "old" in never.stderr


# --- finding 10: show gives one entry from a clone and from a URL ------------------------------


RETENTION = "retention:\n  production: {keep_last: 1}\n  min_age_days: 0\n"
SAME = ("name", "stage", "version", "tag", "commit", "folder", "model", "sha256", "size",
        "retired", "files", "requires")  # fmt: skip


def without_path(text: str) -> list[str]:
    """`show` text lines, but the clone's `path:` (a URL's bytes are not fetched to show)."""
    return [line for line in text.splitlines() if not line.startswith(("path:", "signer:"))]


@pytest.mark.parametrize("source", ["clone", "file-url", "git-daemon"], indirect=True)
def test_show_of_a_retired_version_is_the_same_entry_from_a_clone_and_a_url(
    source: Source, tmp_path: Path
) -> None:
    with (source.root / "params.yaml").open("a") as fh:
        fh.write(RETENTION)
    git(source.root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    for args in (("gc", "--apply"), ("gc", "--apply", "--grace-hours", "0")):
        assert source.cli(*args, "--repo", str(source.root)).exit_code == 0
    source.publish()

    for spec in ("old@v1.0.0", "encoder@v1.0.0"):
        expected = reference(source, "show", spec)
        shown = answered(source.run("show", spec, "--json"))
        assert {k: shown.get(k) for k in SAME} == {k: expected.get(k) for k in SAME}, spec
        text = source.run("show", spec)
        ref_text = source.cli("show", spec, "--repo", str(source.root), cwd=source.root.parent)
        assert without_path(text.stdout) == without_path(ref_text.stdout), spec
    assert shown["model"] == f"{ENCODER}/model.pt"
    assert reference(source, "show", "old@v1.0.0")["retired"]
    # The refusal to serve it names the same way out from every source.
    refused = source.run("resolve", "old@v1.0.0")
    assert refused.exit_code == 2, refused.stdout
    assert "retired by" in refused.stderr
    assert "use old@v2.0.0 (in production now) instead" in refused.stderr


# --- finding 11: a lock lists and shows its version pins; its hints work ------------------------


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_a_lock_lists_its_version_pins_at_their_stage_and_hints_only_pins_that_work(
    source: Source, tmp_path: Path
) -> None:
    url = source.bare.as_uri()
    lock = tmp_path / "by-version" / "artreg.lock"
    lock.parent.mkdir()
    for spec in ("adapter@v0.1.0", "encoder#production"):
        added = source.cli("lock", "add", url, spec, "--file", str(lock))
        assert added.exit_code == 0, added.stderr
    where = ("--lock", str(lock))
    listed = answered(source.cli("list", "--json", *where))
    registry = reference(source, "list")
    assert listed["adapter"]["stages"] == registry["adapter"]["stages"]
    assert listed["encoder"]["stages"]["production"] == registry["encoder"]["stages"]["production"]
    shown = answered(source.cli("show", "adapter@v0.1.0", "--json", *where))
    assert shown["stage"] == reference(source, "show", "adapter@v0.1.0")["stage"] == "production"

    # old is deprecated in the registry: `lock add` refuses it, so no hint suggests it.
    assert source.cli("deprecate", "old", "--repo", str(source.root)).exit_code == 0
    source.publish()
    refused = source.cli("lock", "add", url, "old#production", "--file", str(lock))
    assert refused.exit_code == 2
    for spec in ("old", "old@v2.0.0"):
        asked = source.cli("show", spec, *where)
        assert asked.exit_code == 2, asked.stdout
        assert "lock add` refuses" in asked.stderr and f"artreg show {spec} --repo {url}" in (
            asked.stderr
        )
        assert f"pin it with `artreg lock add {url} old" not in asked.stderr
    # A pin `lock add` accepts is still suggested as such.
    missing = source.cli("show", "adapter#production", *where)
    assert missing.exit_code == 2, missing.stdout
    assert f"pin it with `artreg lock add {url} adapter#production" in missing.stderr
