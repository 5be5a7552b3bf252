"""Promotions: raw → validated (gates + clean weights) and validated → production (a release).

Each checks everything first (a failure changes nothing), builds the new folder in a private
place, then hands it to `publish`, which commits and tags atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import gitrepo, schemas
from artreg.build import StageBuilder
from artreg.charts import CHART_NAME
from artreg.config import PARAMS_FILE, Settings, load_settings, resolve_name
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
from artreg.values import plain_input
from artreg.verify import creation_commits

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


MISSING = "metric missing from the results"


def _gate_failure(
    settings: Settings, stage: str, name: str, results: list[GateResult], supply: str
) -> GateFailed | None:
    """GateFailed for the failed gates (None if all passed); its hint says what to pass when
    metrics are missing (`supply`) and that a failing number needs a reviewed gate change."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return None
    absent = [r.metric for r in failed if r.reason == MISSING]
    hints = [f"{', '.join(absent)} missing: {supply}"] if absent else []
    if len(absent) < len(failed):
        hints.append(
            f"the {'other ' if absent else ''}values fail the gates committed in "
            f"{settings.source}; a gate changes only through a reviewed commit of {PARAMS_FILE}"
        )
    return GateFailed(
        f"{len(failed)} of {len(results)} {stage} gates of {settings.source} failed for {name}: "
        + ", ".join(f"{r.metric}={r.value!r} (needs {r.op} {r.threshold!r})" for r in failed),
        [r.as_dict() for r in results],
        hint="; ".join(hints) or None,
    )


def _gate_check(
    settings: Settings, stage: str, name: str, metrics: dict[str, Any]
) -> list[GateResult]:
    results = evaluate(settings.gates, stage, name, metrics, settings.source)
    failure = _gate_failure(
        settings,
        stage,
        name,
        results,
        "add them to the validation results (validation_results=..., --results)",
    )
    if failure is not None:
        raise failure
    return results


def _gates_record(settings: Settings, results: list[GateResult]) -> dict[str, Any]:
    """metadata.json's `gates`: every result, and the commit whose params.yaml they came from."""
    return {
        "passed": True,
        "results": [r.as_dict() for r in results],
        "params_commit": settings.commit,
    }


def _json_input(
    value: Mapping[str, Any] | Path | str, schema: str, what: str, field: str
) -> dict[str, Any]:
    """A JSON document given as a dict (made plain; errors point at /<field>/...) or a file."""
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


# --- raw → validated ------------------------------------------------------------------------


def _results(
    validation_results: Mapping[str, Any] | Path | str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged metrics for the gates, and the files to keep under validation/ (name → text)."""
    if isinstance(validation_results, Mapping):
        data = _json_input(
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
            "gates": _gates_record(settings, results),
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
        )
    finally:
        builder.cleanup()


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
) -> Published:
    """metadata.json, model card and manifest, then publish: shared by both promotions."""
    entry = builder.entry
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
    bench = (
        _json_input(benchmarks, "benchmarks", "benchmarks", "benchmarks")
        if benchmarks is not None
        else None
    )
    usage = (
        _json_input(resource_usage, "resource_usage", "resource usage", "resource_usage")
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
    return _json_input(value, "deployment", "deployment config", "deployment_config")


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


# --- the release policy: one copy for every path to production ------------------------------

KEYWORDS = {
    "approved_by": "approved_by='Name <email>' (--approved-by WHO; in CI, ARTREG_APPROVED_BY)",
    "security_review": "security_review=FILE_OR_DICT (--security-review FILE)",
    "benchmarks": "benchmarks=FILE_OR_DICT and/or resource_usage=FILE_OR_DICT "
    "(--benchmarks FILE, --resources FILE)",
}


SETTING = {
    "approved_by": "artreg.require_approval",
    "security_review": "artreg.require_security_review",
}


@dataclass(frozen=True)
class ReleaseChecks:
    """What the release policy established: the version, the inputs, gates and approval."""

    version: str
    released: list[str]
    benchmarks: dict[str, Any] | None
    resource_usage: dict[str, Any] | None
    security_review: dict[str, Any] | None
    gates: dict[str, Any]
    approval: dict[str, str]


def _security_review(value: Mapping[str, Any] | Path | str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return plain_input(value, "security_review")
    data = read_json(Path(value), "security review")
    if not isinstance(data, dict):
        raise InputError(f"{value}: a security review must be a JSON object", hint="wrap it in {}")
    return data


def _approver(approved_by: str | None) -> str | None:
    who = approved_by if approved_by is not None else os.environ.get("ARTREG_APPROVED_BY")
    if who is not None and not isinstance(who, str):
        raise InputError(
            f"approved_by={who!r}: expected text naming who approved",
            hint="pass approved_by='Name <email>'",
        )
    return who.strip() or None if who else None


def check_release(
    root: Path,
    settings: Settings,
    name: str,
    version: str,
    *,
    benchmarks: Mapping[str, Any] | Path | str | None = None,
    resource_usage: Mapping[str, Any] | Path | str | None = None,
    approved_by: str | None = None,
    security_review: Mapping[str, Any] | Path | str | None = None,
    allow_non_monotonic: bool = False,
) -> ReleaseChecks:
    """The release policy, shared by `promote --to production` and `register_artifact`.

    A new semver, not below the latest release; the production gates of the committed
    params.yaml met by the benchmarks and resource usage; the security review and approval
    that params.yaml requires. A refusal names the keyword (and option) to add.
    """
    version = validate_semver(version)
    released = existing_releases(root, name)
    if version in released or production_dir(name, version).path(root).exists():
        raise ConflictError(
            f"{name} v{version} is released already",
            hint="choose a new version; releases are immutable",
        )
    if released and not allow_non_monotonic and semver_key(version) < semver_key(released[-1]):
        raise InputError(
            f"version {version} is lower than the latest release v{released[-1]} of {name}",
            hint="choose a higher version, or pass --allow-non-monotonic "
            "(allow_non_monotonic=True) for a patch of an old line",
        )
    bench, usage = _benchmarks(benchmarks, resource_usage)
    review = _security_review(security_review)
    who = _approver(approved_by)
    missing = [
        keyword
        for keyword, lacking in (
            ("approved_by", settings.require_approval and who is None),
            ("security_review", settings.require_security_review and review is None),
        )
        if lacking
    ]
    results = evaluate(
        settings.gates, "production", name, {**(bench or {}), **(usage or {})}, settings.source
    )
    failure = _gate_failure(settings, "production", name, results, f"pass {KEYWORDS['benchmarks']}")
    if failure is not None:
        if missing:  # say everything that is missing at once
            failure.hint = "; ".join(
                [
                    *([failure.hint] if failure.hint else []),
                    *(f"pass {KEYWORDS[k]}" for k in missing),
                ]
            )
        raise failure
    if missing:
        raise InputError(
            f"a production release of {name} needs "
            + " and ".join(
                {"approved_by": "an approval record", "security_review": "a security review"}[k]
                for k in missing
            )
            + f" ({settings.source} sets "
            + " and ".join(SETTING[k] for k in missing)
            + "), and none was given",
            hint="; ".join(f"pass {KEYWORDS[k]}" for k in missing),
        )
    return ReleaseChecks(
        version=version,
        released=released,
        benchmarks=bench,
        resource_usage=usage,
        security_review=review,
        gates=_gates_record(settings, results),
        approval={
            "approved_by": who or f"not required ({settings.source})",
            "approved_at": now_iso(),
        },
    )


def _write_release_inputs(builder: StageBuilder, checks: ReleaseChecks) -> dict[str, Any]:
    """performance/*.json and security_review.json; returns the policy's metadata fields."""
    if checks.benchmarks is not None:
        builder.write_text("performance/benchmarks.json", dump_json(checks.benchmarks))
    if checks.resource_usage is not None:
        builder.write_text("performance/resource_usage.json", dump_json(checks.resource_usage))
    if checks.security_review is not None:
        builder.write_text("security_review.json", dump_json(checks.security_review))
    return {
        "gates": checks.gates,
        "approval": checks.approval,
        "security_review": checks.security_review,
    }


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
) -> Published:
    """Release a validated artifact as `<name>@v<version>`: gates, approval, deployment files."""
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
    committed = committed_source(root, source)
    manifest = committed.manifest
    if committed.metadata is None:
        raise NotFoundError(
            f"{source.relpath}: has no metadata.json", hint="promote from a validated artifact"
        )
    src_meta = committed.metadata
    deploy = _deployment(deployment_config)
    checks = check_release(
        root,
        settings,
        name,
        version,
        benchmarks=benchmarks,
        resource_usage=resource_usage,
        approved_by=approved_by,
        security_review=security_review,
        allow_non_monotonic=allow_non_monotonic,
    )
    entry = production_dir(name, checks.version)
    model_src = src_meta["model"]["files"][0]
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
        policy = _write_release_inputs(builder, checks)
        primary = model_files[0]
        builder.write_text(
            "deployment/docker/Dockerfile",
            dockerfile(name, version, primary["path"], primary["sha256"], deploy),
        )
        for fname, text in kubernetes(name, version, primary["sha256"], deploy).items():
            builder.write_text(f"deployment/kubernetes/{fname}", text)
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
            **policy,
            "model": {
                "files": model_files,
                "parameter_count": parameter_count,
                "formats": [f["format"] for f in model_files],
                "optimization": optimize,
            },
            "notes": notes,
            "deployment": deploy,
        }
        return _release(
            root,
            builder,
            metadata,
            checks.released,
            who,
            options,
            f"artreg: release {name} v{version} to production from {vid}",
            source.relpath,
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
    )


def _previous_changelog(root: Path, name: str, released: list[str]) -> str | None:
    for version in reversed(released):
        path = production_dir(name, version).path(root) / "CHANGELOG.md"
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
    benchmarks: Mapping[str, Any] | Path | str | None = None,
    resource_usage: Mapping[str, Any] | Path | str | None = None,
    approved_by: str | None = None,
    security_review: Mapping[str, Any] | Path | str | None = None,
    options: PublishOptions | None = None,
) -> Published:
    """Release a ready model file (no training session behind it) as `name@v<version>`, under
    the same release policy as `promote --to production` (gates, security review, approval)."""
    from artreg.hashing import check_single_file

    settings = load_settings(root)
    name = resolve_name(root, name)
    version = validate_semver(version)
    if not file_path.is_file():
        raise InputError(f"{file_path}: model file not found", hint="check the path")
    check_single_file(file_path)
    validate_id(file_path.name, "model file name")
    checks = check_release(
        root,
        settings,
        name,
        version,
        benchmarks=benchmarks,
        resource_usage=resource_usage,
        approved_by=approved_by,
        security_review=security_review,
    )
    who = actor(root)
    builder = StageBuilder(root, production_dir(name, checks.version))
    try:
        digest = builder.track_file(file_path.name, src=file_path)
        model = _model_entry(file_path.name, digest)
        builder.write_text(f"{file_path.name}.sha256", sha256_line(digest.sha256, file_path.name))
        policy = _write_release_inputs(builder, checks)
        metadata = {
            "source": {
                "stage": "external",
                "id": file_path.name,
                "path": str(file_path.resolve()),
                "sha256": digest.sha256,
            },
            **policy,
            "model": {"files": [model], "parameter_count": None, "formats": [model["format"]]},
            "notes": notes,
        }
        return _release(
            root,
            builder,
            metadata,
            checks.released,
            who,
            options,
            f"artreg: register {name} v{version} from {file_path.name}",
            str(file_path.resolve()),
        )
    finally:
        builder.cleanup()
