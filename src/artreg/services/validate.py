"""raw → validated: the gates of params.yaml met by the validation results, the checkpoint's
weights cleaned (or a checkpoint folder's layout checked), a model card; one commit and tag.

What every promotion shares is in `publishing.promotion`; the release to production is
`services.release`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.adapters import schemas
from artreg.adapters.files import dump_json, read_json
from artreg.adapters.hashing import ProgressFn
from artreg.artifacts import hflayout
from artreg.artifacts.checkpoints import clean_checkpoint_bytes
from artreg.artifacts.formats import detect
from artreg.errors import ConflictError, InputError, NotFoundError
from artreg.publishing import modelfolder, promotion
from artreg.publishing.charts import CHART_NAME
from artreg.publishing.names import resolve_name
from artreg.publishing.publish import Published, PublishOptions, actor, check_options, now_iso
from artreg.publishing.rights import check_promotion
from artreg.publishing.stagefolder import StageBuilder
from artreg.registry.documents import GateResult, Manifest, Metadata, ModelFile, ModelInfo, Source
from artreg.registry.formatnames import PYTORCH, SUFFIXES
from artreg.registry.layout import StageDir, raw_dir, validated_dir
from artreg.registry.policy import check_gates, load_settings
from artreg.registry.records import Requirement
from artreg.registry.requirements import declared
from artreg.registry.tags import Action, validate_id

if TYPE_CHECKING:
    from artreg.artifacts.signing.keys import SigningKey
    from artreg.artifacts.signing.sign import SignaturePlan


def _results(
    validation_results: Mapping[str, Any] | Path | str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged metrics for the gates, and the files to keep under validation/ (name → text)."""
    if isinstance(validation_results, Mapping):
        data = promotion.json_input(
            validation_results, "validation_results", "validation results", "validation_results"
        )
        return data, {"test_results.json": dump_json(data)}
    path = Path(validation_results)
    paths = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if path.is_dir() and not paths:
        raise InputError(
            f"{path}: no *.json validation results in the folder", hint="add the result files"
        )
    merged: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for file in paths:
        data = read_json(file, "validation results")
        if not isinstance(data, dict):
            raise InputError(
                f"{file}: validation results must be a JSON object", hint="wrap them in {}"
            )
        for key, value in data.items():
            if key in merged and merged[key] != value:
                raise InputError(
                    f"{file}: /{key} is {value!r} here but {merged[key]!r} in another results file",
                    hint="give each metric once",
                )
            merged[key] = value
        merged.setdefault(file.stem, data)
        texts[file.name] = file.read_text(encoding="utf-8")
    schemas.validate(merged, "validation_results", str(path))
    return merged, texts


def find_checkpoint(manifest: Manifest, checkpoint: str, folder: StageDir) -> str:
    """Manifest path of a checkpoint named `epoch_70`, `epoch_70.pt` or `checkpoints/epoch_70.pt`,
    or of a checkpoint folder (`hf_model`, `checkpoints/hf_model`: not in the manifest itself,
    its files are)."""
    candidates = [rel for rel in manifest.files if rel.startswith("checkpoints/")]
    for rel in candidates:
        inner = rel.removeprefix("checkpoints/")
        if checkpoint in (rel, inner) or (Path(inner).stem == checkpoint and "/" not in inner):
            if Path(rel).name == "manifest.json":
                break
            return str(rel)
    sub = "checkpoints/" + checkpoint.removeprefix("checkpoints/").strip("/")
    if sub != "checkpoints/" and any(rel.startswith(f"{sub}/") for rel in candidates):
        return sub
    names = sorted(
        {
            Path(r).stem if r.count("/") == 1 else r.split("/")[1] + "/"
            for r in candidates
            if r != "checkpoints/manifest.json"
        }
    )
    raise NotFoundError(
        f"{folder.relpath}: no checkpoint named {checkpoint!r}",
        hint=f"choose one of: {', '.join(names)}",
    )


def promote_to_validated(
    root: Path,
    name: str | None,
    session_id: str,
    checkpoint: str,
    validation_results: Mapping[str, Any] | Path | str,
    *,
    validated_id: str | None = None,
    formats: tuple[str, ...] = ("pt",),
    progress: ProgressFn | None = None,
    options: PublishOptions | None = None,
    fetch: bool = True,
    sign_key: SigningKey | Path | str | None = None,
    model_signature: Path | str | None = None,
    requires: Any = None,
) -> Published:
    """Promote one checkpoint of a raw session: gates, clean weights, model card; commit + tag.
    With `sign_key`, the model is signed as `model.sig` (see `release.promote_to_production`);
    `requires` (`["base@v1.0.0"]`) records what it needs, carried to its production release."""
    # 1. Check everything first.
    check_options(options)
    settings = load_settings(root)
    name = resolve_name(root, name)
    needs = declared(requires, name)
    session_id = validate_id(session_id, "session id")
    validate_id(checkpoint.replace("/", "_"), "checkpoint name")
    vid = validate_id(
        validated_id or f"{session_id}_{Path(checkpoint).stem}_validated", "validated id"
    )
    promotion.check_formats(formats)
    raw = raw_dir(name, session_id)
    entry = validated_dir(name, vid)
    if entry.path(root).exists():
        raise ConflictError(
            f"{entry.relpath}: exists already",
            hint="choose another --id; promoted folders are immutable",
        )
    manifest = promotion.committed_source(root, raw).manifest
    ckpt_rel = find_checkpoint(manifest, checkpoint, raw)
    metrics, result_texts = _results(validation_results)
    results = check_gates(
        settings,
        "validated",
        name,
        metrics,
        "add them to the validation results (validation_results=..., --results)",
    )
    check_promotion(root, ["validated"], sign=bool(options and options.sign))  # rights
    signature = promotion.signature_plan(root, "validated", sign_key, model_signature)
    validation = _Validation(
        raw=raw,
        ckpt_rel=ckpt_rel,
        manifest=manifest,
        entry=entry,
        who=actor(root),
        title=f"artreg: promote {name} {session_id}/{ckpt_rel} to validated as {vid}",
        gates=results,
        params_commit=settings.commit,
        result_texts=result_texts,
        options=options,
        signature=signature,
        requires=needs,
    )
    if ckpt_rel not in manifest.files:  # a checkpoint folder
        return _promote_folder(root, validation, fetch=fetch, progress=progress)
    ckpt_path = promotion.verified_file(
        root, raw, ckpt_rel, manifest, fetch=fetch, progress=progress
    )
    # The content says the format, not the name (ckpt_path may be a DVC cache object, which
    # has none). A PyTorch checkpoint is not loaded here: cleaning loads it, weights_only.
    found = detect(ckpt_path, load_pytorch=False, display=f"{raw.relpath}/{ckpt_rel}")

    parameter_count: int | None = None
    dropped: list[str] = []
    weights: dict[str, bytes] = {}
    tensors: dict[str, Any] = {}
    if found.name == PYTORCH:
        for fmt in ("pt", *[f for f in formats if f != "pt"]):
            data, cleaned = clean_checkpoint_bytes(ckpt_path, fmt)
            weights[f"model.{fmt}"] = data
            parameter_count, dropped = cleaned.parameter_count, cleaned.dropped_keys
            tensors = cleaned.state_dict

    # 2. Build.
    builder = StageBuilder(root, entry, progress)
    try:
        if weights:
            files = promotion.model_files(builder, weights, tensors)
        else:
            fname = f"model{SUFFIXES[found.name]}"  # named for what it holds
            digest = builder.track_file(fname, src=ckpt_path)
            files = [ModelFile.named(fname, digest.sha256, digest.size, found)]
            promotion.write_sha256_files(builder, files)
        model = ModelInfo(files, parameter_count, dropped_training_state=dropped)
        return _commit(root, builder, validation, model)
    finally:
        builder.cleanup()


@dataclass(frozen=True)
class _Validation:
    """What a promotion to validated settled before it builds, the same for a checkpoint file
    and a checkpoint folder: source, destination, gates, commit title and publish options."""

    raw: StageDir
    ckpt_rel: str
    manifest: Manifest
    entry: StageDir
    who: str
    title: str
    gates: list[GateResult]
    params_commit: str | None
    result_texts: dict[str, str]
    options: PublishOptions | None
    signature: SignaturePlan | None
    requires: tuple[Requirement, ...]


def _commit(root: Path, builder: StageBuilder, v: _Validation, model: ModelInfo) -> Published:
    """The validated folder's config, validation results and metadata.json beside its built
    model, then its one commit and tag."""
    _validation_files(root, builder, v.raw, v.result_texts)
    metadata = Metadata(
        stage="validated",
        name=v.entry.name,
        id=v.entry.entry,
        created_at=now_iso(),
        created_by=v.who,
        source=_raw_source(v.raw, v.ckpt_rel, v.manifest),
        training_curves=_curves(v.raw, v.manifest),
        gates=v.gates,
        params_commit=v.params_commit,
        model=model,
        requires=v.requires,
    )
    return promotion.finish(
        root,
        builder,
        metadata,
        [(Action.ASSIGN, "validated", None)],
        v.title,
        v.raw.relpath,
        v.options,
        v.signature,
    )


def _raw_source(raw: StageDir, ckpt_rel: str, manifest: Manifest) -> Source:
    """The raw session a validated artifact comes from (a folder checkpoint has no one sha256)."""
    record = manifest.files.get(ckpt_rel)
    return Source(
        stage="raw",
        id=raw.entry,
        path=raw.relpath,
        checkpoint=ckpt_rel,
        sha256=record.sha256 if record else None,
        commit=manifest.training_code.get("commit"),
    )


def _curves(raw: StageDir, manifest: Manifest) -> str | None:
    chart = f"metrics/{CHART_NAME}"
    return f"{raw.relpath}/{chart}" if chart in manifest.files else None


def _validation_files(
    root: Path, builder: StageBuilder, raw: StageDir, result_texts: dict[str, str]
) -> None:
    """The session's config.yaml and the validation results, beside the model."""
    if (raw.path(root) / "config.yaml").is_file():
        builder.copy("config.yaml", raw.path(root) / "config.yaml")
    for fname, text in result_texts.items():
        builder.write_text(f"validation/{fname}", text)


def _promote_folder(
    root: Path, v: _Validation, *, fetch: bool, progress: ProgressFn | None
) -> Published:
    """raw → validated for a checkpoint folder: its layout and indexes checked, pickled
    weights cleaned to safetensors, every other file copied as it is."""
    members = promotion.folder_digests(v.manifest, v.ckpt_rel)
    pickled = [rel for rel in members if hflayout.is_pickled(rel)]  # loaded: verified first
    sources = promotion.committed_folder(
        root, v.raw, v.manifest, v.ckpt_rel, verify=pickled, fetch=fetch, progress=progress
    )
    planned = modelfolder.plan(sources, f"{v.raw.relpath}/{v.ckpt_rel}", clean=True)
    builder = StageBuilder(root, v.entry, progress)
    try:
        built = modelfolder.build(builder, planned, expected=members)
        model = ModelInfo(built.files, built.parameter_count, layout=built.layout)
        return _commit(root, builder, v, model)
    finally:
        builder.cleanup()
