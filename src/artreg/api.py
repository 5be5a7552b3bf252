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
        from artreg.register import register_raw

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

    def promote_to_validated(
        self,
        session_id: str,
        checkpoint_name: str,
        validation_results: Mapping[str, Any] | Path | str,
        *,
        name: str | None = None,
        validated_id: str | None = None,
        formats: tuple[str, ...] = ("pt",),
        progress: ProgressFn | None = None,
    ) -> Published:
        """Promote a checkpoint of a raw session to validated (gates, clean weights, model card)."""
        from artreg.promote import promote_to_validated

        return promote_to_validated(
            self.root,
            name or self.name,
            session_id,
            checkpoint_name,
            validation_results,
            validated_id=validated_id,
            formats=formats,
            progress=progress,
            wait=self.wait,
        )

    def promote_to_production(
        self,
        validated_id: str,
        version: str,
        deployment_config: Mapping[str, Any] | Path | str | None = None,
        *,
        name: str | None = None,
        benchmarks: Mapping[str, Any] | Path | str | None = None,
        resource_usage: Mapping[str, Any] | Path | str | None = None,
        approved_by: str | None = None,
        security_review: Mapping[str, Any] | Path | str | None = None,
        notes: str | None = None,
        optimize: str | None = None,
        formats: tuple[str, ...] = (),
        allow_non_monotonic: bool = False,
        progress: ProgressFn | None = None,
    ) -> Published:
        """Release a validated artifact to production as `name@v<version>`."""
        from artreg.promote import promote_to_production

        return promote_to_production(
            self.root,
            name or self.name,
            validated_id,
            version,
            deployment_config=deployment_config,
            benchmarks=benchmarks,
            resource_usage=resource_usage,
            approved_by=approved_by,
            security_review=security_review,
            notes=notes,
            optimize=optimize,
            formats=formats,
            allow_non_monotonic=allow_non_monotonic,
            progress=progress,
            wait=self.wait,
        )
