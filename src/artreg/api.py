"""The Python API of the seed documents: ArtifactRepository and the artifact-hub functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from artreg import location
from artreg.hashing import ProgressFn
from artreg.publish import Published, PublishOptions


def find_root(path: Path | str | None = None) -> Path:
    """The registry root: `path` if given (it must exist), else the git repository around the
    current folder, else (only outside any repository) $ARTREG_REPO. See artreg.location."""
    return location.find_root(path)


class ArtifactRepository:
    """A registry repo, addressed by its artifacts folder or any path inside it (default: the
    repository around the current folder, as the CLI finds it)."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        name: str | None = None,
        wait: float = 0.0,
        sign: bool = False,
        branch: str | None = None,
    ) -> None:
        self.root = find_root(path)
        self.name = name
        self.options = PublishOptions(sign=sign, wait=wait, branch=branch)

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
        from artreg.features.register import register_raw

        return register_raw(
            self.root,
            name or self.name,
            session_id,
            checkpoint_dir,
            config=config,
            metrics=metrics,
            log=log,
            progress=progress,
            options=self.options,
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
        from artreg.features.promote import promote_to_validated

        return promote_to_validated(
            self.root,
            name or self.name,
            session_id,
            checkpoint_name,
            validation_results,
            validated_id=validated_id,
            formats=formats,
            progress=progress,
            options=self.options,
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
        from artreg.features.release import promote_to_production

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
            options=self.options,
        )


# --- the artifact-hub functions of the second seed ------------------------------------------


def get_artifact_path(
    name: str,
    stage: str | None = "production",
    version: str | None = None,
    pull: bool = True,
    repo: Path | str | None = None,
    as_of: str | datetime | None = None,
) -> Path:
    """Path of the model file of `name` (latest production by default), verified before use.

    Pulls the bytes if they are absent (with `pull=True`); raises IntegrityError, and never
    returns the path, when any file of the artifact differs from its promoted sha256. With
    `as_of` (a date, an ISO time, a datetime or a commit), resolves by the tags that existed then.
    """
    from artreg.features import fetch

    root = find_root(repo)
    registry = None
    if as_of is not None:
        from artreg.features.history import load_as_of
        from artreg.tags import validate_name

        registry, _ = load_as_of(root, as_of, [validate_name(name)])
    resolved = fetch.resolve(
        root, name, stage=None if version else stage, version=version, registry=registry
    )
    if pull:
        fetch.pull(root, resolved)
    else:
        fetch.verify(root, resolved)
    return root / resolved.model


def verify_artifact(
    name: str,
    stage: str | None = "production",
    version: str | None = None,
    repo: Path | str | None = None,
) -> bool:
    """True if every file of the artifact is present and matches its promoted sha256."""
    from artreg.errors import ArtregError
    from artreg.features import fetch

    try:
        root = find_root(repo)
        resolved = fetch.resolve(root, name, stage=None if version else stage, version=version)
        fetch.verify(root, resolved)
    except ArtregError:
        return False
    return True


def register_artifact(
    model_type: str,
    file_path: Path | str,
    version: str,
    *,
    repo: Path | str | None = None,
    notes: str | None = None,
    benchmarks: Mapping[str, Any] | Path | str | None = None,
    resource_usage: Mapping[str, Any] | Path | str | None = None,
    approved_by: str | None = None,
    security_review: Mapping[str, Any] | Path | str | None = None,
) -> dict[str, Any]:
    """Release a ready model file (distilled, LoRA, encoder...) as `model_type@v<version>`.

    The release policy of `promote --to production` applies: the production gates of the
    committed params.yaml (`benchmarks=`, `resource_usage=`), the approval (`approved_by=` or
    ARTREG_APPROVED_BY) and a security review when required (`security_review=`); a refusal
    names the keyword to add. Returns the updated registry index, as the seed's function did.
    """
    from artreg import index
    from artreg.features.release import register_model_file

    root = find_root(repo)
    register_model_file(
        root,
        model_type,
        Path(file_path),
        version,
        notes=notes,
        benchmarks=benchmarks,
        resource_usage=resource_usage,
        approved_by=approved_by,
        security_review=security_review,
    )
    return index.load(root)


def save_registry(data: Mapping[str, Any], repo: Path | str | None = None) -> None:
    """The seed's writer of registry.json, which artreg generates from tags and folders.

    Data equal to the generated index is written (a no-op when the file holds it already);
    any other data raises InputError naming each differing entry and the call that makes it.
    """
    from artreg import index

    index.save(find_root(repo), data)


def load_registry(repo: Path | str | None = None) -> dict[str, Any]:
    """artifacts/registry.json: every name with its latest production file, hash and stages."""
    from artreg import index

    return index.load(find_root(repo))
