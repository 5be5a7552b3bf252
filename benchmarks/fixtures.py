"""Building the benchmark data: environments, a synthetic tag registry, checkpoint folders, S3.

Everything is created under one work folder and removed afterwards; nothing here touches the
project's own repository.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.registry.tags import tag_message

VENV_BIN = Path(sys.executable).parent
ARTREG = VENV_BIN / "artreg"
GTO = VENV_BIN / "gto"
DVC = VENV_BIN / "dvc"

TAGGER = ("Bench Trainer", "bench@example.com")
MiB = 1 << 20


def make_env(home: Path) -> dict[str, str]:
    """A child environment: private HOME and git config, a git identity, no DVC analytics,
    `CI=true` (no progress bars), fake AWS credentials, and the venv's binaries first."""
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        f"[user]\n\tname = {TAGGER[0]}\n\temail = {TAGGER[1]}\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[gc]\n\tauto = 0\n"
    )
    # PYTHONPATH, when set, names the source tree to measure (a worktree over a shared venv).
    kept = ("LANG", "LC_ALL", "TERM", "TMPDIR", "PYTHONPATH")
    keep = {k: v for k, v in os.environ.items() if k in kept}
    return {
        **keep,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": TAGGER[0],
        "GIT_AUTHOR_EMAIL": TAGGER[1],
        "GIT_COMMITTER_NAME": TAGGER[0],
        "GIT_COMMITTER_EMAIL": TAGGER[1],
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
        "CI": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def sh(cmd: list[str | os.PathLike[str]], cwd: Path, env: Mapping[str, str]) -> str:
    """Run an untimed preparation command; fail loudly with its output."""
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=dict(env), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(str(c) for c in cmd)} failed in {cwd}:\n{proc.stderr}{proc.stdout}"
        )
    return proc.stdout


def artreg_init(path: Path, env: Mapping[str, str], remote: str | None = None) -> Path:
    """A fresh registry made by `artreg init` (untimed everywhere it is used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sh([ARTREG, "init", path, *(["--remote", remote] if remote else [])], path.parent, env)
    return path


def serve_bare(root: Path, target: Path, env: Mapping[str, str]) -> Path:
    """A bare copy of a registry with partial-clone filters allowed (as GitHub and GitLab do)."""
    remove(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sh(["git", "clone", "--bare", "--quiet", root, target], target.parent, env)
    sh(["git", "-C", target, "config", "uploadpack.allowFilter", "true"], target.parent, env)
    return target


def remove(path: Path) -> None:
    """Delete a folder (DVC cache objects are read-only, which rmtree handles as root anyway)."""
    if path.exists():
        shutil.rmtree(path, onerror=_force_remove)


def _force_remove(func: Any, path: str, _exc: Any) -> None:
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o644)
    func(path)


# --- 1. a synthetic registry of many names and tags ----------------------------------------


@dataclass(frozen=True)
class Promotion:
    """One registration or promotion: a stage folder, its tags, all on one commit."""

    name: str
    stage: str
    entry: str  # session id, validated id or v<semver>
    tags: tuple[str, ...]
    title: str
    source: str
    primary: str

    @property
    def folder(self) -> str:
        return f"artifacts/{self.stage}/{self.name}/{self.entry}"


def promotions_of(name: str, tags_per_name: int) -> list[Promotion]:
    """A realistic history: rounds of raw sessions, validated checkpoints, then a release.

    Counters grow per name across actions, as GTO counts; a release makes two tags on one
    commit (`name@vX.Y.Z` without a counter, as `gto register` writes, and `name#production#N`).
    """
    out: list[Promotion] = []
    counter = 0
    ntags = 0
    round_ = 0
    session = validated = ""
    while ntags < tags_per_name:
        plan = ["raw"] * (5 if round_ % 2 == 0 else 4) + ["validated"] * (
            3 if round_ % 2 == 0 else 4
        )
        plan.append("production")
        for stage in plan:
            counter += 1
            if stage == "raw":
                session = f"run{counter:04d}"
                out.append(
                    Promotion(
                        name,
                        "raw",
                        session,
                        (f"{name}#raw#{counter}",),
                        f"artreg: register {name} session {session} (raw)",
                        f"/data/training/{name}/{session}/checkpoints",
                        "checkpoints/best.pt",
                    )
                )
                ntags += 1
            elif stage == "validated":
                validated = f"{session}_epoch_{counter}_validated"
                out.append(
                    Promotion(
                        name,
                        "validated",
                        validated,
                        (f"{name}#validated#{counter}",),
                        f"artreg: promote {name} {session} to validated ({validated})",
                        f"artifacts/raw/{name}/{session}",
                        "model.pt",
                    )
                )
                ntags += 1
            else:
                version = f"1.{round_}.0"
                out.append(
                    Promotion(
                        name,
                        "production",
                        f"v{version}",
                        (f"{name}@v{version}", f"{name}#production#{counter}"),
                        f"artreg: promote {name} {validated} to production v{version}",
                        f"artifacts/validated/{name}/{validated}",
                        "model.pt",
                    )
                )
                ntags += 2
            if ntags >= tags_per_name:
                break
        round_ += 1
    return out


def _manifest(p: Promotion, created: str, extra: Mapping[str, bytes] | None = None) -> bytes:
    """A manifest.json that passes artreg's schema (its primary file, and `extra` files)."""
    digest = hashlib.sha256(p.folder.encode()).hexdigest()
    doc = {
        "schema_version": 1,
        "stage": p.stage,
        "name": p.name,
        "id": p.entry,
        "created_at": created,
        "created_by": f"{TAGGER[0]} <{TAGGER[1]}>",
        "tool": {"name": "artreg", "version": "0.1.0"},
        "primary": p.primary,
        "files": {p.primary: {"sha256": digest, "size": 123_456_789, "dvc": True}},
    }
    for rel, data in (extra or {}).items():
        doc["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _dvc_yaml(latest: dict[str, Promotion]) -> bytes:
    lines = ["artifacts:"]
    for name in sorted(latest):
        p = latest[name]
        lines += [f"  {name}:", f"    path: {p.folder}/{p.primary}", "    type: model"]
    return ("\n".join(lines) + "\n").encode()


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


@dataclass
class TagRegistry:
    root: Path
    names: list[str]
    ntags: int
    ncommits: int
    production: dict[str, str] = field(default_factory=dict)  # name -> latest released version


@functools.lru_cache(maxsize=1)
def _curves_png() -> bytes:
    """One real training-curve picture (as artreg draws it), shared by every raw session."""
    from artreg.publishing.charts import training_curves_png

    loss = [1.0 / (1 + 0.3 * i) for i in range(10)]
    return training_curves_png({"loss": loss, "coverage": [0.9 + 0.008 * i for i in range(10)]}, "")


def _session_png(label: str) -> bytes:
    """The picture, made distinct per session (a tEXt chunk before IEND), as real ones are."""
    import zlib

    png = _curves_png()
    body = b"tEXt" + b"Comment\x00" + label.encode()
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return png[:-12] + chunk + png[-12:]


def _stage_files(p: Promotion, created: str, rank: int) -> dict[str, bytes]:
    """What artreg leaves in a folder besides its manifest: metadata.json, the model card
    (written by artreg's own generator), results files; a raw session's training curves."""
    from artreg.publishing.modelcard import model_card

    who = f"{TAGGER[0]} <{TAGGER[1]}>"
    if p.stage == "raw":
        return {"metrics/training_curves.png": _session_png(p.folder)}
    digest = hashlib.sha256(p.folder.encode()).hexdigest()
    coverage = round(0.95 + 0.04 * ((rank * 37) % 100) / 100, 4)
    source_id = p.source.rsplit("/", 1)[-1]
    if p.stage == "validated":
        results = {"coverage": coverage, "test_loss": round(0.5 - coverage / 4, 4)}
        gates = [
            {
                "metric": "coverage",
                "op": ">=",
                "threshold": 0.95,
                "value": coverage,
                "passed": True,
            },
            {
                "metric": "test_loss",
                "op": "<=",
                "threshold": 0.4,
                "value": results["test_loss"],
                "passed": True,
            },
        ]
        results_file = "validation/validation_results.json"
    else:
        results = {"latency_p95_ms": 30.0 + rank % 7, "throughput_rps": 200.0 + rank % 11}
        gates = [
            {
                "metric": "latency_p95_ms",
                "op": "<=",
                "threshold": 100,
                "value": results["latency_p95_ms"],
                "passed": True,
            },
        ]
        results_file = "performance/benchmarks.json"
    metadata: dict[str, Any] = {
        "schema_version": 1,
        "stage": p.stage,
        "name": p.name,
        "id": p.entry,
        "version": p.entry[1:] if p.stage == "production" else None,
        "created_at": created,
        "created_by": who,
        "source": {
            "stage": "raw" if p.stage == "validated" else "validated",
            "id": source_id,
            "path": p.source,
            "sha256": digest,
            "checkpoint": "checkpoints/best.pt",
            "commit": hashlib.sha1(p.name.encode()).hexdigest(),
        },
        "training_curves": (
            f"artifacts/raw/{p.name}/{source_id}/metrics/training_curves.png"
            if p.stage == "validated"
            else None
        ),
        "gates": {"passed": True, "results": gates},
        "model": {
            "files": [{"path": "model.pt", "format": "pt", "size": 123_456_789, "sha256": digest}],
            "parameter_count": 1_234_567,
            "formats": ["pt"],
        },
    }
    if p.stage == "production":
        metadata["approval"] = {
            "approved_by": "Release Manager <rm@example.com>",
            "approved_at": created,
        }
        metadata["notes"] = f"Release {p.entry} of {p.name}."
    return {
        "metadata.json": (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(),
        "README.md": model_card(metadata).encode(),
        results_file: (json.dumps(results, indent=2) + "\n").encode(),
    }


def gto_message(tag: str) -> str:
    """The message `gto` itself writes on a tag (gto/registry.py): no `folder:` line, so a reader
    must find each tag's folder in dvc.yaml at the tag's commit."""
    name, _, rest = tag.partition("@v") if "@v" in tag else tag.partition("#")
    if "@v" in tag:
        return f"Registering artifact {name} version v{rest}"
    stage = rest.split("#")[0]
    return f"Assigning stage {stage} to artifact {name} commit HEAD"


def build_tag_registry(
    root: Path,
    env: Mapping[str, str],
    names: int,
    tags_per_name: int,
    commits: int,
    writer: str = "artreg",
    site_files: bool = False,
) -> TagRegistry:
    """A registry with `names * tags_per_name` annotated GTO tags on `commits` commits.

    One `git fast-import` stream writes every commit and tag (no process per tag). Each commit
    adds the stage folders (with a schema-valid manifest.json) of the promotions it carries and
    the dvc.yaml artreg would leave (with `site_files`, also metadata.json, the model card
    from artreg's own generator, results files and training curves, as the site reads them);
    each tag has artreg's message (title, blank line,
    `kind:`/`folder:`/`source:`/`by:` lines), a distinct increasing date, and points at the
    commit of its folder. Promotions are interleaved round-robin over the names, so one commit
    never carries two promotions of the same name.

    With `writer="gto"`, every tag carries the message gto writes instead (see `gto_message`),
    and the commits change only dvc.yaml, as in a registry made with `gto register` /
    `gto assign` or Studio, where nothing but dvc.yaml says which folder a tag promoted.
    """
    all_names = [f"model-{i:03d}" for i in range(names)]
    per_name = [promotions_of(n, tags_per_name) for n in all_names]
    ordered = [
        plist[k]
        for k in range(max(len(p) for p in per_name))
        for plist in per_name
        if k < len(plist)
    ]
    if len(ordered) > commits * names:
        raise ValueError(
            f"{commits} commits cannot hold {len(ordered)} promotions of {names} names"
        )
    ntags = sum(len(p.tags) for p in ordered)
    now = int(time.time())
    base = now - 60 * (ntags + commits) - 3600  # every date in the past, all distinct
    artreg_init(
        root,
        {
            **env,
            "GIT_AUTHOR_DATE": f"{base - 60} +0000",
            "GIT_COMMITTER_DATE": f"{base - 60} +0000",
        },
    )

    stream: list[bytes] = []
    latest: dict[str, Promotion] = {}
    who = f"{TAGGER[0]} <{TAGGER[1]}>"
    tag_time = base
    per_commit = -(-len(ordered) // commits)  # ceiling division
    production: dict[str, str] = {}
    for c in range(commits):
        chunk = ordered[c * per_commit : (c + 1) * per_commit]
        if not chunk:
            break
        commit_time = tag_time
        tag_time += 30
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(commit_time))
        files = []
        for p in chunk:
            latest[p.name] = p
            if writer == "gto":
                continue  # gto knows nothing of artreg's folders: its commits change dvc.yaml
            extra = _stage_files(p, created, c) if site_files else {}
            files.append(b"M 100644 inline " + f"{p.folder}/manifest.json".encode() + b"\n")
            files.append(_data(_manifest(p, created, extra)))
            for rel, data in extra.items():
                files.append(b"M 100644 inline " + f"{p.folder}/{rel}".encode() + b"\n")
                files.append(_data(data))
        files.append(b"M 100644 inline dvc.yaml\n" + _data(_dvc_yaml(latest)))
        message = (
            f"artreg: {len(chunk)} synthetic promotions ({chunk[0].name} … {chunk[-1].name})\n"
        )
        stream += [
            b"commit refs/heads/main\n",
            b"mark :%d\n" % (c + 1),
            f"author {who} {commit_time} +0000\n".encode(),
            f"committer {who} {commit_time} +0000\n".encode(),
            _data(message.encode()),
            b"from refs/heads/main^0\n" if c == 0 else b"from :%d\n" % c,
            *files,
        ]
        for p in chunk:
            msg = tag_message(p.title, kind=p.stage, folder=p.folder, source=p.source, by=who)
            for tag in p.tags:
                if writer == "gto":
                    msg = gto_message(tag) + "\n"
                tag_time += 60
                stream += [
                    f"tag {tag}\n".encode(),
                    b"from :%d\n" % (c + 1),
                    f"tagger {who} {tag_time} +0000\n".encode(),
                    _data(msg.encode()),
                ]
            if p.stage == "production":
                production[p.name] = p.entry
    stream.append(b"done\n")
    proc = subprocess.run(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=root,
        env=dict(env),
        input=b"".join(stream),
        capture_output=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git fast-import failed: {proc.stderr.decode()}")
    sh(["git", "reset", "--hard", "--quiet", "main"], root, env)
    count = int(sh(["git", "rev-list", "--count", "HEAD"], root, env))
    return TagRegistry(root, all_names, ntags, count, production)


# --- 4./5. checkpoint folders ---------------------------------------------------------------


def write_random_file(path: Path, size: int, seed: int, prefix: bytes = b"") -> None:
    """`size` bytes of incompressible, reproducible data (no two files alike), after `prefix`."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(prefix)
        left = size
        while left > 0:
            n = min(left, 4 * MiB)
            fh.write(rng.randbytes(n))
            left -= n


def write_random_safetensors(path: Path, size: int, seed: int) -> None:
    """A valid safetensors file holding one U8 tensor of `size` random bytes: artreg
    recognises model formats by their content, so a released "model" must be one."""
    header = json.dumps({"weights": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}})
    write_random_file(path, size, seed, prefix=len(header).to_bytes(8, "little") + header.encode())


def ec_private_key(path: Path) -> Path:
    """A fresh EC P-256 private key (PEM), to sign models with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def checkpoint_folder(folder: Path, total: int, files: int = 4, seed: int = 0) -> Path:
    """A training run's output: `files` checkpoints (best, latest, epoch_*) of `total` bytes."""
    names = ["best.pt", "latest.pt"] + [f"epoch_{10 * (i + 1)}.pt" for i in range(files - 2)]
    for i, name in enumerate(names[:files]):
        write_random_file(folder / name, total // files, seed * 1000 + i)
    return folder


def small_files_folder(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """`count` small files in subfolders of 100 (a sharded dataset-like checkpoint)."""
    rng = random.Random(seed)
    for i in range(count):
        path = folder / f"shard_{i // 100:03d}" / f"part_{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    return folder


def hf_folder(folder: Path, total: int, shards: int = 4, seed: int = 0) -> Path:
    """A Hugging Face-style model folder of `total` bytes: `shards` safetensors shards (one U8
    tensor each, a valid header, incompressible data), their index, config and tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    per = total // shards
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        tensor = f"layers.{i}.weight"
        header = json.dumps(
            {tensor: {"dtype": "U8", "shape": [per], "data_offsets": [0, per]}}
        ).encode()
        header += b" " * (-len(header) % 8)  # safetensors pads the header to 8 bytes
        rng = random.Random(seed * 1000 + i)
        with open(folder / name, "wb") as fh:
            fh.write(struct.pack("<Q", len(header)) + header)
            left = per
            while left > 0:
                n = min(left, 4 * MiB)
                fh.write(rng.randbytes(n))
                left -= n
        weight_map[tensor] = name
    index = {"metadata": {"total_size": per * shards}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (folder / "config.json").write_text(json.dumps({"model_type": "bench", "shards": shards}))
    (folder / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {}}))
    return folder


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --- 6. an S3 remote on a moto server, counting requests ------------------------------------


class RequestCounter:
    """WSGI middleware counting S3 requests by kind (object GET, HEAD, LIST, PUT, other)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.keys: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        key_request = path.strip("/").count("/") >= 1  # /bucket/key...
        if method == "GET" and key_request and not query.startswith("list"):
            kind = "GET object"
        elif method == "GET":
            kind = "LIST"
        else:
            kind = method
        with self.lock:
            self.counts[kind] += 1
            if kind == "GET object":
                self.keys.add(path)
        return self.app(environ, start_response)

    def take(self) -> Counter[str]:
        """The counts since the last call (with `objects`: distinct keys read), and reset."""
        with self.lock:
            counts, self.counts = self.counts, Counter()
            counts["objects"] = len(self.keys)
            self.keys = set()
        return counts


@contextmanager
def moto_s3(bucket: str) -> Iterator[tuple[str, RequestCounter]]:
    """A moto S3 server on 127.0.0.1 (random port) with one bucket; yields (endpoint, counter)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        counter = RequestCounter(server._server.app)  # type: ignore[union-attr]
        server._server.app = counter  # type: ignore[union-attr]
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket=bucket)
        counter.take()
        yield endpoint, counter
    finally:
        server.stop()


def write_endpoint(root: Path, endpoint: str) -> None:
    """Point the `local` remote at the moto endpoint, in the git-ignored .dvc/config.local."""
    (root / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    endpointurl = {endpoint}\n", encoding="utf-8"
    )
