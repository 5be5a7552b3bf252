"""Helpers shared by the tests (fixtures live in conftest.py): git, snapshots taken before and
after a refused command, running console scripts, cloning, pausing at a fault point, and the
whole lifecycle of one release."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent
ARTREG = str(BIN / "artreg")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def set_params(root: Path, message: str, **sections: object) -> None:
    """Replace these top-level sections of params.yaml and commit the change (`git commit -am`)."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.update(sections)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "commit", "--quiet", "-am", message)


def ref_line(tag: str, commit: str, date: int, message: str = "", kind: str = "tag") -> str:
    """One tag as `git for-each-ref --format=state.FOR_EACH_REF_FORMAT` prints it, for
    building a registry state without git (`kind="commit"`: a lightweight tag)."""
    peeled = commit if kind == "tag" else ""
    obj = "f" * 40 if kind == "tag" else commit
    fields = [kind, tag, obj, peeled, str(date), "Ann", "<ann@example.com>", message]
    return "\x1e" + "\x00".join(fields)


@dataclass(frozen=True)
class Snapshot:
    """What must be exactly as before after a refused command."""

    status: str
    tags: str
    head: str
    pointers: tuple[str, ...]
    files: tuple[str, ...]


def snapshot(root: Path) -> Snapshot:
    return Snapshot(
        status=git(root, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        tags=git(root, "for-each-ref", "refs/tags", "--format=%(refname) %(objectname)"),
        head=git(root, "rev-parse", "HEAD"),
        pointers=tuple(sorted(str(p.relative_to(root)) for p in root.rglob("*.dvc"))),
        files=tuple(
            sorted(str(p.relative_to(root)) for p in (root / "artifacts").rglob("*") if p.is_file())
        ),
    )


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


def run_tool(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a console script of this environment (gto, dvc, artreg) as a separate process."""
    exe = BIN / args[0]
    return subprocess.run(
        [str(exe), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ},
    )


def clone_repo(origin: Path, target: Path) -> Path:
    """`git clone` with every tag, as a teammate's or a service's checkout."""
    subprocess.run(["git", "clone", "--quiet", str(origin), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "fetch", "--quiet", "--tags"], check=True)
    return target


def _as_a_shell_starts_a_job() -> None:
    """SIGINT at its default and not blocked in the child, as a shell starts a foreground job:
    a library used in-process by an earlier test of this worker can leave SIGINT ignored, which
    a child inherits (and Python then never raises KeyboardInterrupt), so a Ctrl-C test would
    wait for an interrupt that cannot arrive."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def start_paused(args: list[str], cwd: Path, where: str, marker: Path) -> subprocess.Popen[bytes]:
    """Start `artreg ARGS` and return once it stands still at fault point `where`."""
    import time

    env = {**os.environ, "CI": "true", "ARTREG_PAUSE_AT": where, "ARTREG_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        [ARTREG, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_as_a_shell_starts_a_job,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), f"never reached {where}: {proc.communicate()}"
    return proc


RELEASE_INPUTS = {
    "benchmarks": EXAMPLES / "benchmarks.json",
    "resource_usage": EXAMPLES / "resource_usage.json",
    "approved_by": "rm",
}
# The same inputs as `artreg promote --to production` options.
RELEASE_ARGS = (
    "--benchmarks",
    str(EXAMPLES / "benchmarks.json"),
    "--resources",
    str(EXAMPLES / "resource_usage.json"),
    "--approved-by",
    "rm",
)


def validate_args(name: str, session: str, checkpoint: str, *extra: str) -> list[str]:
    """`artreg promote NAME SESSION --to validated --checkpoint CKPT` with the example results."""
    results = str(EXAMPLES / "validation_results.json")
    return ["promote", name, session, "--to", "validated", "--checkpoint", checkpoint,
            "--results", results, *extra]  # fmt: skip


def release(root: Path, name: str, session: str, ckpt: Path, version: str) -> str:
    """The whole lifecycle for one session: register raw, validate `best`, release `version`.

    Returns the release commit."""
    from artreg.services.register import register_raw
    from artreg.services.release import promote_to_production
    from artreg.services.validate import promote_to_validated

    register_raw(root, name, session, ckpt)
    vid = promote_to_validated(root, name, session, "best", EXAMPLES / "validation_results.json").id
    return promote_to_production(root, name, vid, version, **RELEASE_INPUTS).commit


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Flip one bit of a file (in the middle by default). The file is written anew, so a
    work-tree copy linked to the DVC cache (which DVC leaves read-only) leaves the cache as
    it was, and a cache object itself is simply replaced."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.unlink()
    path.write_bytes(bytes(data))


def tiny_safetensors(path: Path, seed: int, shapes: dict[str, tuple[int, ...]]) -> Path:
    """A real safetensors file of float32 tensors (e.g. a LoRA adapter's `lora_A`/`lora_B`),
    written with the `safetensors` package; `seed` makes the bytes differ per model."""
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}, path)
    return path


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/registry"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def configure(self, root: Path) -> None:
        """Point the registry's remote at this server: endpoint in the untracked config.local."""
        (root / ".dvc" / "config.local").write_text(
            f"['remote \"local\"']\n    endpointurl = {self.endpoint}\n"
        )


# --- a registry served to consumers without a clone -----------------------------------------


def serve(root: Path, tmp_path: Path) -> Path:
    """A bare copy of `root` at tmp_path/srv/registry.git, filters allowed as on GitHub/GitLab."""
    bare = tmp_path / "srv" / "registry.git"
    bare.parent.mkdir(exist_ok=True)
    subprocess.run(["git", "clone", "--bare", "--quiet", str(root), str(bare)], check=True)
    git(bare, "config", "uploadpack.allowFilter", "true")
    return bare


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """`git daemon` on 127.0.0.1 exporting `base`; yields its git:// base URL."""
    base.mkdir(exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            f"--base-path={base}",
            "--export-all",
            f"--port={port}",
            "--listen=127.0.0.1",
            "--informative-errors",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "git daemon did not start"
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
