"""Consumers without a clone: a registry URL (a path, file://, a real git daemon), the shared
content-addressed cache, warm calls by verification record, offline mode and lock files.

Everything is real: a bare registry served by git (and `git daemon` on 127.0.0.1), DVC remotes
as a local folder and as a moto S3 server whose requests are counted, separate processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from artreg import IntegrityError, NotFoundError, get_artifact_path, verify_artifact
from artreg.errors import InputError, RemoteUnavailable
from artreg.services.init import init_registry
from artreg.services.release import register_model_file

from helpers import (
    RELEASE_INPUTS,
    S3,
    clone_repo,
    free_port,
    git,
    release,
    run_tool,
    serve,
    start_paused,
)
from helpers.modelfiles import write_safetensors

MiB = 1 << 20


# --- a registry served three ways -------------------------------------------------------------


@dataclass
class Served:
    root: Path  # the registry's own work tree (where releases are made)
    bare: Path  # what consumers read: a bare repository, filters allowed as on GitHub/GitLab
    storage: Path | None  # the local DVC remote, if the remote is a local folder

    def publish(self) -> None:
        """Push new commits and tags to the served repository, and the data to the remote."""
        git(self.root, "push", "--quiet", str(self.bare), "main", "--tags")
        run_tool("dvc", "push", "--quiet", cwd=self.root)

    def model(self, folder: str, file: str = "model.pt") -> bytes:
        return (self.root / folder / file).read_bytes()


@pytest.fixture
def served(registry: Path, checkpoint_dir: Path, tmp_path: Path) -> Served:
    """encoder v1.0.0 and decoder v0.1.0 released, pushed to a local DVC remote, served bare."""
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    other = tmp_path / "other.pt"
    write_safetensors(other, 4096)
    register_model_file(registry, "decoder", other, "0.1.0", **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    return Served(registry, serve(registry, tmp_path), registry / ".dvc-storage")


def _url(kind: str, bare: Path, daemon: str | None) -> str:
    if kind == "path":
        return str(bare)
    if kind == "file":
        return bare.as_uri()
    assert daemon is not None
    return f"{daemon}/{bare.name}"


def _pointer_md5(root: Path, pointer: str) -> str:
    return next(
        line.split(": ", 1)[1]
        for line in (root / pointer).read_text().splitlines()
        if line.startswith("- md5: ")
    )


def _objects_in(storage: Path) -> set[str]:
    return {
        f"{p.parent.name}{p.name}" for p in (storage / "files" / "md5").glob("*/*") if p.is_file()
    }


def _cache_repo(cache: Path) -> Path:
    (repo,) = (cache / "git").glob("*.git")
    return repo


def _cache_objects(repo: Path) -> Counter[str]:
    out = git(repo, "cat-file", "--batch-all-objects", "--batch-check")
    return Counter(line.split()[1] for line in out.splitlines())


def _pack_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / "objects" / "pack").glob("*.pack"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- 1. a URL wherever a registry is named ----------------------------------------------------


@pytest.mark.parametrize("kind", ["path", "file", "daemon"])
def test_get_from_a_url_fetches_that_artifact_only_and_never_clones(
    kind: str, served: Served, cache: Path, tmp_path: Path, request: pytest.FixtureRequest, cli
) -> None:
    daemon = request.getfixturevalue("git_daemon") if kind == "daemon" else None
    url = _url(kind, served.bare, daemon)
    folder = "artifacts/production/encoder/v1.0.0"
    wanted = _pointer_md5(served.root, f"{folder}/model.pt.dvc")
    # Every other object leaves the remote: the get must need exactly this one.
    assert served.storage is not None
    others = _objects_in(served.storage) - {wanted}
    assert others, "the remote should hold other artifacts' objects too"
    for md5 in others:
        (served.storage / "files" / "md5" / md5[:2] / md5[2:]).unlink()

    path = get_artifact_path("encoder", repo=url)

    assert path.read_bytes() == served.model(folder)
    assert path.is_relative_to(cache / "snapshots")
    assert path.parent.name == "v1.0.0" and path.parent.stat().st_mode & 0o222 == 0
    assert sorted(p.name for p in path.parent.iterdir()) == ["metadata.json", "model.pt"]
    assert path.stat().st_mode & 0o222 == 0  # read-only
    # The registry's git data on disk: a bare, shallow repository without a work tree, holding
    # the encoder's tag objects and commits, HEAD's commit (its params.yaml is the trust
    # policy, as in a clone), the trees along a few paths, and a few blobs.
    repo = _cache_repo(cache)
    assert git(repo, "rev-parse", "--is-bare-repository").strip() == "true"
    assert (repo / "shallow").is_file()
    assert not list(cache.rglob("*.git/index"))
    tagged = set(git(served.bare, "rev-list", "--no-walk", "--tags=encoder*").split())
    commits = set(
        line.split()[0]
        for line in git(repo, "cat-file", "--batch-all-objects", "--batch-check").splitlines()
        if line.split()[1] == "commit"
    )
    head = git(served.bare, "rev-parse", "HEAD").strip()
    assert commits == tagged | {head}, "only the commits the encoder's tags and HEAD point at"
    assert len(git(served.bare, "rev-list", "--all").split()) > len(commits)
    paths_of: dict[str, set[str]] = {}
    for commit in git(served.bare, "rev-list", "--all").split():
        for line in git(served.bare, "ls-tree", "-r", commit).splitlines():
            meta, rel = line.split("\t")
            paths_of.setdefault(meta.split()[2], set()).add(rel)
    cached_blobs = [
        line.split()[0]
        for line in git(repo, "cat-file", "--batch-all-objects", "--batch-check").splitlines()
        if line.split()[1] == "blob"
    ]
    expected = {
        f"{folder}/manifest.json",
        f"{folder}/metadata.json",
        f"{folder}/model.pt.dvc",
        ".dvc/config",
        "params.yaml",
    }
    # (a blob may also sit at other paths with the same bytes, e.g. an identical pointer)
    assert len(cached_blobs) == len(expected)
    assert {p for oid in cached_blobs for p in paths_of[oid] & expected} == expected
    full = tmp_path / "full-clone.git"
    subprocess.run(
        ["git", "clone", "--mirror", "--no-local", "--quiet", url, str(full)], check=True
    )
    assert _pack_bytes(repo) < _pack_bytes(full) / 2

    out = tmp_path / "out"
    result = cli("get", url, "encoder@v1.0.0", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    assert (out / "model.pt").read_bytes() == served.model(folder)
    assert sorted(p.name for p in out.iterdir()) == ["model.pt"]
    assert result.json()["downloaded"] == 0  # the snapshot was there already


def test_list_show_and_resolve_read_a_url_as_they_read_a_clone(
    served: Served, cache: Path, cli
) -> None:
    url = served.bare.as_uri()
    # A tag as gto writes it (no folder in its message): dvc.yaml at its commit names the model.
    release_commit = git(served.root, "rev-list", "-n1", "encoder@v1.0.0").strip()
    # Dated after every tag artreg made (artreg's tag clock may run a few seconds ahead when
    # promotions come quickly), so it is the newest assignment of the stage, as intended.
    newest = max(
        int(t)
        for t in git(
            served.root, "for-each-ref", "--format=%(creatordate:unix)", "refs/tags"
        ).split()
    )
    subprocess.run(
        [
            "git",
            "-C",
            str(served.root),
            "tag",
            "-a",
            "-m",
            "gto",
            "encoder#validated#9",
            release_commit,
        ],
        check=True,
        env={**os.environ, "GIT_COMMITTER_DATE": f"{newest + 10} +0000"},
    )
    git(served.root, "push", "--quiet", str(served.bare), "--tags")
    here = cli("list", "--json", cwd=served.root)
    there = cli("list", "--repo", url, "--json")
    assert there.exit_code == 0, there.stderr
    assert there.json() == here.json()
    shown = cli("show", "encoder", "--repo", url, "--json").json()
    assert shown == cli("show", "encoder", "--json", cwd=served.root).json()
    pinned = cli("show", "encoder@v1.0.0", "--repo", url, "--json").json()
    local = cli("show", "encoder@v1.0.0", "--json", cwd=served.root).json()
    assert {k: pinned[k] for k in ("tag", "commit", "folder", "files")} == {
        **{k: local[k] for k in ("tag", "commit", "folder")},
        "files": {
            rel: {**d, **({"dvc": True} if rel == "model.pt" else {})}
            for rel, d in local["files"].items()
        },
    }
    resolved = cli("resolve", "decoder", "--repo", url)
    assert resolved.exit_code == 0, resolved.stderr
    assert Path(resolved.stdout.strip()).read_bytes() == served.model(
        "artifacts/production/decoder/v0.1.0", "other.pt"
    )
    by_gto = cli("resolve", "encoder", "--stage", "validated", "--repo", url, "--json")
    assert by_gto.exit_code == 0, by_gto.stderr
    assert by_gto.json()["folder"] == "artifacts/production/encoder/v1.0.0"
    assert by_gto.json()["tag"] == "encoder#validated#9"
    missing = cli("show", "nosuch", "--repo", url)
    assert missing.exit_code == 2 and "no artifact named 'nosuch'" in missing.stderr


# --- S3 as the DVC remote, requests counted --------------------------------------------------


class RequestCounter:
    """WSGI middleware: object GETs per key on the moto server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.gets: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.strip("/").count("/") >= 1 and not query:
            with self.lock:
                self.gets[path] += 1
        return self.app(environ, start_response)

    def take(self) -> Counter[str]:
        with self.lock:
            gets, self.gets = self.gets, Counter()
        return gets


@pytest.fixture(scope="module")
def counted_moto() -> Iterator[tuple[str, RequestCounter]]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    counter = RequestCounter(server._server.app)  # type: ignore[union-attr]
    server._server.app = counter  # type: ignore[union-attr]
    yield f"http://{host}:{port}", counter
    server.stop()


@pytest.fixture
def s3_served(
    counted_moto: tuple[str, RequestCounter],
    tmp_path: Path,
    checkpoint_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Served, S3, RequestCounter]:
    """A registry whose .dvc/config names an S3 remote (no endpoint: that is the consumer's
    business, here AWS_ENDPOINT_URL), data pushed to the counted moto server, served bare."""
    endpoint, counter = counted_moto
    for var, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(var, value)
    bucket = "consumers-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
    s3 = S3(endpoint, bucket)
    s3.client().create_bucket(Bucket=bucket)
    root = tmp_path / "s3-registry"
    init_registry(root, remote=s3.url)
    s3.configure(root)  # the registry side's endpoint, in the untracked config.local
    release(root, "encoder", "s1", checkpoint_dir, "1.0.0")
    other = tmp_path / "other.pt"
    write_safetensors(other, 2048)
    register_model_file(root, "decoder", other, "0.1.0", **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=root)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # the consumer's side
    counter.take()
    return Served(root, serve(root, tmp_path), None), s3, counter


def test_s3_remote_serves_only_that_artifacts_objects(s3_served, cache: Path) -> None:
    served, s3, counter = s3_served
    assert "endpointurl" not in (served.root / ".dvc" / "config").read_text()
    folder = "artifacts/raw/encoder/s1"
    listing = _pointer_md5(served.root, f"{folder}/checkpoints.dvc")
    files = {
        entry["md5"]
        for entry in json.loads(
            (
                served.root / ".dvc" / "cache" / "files" / "md5" / listing[:2] / listing[2:]
            ).read_text()
        )
    }
    path = get_artifact_path("encoder", stage="raw", repo=served.bare)
    assert path.read_bytes() == (served.root / folder / "checkpoints" / "best.pt").read_bytes()
    gets = counter.take()
    expected = {f"/{s3.bucket}/registry/files/md5/{m[:2]}/{m[2:]}" for m in {listing, *files}}
    assert set(gets) == expected, "exactly the .dir listing and the checkpoints' objects"
    assert all(n == 1 for n in gets.values()), gets
    assert len(s3.keys()) > len(expected)  # the bucket holds more than was read
    get_artifact_path("encoder", stage="raw", repo=served.bare)
    assert counter.take() == Counter(), "a warm call reads nothing from S3"


def test_the_consumer_names_the_endpoint_with_remote_config(
    s3_served, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    served, s3, counter = s3_served
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    out = tmp_path / "out"
    args = ["get", str(served.bare), "encoder", "-o", str(out)]
    bad = cli(*args, "--remote-config", "endpointurl")
    assert bad.exit_code == 2 and "expected KEY=VALUE" in bad.stderr
    result = cli(*args, "--remote-config", f"endpointurl={s3.endpoint}")
    assert result.exit_code == 0, result.stderr
    folder = "artifacts/production/encoder/v1.0.0"
    assert (out / "model.pt").read_bytes() == served.model(folder)
    assert sum(counter.take().values()) == 1


WORKER = """
import sys
from artreg import get_artifact_path
print(get_artifact_path("encoder", repo=sys.argv[1]))
"""


def test_eight_cold_processes_download_once_and_get_the_same_path(s3_served, cache: Path) -> None:
    served, s3, counter = s3_served
    folder = "artifacts/production/encoder/v1.0.0"
    key = _pointer_md5(served.root, f"{folder}/model.pt.dvc")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(served.bare)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1
    path = Path(paths.pop())
    assert _sha256(path) == _sha256(served.root / folder / "model.pt")
    gets = counter.take()
    assert gets[f"/{s3.bucket}/registry/files/md5/{key[:2]}/{key[2:]}"] == 1, gets
    assert sum(gets.values()) == 1, gets
    assert not list((cache / "tmp").glob("*.part"))


# --- refusing altered bytes ----------------------------------------------------------------------


def test_tampered_bytes_in_the_remote_are_refused_and_nothing_is_cached(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    folder = "artifacts/production/encoder/v1.0.0"
    md5 = _pointer_md5(served.root, f"{folder}/model.pt.dvc")
    assert served.storage is not None
    obj = served.storage / "files" / "md5" / md5[:2] / md5[2:]
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0xFF
    obj.chmod(0o644)
    obj.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="the remote's bytes have sha256"):
        get_artifact_path("encoder", repo=served.bare)
    out = tmp_path / "out"
    result = cli("get", str(served.bare), "encoder", "-o", str(out))
    assert result.exit_code == 1, result.stderr
    assert "manifest says" in result.stderr
    assert not (out / "model.pt").exists()
    sha = hashlib.sha256(served.model(folder)).hexdigest()
    assert not (cache / "blobs" / "sha256" / sha[:2] / sha[2:]).exists()
    assert not [p for p in (cache / "tmp").rglob("*") if p.is_file()], "no partial download left"
    assert not list((cache / "snapshots").rglob("model.pt"))


def test_tampered_bytes_in_the_cache_are_refused_offline_and_fetched_again_online(
    served: Served, cache: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = served.bare.as_uri()
    path = get_artifact_path("encoder", repo=url)
    good = path.read_bytes()
    assert verify_artifact("encoder", repo=url)
    path.chmod(0o644)
    with path.open("r+b") as fh:
        fh.seek(10)
        fh.write(b"\x00\x01")
    with pytest.raises(IntegrityError, match="the cache was altered"):
        get_artifact_path("encoder", repo=url, offline=True)
    assert not verify_artifact("encoder", repo=url)
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    result = cli("get", url, "encoder", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1 and "expected" in result.stderr
    assert cli("resolve", "encoder", "--repo", url).exit_code == 1
    monkeypatch.delenv("ARTREG_OFFLINE")
    healed = cli("resolve", "encoder", "--repo", url)
    assert healed.exit_code == 0 and healed.stdout.strip() == str(path)
    assert path.read_bytes() == good and verify_artifact("encoder", repo=url)


# --- offline and lock files ----------------------------------------------------------------------


def test_offline_answers_from_the_cache_with_the_registry_and_remote_gone(
    served: Served, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    url = served.bare.as_uri()
    online = get_artifact_path("encoder", repo=url)
    shutil.rmtree(served.bare)
    assert served.storage is not None
    shutil.rmtree(served.storage)
    with pytest.raises(InputError, match="not a git repository"):
        get_artifact_path("encoder", repo=url)
    assert get_artifact_path("encoder", repo=url, offline=True) == online
    assert get_artifact_path("encoder", repo=url, offline=True, verify="full") == online
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    assert get_artifact_path("encoder", repo=url) == online
    result = cli("resolve", "encoder", "--repo", url)
    assert result.exit_code == 0 and result.stdout.strip() == str(online)
    with pytest.raises(NotFoundError, match=r"offline: encoder#validated .* was never resolved"):
        get_artifact_path("encoder", stage="validated", repo=url)
    missing = cli("get", url, "decoder", "-o", str(tmp_path / "out"))
    assert missing.exit_code == 2 and "never resolved" in missing.stderr


def test_offline_answers_for_a_registry_path_that_is_gone(
    served: Served, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    # A bare repository named by its path, read once online, then moved away.
    path = str(served.bare)
    online = get_artifact_path("encoder", repo=path)
    served.bare.rename(tmp_path / "moved.git")
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    assert get_artifact_path("encoder", repo=path) == online
    result = cli("resolve", "encoder", "--repo", path)
    assert result.exit_code == 0 and result.stdout.strip() == str(online)
    # A clone named by its path: what it answered is kept under its key; its files were the
    # clone's own, so offline says so rather than "no such folder".
    monkeypatch.delenv("ARTREG_OFFLINE")
    clone = served.root
    served_from_clone = get_artifact_path("encoder", repo=clone)
    assert served_from_clone.is_relative_to(clone)
    clone.rename(tmp_path / "moved-clone")
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    shown = cli("show", "encoder#production", "--repo", str(clone), "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["version"] == "1.0.0" and shown.json()["registry"] == str(clone)
    with pytest.raises(NotFoundError, match="the clone is gone"):
        get_artifact_path("encoder", repo=clone)
    refused = cli("get", "encoder", "--repo", str(clone), "-o", str(tmp_path / "out"))
    assert refused.exit_code == 2 and "the clone is gone" in refused.stderr
    assert not (tmp_path / "out").exists()


def test_a_lock_file_keeps_serving_the_pinned_version_after_a_newer_release(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    url = str(served.bare)
    consumer = tmp_path / "service"
    consumer.mkdir()
    added = cli("lock", "add", url, "encoder#production", cwd=consumer)
    assert added.exit_code == 0, added.stderr
    lock = consumer / "artreg.lock"
    pinned = json.loads(lock.read_text())["artifacts"]["encoder#production"]
    assert pinned["version"] == "1.0.0" and pinned["tag"].startswith("encoder#production#")
    v100 = served.model("artifacts/production/encoder/v1.0.0")
    assert pinned["files"]["model.pt"]["sha256"] == hashlib.sha256(v100).hexdigest()
    assert cli("lock", "check", cwd=consumer).exit_code == 0

    newer = tmp_path / "model.pt"
    write_safetensors(newer, 8192)
    register_model_file(served.root, "encoder", newer, "1.1.0", **RELEASE_INPUTS)
    served.publish()

    assert get_artifact_path("encoder", lock=lock).read_bytes() == v100
    assert get_artifact_path("encoder", repo=url).read_bytes() == newer.read_bytes()
    before = lock.read_text()
    check = cli("lock", "check", cwd=consumer)
    assert check.exit_code == 1
    assert "encoder#production" in check.stderr and "v1.1.0" in check.stderr
    assert lock.read_text() == before
    updated = cli("lock", "update", cwd=consumer)
    assert updated.exit_code == 0, updated.stderr
    assert cli("lock", "check", cwd=consumer).exit_code == 0
    assert get_artifact_path("encoder", lock=lock).read_bytes() == newer.read_bytes()


def test_a_hand_edited_lock_file_is_refused_with_the_field_named(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    lock = tmp_path / "artreg.lock"
    assert (
        cli("lock", "add", str(served.bare), "encoder@v1.0.0", "--file", str(lock)).exit_code == 0
    )
    data = json.loads(lock.read_text())
    entry = data["artifacts"]["encoder@v1.0.0"]
    entry["files"]["../../escape"] = entry["files"].pop("metadata.json")
    lock.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"/artifacts/encoder@v1.0.0/files/../../escape"):
        get_artifact_path("encoder", lock=lock)
    result = cli("lock", "check", "--file", str(lock))
    assert result.exit_code == 2 and "is not a path inside the folder" in result.stderr
    assert not (cache / "escape").exists()


# --- warm calls: a stat, not a rehash --------------------------------------------------------------


READ_BYTES = """
import sys
from artreg import get_artifact_path
kwargs = dict(arg.split("=", 1) for arg in sys.argv[2:])
path = get_artifact_path("big", repo=sys.argv[1], **kwargs)
rchar = [l for l in open("/proc/self/io") if l.startswith("rchar")][0].split()[1]
print(path, rchar)
"""


def _read_by_get(repo: str, *kwargs: str) -> tuple[Path, int]:
    out = subprocess.run(
        [sys.executable, "-c", READ_BYTES, repo, *kwargs],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return Path(out[0]), int(out[1])


@pytest.fixture
def big_served(registry: Path, tmp_path: Path) -> Served:
    """A 32 MiB model `big` v1.0.0 (random bytes), pushed to the local remote, served bare."""
    model = tmp_path / "model.pt"
    write_safetensors(model, 32 * MiB)
    register_model_file(registry, "big", model, "1.0.0", **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    return Served(registry, serve(registry, tmp_path), registry / ".dvc-storage")


BIG = "artifacts/production/big/v1.0.0/model.pt"


def test_warm_calls_stat_instead_of_rehashing_and_any_write_forces_a_rehash(
    big_served: Served, cache: Path, tmp_path: Path
) -> None:
    size = 32 * MiB
    url = big_served.bare.as_uri()
    path, cold = _read_by_get(url)
    assert cold > size  # downloaded (read from the remote once, hashed while written)
    again, warm = _read_by_get(url)  # the first warm call: the cold one recorded what it wrote
    assert again == path
    _, full = _read_by_get(url, "verify=full")
    assert full - warm > 0.95 * size, (warm, full)
    assert warm < size / 4, warm
    # Rewriting the same bytes changes ctime: the next call hashes the file again.
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes())
    _, rewritten = _read_by_get(url)
    assert rewritten - warm > 0.95 * size
    # Other bytes of the same size, in the same second, with the old mtime put back: ctime
    # still differs, so the call hashes, finds them altered and fetches the blob again.
    before = path.stat()
    path.write_bytes(bytes(size))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    healed, _ = _read_by_get(url)
    assert healed == path and _sha256(path) == _sha256(big_served.root / BIG)

    # Inside a clone, the same: a warm get_artifact_path stats instead of rehashing.
    clone = clone_repo(big_served.bare, tmp_path / "clone")
    local, _ = _read_by_get(str(clone))
    assert local == clone / BIG
    time.sleep(0.1)  # DVC wrote it just before artreg hashed it: past one clock tick, recorded
    _read_by_get(str(clone))
    _, warm_clone = _read_by_get(str(clone))
    _, full_clone = _read_by_get(str(clone), "verify=full")
    assert warm_clone < size / 4 and full_clone - warm_clone > 0.95 * size


def test_a_killed_download_leaves_no_blob_a_reader_could_see(
    big_served: Served, cache: Path, tmp_path: Path
) -> None:
    url = str(big_served.bare)
    marker = tmp_path / "paused"
    proc = start_paused(
        ["get", url, "big", "-o", str(tmp_path / "a")], tmp_path, "consumer.download", marker
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list((cache / "tmp").glob("*.part")), "the download was under way"
    assert not [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert not list((cache / "snapshots").rglob("model.pt"))
    path = get_artifact_path("big", repo=url)
    assert _sha256(path) == _sha256(big_served.root / "artifacts/production/big/v1.0.0/model.pt")


# --- the cache: shared blobs, list and prune --------------------------------------------------------


def test_versions_sharing_a_file_store_it_once_and_prune_keeps_what_is_linked(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cache: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")  # the same best.pt: same bytes
    run_tool("dvc", "push", "--quiet", cwd=registry)
    url = str(serve(registry, tmp_path))
    old = get_artifact_path("encoder", version="1.0.0", repo=url)
    new = get_artifact_path("encoder", repo=url)
    assert old != new and old.read_bytes() == new.read_bytes()
    assert os.path.samefile(old, new), "one blob, linked from both snapshots"
    listed = cli("cache", "list", "--json").json()
    assert sorted(s["entry"] for s in listed["snapshots"]) == ["v1.0.0", "v1.1.0"]
    blobs = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 3  # one model.pt for both, and each version's metadata.json
    hours_ago = time.time() - 7200
    for meta in (cache / "meta").rglob("v1.0.0.json"):
        os.utime(meta, (hours_ago, hours_ago))  # v1.0.0 was used last two hours ago
    pruned = cli("cache", "prune", "--keep-last", "1", "--json")
    assert pruned.exit_code == 0, pruned.stderr
    assert [r.split()[1] for r in pruned.json()["removed"]] == ["v1.0.0"]
    assert pruned.json()["blobs_removed"] == 1  # v1.0.0's metadata.json; model.pt is still used
    assert not old.exists()
    assert _sha256(new) == _sha256(registry / "artifacts/production/encoder/v1.1.0/model.pt")
    everything = cli("cache", "prune", "--older-than", "0", "--json").json()
    assert everything["blobs_removed"] == 2
    assert not [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert get_artifact_path("encoder", repo=url).is_file()  # fetched again
    assert cli("cache", "prune").exit_code == 2


# --- bad input, unreachable registries, imports ------------------------------------------------------


def test_bad_input_and_unreachable_registries_get_clear_errors(
    served: Served, cache: Path, tmp_path: Path, cli
) -> None:
    url = str(served.bare)
    out = str(tmp_path / "out")
    assert cli("get", url, "bad name!", "-o", out).exit_code == 2
    unreachable = f"git://127.0.0.1:{free_port()}/registry.git"
    result = cli("get", unreachable, "encoder", "-o", out)
    assert result.exit_code == 4 and "did not answer" in result.stderr
    with pytest.raises(RemoteUnavailable):
        get_artifact_path("encoder", repo=unreachable)
    with pytest.raises(InputError, match="verify='sometimes'"):
        get_artifact_path("encoder", repo=url, verify="sometimes")
    both = cli("get", url, "encoder@v1.0.0", "--stage", "raw", "-o", out)
    assert both.exit_code == 2 and "names a version already" in both.stderr
    gone = cli("get", url, "encoder@v9.9.9", "-o", out)
    assert gone.exit_code == 2 and "no active version 9.9.9" in gone.stderr
    remote = cli("get", url, "encoder", "-o", out, "--remote", "nosuchremote")
    assert remote.exit_code == 2 and "names no DVC remote 'nosuchremote'" in remote.stderr
    assert not Path(out).exists()


PROBE = """
import sys
from artreg import get_artifact_path
get_artifact_path("encoder", repo=sys.argv[1])
print("HEAVY", sorted(m for m in ("dvc", "dvc.repo", "torch", "s3fs", "jsonschema") if m in sys.modules))
"""


def test_a_url_with_a_local_remote_never_imports_dvcs_repo_and_warm_calls_import_nothing(
    served: Served, cache: Path
) -> None:
    # Cold: DVC's own config code reads the committed .dvc/config (dvc.config, not dvc.repo),
    # and the manifest is checked against its schema once. Warm: the tags are listed, no more.
    for heavy in ("['dvc', 'jsonschema']", "[]"):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(served.bare)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"HEAVY {heavy}" in out.stdout, out.stdout + out.stderr


def test_what_counts_as_a_registry_url(registry: Path, tmp_path: Path) -> None:
    from artreg.sources.location import is_registry_url

    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(bare)], check=True)
    assert is_registry_url("https://git.example.com/ml/registry.git")
    assert is_registry_url("ssh://git@git.example.com/ml/registry.git")
    assert is_registry_url("git@github.com:ml/registry.git")
    assert is_registry_url(bare) and is_registry_url(bare.as_uri())
    assert not is_registry_url(registry)  # a clone (work tree): the local registry, as before
    assert not is_registry_url(registry / "artifacts")
    assert not is_registry_url("no/such/folder")
