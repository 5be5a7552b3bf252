"""Releases to production: a validated artifact (`promote --to production`) or a ready model
file or folder (`register_artifact`, `artreg release`), both as `name@vX.Y.Z` plus
`name#production#N`, through the same release policy (`publishing.release_checks`) and
CHANGELOG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.adapters import schemas
from artreg.adapters.dvc.repo import RegistryDvc
from artreg.adapters.files import dump_json, read_yaml
from artreg.adapters.hashing import ProgressFn, check_single_file, regular_files
from artreg.artifacts.checkpoints import clean_checkpoint_bytes
from artreg.artifacts.formats import detect
from artreg.errors import InputError, NotFoundError
from artreg.publishing import modelfolder, promotion
from artreg.publishing.deployment import dockerfile, kubernetes
from artreg.publishing.merged_promotions import check_branch_approval
from artreg.publishing.modelcard import changelog
from artreg.publishing.modelfolder import SHA256_FILE
from artreg.publishing.names import resolve_name
from artreg.publishing.publish import Published, PublishOptions, actor, check_options, now_iso
from artreg.publishing.release_checks import ReleaseChecks, ReleaseInputs, check_release
from artreg.publishing.rights import check_promotion
from artreg.publishing.stagefolder import StageBuilder
from artreg.registry.documents import Metadata, ModelFile, ModelInfo, Source
from artreg.registry.formatnames import PYTORCH, FormatInfo
from artreg.registry.layout import MODEL_DIR, StageDir, model_target, production_dir, validated_dir
from artreg.registry.policy import Settings, approver, load_settings
from artreg.registry.records import Requirement
from artreg.registry.requirements import declared
from artreg.registry.tags import Action, validate_id, validate_semver

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from artreg.artifacts.signing.keys import SigningKey
    from artreg.artifacts.signing.sign import SignaturePlan


def _deployment(value: Mapping[str, Any] | Path | str | None) -> dict[str, Any]:
    """The deployment config: a dict, a YAML file or a JSON file, schema-checked."""
    if value is None:
        return {}
    if isinstance(value, (str, Path)) and str(value).endswith((".yaml", ".yml")):
        data = read_yaml(Path(value), "deployment config") or {}
        if not isinstance(data, dict):
            raise InputError(
                f"{value}: a deployment config must be a mapping", hint="use key: value lines"
            )
        schemas.validate(data, "deployment", str(value))
        return data
    return promotion.json_input(value, "deployment", "deployment config", "deployment_config")


def _write_release_inputs(builder: StageBuilder, checks: ReleaseChecks) -> None:
    """performance/*.json and security_review.json, as the policy accepted them."""
    if checks.benchmarks is not None:
        builder.write_text("performance/benchmarks.json", dump_json(checks.benchmarks))
    if checks.resource_usage is not None:
        builder.write_text("performance/resource_usage.json", dump_json(checks.resource_usage))
    if checks.security_review is not None:
        builder.write_text("security_review.json", dump_json(checks.security_review))


def _checked(
    root: Path,
    settings: Settings,
    name: str,
    version: str,
    inputs: ReleaseInputs,
    needs: tuple[Requirement, ...],
    options: PublishOptions | None,
) -> ReleaseChecks:
    """Who may release (params.yaml rights), then the release policy: refused here, before
    anything is built."""
    approved = approver(inputs.get("approved_by"))
    check_promotion(root, ["production"], sign=bool(options and options.sign), approved_by=approved)
    if options and options.branch:  # what `artreg tag` will refuse after the merge
        check_branch_approval(root, "production", approved)
    return check_release(root, settings, name, version, inputs, needs)


def promote_to_production(
    root: Path,
    name: str | None,
    validated_id: str,
    version: str,
    *,
    deployment_config: Mapping[str, Any] | Path | str | None = None,
    notes: str | None = None,
    optimize: str | None = None,
    formats: tuple[str, ...] = (),
    progress: ProgressFn | None = None,
    options: PublishOptions | None = None,
    fetch: bool = True,
    sign_key: SigningKey | Path | str | None = None,
    model_signature: Path | str | None = None,
    requires: Any = None,
    **inputs: Unpack[ReleaseInputs],
) -> Published:
    """Release a validated artifact as `<name>@v<version>`: gates, approval, deployment files.

    `requires` (`["base@v1.0.0", ...]`; default: what the validated artifact recorded) names
    the artifact versions it needs, each in production at a compatible version, or exit 1.

    With `sign_key` (an EC private key, or a SigningKey with a certificate), the model is signed
    in the OpenSSF model-signing format as `model.sig`; `model_signature` commits a bundle made
    elsewhere instead (it must sign the model file)."""
    # 1. Check everything first.
    check_options(options)
    settings = load_settings(root)
    name = resolve_name(root, name)
    vid = validate_id(validated_id, "validated id")
    version = validate_semver(version)
    if optimize not in (None, "fp16"):
        raise InputError(
            f"unknown optimisation {optimize!r}", hint="use --optimize fp16, or leave it out"
        )
    promotion.check_formats(formats)
    source = validated_dir(name, vid)
    committed = promotion.committed_source(root, source)
    manifest = committed.manifest
    if committed.metadata is None:
        raise NotFoundError(
            f"{source.relpath}: has no metadata.json", hint="promote from a validated artifact"
        )
    src_meta = committed.metadata
    needs = declared(requires, name, inherited=src_meta.requires)
    deploy = _deployment(deployment_config)
    checks = _checked(root, settings, name, version, inputs, needs, options)
    entry = production_dir(name, checks.version)
    model_src = src_meta.model.primary
    # Before the source is hashed: model_signing's import then overlaps that hashing.
    signature = promotion.signature_plan(root, "production", sign_key, model_signature)
    who = actor(root)
    planned: modelfolder.FolderPlan | None = None
    if model_target(source.stage, model_src.path) == MODEL_DIR:
        if optimize or formats:
            raise InputError(
                f"{source.relpath}/{MODEL_DIR}: --optimize/--format apply to one PyTorch model "
                "file, and this model is a folder",
                hint="leave them out; a folder's pickled weights became safetensors on validation",
            )
        # Copied, not read: hashed once, in the copy, and compared with the manifest there.
        planned = modelfolder.plan(
            promotion.committed_folder(
                root, source, manifest, MODEL_DIR, fetch=fetch, progress=progress
            ),
            f"{source.relpath}/{MODEL_DIR}",
        )
        model_path = None
    else:
        model_path = promotion.verified_file(
            root, source, model_src.path, manifest, fetch=fetch, progress=progress
        )

    # The validated folder recorded what its model holds, and model_path's sha256 matched it;
    # a folder validated before formats were detected from content is detected now.
    found = (
        None  # a folder: each weight file was checked by its content when the folder was read
        if model_path is None
        else FormatInfo(
            model_src.content_format, model_src.format_detail or model_src.content_format
        )
        if model_src.content_format
        else detect(model_path, display=f"{source.relpath}/{model_src.path}")
    )
    weights: dict[str, bytes] = {}
    tensors: dict[str, Any] = {}
    if optimize or formats:
        if found is None or found.name != PYTORCH:
            raise InputError(
                f"{source.relpath}/{model_src.path}: --optimize/--format need a PyTorch model, "
                f"and this one holds {found.name if found else 'a folder'}",
                hint="leave them out for ONNX, safetensors and GGUF models",
            )
        assert model_path is not None  # a folder was refused above
        for fmt in ("pt", *[f for f in formats if f != "pt"]):
            data, cleaned = clean_checkpoint_bytes(model_path, fmt, fp16=optimize == "fp16")
            weights[f"model.{fmt}"] = data
            tensors = cleaned.state_dict

    # 2. Build.
    builder = StageBuilder(root, entry, progress)
    try:
        layout = None
        if planned is not None:
            built = modelfolder.build(
                builder, planned, promotion.folder_digests(manifest, MODEL_DIR)
            )
            files, layout = built.files, built.layout
        elif weights:
            files = promotion.model_files(builder, weights, tensors)
        else:
            assert model_path is not None
            digest = builder.track_file(model_src.path, src=model_path)
            files = [ModelFile.named(model_src.path, digest.sha256, digest.size, found)]
            promotion.write_sha256_files(builder, files)
        if (source.path(root) / "config.yaml").is_file():
            builder.copy("config.yaml", source.path(root) / "config.yaml")
        _write_release_inputs(builder, checks)
        _deployment_files(builder, name, version, files, layout, deploy)
        metadata = _release_metadata(
            entry,
            who,
            source=Source(
                stage="validated",
                id=vid,
                path=source.relpath,
                sha256=model_src.sha256,
                checkpoint=src_meta.source.checkpoint,
                commit=src_meta.source.commit,
            ),
            training_curves=src_meta.training_curves,
            gates=checks.gates,
            params_commit=checks.params_commit,
            model=ModelInfo(
                files, src_meta.model.parameter_count, optimization=optimize, layout=layout
            ),
            approval=checks.approval,
            security_review=checks.security_review,
            notes=notes,
            deployment=deploy,
            requires=checks.requires,
            allow_non_monotonic=checks.allow_non_monotonic,
        )
        return _release(
            root,
            builder,
            metadata,
            checks.released,
            f"artreg: release {name} v{version} to production from {vid}",
            source.relpath,
            options,
            signature,
        )
    finally:
        builder.cleanup()


def _deployment_files(
    builder: StageBuilder,
    name: str,
    version: str,
    files: list[ModelFile],
    layout: dict[str, Any] | None,
    deploy: dict[str, Any],
) -> None:
    """deployment/: a Dockerfile that checks the model's sha256 (every file of a model
    folder), Kubernetes manifests pinned to it."""
    primary = files[0]
    builder.write_text(
        "deployment/docker/Dockerfile",
        dockerfile(name, version, primary.path, primary.sha256, deploy)
        if layout is None
        else dockerfile(name, version, MODEL_DIR, primary.sha256, deploy, SHA256_FILE),
    )
    for fname, text in kubernetes(name, version, primary.sha256, deploy, primary.detected).items():
        builder.write_text(f"deployment/kubernetes/{fname}", text)


def _release_metadata(entry: StageDir, who: str, **fields: Any) -> Metadata:
    """metadata.json of the release in `entry`; `fields` are the parts that differ by path."""
    return Metadata(
        stage="production",
        name=entry.name,
        id=entry.entry,
        version=entry.entry.removeprefix("v"),
        created_at=now_iso(),
        created_by=who,
        **fields,
    )


def _release(
    root: Path,
    builder: StageBuilder,
    metadata: Metadata,
    released: list[str],
    title: str,
    source: str,
    options: PublishOptions | None,
    signature: SignaturePlan | None = None,
) -> Published:
    """Complete a production folder (CHANGELOG carried forward) and publish it with its two
    tags, `name@vX.Y.Z` and `name#production#N`."""
    entry = builder.entry
    previous = _previous_changelog(root, entry, released)
    builder.write_text("CHANGELOG.md", changelog(previous, metadata.to_json()))
    version = entry.entry.removeprefix("v")
    return promotion.finish(
        root,
        builder,
        metadata,
        [(Action.REGISTER, None, version), (Action.ASSIGN, "production", None)],
        title,
        source,
        options,
        signature,
    )


def _previous_changelog(root: Path, entry: StageDir, released: list[str]) -> str | None:
    for version in reversed(released):
        path = production_dir(entry.name, version).path(root) / "CHANGELOG.md"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def register_model_file(
    root: Path,
    name: str | None,
    file_path: Path,
    version: str,
    *,
    notes: str | None = None,
    options: PublishOptions | None = None,
    sign_key: SigningKey | Path | str | None = None,
    progress: ProgressFn | None = None,
    requires: Any = None,
    model_signature: Path | str | None = None,
    **inputs: Unpack[ReleaseInputs],
) -> Published:
    """Release a ready model file or model folder (no training session behind it) as
    `name@v<version>`, under the same release policy as `promote --to production` (gates,
    security review, approval, `requires` in production). A folder becomes `model/`, its
    layout checked. `sign_key` signs it, or `model_signature` commits a bundle made elsewhere."""
    check_options(options)
    settings = load_settings(root)
    name = resolve_name(root, name)
    version = validate_semver(version)
    needs = declared(requires, name)
    folder = file_path.is_dir()
    if folder:
        validate_id(file_path.name, "model folder name")
    elif file_path.is_file():
        check_single_file(file_path)
        validate_id(file_path.name, "model file name")
    else:
        raise InputError(f"{file_path}: model file or folder not found", hint="check the path")
    checks = _checked(root, settings, name, version, inputs, needs, options)
    if folder:
        signing = (sign_key, model_signature)
        return _register_folder(root, name, file_path, checks, notes, options, signing, progress)
    # By content, before a byte is copied (a refusal leaves not even a DVC cache object): a
    # TorchScript archive or a pickle named .onnx is refused; a torch.save file, whatever its
    # name, is loaded with weights_only=True as proof that it holds only tensors and data.
    found = detect(file_path)
    signature = promotion.signature_plan(root, "production", sign_key, model_signature)
    builder = StageBuilder(root, production_dir(name, checks.version), progress)
    try:
        digest = builder.track_file(file_path.name, src=file_path)
        model = ModelFile.named(file_path.name, digest.sha256, digest.size, found)
        promotion.write_sha256_files(builder, [model])
        source = Source(
            stage="external", id=file_path.name, path=str(file_path.resolve()), sha256=digest.sha256
        )
        return _release_ready(
            root, builder, checks, source, ModelInfo([model]), notes, options, signature
        )
    finally:
        builder.cleanup()


def _register_folder(
    root: Path,
    name: str,
    folder: Path,
    checks: ReleaseChecks,
    notes: str | None,
    options: PublishOptions | None,
    signing: tuple[SigningKey | Path | str | None, Path | str | None],
    progress: ProgressFn | None,
) -> Published:
    """`register_model_file` of a model folder: what `dvc add` would track of it (DVC's ignore
    rules), its layout and weight indexes checked, copied and hashed in one pass as `model/`."""
    entry = production_dir(name, checks.version)
    dvc = RegistryDvc.open(root)
    promotion.check_source_outside_registry(root, folder, dvc)
    out = entry.path(root) / MODEL_DIR
    dvc.check_output(out, is_dir=True)
    view = dvc.folder_filter(out, folder)
    found = regular_files(folder, keep=view)
    if not found:
        raise InputError(f"{folder}: the model folder is empty", hint="pass the model's folder")
    planned = modelfolder.plan({p.relative_to(folder).as_posix(): p for p in found}, str(folder))
    signature = promotion.signature_plan(root, "production", *signing)
    builder = StageBuilder(root, entry, progress, dvc=dvc)
    try:
        built = modelfolder.build(builder, planned)
        source = Source(stage="external", id=folder.name, path=str(folder.resolve()))
        model = ModelInfo(built.files, layout=built.layout)
        return _release_ready(root, builder, checks, source, model, notes, options, signature)
    finally:
        builder.cleanup()


def _release_ready(
    root: Path,
    builder: StageBuilder,
    checks: ReleaseChecks,
    source: Source,
    model: ModelInfo,
    notes: str | None,
    options: PublishOptions | None,
    signature: SignaturePlan | None,
) -> Published:
    """The release of a ready model file or folder, once its model is in `builder`: the release
    inputs, metadata, CHANGELOG, commit and both tags."""
    _write_release_inputs(builder, checks)
    metadata = _release_metadata(
        builder.entry,
        actor(root),
        source=source,
        gates=checks.gates,
        params_commit=checks.params_commit,
        model=model,
        approval=checks.approval,
        security_review=checks.security_review,
        notes=notes,
        requires=checks.requires,
        allow_non_monotonic=checks.allow_non_monotonic,
    )
    kind = "folder " if model.layout else ""
    return _release(
        root,
        builder,
        metadata,
        checks.released,
        f"artreg: register {builder.entry.name} {builder.entry.entry} from {kind}{source.id}",
        str(source.path),
        options,
        signature,
    )
