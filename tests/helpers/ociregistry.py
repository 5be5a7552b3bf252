"""A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution registry)
on 127.0.0.1 with a free port and its storage in a temporary folder, and `skopeo` (Debian's) as
the independent client that reads what artreg wrote. Neither is skipped when missing: `.ci/run`
installs both, and a test that cannot reach them fails."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from helpers import free_port

CONFIG = """\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""

# distribution logs every request it answers; a finished blob upload is the PUT that carries
# the digest (monolithic, or the last request of a chunked upload).
_UPLOAD = re.compile(r'"PUT (/v2/\S+/blobs/uploads/\S*digest=sha256(?::|%3A)([0-9a-f]{64})\S*)')


@dataclass(frozen=True)
class OciRegistry:
    host: str  # 127.0.0.1:PORT
    storage: Path
    log: Path

    def uploads(self) -> list[str]:
        """The sha256 of every blob upload the registry completed so far, in order."""
        return [m.group(2) for m in _UPLOAD.finditer(self.log.read_text(errors="replace"))]

    def mark(self) -> int:
        """How many uploads happened so far (compare with `uploads()[mark:]` later)."""
        return len(self.uploads())


def require(tool: str) -> str:
    """The path of `tool`; fails (never skips) when it is missing."""
    path = shutil.which(tool) or (f"/usr/bin/{tool}" if Path(f"/usr/bin/{tool}").exists() else None)
    assert path, f"{tool} is not installed: `.ci/run` installs it (apt-get install {tool})"
    return path


@contextlib.contextmanager
def docker_registry(base: Path, htpasswd: Path | None = None) -> Iterator[OciRegistry]:
    """`docker-registry serve` on 127.0.0.1 storing under `base`; yields it once it answers.
    With `htpasswd` (bcrypt entries), every request needs basic authentication."""
    binary = require("docker-registry")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = base / "config.yml"
    text = CONFIG.format(storage=base / "storage", port=port)
    if htpasswd is not None:
        text += f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
    config.write_text(text)
    log = base / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as resp:
                    assert resp.status == 200
                break
            except urllib.error.HTTPError as exc:  # 401: up, and asking for credentials
                assert exc.code == 401 and htpasswd is not None, exc
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, (
                    f"docker-registry did not start: {log.read_text()}"
                )
                time.sleep(0.05)
        yield OciRegistry(f"127.0.0.1:{port}", base / "storage", log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run skopeo without TLS verification against the loopback registry."""
    return subprocess.run(
        [require("skopeo"), *args], capture_output=True, text=True, check=check, timeout=120
    )
