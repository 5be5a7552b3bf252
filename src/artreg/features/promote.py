"""Promotions: raw → validated (gates + clean weights), and what every promotion shares: the
readers of its inputs, the committed source it starts from, the verified model file, and the
last step that writes metadata, model card and manifest and publishes.

Each promotion checks everything first (a failure changes nothing), builds the new folder in a
private place, then hands it to `publish`, which commits and tags atomically. The release to
production is in `release.py`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg import dvcyaml, hflayout, modelfolder, schemas, state
from artreg._version import __version__
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.artifacts.formats import detect
from artreg.artifacts.formats.pytorch import pytorch_info
from artreg.artifacts.formats.safetensors import check_safetensors
from artreg.charts import CHART_NAME
from artreg.errors import ArtregError, ConflictError, InputError, IntegrityError, NotFoundError
from artreg.fileio import dump_json, read_json
from artreg.hashing import ProgressFn, sha256_line
from artreg.layout import StageDir, model_target, raw_dir, validated_dir
from artreg.modelcard import model_card
from artreg.naming import resolve_name
from artreg.policy import check_gates, load_settings
from artreg.publish import (
    Published,
    PublishOptions,
    actor,
    check_options,
    leave_branch,
    now_iso,
    publish,
)
from artreg.registry.documents import (
    GateResult,
    Manifest,
    ManifestFile,
    Metadata,
    ModelFile,
    ModelInfo,
    Source,
)
from artreg.registry.formatnames import PYTORCH, SAFETENSORS, SUFFIXES, FormatInfo
from artreg.registry.records import Requirement, requires_line
from artreg.requirements import declared
from artreg.stagefolder import StageBuilder
from artreg.tags import Action, validate_id
from artreg.values import plain_input

if TYPE_CHECKING:
    from artreg.artifacts.signing.keys import SigningKey
    from artreg.artifacts.signing.sign import SignaturePlan

FORMATS = ("pt", "safetensors")


# --- shared checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommittedSource:
    """A promotion's source folder as committed: its manifest and metadata from git, not disk."""

    folder: StageDir
    commit: str
    manifest: Manifest
    metadata: Metadata | None


def committed_source(root: Path, folder: StageDir) -> CommittedSource:
    """The source folder as its tag (or creating commit) recorded it; refuse anything else.

    Reading the manifest from the work tree would let an uncommitted edit vouch for swapped
    bytes, so it comes from git, and the folder must not differ from that commit at all.
    """
    if not folder.path(root).is_dir():
        raise NotFoundError(
            f"{folder.relpath}: no {folder.stage} artifact {folder.entry!r} of {folder.name!r}",
            hint=f"see what exists with `artreg show {folder.name}`",
        )
    registry = state.load(root, folders="all")
    artifact = registry.artifacts.get(folder.name)
    if artifact is not None and artifact.deprecated:
        raise NotFoundError(f"{folder.name} is deprecated", hint="promote another artifact")
    tagged = registry.promotions(folder)
    if tagged:
        commit = tagged[-1].commit
        version = (
            next((v for v in artifact.versions if v.commit == commit), None) if artifact else None
        )
        events = version.stage_events.get(folder.stage, []) if version else []
        if events and events[-1].parsed.action is Action.UNASSIGN:
            raise NotFoundError(
                f"{folder.relpath}: its {folder.stage} stage was unassigned ({events[-1].tag})",
                hint="an unassigned artifact cannot be promoted; choose another",
            )
    else:
        commit = gitread.creation_commits(root).get(folder.relpath, "")
        if not commit:
            raise NotFoundError(
                f"{folder.relpath}: not committed, so not a registered {folder.stage} artifact",
                hint="register or promote it with artreg first",
            )
    changed = gitrun.git(root, "diff", "--name-only", commit, "--", folder.relpath).split()
    changed += [
        line[3:]
        for line in gitread.status(root, [folder.relpath]).splitlines()
        if line.startswith("??")
    ]
    if changed:
        raise IntegrityError(
            f"{folder.relpath}: differs from its promotion in {commit[:12]}: {', '.join(sorted(set(changed)))}",
            hint=f"promoted folders are immutable; `git checkout {commit[:12]} -- {folder.relpath}` "
            "restores it (and remove files that were added)",
        )
    manifest = gitread.json_at(root, commit, f"{folder.relpath}/manifest.json")
    if manifest is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json: missing at {commit[:12]}", hint="run `artreg verify`"
        )
    schemas.validate(manifest, "manifest", f"{folder.relpath}/manifest.json@{commit[:12]}")
    metadata = gitread.json_at(root, commit, f"{folder.relpath}/metadata.json")
    if metadata is not None:
        schemas.validate(metadata, "metadata", f"{folder.relpath}/metadata.json@{commit[:12]}")
    return CommittedSource(
        folder,
        commit,
        Manifest.from_json(manifest),
        Metadata.from_json(metadata) if metadata is not None else None,
    )


def verified_file(
    root: Path,
    folder: StageDir,
    rel: str,
    manifest: Manifest,
    *,
    fetch: bool = True,
    progress: ProgressFn | None = None,
) -> Path:
    """The bytes of `rel` in `folder`, checked against the manifest: the work-tree copy, or
    the DVC cache object, fetched on demand (features.fetch.stage_file) unless `fetch` is
    False. Read it, never write it: it may be the cache's object."""
    entry = manifest.files.get(rel)
    if entry is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json: lists no file {rel!r}", hint="check the name"
        )
    from artreg.features.fetch import stage_file

    return stage_file(root, folder, rel, entry, dvc=entry.dvc, fetch=fetch, progress=progress)


def committed_folder(
    root: Path,
    folder: StageDir,
    manifest: Manifest,
    prefix: str,
    *,
    verify: Collection[str] = (),
    fetch: bool = True,
    progress: ProgressFn | None = None,
) -> dict[str, Path]:
    """Where the bytes of every file under `prefix/` of a committed folder are (by path
    relative to `prefix`), fetched on demand. Only files in `verify` are hashed here (they are
    read, not copied); the others must be checked against the manifest by the digests of their
    copies (modelfolder.build's `expected`), so no byte is hashed twice."""
    from artreg.features.fetch import prefetch, stage_file

    if fetch:
        members = {rel: f for rel, f in manifest.files.items() if rel.startswith(f"{prefix}/")}
        prefetch(root, folder, members, manifest.dvc_files)
    found: dict[str, Path] = {}
    for rel, entry in manifest.files.items():
        if rel.startswith(f"{prefix}/"):
            inner = rel.removeprefix(f"{prefix}/")
            checked = inner in verify
            found[inner] = stage_file(
                root,
                folder,
                rel,
                entry,
                dvc=entry.dvc,
                fetch=fetch,
                progress=progress if checked else None,
                check=checked,
            )
    return found


def folder_digests(manifest: Manifest, prefix: str) -> dict[str, ManifestFile]:
    """The manifest's records of the files under `prefix/`, by path relative to it."""
    return {
        rel.removeprefix(f"{prefix}/"): f
        for rel, f in manifest.files.items()
        if rel.startswith(f"{prefix}/")
    }


def json_input(
    value: Mapping[str, Any] | Path | str, schema: str, what: str, field: str
) -> dict[str, Any]:
    """A JSON document given as a dict (made plain; errors point at /<field>/...) or a file,
    schema-checked; errors name it."""
    if isinstance(value, Mapping):
        data = plain_input(value, field)
        source = f"{what} (passed in Python as {field}=)"
    else:
        path = Path(value)
        data = read_json(path, what)
        source = str(path)
    if not isinstance(data, dict):
        raise InputError(f"{source}: {what} must be a JSON object", hint="wrap the values in {}")
    schemas.validate(data, schema, source)
    return data


def check_formats(formats: tuple[str, ...]) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}", hint=f"use one of: {', '.join(FORMATS)}")


def model_files(
    builder: StageBuilder, weights: dict[str, bytes], tensors: Mapping[str, Any]
) -> list[ModelFile]:
    """Write cleaned weights (the bytes of `tensors`, as .pt or .safetensors) as DVC outputs,
    each with its sha256sum-compatible `.sha256` and its format recorded."""
    files = []
    for fname, data in weights.items():
        digest = builder.track_file(fname, data=data)
        # Written just now from `tensors`: the safetensors header is checked (cheap, and proof
        # that what artreg writes passes its own check); the .pt is not loaded a second time.
        written: FormatInfo = (
            FormatInfo(SAFETENSORS, check_safetensors(builder.path / fname).detail)
            if fname.endswith(SUFFIXES[SAFETENSORS])
            else pytorch_info(list(tensors.values()))
        )
        files.append(ModelFile.named(fname, digest.sha256, digest.size, written))
    write_sha256_files(builder, files)
    return files


def write_sha256_files(builder: StageBuilder, files: list[ModelFile]) -> None:
    for f in files:
        builder.write_text(f"{f.path}.sha256", sha256_line(f.sha256, f.path))


def signature_plan(
    root: Path,
    stage: str,
    sign_key: SigningKey | Path | str | None,
    model_signature: Path | str | None,
) -> SignaturePlan | None:
    """How the promoted model will be signed, checked before anything is built (None: not at
    all, and the trust policy requires no signature for `stage`)."""
    if sign_key is None and model_signature is None:
        from artreg.policy import load_trust

        if not load_trust(root).require_signature:
            return None  # nothing to sign, nothing required: model_signing is never imported
    from artreg.artifacts.signing import sign as signing

    return signing.plan(root, stage, sign_key, model_signature)


def finish(
    root: Path,
    builder: StageBuilder,
    metadata: Metadata,
    actions: list[tuple[Action, str | None, str | None]],
    title: str,
    source: str,
    options: PublishOptions | None,
    signature: SignaturePlan | None = None,
) -> Published:
    """metadata.json, model card and manifest, then publish: shared by every promotion."""
    entry = builder.entry
    if signature is not None:
        # Signed before metadata and manifest exist, which therefore are not part of the model;
        # model.sig is listed in the manifest like any other file of the folder.
        metadata = replace(metadata, signature=signature.write(root, builder))
    document = metadata.to_json()
    schemas.validate(document, "metadata", f"{entry.relpath}/metadata.json")
    builder.write_text("metadata.json", dump_json(document))
    builder.write_text("README.md", model_card(document))
    primary = metadata.model.primary
    builder.write_manifest(
        Manifest(
            stage=entry.stage,
            name=entry.name,
            id=entry.entry,
            created_at=metadata.created_at,
            created_by=metadata.created_by,
            primary=primary.path,
            files=builder.manifest_files(),
            provenance={"source": metadata.source.to_json()},
            tool_version=__version__,
        )
    )
    builder.finish_gitignore()
    published = publish(
        root,
        builder,
        actions=actions,
        dvc_entry=dvcyaml.entry_for(
            entry.stage, entry.name, entry.entry, entry.relpath, primary.path, primary.sha256
        ),
        title=title,
        source=source,
        who=metadata.created_by,
        options=options,
        requires=requires_line(metadata.requires),
    )
    published.gates = metadata.gates
    published.model = f"{entry.relpath}/{model_target(entry.stage, primary.path)}"
    published.signature = metadata.signature
    after_publish(root, published, options)
    return published


def after_publish(root: Path, published: Published, options: PublishOptions | None) -> None:
    """`--summary-md`, once the change is committed (`--push` happens inside the transaction),
    then, in pull-request mode, back to the branch the command began on.

    The change is made by then, so a failure here is a warning on the result, never the
    command's failure.
    """
    if options is not None and options.summary_md is not None:
        from artreg.features.review import write_summary

        try:
            write_summary(root, published.folder, options.summary_md)
        except Exception as exc:  # the commit and tags stand; say so, and what was not written
            published.warnings.append(
                f"the change is committed, but --summary-md {options.summary_md} was not "
                f"written: {type(exc).__name__}: {exc}\n  fix: write it later with "
                f"`artreg summary --base {published.commit[:12]}~1 > FILE`"
            )
    try:
        leave_branch(root, published)
    except ArtregError as exc:  # the branch holds the change; only the way back failed
        assert published.started_on is not None
        published.warnings.append(
            f"the change is committed on branch {published.branch}, but switching back to "
            f"{published.started_on[0]} failed: {exc.message}\n"
            f"  fix: `git switch {published.started_on[0]}`"
        )


# --- raw → validated ------------------------------------------------------------------------


def _results(
    validation_results: Mapping[str, Any] | Path | str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged metrics for the gates, and the files to keep under validation/ (name → text)."""
    if isinstance(validation_results, Mapping):
        data = json_input(
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
    check_formats(formats)
    raw = raw_dir(name, session_id)
    entry = validated_dir(name, vid)
    if entry.path(root).exists():
        raise ConflictError(
            f"{entry.relpath}: exists already",
            hint="choose another --id; promoted folders are immutable",
        )
    manifest = committed_source(root, raw).manifest
    ckpt_rel = find_checkpoint(manifest, checkpoint, raw)
    metrics, result_texts = _results(validation_results)
    results = check_gates(
        settings,
        "validated",
        name,
        metrics,
        "add them to the validation results (validation_results=..., --results)",
    )
    signature = signature_plan(root, "validated", sign_key, model_signature)
    who = actor(root)
    if ckpt_rel not in manifest.files:  # a checkpoint folder
        return _promote_folder(
            root,
            raw,
            ckpt_rel,
            manifest,
            entry,
            who,
            title=f"artreg: promote {name} {session_id}/{ckpt_rel} to validated as {vid}",
            gates=results,
            params_commit=settings.commit,
            result_texts=result_texts,
            fetch=fetch,
            progress=progress,
            options=options,
            signature=signature,
            requires=needs,
        )
    ckpt_path = verified_file(root, raw, ckpt_rel, manifest, fetch=fetch, progress=progress)
    # The content says the format, not the name (ckpt_path may be a DVC cache object, which
    # has none). A PyTorch checkpoint is not loaded here: cleaning loads it, weights_only.
    found = detect(ckpt_path, load_pytorch=False, display=f"{raw.relpath}/{ckpt_rel}")

    parameter_count: int | None = None
    dropped: list[str] = []
    weights: dict[str, bytes] = {}
    tensors: dict[str, Any] = {}
    if found.name == PYTORCH:
        from artreg.checkpoints import clean_checkpoint_bytes

        for fmt in ("pt", *[f for f in formats if f != "pt"]):
            data, cleaned = clean_checkpoint_bytes(ckpt_path, fmt)
            weights[f"model.{fmt}"] = data
            parameter_count, dropped = cleaned.parameter_count, cleaned.dropped_keys
            tensors = cleaned.state_dict

    # 2. Build.
    builder = StageBuilder(root, entry, progress)
    try:
        if weights:
            files = model_files(builder, weights, tensors)
        else:
            fname = f"model{SUFFIXES[found.name]}"  # named for what it holds
            digest = builder.track_file(fname, src=ckpt_path)
            files = [ModelFile.named(fname, digest.sha256, digest.size, found)]
            write_sha256_files(builder, files)
        _validation_files(root, builder, raw, result_texts)
        metadata = Metadata(
            stage="validated",
            name=name,
            id=vid,
            created_at=now_iso(),
            created_by=who,
            source=_raw_source(raw, ckpt_rel, manifest),
            training_curves=_curves(raw, manifest),
            gates=results,
            params_commit=settings.commit,
            model=ModelInfo(files, parameter_count, dropped_training_state=dropped),
            requires=needs,
        )
        return finish(
            root,
            builder,
            metadata,
            [(Action.ASSIGN, "validated", None)],
            f"artreg: promote {name} {session_id}/{ckpt_rel} to validated as {vid}",
            raw.relpath,
            options,
            signature,
        )
    finally:
        builder.cleanup()


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
    root: Path,
    raw: StageDir,
    ckpt_rel: str,
    manifest: Manifest,
    entry: StageDir,
    who: str,
    *,
    title: str,
    gates: list[GateResult],
    params_commit: str | None,
    result_texts: dict[str, str],
    fetch: bool,
    progress: ProgressFn | None,
    options: PublishOptions | None,
    signature: SignaturePlan | None,
    requires: tuple[Requirement, ...] = (),
) -> Published:
    """raw → validated for a checkpoint folder: its layout and indexes checked, pickled
    weights cleaned to safetensors, every other file copied as it is."""
    members = folder_digests(manifest, ckpt_rel)
    pickled = [rel for rel in members if hflayout.is_pickled(rel)]  # loaded: verified first
    sources = committed_folder(
        root, raw, manifest, ckpt_rel, verify=pickled, fetch=fetch, progress=progress
    )
    planned = modelfolder.plan(sources, f"{raw.relpath}/{ckpt_rel}", clean=True)
    builder = StageBuilder(root, entry, progress)
    try:
        built = modelfolder.build(builder, planned, expected=members)
        _validation_files(root, builder, raw, result_texts)
        metadata = Metadata(
            stage="validated",
            name=entry.name,
            id=entry.entry,
            created_at=now_iso(),
            created_by=who,
            source=_raw_source(raw, ckpt_rel, manifest),
            training_curves=_curves(raw, manifest),
            gates=gates,
            params_commit=params_commit,
            model=ModelInfo(built.files, built.parameter_count, layout=built.layout),
            requires=requires,
        )
        return finish(
            root,
            builder,
            metadata,
            [(Action.ASSIGN, "validated", None)],
            title,
            raw.relpath,
            options,
            signature,
        )
    finally:
        builder.cleanup()


def promote(
    root: Path,
    name: str | None,
    source_id: str,
    to: str,
    *,
    checkpoint: str | None = None,
    results: Mapping[str, Any] | Path | str | None = None,
    validated_id: str | None = None,
    version: str | None = None,
    formats: tuple[str, ...] = (),
    progress: ProgressFn | None = None,
    options: PublishOptions | None = None,
    fetch: bool = True,
    sign_key: SigningKey | Path | str | None = None,
    model_signature: Path | str | None = None,
    requires: Any = None,
    **release: Any,
) -> Published:
    """`artreg promote NAME ID --to STAGE`: the options each stage needs, then its promotion."""
    if to == "validated":
        if not checkpoint or results is None:
            raise InputError(
                "--to validated needs --checkpoint and --results",
                hint="see artreg promote --help",
            )
        return promote_to_validated(
            root,
            name,
            source_id,
            checkpoint,
            results,
            validated_id=validated_id,
            formats=tuple(dict.fromkeys(("pt", *formats))),
            progress=progress,
            options=options,
            fetch=fetch,
            sign_key=sign_key,
            model_signature=model_signature,
            requires=requires,
        )
    if to != "production":
        raise InputError(f"cannot promote to {to!r}", hint="use --to validated or --to production")
    if not version:
        raise InputError("--to production needs --version", hint="e.g. --version 1.0.0")
    from artreg.features.release import promote_to_production

    return promote_to_production(
        root,
        name,
        source_id,
        version,
        formats=formats,
        progress=progress,
        options=options,
        fetch=fetch,
        sign_key=sign_key,
        model_signature=model_signature,
        requires=requires,
        **release,
    )
