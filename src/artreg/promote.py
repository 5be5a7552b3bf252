"""Promotions: raw → validated (gates + clean weights) and validated → production (a release).

Each checks everything first (a failure changes nothing), builds the new folder in a private
place, then hands it to `publish`, which commits and tags atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg import gitrepo, schemas
from artreg.build import StageBuilder
from artreg.charts import CHART_NAME
from artreg.config import Settings, load_settings, resolve_name
from artreg.deployment import dockerfile, kubernetes
from artreg.documents import dump_json, read_json
from artreg.errors import ConflictError, GateFailed, InputError, IntegrityError, NotFoundError
from artreg.gates import GateResult, evaluate
from artreg.hashing import FileDigest, ProgressFn, hash_file, sha256_line
from artreg.index import folder_of
from artreg.layout import (
    StageDir,
    production_dir,
    raw_dir,
    semver_key,
    validate_id,
    validate_semver,
    validated_dir,
)
from artreg.modelcard import changelog, model_card
from artreg.publish import Published, PublishOptions, actor, now_iso, publish
from artreg.registry import load_state
from artreg.tags import Action
from artreg.verify import creation_commits

if TYPE_CHECKING:
    from artreg.signing import SignaturePlan, SigningKey

CLEANABLE = (".pt", ".pth", ".ckpt")
COPIED_AS_IS = (".onnx", ".safetensors", ".bin")
FORMATS = ("pt", "safetensors")


# --- shared checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A promotion's source folder as committed: its manifest and metadata from git, not disk."""

    folder: StageDir
    commit: str
    manifest: dict[str, Any]
    metadata: dict[str, Any] | None


def committed_source(root: Path, folder: StageDir) -> Source:
    """The source folder as its tag (or creating commit) recorded it; refuse anything else.

    Reading the manifest from the work tree would let an uncommitted edit vouch for swapped
    bytes, so it comes from git, and the folder must not differ from that commit at all.
    """
    if not folder.path(root).is_dir():
        raise NotFoundError(
            f"{folder.relpath}: no {folder.stage} artifact {folder.entry!r} of {folder.name!r}",
            hint=f"see what exists with `artreg show {folder.name}`",
        )
    state = load_state(root)
    artifact = state.artifacts.get(folder.name)
    if artifact is not None and artifact.deprecated:
        raise NotFoundError(f"{folder.name} is deprecated", hint="promote another artifact")
    tagged = [
        r
        for r in (artifact.events if artifact else [])
        if r.parsed.action in (Action.ASSIGN, Action.REGISTER) and folder_of(root, r) == folder
    ]
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
        commit = creation_commits(root).get(folder.relpath, "")
        if not commit:
            raise NotFoundError(
                f"{folder.relpath}: not committed, so not a registered {folder.stage} artifact",
                hint="register or promote it with artreg first",
            )
    changed = gitrepo.git(root, "diff", "--name-only", commit, "--", folder.relpath).split()
    changed += [
        line[3:]
        for line in gitrepo.status(root, [folder.relpath]).splitlines()
        if line.startswith("??")
    ]
    if changed:
        raise IntegrityError(
            f"{folder.relpath}: differs from its promotion in {commit[:12]}: {', '.join(sorted(set(changed)))}",
            hint=f"promoted folders are immutable; `git checkout {commit[:12]} -- {folder.relpath}` "
            "restores it (and remove files that were added)",
        )
    manifest = gitrepo.json_at(root, commit, f"{folder.relpath}/manifest.json")
    if manifest is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json: missing at {commit[:12]}", hint="run `artreg verify`"
        )
    schemas.validate(manifest, "manifest", f"{folder.relpath}/manifest.json@{commit[:12]}")
    metadata = gitrepo.json_at(root, commit, f"{folder.relpath}/metadata.json")
    if metadata is not None:
        schemas.validate(metadata, "metadata", f"{folder.relpath}/metadata.json@{commit[:12]}")
    return Source(folder, commit, manifest, metadata)


def verified_file(root: Path, folder: StageDir, rel: str, manifest: dict[str, Any]) -> Path:
    """The path of `rel` in `folder`, after checking its bytes against the manifest."""
    entry = manifest["files"].get(rel)
    if entry is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json: lists no file {rel!r}", hint="check the name"
        )
    path = folder.path(root) / rel
    if not path.is_file():
        raise NotFoundError(
            f"{folder.relpath}/{rel}: not in the work tree (its bytes are in DVC)",
            hint=f"fetch it first: dvc pull {folder.relpath}",
        )
    actual = hash_file(path)
    if actual.sha256 != entry["sha256"]:
        raise IntegrityError(
            f"{folder.relpath}/{rel}: sha256 is {actual.sha256}, the manifest records {entry['sha256']}",
            hint="the file was altered after registration; restore it with `dvc checkout`",
        )
    return path


def _gate_check(
    settings: Settings, stage: str, name: str, metrics: dict[str, Any]
) -> list[GateResult]:
    results = evaluate(settings.gates, stage, name, metrics)
    failed = [r for r in results if not r.passed]
    if failed:
        raise GateFailed(
            f"{len(failed)} of {len(results)} {stage} gates failed for {name}: "
            + ", ".join(f"{r.metric}={r.value!r} (needs {r.op} {r.threshold!r})" for r in failed),
            [r.as_dict() for r in results],
        )
    return results


def _json_input(value: Mapping[str, Any] | Path | str, schema: str, what: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        data = dict(value)
        source = f"{what} (passed in Python)"
    else:
        path = Path(value)
        data = read_json(path, what)
        source = str(path)
    if not isinstance(data, dict):
        raise InputError(f"{source}: {what} must be a JSON object", hint="wrap the values in {}")
    schemas.validate(data, schema, source)
    return data


# --- raw → validated ------------------------------------------------------------------------


def _results(
    validation_results: Mapping[str, Any] | Path | str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged metrics for the gates, and the files to keep under validation/ (name → text)."""
    if isinstance(validation_results, Mapping):
        data = _json_input(validation_results, "validation_results", "validation results")
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


def find_checkpoint(manifest: dict[str, Any], checkpoint: str, folder: StageDir) -> str:
    """Manifest path of a checkpoint named `epoch_70`, `epoch_70.pt` or `checkpoints/epoch_70.pt`."""
    candidates = [rel for rel in manifest["files"] if rel.startswith("checkpoints/")]
    for rel in candidates:
        inner = rel.removeprefix("checkpoints/")
        if checkpoint in (rel, inner) or (Path(inner).stem == checkpoint and "/" not in inner):
            if Path(rel).name == "manifest.json":
                break
            return str(rel)
    names = sorted(Path(r).stem for r in candidates if not r.endswith("manifest.json"))
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
    sign_key: SigningKey | Path | str | None = None,
    model_signature: Path | str | None = None,
) -> Published:
    """Promote one checkpoint of a raw session: gates, clean weights, model card; commit + tag."""
    # 1. Check everything first.
    settings = load_settings(root)
    name = resolve_name(root, name)
    session_id = validate_id(session_id, "session id")
    validate_id(checkpoint.replace("/", "_"), "checkpoint name")
    vid = validate_id(
        validated_id or f"{session_id}_{Path(checkpoint).stem}_validated", "validated id"
    )
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}", hint=f"use one of: {', '.join(FORMATS)}")
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
    results = _gate_check(settings, "validated", name, metrics)
    signature = _signature_plan(root, "validated", sign_key, model_signature)
    ckpt_path = verified_file(root, raw, ckpt_rel, manifest)
    who = actor(root)
    suffix = ckpt_path.suffix.lower()

    parameter_count: int | None = None
    dropped: list[str] = []
    weights: dict[str, bytes] = {}
    if suffix in CLEANABLE:
        from artreg.checkpoints import clean_checkpoint_bytes

        for fmt in ("pt", *[f for f in formats if f != "pt"]):
            data, cleaned = clean_checkpoint_bytes(ckpt_path, fmt)
            weights[f"model.{fmt}"] = data
            parameter_count, dropped = cleaned.parameter_count, cleaned.dropped_keys
    elif suffix not in COPIED_AS_IS:
        raise InputError(
            f"{raw.relpath}/{ckpt_rel}: unsupported model format {suffix!r}",
            hint=f"use one of: {', '.join(CLEANABLE + COPIED_AS_IS)}",
        )

    # 2. Build.
    builder = StageBuilder(root, entry, progress)
    try:
        model_files = []
        if weights:
            for fname, data in weights.items():
                digest = builder.track_file(fname, data=data)
                model_files.append(_model_entry(fname, digest))
        else:
            fname = f"model{suffix}"
            digest = builder.track_file(fname, src=ckpt_path)
            model_files.append(_model_entry(fname, digest))
        for f in model_files:
            builder.write_text(f"{f['path']}.sha256", sha256_line(f["sha256"], f["path"]))
        if (raw.path(root) / "config.yaml").is_file():
            builder.copy("config.yaml", raw.path(root) / "config.yaml")
        for fname, text in result_texts.items():
            builder.write_text(f"validation/{fname}", text)
        metadata = {
            "schema_version": 1,
            "stage": "validated",
            "name": name,
            "id": vid,
            "created_at": now_iso(),
            "created_by": who,
            "source": {
                "stage": "raw",
                "id": session_id,
                "path": raw.relpath,
                "checkpoint": ckpt_rel,
                "sha256": manifest["files"][ckpt_rel]["sha256"],
                "commit": ((manifest.get("provenance") or {}).get("training_code") or {}).get(
                    "commit"
                ),
            },
            "training_curves": (
                f"{raw.relpath}/metrics/{CHART_NAME}"
                if f"metrics/{CHART_NAME}" in manifest["files"]
                else None
            ),
            "gates": {"passed": True, "results": [r.as_dict() for r in results]},
            "model": {
                "files": model_files,
                "parameter_count": parameter_count,
                "formats": [f["format"] for f in model_files],
                "dropped_training_state": dropped,
            },
        }
        return _finish(
            root,
            builder,
            metadata,
            [(Action.ASSIGN, "validated", None)],
            f"artreg: promote {name} {session_id}/{ckpt_rel} to validated as {vid}",
            raw.relpath,
            who,
            options,
            signature,
        )
    finally:
        builder.cleanup()


def _signature_plan(
    root: Path,
    stage: str,
    sign_key: SigningKey | Path | str | None,
    model_signature: Path | str | None,
) -> SignaturePlan | None:
    if sign_key is None and model_signature is None:
        from artreg.config import load_trust

        if not load_trust(root).require_signature:
            return None  # nothing to sign and nothing required: model_signing is never imported
    from artreg import signing

    return signing.plan(root, stage, sign_key, model_signature)


def _model_entry(fname: str, digest: FileDigest) -> dict[str, Any]:
    return {
        "path": fname,
        "format": fname.rsplit(".", 1)[-1],
        "sha256": digest.sha256,
        "size": digest.size,
    }


def _finish(
    root: Path,
    builder: StageBuilder,
    metadata: dict[str, Any],
    actions: list[tuple[Action, str | None, str | None]],
    title: str,
    source: str,
    who: str,
    options: PublishOptions | None,
    signature: SignaturePlan | None = None,
) -> Published:
    """metadata.json, model card and manifest, then publish: shared by both promotions."""
    entry = builder.entry
    if signature is not None:
        # Signed before metadata and manifest exist, which therefore are not part of the model;
        # model.sig is listed in the manifest like any other file of the folder.
        metadata["signature"] = signature.write(root, builder)
    schemas.validate(metadata, "metadata", f"{entry.relpath}/metadata.json")
    builder.write_text("metadata.json", dump_json(metadata))
    builder.write_text("README.md", model_card(metadata))
    primary = metadata["model"]["files"][0]["path"]
    manifest = {
        "schema_version": 1,
        "stage": entry.stage,
        "name": entry.name,
        "id": entry.entry,
        "created_at": metadata["created_at"],
        "created_by": who,
        "tool": {"name": "artreg", "version": _version()},
        "primary": primary,
        "provenance": {"source": metadata["source"]},
        "files": builder.manifest_files(),
    }
    schemas.validate(manifest, "manifest", f"{entry.relpath}/manifest.json")
    builder.write_manifest(manifest)
    builder.finish_gitignore()
    published = publish(
        root,
        builder,
        actions=actions,
        dvc_entry={
            "path": f"{entry.relpath}/{primary}",
            "type": "model",
            "desc": f"{entry.name} {entry.stage} {entry.entry}",
            "labels": [entry.stage],
            "meta": {
                "stage": entry.stage,
                "id": entry.entry,
                "sha256": metadata["model"]["files"][0]["sha256"],
            },
        },
        title=title,
        source=source,
        who=who,
        options=options,
    )
    published.extra["gates"] = metadata["gates"]["results"]
    published.extra["model"] = f"{entry.relpath}/{primary}"
    if metadata.get("signature"):
        published.extra["signature"] = metadata["signature"]
    return published


def _version() -> str:
    from artreg import __version__

    return __version__


# --- validated → production -----------------------------------------------------------------


def _benchmarks(
    benchmarks: Mapping[str, Any] | Path | str | None,
    resource_usage: Mapping[str, Any] | Path | str | None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """benchmarks.json and resource_usage.json; a folder given as benchmarks may hold both."""
    if isinstance(benchmarks, (str, Path)) and Path(benchmarks).is_dir():
        folder = Path(benchmarks)
        benchmarks = folder / "benchmarks.json"
        if resource_usage is None and (folder / "resource_usage.json").is_file():
            resource_usage = folder / "resource_usage.json"
    bench = _json_input(benchmarks, "benchmarks", "benchmarks") if benchmarks is not None else None
    usage = (
        _json_input(resource_usage, "resource_usage", "resource usage")
        if resource_usage is not None
        else None
    )
    return bench, usage


def _deployment(value: Mapping[str, Any] | Path | str | None) -> dict[str, Any]:
    """The deployment config: a dict, a YAML file or a JSON file, schema-checked."""
    if value is None:
        return {}
    if isinstance(value, (str, Path)) and str(value).endswith((".yaml", ".yml")):
        from artreg.documents import read_yaml

        data = read_yaml(Path(value), "deployment config") or {}
        if not isinstance(data, dict):
            raise InputError(
                f"{value}: a deployment config must be a mapping", hint="use key: value lines"
            )
        schemas.validate(data, "deployment", str(value))
        return data
    return _json_input(value, "deployment", "deployment config")


def _approval(settings: Settings, approved_by: str | None) -> dict[str, str] | None:
    who = approved_by or os.environ.get("ARTREG_APPROVED_BY")
    if not who and settings.require_approval:
        raise InputError(
            "production promotion needs an approval record, and none was given",
            hint="pass --approved-by WHO (approved_by=...), or set ARTREG_APPROVED_BY in CI",
        )
    return {"approved_by": who, "approved_at": now_iso()} if who else None


def existing_releases(root: Path, name: str) -> list[str]:
    """Versions of `name` released so far: production folders and version tags."""
    folder = root / "artifacts" / "production" / name
    versions = (
        {p.name[1:] for p in folder.iterdir() if p.is_dir() and p.name.startswith("v")}
        if folder.is_dir()
        else set()
    )
    state = load_state(root)
    if name in state.artifacts:
        versions |= {v.version for v in state.artifacts[name].versions if v.registered}
    return sorted((v for v in versions if _is_semver(v)), key=semver_key)


def _is_semver(version: str) -> bool:
    try:
        semver_key(version)
    except ValueError:
        return False
    return True


def promote_to_production(
    root: Path,
    name: str | None,
    validated_id: str,
    version: str,
    *,
    deployment_config: Mapping[str, Any] | Path | str | None = None,
    benchmarks: Mapping[str, Any] | Path | str | None = None,
    resource_usage: Mapping[str, Any] | Path | str | None = None,
    approved_by: str | None = None,
    security_review: Mapping[str, Any] | Path | str | None = None,
    notes: str | None = None,
    optimize: str | None = None,
    formats: tuple[str, ...] = (),
    allow_non_monotonic: bool = False,
    progress: ProgressFn | None = None,
    options: PublishOptions | None = None,
    sign_key: SigningKey | Path | str | None = None,
    model_signature: Path | str | None = None,
) -> Published:
    """Release a validated artifact as `<name>@v<version>`: gates, approval, deployment files.

    With `sign_key` (an EC private key, or a SigningKey with a certificate), the model is signed
    in the OpenSSF model-signing format as `model.sig`; `model_signature` commits a bundle made
    elsewhere instead (it must sign the model file)."""
    # 1. Check everything first.
    settings = load_settings(root)
    name = resolve_name(root, name)
    vid = validate_id(validated_id, "validated id")
    version = validate_semver(version)
    if optimize not in (None, "fp16"):
        raise InputError(
            f"unknown optimisation {optimize!r}", hint="use --optimize fp16, or leave it out"
        )
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}", hint=f"use one of: {', '.join(FORMATS)}")
    source = validated_dir(name, vid)
    entry = production_dir(name, version)
    released = existing_releases(root, name)
    if version in released or entry.path(root).exists():
        raise ConflictError(
            f"{name} v{version} is released already",
            hint="choose a new version; releases are immutable",
        )
    if released and not allow_non_monotonic and semver_key(version) < semver_key(released[-1]):
        raise InputError(
            f"version {version} is lower than the latest release v{released[-1]} of {name}",
            hint="choose a higher version, or pass --allow-non-monotonic for a patch of an old line",
        )
    committed = committed_source(root, source)
    manifest = committed.manifest
    if committed.metadata is None:
        raise NotFoundError(
            f"{source.relpath}: has no metadata.json", hint="promote from a validated artifact"
        )
    src_meta = committed.metadata
    deploy = _deployment(deployment_config)
    bench, usage = _benchmarks(benchmarks, resource_usage)
    review = None
    if security_review is not None:
        review = (
            security_review
            if isinstance(security_review, Mapping)
            else read_json(Path(security_review), "security review")
        )
        if not isinstance(review, Mapping):
            raise InputError(
                f"{security_review}: a security review must be a JSON object", hint="wrap it in {}"
            )
    if settings.require_security_review and review is None:
        raise InputError(
            "params.yaml (artreg.require_security_review) requires a security review record",
            hint="pass --security-review FILE (security_review=...)",
        )
    metrics = {**(bench or {}), **(usage or {})}
    results = _gate_check(settings, "production", name, metrics)
    approval = _approval(settings, approved_by)
    model_src = src_meta["model"]["files"][0]
    # Before the source is hashed: model_signing's import then overlaps that hashing.
    signature = _signature_plan(root, "production", sign_key, model_signature)
    model_path = verified_file(root, source, model_src["path"], manifest)
    who = actor(root)

    weights: dict[str, bytes] = {}
    parameter_count = src_meta["model"].get("parameter_count")
    if optimize or formats:
        if model_path.suffix not in CLEANABLE:
            raise InputError(
                f"{source.relpath}/{model_src['path']}: --optimize/--format need a PyTorch model",
                hint="leave them out for ONNX, safetensors and .bin models",
            )
        from artreg.checkpoints import clean_checkpoint_bytes

        for fmt in ("pt", *[f for f in formats if f != "pt"]):
            data, _ = clean_checkpoint_bytes(model_path, fmt, fp16=optimize == "fp16")
            weights[f"model.{fmt}"] = data

    # 2. Build.
    builder = StageBuilder(root, entry, progress)
    try:
        model_files = []
        if weights:
            for fname, data in weights.items():
                model_files.append(_model_entry(fname, builder.track_file(fname, data=data)))
        else:
            fname = model_src["path"]
            model_files.append(_model_entry(fname, builder.track_file(fname, src=model_path)))
        for f in model_files:
            builder.write_text(f"{f['path']}.sha256", sha256_line(f["sha256"], f["path"]))
        if (source.path(root) / "config.yaml").is_file():
            builder.copy("config.yaml", source.path(root) / "config.yaml")
        if bench is not None:
            builder.write_text("performance/benchmarks.json", dump_json(bench))
        if usage is not None:
            builder.write_text("performance/resource_usage.json", dump_json(usage))
        primary = model_files[0]
        builder.write_text(
            "deployment/docker/Dockerfile",
            dockerfile(name, version, primary["path"], primary["sha256"], deploy),
        )
        for fname, text in kubernetes(name, version, primary["sha256"], deploy).items():
            builder.write_text(f"deployment/kubernetes/{fname}", text)
        if review is not None:
            builder.write_text("security_review.json", dump_json(dict(review)))
        metadata: dict[str, Any] = {
            "source": {
                "stage": "validated",
                "id": vid,
                "path": source.relpath,
                "sha256": model_src["sha256"],
                "checkpoint": src_meta["source"].get("checkpoint"),
                "commit": src_meta["source"].get("commit"),
            },
            "training_curves": src_meta.get("training_curves"),
            "gates": {"passed": True, "results": [r.as_dict() for r in results]},
            "model": {
                "files": model_files,
                "parameter_count": parameter_count,
                "formats": [f["format"] for f in model_files],
                "optimization": optimize,
            },
            "approval": approval
            or {"approved_by": "not required (params.yaml)", "approved_at": now_iso()},
            "security_review": dict(review) if review is not None else None,
            "notes": notes,
            "deployment": deploy,
        }
        return _release(
            root,
            builder,
            metadata,
            released,
            who,
            options,
            f"artreg: release {name} v{version} to production from {vid}",
            source.relpath,
            signature,
        )
    finally:
        builder.cleanup()


def _release(
    root: Path,
    builder: StageBuilder,
    fields: dict[str, Any],
    released: list[str],
    who: str,
    options: PublishOptions | None,
    title: str,
    source: str,
    signature: SignaturePlan | None = None,
) -> Published:
    """Complete a production folder (metadata, CHANGELOG carried forward) and publish it with
    its two tags, `name@vX.Y.Z` and `name#production#N`."""
    entry = builder.entry
    version = entry.entry.removeprefix("v")
    metadata: dict[str, Any] = {
        "schema_version": 1,
        "stage": "production",
        "name": entry.name,
        "id": entry.entry,
        "version": version,
        "created_at": now_iso(),
        "created_by": who,
        **fields,
    }
    builder.write_text(
        "CHANGELOG.md", changelog(_previous_changelog(root, entry.name, released), metadata)
    )
    return _finish(
        root,
        builder,
        metadata,
        [(Action.REGISTER, None, version), (Action.ASSIGN, "production", None)],
        title,
        source,
        who,
        options,
        signature,
    )


def _previous_changelog(root: Path, name: str, released: list[str]) -> str | None:
    for version in reversed(released):
        path = production_dir(name, version).path(root) / "CHANGELOG.md"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def register_model_file(
    root: Path,
    name: str,
    file_path: Path,
    version: str,
    *,
    notes: str | None = None,
    benchmarks: Mapping[str, Any] | Path | str | None = None,
    options: PublishOptions | None = None,
    sign_key: SigningKey | Path | str | None = None,
) -> Published:
    """Release a ready model file (no training session behind it) as `name@v<version>`."""
    from artreg.hashing import check_single_file

    settings = load_settings(root)
    name = resolve_name(root, name)
    version = validate_semver(version)
    if not file_path.is_file():
        raise InputError(f"{file_path}: model file not found", hint="check the path")
    check_single_file(file_path)
    validate_id(file_path.name, "model file name")
    entry = production_dir(name, version)
    released = existing_releases(root, name)
    if version in released or entry.path(root).exists():
        raise ConflictError(f"{name} v{version} is released already", hint="choose a new version")
    if released and semver_key(version) < semver_key(released[-1]):
        raise InputError(
            f"version {version} is lower than the latest release v{released[-1]} of {name}",
            hint="choose a higher version",
        )
    bench, _ = _benchmarks(benchmarks, None)
    results = _gate_check(settings, "production", name, bench) if bench is not None else []
    signature = _signature_plan(root, "production", sign_key, None)
    who = actor(root)
    builder = StageBuilder(root, entry)
    try:
        digest = builder.track_file(file_path.name, src=file_path)
        model = _model_entry(file_path.name, digest)
        builder.write_text(f"{file_path.name}.sha256", sha256_line(digest.sha256, file_path.name))
        if bench is not None:
            builder.write_text("performance/benchmarks.json", dump_json(bench))
        metadata = {
            "source": {
                "stage": "external",
                "id": file_path.name,
                "path": str(file_path.resolve()),
                "sha256": digest.sha256,
            },
            "gates": {"passed": True, "results": [r.as_dict() for r in results]},
            "model": {"files": [model], "parameter_count": None, "formats": [model["format"]]},
            "approval": {"approved_by": f"{who} (register_artifact)", "approved_at": now_iso()},
            "notes": notes,
        }
        return _release(
            root,
            builder,
            metadata,
            released,
            who,
            options,
            f"artreg: register {name} v{version} from {file_path.name}",
            str(file_path.resolve()),
            signature,
        )
    finally:
        builder.cleanup()
