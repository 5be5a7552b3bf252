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
from artreg.services.release import register_model_file

from helpers import BIN, RELEASE_INPUTS, git, run_tool, serve
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
        if asked != {"version": "1.0.0"}:  # not in the registry: `lock add` refuses it too
            assert "lock add` refuses" in message and f"--repo {served.url}" in message
        else:
            assert f"artreg lock add {served.url} encoder" in message

    out = tmp_path / "out"
    refused = cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(out))
    assert refused.exit_code == 2
    assert str(lock) in refused.stderr and "encoder@v1.1.0" in refused.stderr
    assert not out.exists() or not list(out.iterdir())
    # With its requirements, a lock serves the closure it pins (encoder requires nothing).
    closure = cli("get", "encoder", "--lock", str(lock), "--with-requirements", "-o", str(out))
    assert closure.exit_code == 0, closure.stderr
    assert (out / "encoder" / "model.safetensors").read_bytes() == newer
    mixed = cli("get", served.url, "encoder", "--lock", str(lock), "-o", str(out))
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

    # The pin still serves its bytes, and says it is retired: from this cache, and from a cold
    # one while the DVC remote still has them (gc's grace period: marked, not yet swept).
    with pytest.warns(RetractedPinWarning, match="retired by"):
        assert get_artifact_path("encoder", lock=lock).read_bytes() == pinned
    with pytest.warns(RetractedPinWarning, match="has since been retired by") as said:
        assert get_artifact_path("encoder", lock=lock, cache_dir=cold).read_bytes() == pinned
    assert all(": is artifacts" not in str(w.message) for w in said)  # not garbled (m2)
    assert all(w.filename == __file__ for w in said)  # pointing at the caller's line
    swept = cli("gc", "--apply", "--grace-hours", "0", "--repo", str(served.root))
    assert swept.exit_code == 0, swept.stderr
    with pytest.raises(NotFoundError, match="retired by"):  # gone from the remote: retired
        get_artifact_path("encoder", lock=lock, cache_dir=tmp_path / "colder-cache")


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
    from artreg.sources.pins import RECHECK_SECONDS

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
    from artreg.reading.cache import Cache

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


# --- the hostile review: lock files and one identity per registry --------------------------------


def test_lock_update_refuses_a_rewritten_tag_until_accepted(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    lock = tmp_path / "a.lock"
    for spec in ("encoder@v1.0.0", "encoder#production"):
        assert cli("lock", "add", served.url, spec, "--file", str(lock)).exit_code == 0
    pinned = get_artifact_path("encoder", version="1.0.0", lock=lock).read_bytes()
    old_commit = served.commit_of("encoder@v1.0.0")
    new_bytes = served.rewrite("encoder", "1.0.0")
    new_commit = served.commit_of("encoder@v1.0.0")
    before = lock.read_bytes()

    check = cli("lock", "check", "--file", str(lock))
    assert check.exit_code == 1 and "tag rewritten" in check.stderr, check.stderr
    assert "keeps serving" not in check.stderr
    assert "artreg lock update --accept-moved-tag" in check.stderr
    update = cli("lock", "update", "--file", str(lock))
    assert update.exit_code == 1, update.stderr
    assert old_commit in update.stderr and new_commit in update.stderr
    assert "--accept-moved-tag" in update.stderr
    assert lock.read_bytes() == before
    out = tmp_path / "out"
    assert cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(out)).exit_code == 0
    assert (out / "model.safetensors").read_bytes() == pinned

    # Taken explicitly for one pin: every pin of that version moves with it.
    taken = cli("lock", "update", "encoder@v1.0.0", "--accept-moved-tag", "--file", str(lock))
    assert taken.exit_code == 0, taken.stderr
    assert "encoder#production" in taken.stdout
    by_stage = get_artifact_path("encoder", lock=lock)
    assert by_stage == get_artifact_path("encoder", version="1.0.0", lock=lock)
    assert by_stage.read_bytes() == new_bytes


def test_every_spelling_of_a_registry_remembers_a_moved_tag(
    served: Served, cache: Path, tmp_path: Path, git_daemon: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = f"{git_daemon}/{served.bare.name}"  # the git daemon exports served.bare's folder
    for seed in (served.url, daemon):
        get_artifact_path("encoder", version="1.0.0", repo=seed)
    served.rewrite("encoder", "1.0.0")
    monkeypatch.chdir(served.bare.parent)
    bare = served.bare
    for spelling in (
        str(bare),
        bare.name,
        f"../{bare.parent.name}/{bare.name}/",
        f"file://localhost{bare}",
        daemon.removesuffix(".git"),
        daemon + "/",
    ):
        with pytest.raises(IntegrityError, match="moved"):
            get_artifact_path("encoder", version="1.0.0", repo=spelling)


def test_a_record_kept_under_the_old_key_is_adopted(
    served: Served, cache: Path, tmp_path: Path
) -> None:
    """A cache written before one identity per registry keyed records by the URL as spelled:
    the new key adopts them (a moved tag stays refused)."""
    from artreg.reading.cache import legacy_key, registry_key

    get_artifact_path("encoder", version="1.0.0", repo=served.url)
    versions = cache / "versions"
    (versions / registry_key(served.url)).rename(versions / legacy_key(served.url))
    served.rewrite("encoder", "1.0.0")
    with pytest.raises(IntegrityError, match="moved"):
        get_artifact_path("encoder", version="1.0.0", repo=served.url)


def test_a_lock_file_names_a_local_registry_the_same_from_any_folder(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    service = tmp_path / "service"
    service.mkdir()
    relative = f"../{served.bare.parent.name}/{served.bare.name}"
    added = cli("lock", "add", relative, "encoder#production", cwd=service)
    assert added.exit_code == 0, added.stderr
    entry = json.loads((service / "artreg.lock").read_text())["artifacts"]["encoder#production"]
    assert entry["registry"] == served.bare.resolve().as_uri()
    # The same registry under another spelling replaces the pin; another registry does not.
    again = cli("lock", "add", str(served.bare), "encoder#production", cwd=service)
    assert again.exit_code == 0, again.stderr


def test_a_pin_from_another_registry_is_not_replaced_silently(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    (tmp_path / "mirror-host").mkdir()
    mirror = serve(served.root, tmp_path / "mirror-host")
    lock = tmp_path / "artreg.lock"
    assert cli("lock", "add", served.url, "encoder#production", "--file", str(lock)).exit_code == 0
    before = lock.read_bytes()
    other = cli("lock", "add", mirror.as_uri(), "encoder#production", "--file", str(lock))
    assert other.exit_code == 2
    assert served.url in other.stderr and mirror.as_uri() in other.stderr
    assert "artreg lock remove encoder#production" in other.stderr
    assert lock.read_bytes() == before

    removed = cli("lock", "remove", "encoder#production", "--file", str(lock))
    assert removed.exit_code == 0, removed.stderr
    assert json.loads(lock.read_text())["artifacts"] == {}
    missing = cli("lock", "remove", "encoder#production", "--file", str(lock))
    assert missing.exit_code == 2 and "not pinned" in missing.stderr
    assert (
        cli("lock", "add", mirror.as_uri(), "encoder#production", "--file", str(lock)).exit_code
        == 0
    )


def test_concurrent_lock_adds_keep_every_pin(served: Served, cache: Path, tmp_path: Path) -> None:
    served.release("decoder", "0.1.0")
    served.publish()
    get_artifact_path("encoder", repo=served.url)  # the cache's repository made once
    lock = tmp_path / "artreg.lock"
    specs = ["encoder@v1.0.0", "encoder#production", "decoder@v0.1.0", "decoder#production"]
    procs = [
        subprocess.Popen(
            [str(BIN / "artreg"), "lock", "add", served.url, spec, "--file", str(lock)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for spec in specs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sorted(json.loads(lock.read_text())["artifacts"]) == sorted(specs)


def test_a_lock_file_shared_through_a_symlink_stays_one_file(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    shared = tmp_path / "shared" / "artreg.lock"
    shared.parent.mkdir()
    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(shared)).exit_code == 0
    link = tmp_path / "service" / "artreg.lock"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "shared" / "artreg.lock")
    assert cli("lock", "add", served.url, "encoder#production", "--file", str(link)).exit_code == 0
    assert link.is_symlink()  # not replaced by a regular file holding the pins apart
    assert sorted(json.loads(shared.read_text())["artifacts"]) == [
        "encoder#production",
        "encoder@v1.0.0",
    ]


def test_lock_hints_name_commands_that_succeed(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    lock = tmp_path / "artreg.lock"
    lock.write_text("{}")
    broken = cli("lock", "update", "--file", str(lock))
    assert broken.exit_code == 2 and "lock update" not in broken.stderr.split("hint")[-1]
    assert "restore it from git" in broken.stderr and "artreg lock add" in broken.stderr
    lock.unlink()

    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    doc = json.loads(lock.read_text())
    doc["artifacts"]["encoder@v1.0.0"]["commit"] = "not a commit"
    lock.write_text(json.dumps(doc))
    bad = cli("lock", "check", "--file", str(lock))
    assert bad.exit_code == 2 and "artreg lock remove encoder@v1.0.0" in bad.stderr, bad.stderr
    assert cli("lock", "remove", "encoder@v1.0.0", "--file", str(lock)).exit_code == 0

    # A pin that no longer resolves: update names `lock remove`, which then succeeds.
    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    assert cli("deprecate", "encoder@v1.0.0", "--repo", str(served.root)).exit_code == 0
    served.publish()
    update = cli("lock", "update", "--file", str(lock))
    assert update.exit_code == 2 and "artreg lock remove encoder@v1.0.0" in update.stderr
    assert cli("lock", "remove", "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    assert cli("lock", "update", "--file", str(lock)).exit_code == 0


def test_lock_check_refreshes_the_retraction_warning(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    lock = tmp_path / "artreg.lock"
    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    out = tmp_path / "out"
    first = cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(out))
    assert first.exit_code == 0 and "warning" not in first.stderr
    assert cli("deprecate", "encoder@v1.0.0", "--repo", str(served.root)).exit_code == 0
    served.publish()
    check = cli("lock", "check", "--file", str(lock))
    assert check.exit_code == 1, check.stderr
    again = cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(tmp_path / "again"))
    assert again.exit_code == 0 and "deregistered" in again.stderr, again.stderr


def test_lock_check_on_a_stage_that_moved_on_from_a_retired_folder(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    lock = tmp_path / "artreg.lock"
    assert cli("lock", "add", served.url, "encoder#production", "--file", str(lock)).exit_code == 0
    served.release("encoder", "1.1.0")
    with (served.root / "params.yaml").open("a") as fh:
        fh.write(POLICY)
    git(served.root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    assert cli("gc", "--apply", "--repo", str(served.root)).exit_code == 0
    served.publish()
    check = cli("lock", "check", "--file", str(lock))
    assert check.exit_code == 1
    assert "→ artifacts/production/encoder/v1.1.0" in check.stderr, check.stderr
    assert "v1.0.0, retired by" not in check.stderr
    assert cli("lock", "update", "--file", str(lock)).exit_code == 0


def test_a_tampered_lock_sha256_is_blamed_on_the_lock_file(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    lock = tmp_path / "artreg.lock"
    assert cli("lock", "add", served.url, "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    doc = json.loads(lock.read_text())
    doc["artifacts"]["encoder@v1.0.0"]["files"]["model.safetensors"]["sha256"] = "0" * 64
    lock.write_text(json.dumps(doc))
    got = cli("get", "encoder@v1.0.0", "--lock", str(lock), "-o", str(tmp_path / "out"))
    assert got.exit_code == 1
    assert "the lock file was altered" in got.stderr and "DVC remote holds" not in got.stderr
    assert f"restore {lock} from git" in got.stderr
