"""The Python API of the seed documents: ArtifactRepository and the artifact-hub functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from artreg import gitrepo
from artreg.hashing import ProgressFn
from artreg.publish import Published


def find_root(path: Path | str | None = None) -> Path:
    """The registry root: the git top level of `path` (or of the current folder)."""
    start = Path(path) if path is not None else Path.cwd()
    while not start.exists() and start != start.parent:
        start = start.parent
    return gitrepo.toplevel(start.resolve())


class ArtifactRepository:
    """A registry repo, addressed by its artifacts folder or any path inside it."""

    def __init__(
        self, path: Path | str = "artifacts", *, name: str | None = None, wait: float = 0.0
    ) -> None:
        self.root = find_root(path)
        self.name = name
        self.wait = wait

    def register_training_session(
        self,
        session_id: str,
        checkpoint_dir: Path | str,
        config: Mapping[str, Any] | Path | str | None = None,
        metrics: Mapping[str, Any] | Sequence[Path | str] | None = None,
        *,
        name: str | None = None,
        log: Path | str | None = None,
        progress: ProgressFn | None = None,
    ) -> Published:
        """Register a training session's checkpoints, config and metrics as a raw artifact."""
        from artreg.promote import register_raw

        return register_raw(
            self.root,
            name or self.name,
            session_id,
            checkpoint_dir,
            config=config,
            metrics=metrics,
            log=log,
            progress=progress,
            wait=self.wait,
        )
