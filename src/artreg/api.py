"""The Python API of the seed documents: ArtifactRepository and the artifact-hub functions."""

from __future__ import annotations

from pathlib import Path

from artreg.adapters.values import check_field
from artreg.errors import ArtregError, PolicyWeakened, RetractedPinWarning
from artreg.sources import warm_memo

# Not typing's: a warm `get_artifact_path` answered by warm_memo loads neither typing nor the
# read side's modules (they are imported where the full way starts). Type checkers treat any
# TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from typing import Any, Literal, overload

    from typing_extensions import TypedDict, Unpack

    from artreg.adapters.hashing import ProgressFn
    from artreg.artifacts.signing.keys import SigningKey
    from artreg.publishing.publish import Published
    from artreg.sources.base import RegistrySource

    class _ServeKeywords(TypedDict, total=False):
        """get_artifact_path's keyword options, for its two overloads (the implementation
        below names them with their defaults)."""

        remote: str | None
        remote_config: Mapping[str, str] | None
        lock: Path | str | None
        offline: bool | None
        verify: str
        cache_dir: Path | str | None
        as_of: str | datetime | None
        accept_policy_change: bool
        accept_moved_tag: bool


def find_root(path: Path | str | None = None) -> Path:
    """The registry root: `path` if given (it must exist), else the git repository around the
    current folder, else (only outside any repository) $ARTREG_REPO. See artreg.sources.location."""
    from artreg.sources import location

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
        from artreg.publishing.publish import PublishOptions

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
        from artreg.services.register import register_raw

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
        requires: Sequence[str] | None = None,
    ) -> Published:
        """Promote a checkpoint of a raw session to validated (gates, clean weights, model card);
        `requires=["base@v1.0.0"]` records the artifact versions it needs."""
        from artreg.services.validate import promote_to_validated

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
            requires=requires,
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
        sign_key: SigningKey | Path | str | None = None,
        model_signature: Path | str | None = None,
        requires: Sequence[str] | None = None,
    ) -> Published:
        """Release a validated artifact to production as `name@v<version>`; `sign_key` (an EC
        private key, PEM) signs its model as `model.sig` (needs `artreg[signing]`).
        `requires=["base@v1.0.0"]` (default: what the validated artifact recorded) must each be
        in production at a compatible version, or the release is refused (exit 1)."""
        from artreg.services.release import promote_to_production

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
            notes=None if notes is None else check_field(notes, "notes", "notes"),
            optimize=optimize,
            formats=formats,
            allow_non_monotonic=allow_non_monotonic,
            progress=progress,
            options=self.options,
            sign_key=sign_key,
            model_signature=model_signature,
            requires=requires,
        )


# --- the artifact-hub functions of the second seed ------------------------------------------


if TYPE_CHECKING:  # the overloads, for type checkers only (typing stays unloaded)

    @overload
    def get_artifact_path(
        name: str,
        stage: str | None = ...,
        version: str | None = ...,
        pull: bool = ...,
        repo: Path | str | None = ...,
        *,
        with_requirements: Literal[False] = ...,
        **options: Unpack[_ServeKeywords],
    ) -> Path: ...

    @overload
    def get_artifact_path(
        name: str,
        stage: str | None = ...,
        version: str | None = ...,
        pull: bool = ...,
        repo: Path | str | None = ...,
        *,
        with_requirements: Literal[True],
        **options: Unpack[_ServeKeywords],
    ) -> dict[str, Path]: ...


def get_artifact_path(
    name: str,
    stage: str | None = None,
    version: str | None = None,
    pull: bool = True,
    repo: Path | str | None = None,
    *,
    remote: str | None = None,
    remote_config: Mapping[str, str] | None = None,
    lock: Path | str | None = None,
    offline: bool | None = None,
    verify: str = "auto",
    cache_dir: Path | str | None = None,
    as_of: str | datetime | None = None,
    with_requirements: bool = False,
    accept_policy_change: bool = False,
    accept_moved_tag: bool = False,
) -> Path | dict[str, Path]:
    """Path of the model file (or model folder) of `name` (latest production by default),
    verified before use: every file of the folder.

    `repo` is a registry clone (default: the one around the cwd) or a registry URL, read without
    a clone into the machine's shared cache ($ARTREG_CACHE); a version whose tag was rewritten
    onto other bytes since this cache served it raises IntegrityError unless
    `accept_moved_tag=True`. `lock` serves exactly the bytes an `artreg.lock` pins, and only
    what it pins (else NotFoundError), with a RetractedPinWarning when the pinned version was
    since deregistered, unassigned, deprecated or retired; `offline` (or ARTREG_OFFLINE=1)
    answers from the cache alone. Unchanged files are trusted by their verification record;
    `verify="full"` rehashes. Raises
    IntegrityError, and never returns the path, when a file differs from its promoted sha256,
    or when params.yaml's trust policy requires a signature that is missing, invalid or untrusted.
    With `as_of` (a date, an ISO time, a datetime or a commit), resolves in a clone by the tags
    that existed then. With `with_requirements=True`, returns a mapping of name
    to verified path for `name` and everything it requires, transitively, each requirement at
    the production version that satisfies it, all resolved from one registry state; an unmet
    requirement or a cycle raises RequirementUnmet.

    A registry's trust policy only tightens under its consumers: one weaker than the one this
    machine applied before (a stage no longer requiring signatures, a key added or replaced,
    params.yaml gone) raises PolicyWeakened naming the change and its commit, unless
    `accept_policy_change=True` (or `artreg trust accept REGISTRY`) accepts it.
    """
    simple = (lock, remote, remote_config, as_of) == (None, None, None, None)
    memo = None
    both = stage is not None and version is not None  # refused the full way (check_spec)
    if simple and verify == "auto" and not with_requirements and not both:
        # The last full answer, kept with what proves it still stands (sources/warm_memo.py).
        kept, memo = warm_memo.look(repo, name, stage, version, cache_dir, offline)
        if kept is not None:
            return kept

    from artreg.sources.base import ServeOptions, check_verify

    options = ServeOptions(
        pull=pull,
        full=check_verify(verify),
        remote=remote,
        remote_config=remote_config,
        as_of=as_of,
        with_requirements=with_requirements,
        accept_moved_tag=accept_moved_tag,
    )

    def answer() -> Path | dict[str, Path]:
        source = _source(repo, lock, offline, cache_dir)
        served = source.serve(name, stage, version, options=options)
        if source.notes:
            import warnings

            # A lock's pin retracted since, or (offline) an answer as of the cache's last read.
            kind = RetractedPinWarning if source.kind == "lock" else UserWarning
            for note in source.notes:
                warnings.warn(note, kind, stacklevel=3)  # the caller's line
        if with_requirements:
            return {n: s.path for n, s in served.items()}
        if memo is not None and not source.notes:
            from artreg.sources import warm_keep

            warm_keep.keep(memo, source, next(iter(served.values())))
        return next(iter(served.values())).path

    try:
        return answer()
    except PolicyWeakened as refused:
        if not accept_policy_change:
            raise
        refused.accept()
    return answer()


def _source(
    repo: Path | str | None,
    lock: Path | str | None,
    offline: bool | None,
    cache_dir: Path | str | None,
) -> RegistrySource:
    """Where the registry is read from (sources.locate decides it), loaded when first needed."""
    from artreg.sources.locate import open_source

    return open_source(repo, lock=lock, offline=offline, cache_dir=cache_dir)


def verify_artifact(
    name: str,
    stage: str | None = "production",
    version: str | None = None,
    repo: Path | str | None = None,
    *,
    lock: Path | str | None = None,
    offline: bool | None = None,
    cache_dir: Path | str | None = None,
) -> bool:
    """True if every file of the artifact is present and matches its promoted sha256 (every
    byte rehashed). For a registry URL or a `lock` file's pin, the files are those in the
    cache; nothing is fetched."""
    try:
        source = _source(repo, lock, offline, cache_dir)
        return source.cached(name, None if version else stage, version)
    except ArtregError:
        return False


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
    sign_key: SigningKey | Path | str | None = None,
    requires: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Release a ready model file or model folder (distilled, LoRA, encoder, a Hugging Face
    snapshot...) as `model_type@v<version>`; `sign_key` (an EC private key, PEM) signs it as
    `model.sig`. A folder becomes the release's `model/` (`get_artifact_path` returns it).

    The release policy of `promote --to production` applies: the production gates of the
    committed params.yaml (`benchmarks=`, `resource_usage=`), the approval (`approved_by=` or
    ARTREG_APPROVED_BY) and a security review when required (`security_review=`); a refusal
    names the keyword to add. `requires=["base@v1.0.0"]` names the artifact versions it needs
    (a LoRA adapter's base model, a student's teacher), each in production at a compatible
    version (else exit 1). Returns the updated registry index, as the seed's function did.
    """
    from artreg.services.release import register_model_file

    root = find_root(repo)
    register_model_file(
        root,
        model_type,
        Path(file_path),
        version,
        notes=None if notes is None else check_field(notes, "notes", "notes"),
        benchmarks=benchmarks,
        resource_usage=resource_usage,
        approved_by=approved_by,
        security_review=security_review,
        sign_key=sign_key,
        requires=requires,
    )
    return load_registry(root)


def save_registry(data: Mapping[str, Any], repo: Path | str | None = None) -> None:
    """The seed's writer of registry.json, which artreg generates from tags and folders.

    Data equal to the generated index is written (a no-op when the file holds it already);
    any other data raises InputError naming each differing entry and the call that makes it.
    """
    from artreg.publishing import index

    index.save(find_root(repo), data)


def load_registry(repo: Path | str | None = None) -> dict[str, Any]:
    """artifacts/registry.json: every name with its latest production file, hash and stages."""
    from artreg.publishing import index

    return index.load(find_root(repo))
