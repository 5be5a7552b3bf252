"""The `source` fixture: one registry with released models, read from each place a consumer can
read it from (issue 25, item 5), as scmrepo's test suite runs one set of tests over every git
backend.

- "clone": a `git clone` of the registry's origin (no DVC data in it), addressed by its path;
- "file-url": the registry served bare, addressed as a file:// URL;
- "git-daemon": the same bare repository behind `git daemon` on 127.0.0.1, a git:// URL;
- "lock": an `artreg.lock` written by `artreg lock add` from the file:// URL, pinning every
  version the tests read.

Every source reads the same registry state: `Source.publish()` pushes what a test changed in
the registry's work tree to the origin, the served repository and the DVC remote, and brings
the clone up to date. Registered as a pytest plugin in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import RELEASE_INPUTS, CliResult, clone_repo, git, release, run_tool, serve
from helpers import git_daemon as serve_git_daemon

SOURCES = ["clone", "file-url", "git-daemon", "lock"]

ENCODER = "artifacts/production/encoder/v1.0.0"  # model.pt, from a training session
ADAPTER = "artifacts/production/adapter/v0.1.0"  # adapter.safetensors, requires encoder@v1.0.0
OLD = "artifacts/production/old/v1.0.0"  # old.safetensors, superseded by old@v2.0.0
# What the lock pins: every spec the suite reads (a lock serves only what it pins).
PINNED = ("encoder#production", "encoder@v1.0.0", "adapter#production", "old@v1.0.0",
          "old#production")  # fmt: skip


@dataclass
class Source:
    """One registry and where a consumer reads it from."""

    kind: str
    root: Path  # the registry's own work tree (where releases are made)
    origin: Path  # its bare origin (what the clone was cloned from)
    bare: Path  # the served bare repository (URL sources)
    storage: Path  # the DVC remote, a local folder
    where: str  # the clone's path, the URL, or the lock file's path
    cli: Callable[..., CliResult]
    clone: Path | None = None
    lock: Path | None = None
    models: dict[str, bytes] = field(default_factory=dict)  # folder -> the model's bytes

    @property
    def address(self) -> list[str]:
        """How a read command names this source: `--repo CLONE|URL`, or `--lock FILE`."""
        return ["--lock", self.where] if self.kind == "lock" else ["--repo", self.where]

    @property
    def api(self) -> dict[str, Any]:
        """The same, as get_artifact_path / verify_artifact keyword arguments."""
        return {"lock": self.where} if self.kind == "lock" else {"repo": self.where}

    def run(self, *args: str) -> CliResult:
        """`artreg ARGS... --repo WHERE` (or `--lock WHERE`), from a folder outside any clone."""
        return self.cli(*args, *self.address, cwd=self.root.parent)

    def publish(self) -> None:
        """Everything committed and tagged in the registry's work tree, where consumers read."""
        for target in (self.origin, self.bare):
            git(self.root, "push", "--quiet", "--force", str(target), "main", "--tags")
        run_tool("dvc", "push", "--quiet", cwd=self.root)
        if self.clone is not None:
            git(self.clone, "pull", "--quiet", "--ff-only", "origin", "main")
            git(self.clone, "fetch", "--quiet", "--tags", "--force", "origin")


def build_registry(root: Path, checkpoint_dir: Path, models: Path) -> dict[str, bytes]:
    """encoder v1.0.0 (raw, validated, production, from checkpoints), adapter v0.1.0
    requiring encoder@v1.0.0, old v1.0.0 and v2.0.0; all pushed to the DVC remote."""
    from artreg.services.release import register_model_file

    from helpers import tiny_safetensors

    release(root, "encoder", "s1", checkpoint_dir, "1.0.0")
    adapter = tiny_safetensors(models / "adapter" / "adapter.safetensors", 1, {"lora_A": (4, 8)})
    register_model_file(
        root, "adapter", adapter, "0.1.0", requires=["encoder@v1.0.0"], **RELEASE_INPUTS
    )
    for version, seed in (("1.0.0", 2), ("2.0.0", 3)):
        old = tiny_safetensors(models / f"old-{version}" / "old.safetensors", seed, {"w": (8, 8)})
        register_model_file(root, "old", old, version, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=root)
    return {
        ENCODER: (root / ENCODER / "model.pt").read_bytes(),
        ADAPTER: adapter.read_bytes(),
        OLD: (models / "old-1.0.0" / "old.safetensors").read_bytes(),
        "artifacts/production/old/v2.0.0": (models / "old-2.0.0" / "old.safetensors").read_bytes(),
    }


@pytest.fixture(params=SOURCES)
def source(
    request: pytest.FixtureRequest,
    registry: Path,
    bare_origin: Path,
    checkpoint_dir: Path,
    tmp_path: Path,
    cache: Path,
    cli: Callable[..., CliResult],
) -> Iterator[Source]:
    """The registry of `build_registry`, read from a clone, a file:// URL, a git daemon URL or
    a lock file (the fixture's parameter)."""
    kind: str = request.param
    models = build_registry(registry, checkpoint_dir, tmp_path / "models")
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    bare = serve(registry, tmp_path)
    src = Source(
        kind=kind,
        root=registry,
        origin=bare_origin,
        bare=bare,
        storage=registry / ".dvc-storage",
        where="",
        cli=cli,
        models=models,
    )
    if kind == "clone":
        src.clone = clone_repo(bare_origin, tmp_path / "consumer-clone")
        src.where = str(src.clone)
        yield src
    elif kind == "file-url":
        src.where = bare.as_uri()
        yield src
    elif kind == "git-daemon":
        with serve_git_daemon(tmp_path / "srv") as url:
            src.where = f"{url}/{bare.name}"
            yield src
    else:
        src.lock = tmp_path / "service" / "artreg.lock"
        src.lock.parent.mkdir()
        for spec in PINNED:
            added = cli("lock", "add", bare.as_uri(), spec, "--file", str(src.lock))
            assert added.exit_code == 0, added.stderr
        src.where = str(src.lock)
        yield src
