"""Consumers never get other bytes than they asked for: a lock serves only what it pins, a version
rewritten on the registry is refused until accepted, a path handed out keeps its bytes, a retired
or retracted version is said to be one, and a damaged cache heals itself once.

Everything is real: a registry served bare (file:// and `git daemon`), its local DVC remote, a
consumer cache per test, tags rewritten and force-pushed as a careless maintainer would.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from artreg import (
    IntegrityError,
    NotFoundError,
    RetractedPinWarning,
    get_artifact_path,
    verify_artifact,
)
from artreg.errors import InputError
from artreg.features.release import register_model_file

from helpers import RELEASE_INPUTS, git, run_tool, serve
from helpers.modelfiles import write_safetensors


@dataclass
class Served:
    root: Path  # the registry's work tree
    bare: Path  # what consumers read
    base: str  # the commit before the first release
    models: Path  # where the source model files are written

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def publish(self) -> None:
        git(self.root, "push", "--quiet", str(self.bare), "main", "--tags")
        run_tool("dvc", "push", "--quiet", cwd=self.root)

    def release(self, name: str, version: str, size: int = 4096) -> bytes:
        (self.models / f"{name}-{version}").mkdir(exist_ok=True)
        model = write_safetensors(self.models / f"{name}-{version}" / "model.safetensors", size)
        register_model_file(self.root, name, model, version, **RELEASE_INPUTS)
        return model.read_bytes()

    def commit_of(self, tag: str) -> str:
        return git(self.bare, "rev-parse", f"{tag}^{{commit}}").strip()

    def rewrite(self, name: str, version: str) -> bytes:
        """What a careless maintainer does: delete the version's tags, make them again on a
        commit with other bytes, push with force. Returns the new bytes."""
        tags = git(self.root, "tag", "--list", f"{name}@*", f"{name}#*").split()
        git(self.root, "tag", "-d", *tags)
        git(self.root, "reset", "--hard", "--quiet", self.base)
        git(self.root, "clean", "-qfdx", "artifacts")  # the DVC-tracked model, git-ignored
        new = self.release(name, version, size=6144)
        run_tool("dvc", "push", "--quiet", cwd=self.root)
        git(self.root, "push", "--quiet", "--force", str(self.bare), "main")
        git(self.root, "push", "--quiet", str(self.bare), *[f":refs/tags/{t}" for t in tags])
        git(self.root, "push", "--quiet", "--force", str(self.bare), "--tags")
        return new


@pytest.fixture
def served(registry: Path, tmp_path: Path) -> Served:
    """encoder v1.0.0 released from a ready model file, pushed, served bare."""
    models = tmp_path / "models"
    models.mkdir()
    base = git(registry, "rev-parse", "HEAD").strip()
    s = Served(registry, Path(), base, models)
    s.release("encoder", "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    s.bare = serve(registry, tmp_path)
    return s


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- 24.6: a lock file serves only what it pins --------------------------------------------------


def test_a_lock_serves_only_the_versions_and_stages_it_pins(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    newer = served.release("encoder", "1.1.0")
    served.publish()
    lock = tmp_path / "service" / "artreg.lock"
    lock.parent.mkdir()
    added = cli("lock", "add", served.url, "encoder@v1.1.0", "--file", str(lock))
    assert added.exit_code == 0, added.stderr

    assert get_artifact_path("encoder", lock=lock).read_bytes() == newer  # the name's only pin
    assert get_artifact_path("encoder", version="1.1.0", lock=lock).read_bytes() == newer
    for asked in ({"version": "1.0.0"}, {"version": "9.9.9"}, {"stage": "validated"}):
        with pytest.raises(NotFoundError) as caught:
            get_artifact_path("encoder", lock=lock, **asked)
        message = str(caught.value)
        assert str(lock) in message and "pins encoder@v1.1.0" in message, message
        assert "serves only what it pins" in message
        assert f"artreg lock add {served.url} encoder" in message

    out = tmp_path / "out"
    refused = cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(out))
    assert refused.exit_code == 2
    assert str(lock) in refused.stderr and "encoder@v1.1.0" in refused.stderr
    assert not out.exists() or not list(out.iterdir())
    mixed = cli("get", "encoder", "--lock", str(lock), "--with-requirements", "-o", str(out))
    assert mixed.exit_code == 2 and "--lock" in mixed.stderr
    got = cli("get", "encoder", "--lock", str(lock), "-o", str(out), "--json")
    assert got.exit_code == 0, got.stderr
    assert (out / "model.safetensors").read_bytes() == newer
    assert got.json()["version"] == "1.1.0"


# --- 24.7 and 24.8: a version's bytes never change, a path handed out stays valid ---------------


def test_a_version_rewritten_on_the_registry_is_refused_until_accepted(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    first = get_artifact_path("encoder", version="1.0.0", repo=served.url)
    old_bytes, old_commit = first.read_bytes(), served.commit_of("encoder@v1.0.0")

    new_bytes = served.rewrite("encoder", "1.0.0")
    new_commit = served.commit_of("encoder@v1.0.0")
    assert new_commit != old_commit

    for asked in ({"version": "1.0.0"}, {}):  # by version, and production resolving to it
        with pytest.raises(IntegrityError) as caught:
            get_artifact_path("encoder", repo=served.url, **asked)
        message = str(caught.value)
        assert "encoder@v1.0.0 moved" in message
        assert old_commit[:12] in message and new_commit[:12] in message
        assert "--accept-moved-tag" in message and "accept_moved_tag=True" in message
    out = tmp_path / "out"
    refused = cli("get", served.url, "encoder@v1.0.0", "-o", str(out))
    assert refused.exit_code == 1 and "--accept-moved-tag" in refused.stderr
    assert not (out / "model.safetensors").exists()
    assert cli("resolve", "encoder@v1.0.0", "--repo", served.url).exit_code == 1
    assert first.read_bytes() == old_bytes, "the path handed out kept its bytes"

    lock = tmp_path / "artreg.lock"
    pinning = cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock))
    assert pinning.exit_code == 1 and "--accept-moved-tag" in pinning.stderr
    assert not lock.exists()

    accepted = cli("get", served.url, "encoder@v1.0.0", "-o", str(out), "--accept-moved-tag")
    assert accepted.exit_code == 0, accepted.stderr
    assert (out / "model.safetensors").read_bytes() == new_bytes
    # Accepted once: the cache now holds the version to its new bytes.
    now = get_artifact_path("encoder", repo=served.url)
    assert now.read_bytes() == new_bytes and now != first
    assert first.read_bytes() == old_bytes
    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0


def test_two_calls_never_share_or_delete_one_snapshot(
    served: Served, cache: Path, tmp_path: Path, cli, git_daemon: str
) -> None:
    url = f"{git_daemon}/{served.bare.name}"  # the served registry, by git://
    lock = tmp_path / "artreg.lock"
    assert cli("lock", "add", url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    running = get_artifact_path("encoder", lock=lock)  # a service loads this path
    pinned = running.read_bytes()
    held = running.open("rb")

    new_bytes = served.rewrite("encoder", "1.0.0")
    other = get_artifact_path("encoder", version="1.0.0", repo=url, accept_moved_tag=True)
    assert other != running and other.read_bytes() == new_bytes
    again = get_artifact_path("encoder", lock=lock)  # a call through the lock, after
    assert again == running and running.read_bytes() == pinned
    assert other.read_bytes() == new_bytes, "the lock call left the other answer's snapshot"
    assert held.read() == pinned
    held.close()

    check = cli("lock", "check", "--file", str(lock))
    assert check.exit_code == 1 and "tag rewritten" in check.stderr, check.stderr
    assert served.commit_of("encoder@v1.0.0")[:12] in check.stderr
    listed = cli("cache", "list", "--json").json()["snapshots"]
    assert sorted(s["entry"] for s in listed) == ["v1.0.0", "v1.0.0"]
    assert len({s["path"] for s in listed}) == 2
    pruned = cli("cache", "prune", "--older-than", "0")  # the only way a snapshot goes
    assert pruned.exit_code == 0, pruned.stderr
    assert not running.exists() and not other.exists()


# --- 24.5 and 29.8: retired and retracted versions, said as such --------------------------------


POLICY = "retention:\n  production: {keep_last: 1}\n  min_age_days: 0\n"


def test_a_retired_version_is_refused_as_retired_by_url_and_lock(
    served: Served, cache: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = served.release("encoder", "1.1.0")
    with (served.root / "params.yaml").open("a") as fh:
        fh.write(POLICY)
    git(served.root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    served.publish()
    lock = tmp_path / "artreg.lock"
    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    warm = get_artifact_path("encoder", lock=lock)  # in this cache before gc
    pinned = warm.read_bytes()
    _age_retraction_records(cache)  # gc runs later than a lock call's next question

    gc = cli("gc", "--apply", "--repo", str(served.root))
    assert gc.exit_code == 0, gc.stderr
    served.publish()
    tomb = json.loads((served.root / "artifacts" / "retired.json").read_text())["retired"]
    assert [t["folder"] for t in tomb] == ["artifacts/production/encoder/v1.0.0"]

    cold = tmp_path / "cold-cache"
    with pytest.raises(NotFoundError) as caught:
        get_artifact_path("encoder", version="1.0.0", repo=served.url, cache_dir=cold)
    message = str(caught.value)
    assert "retired by" in message and tomb[0]["date"][:10] in message
    assert "use encoder@v1.1.0" in message and "push it" not in message
    out = tmp_path / "out"
    monkeypatch.setenv("ARTREG_CACHE", str(cold))
    refused = cli("get", served.url, "encoder@v1.0.0", "-o", str(out))
    assert refused.exit_code == 2 and "retired by" in refused.stderr
    assert not (out / "model.safetensors").exists()
    assert get_artifact_path("encoder", repo=served.url).read_bytes() == newer
    monkeypatch.setenv("ARTREG_CACHE", str(cache))

    other = tmp_path / "other.lock"
    added = cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(other))
    assert added.exit_code == 2 and "retired by" in added.stderr
    assert not other.exists()
    before = lock.read_text()
    check = cli("lock", "check", "--file", str(lock))
    assert check.exit_code == 1 and "retired by" in check.stderr, check.stderr
    assert lock.read_text() == before

    # The pin still serves the bytes this cache holds, and says it is retired.
    with pytest.warns(RetractedPinWarning, match="retired by"):
        assert get_artifact_path("encoder", lock=lock).read_bytes() == pinned
    with pytest.raises(NotFoundError, match="retired by"):  # a cache without them: refused
        get_artifact_path("encoder", lock=lock, cache_dir=cold)


def test_a_pin_deregistered_unassigned_or_deprecated_since_is_served_with_a_warning(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    served.release("decoder", "0.1.0")
    served.publish()
    lock = tmp_path / "artreg.lock"
    for spec in ("encoder@v1.0.0", "encoder#production", "decoder#production"):
        assert cli("lock", "add", served.url, spec, "--file", str(lock)).exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing happened yet: no warning
        pinned = get_artifact_path("encoder", version="1.0.0", lock=lock).read_bytes()
        get_artifact_path("encoder", stage="production", lock=lock)

    for args in (
        ("unassign", "encoder#production"),
        ("deprecate", "encoder@v1.0.0"),
        ("deprecate", "decoder"),
    ):
        assert cli(*args, "--repo", str(served.root)).exit_code == 0
    served.publish()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked a moment ago: the registry is not asked again
        get_artifact_path("encoder", version="1.0.0", lock=lock)
    _age_retraction_records(cache)

    for asked, said in (
        ({"version": "1.0.0"}, "deregistered"),
        ({"stage": "production"}, "unassigned from production"),
    ):
        with pytest.warns(RetractedPinWarning) as caught:
            assert get_artifact_path("encoder", lock=lock, **asked).read_bytes() == pinned
        assert any(said in str(w.message) for w in caught), [str(w.message) for w in caught]
    with pytest.warns(RetractedPinWarning, match="decoder has since been deprecated"):
        get_artifact_path("decoder", lock=lock)
    out = tmp_path / "out"
    got = cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(out))
    assert got.exit_code == 0, got.stderr
    assert "warning:" in got.stderr and "deregistered" in got.stderr
    assert (out / "model.safetensors").read_bytes() == pinned

    # The registry gone: the lock still serves its pin, and says what it knew last.
    served.bare.rename(served.bare.with_name("moved.git"))
    _age_retraction_records(cache)
    with pytest.warns(RetractedPinWarning, match="deregistered"):
        assert get_artifact_path("encoder", version="1.0.0", lock=lock).read_bytes() == pinned


def _age_retraction_records(cache: Path) -> None:
    """Let the time pass after which a lock call asks its registry again (RECHECK_SECONDS)."""
    from artreg.features.pins import RECHECK_SECONDS

    then = time.time() - RECHECK_SECONDS - 1
    for record in (cache / "retractions").rglob("*.json"):
        os.utime(record, (then, then))


# --- 29.7 and 29.11: the cache's own housekeeping ------------------------------------------------


@pytest.mark.parametrize("days", ["nan", "inf", "-inf", "NaN"])
def test_cache_prune_refuses_days_that_are_not_a_number(
    days: str, served: Served, cache: Path, cli
) -> None:
    path = get_artifact_path("encoder", repo=served.url)
    result = cli("cache", "prune", "--older-than", days)
    assert result.exit_code == 2 and "--older-than" in result.stderr
    assert path.is_file()
    from artreg.consumer_cache import Cache

    with pytest.raises(InputError, match="not a number of days"):
        Cache.open().prune(older_than_days=float(days))
    assert path.is_file()


def test_a_damaged_cache_heals_itself_once(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    url = served.url
    path = get_artifact_path("encoder", repo=url)
    good = path.read_bytes()
    path.chmod(0o644)
    with path.open("r+b") as fh:  # the blob itself, through its link
        fh.seek(10)
        fh.write(b"\x00\x01")
    assert not verify_artifact("encoder", repo=url)
    with pytest.raises(IntegrityError, match="the cache was altered"):
        get_artifact_path("encoder", repo=url, offline=True)  # offline: nothing to heal from

    assert get_artifact_path("encoder", repo=url) == path  # fetched again, same path
    assert path.read_bytes() == good and verify_artifact("encoder", repo=url)
    assert path.stat().st_mode & 0o222 == 0 and path.parent.stat().st_mode & 0o222 == 0
    blob = cache / "blobs" / "sha256" / _sha256(good)[:2] / _sha256(good)[2:]
    assert blob.read_bytes() == good

    # Once: when the remote's copy is altered too, the refusal stands and nothing is stored.
    path.chmod(0o644)
    with path.open("r+b") as fh:
        fh.seek(10)
        fh.write(b"\x00\x01")
    storage = served.root / ".dvc-storage" / "files" / "md5"
    for obj in storage.glob("*/*"):
        if obj.stat().st_size == len(good):
            obj.chmod(0o644)
            obj.write_bytes(b"\xff" + obj.read_bytes()[1:])
    result = cli("get", url, "encoder", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1 and "the remote's bytes have sha256" in result.stderr
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_cache_prune_cleans_a_corrupted_cache_repository(served: Served, cache: Path, cli) -> None:
    assert get_artifact_path("encoder", repo=served.url).is_file()
    (repo,) = (cache / "git").glob("*.git")
    for pack in (repo / "objects" / "pack").glob("*.pack"):
        pack.chmod(0o644)
        pack.write_bytes(b"PACK garbage")
    broken = subprocess.run(["git", "--git-dir", str(repo), "fsck"], capture_output=True)
    assert broken.returncode != 0
    pruned = cli("cache", "prune", "--older-than", "30", "--json")
    assert pruned.exit_code == 0, pruned.stderr
    assert pruned.json()["repositories_removed"] == [repo.name]
    # Rebuilt by the next call that reads git (a new selector resolves anew); healthy, it stays.
    assert get_artifact_path("encoder", version="1.0.0", repo=served.url).is_file()
    again = cli("cache", "prune", "--older-than", "30", "--json")
    assert again.exit_code == 0 and again.json()["repositories_removed"] == []
    assert (repo / "HEAD").is_file()
