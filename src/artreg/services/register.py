"""Registering the outputs of a training session as a raw artifact.

Each function checks everything first (a failure changes nothing), builds the new stage folder
in a private temporary place, then hands it to `publish`, which commits and tags atomically.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from artreg._version import __version__
from artreg.adapters.dvc.repo import RegistryDvc
from artreg.adapters.files import dump_json, dump_yaml, read_json, read_yaml
from artreg.adapters.git import read as gitread
from artreg.adapters.hashing import ProgressFn, regular_files
from artreg.adapters.values import plain_input
from artreg.errors import ConflictError, InputError
from artreg.publishing.charts import CHART_NAME, series, training_curves_png
from artreg.publishing.names import resolve_name
from artreg.publishing.promotion import back_to_start, check_source_outside_registry
from artreg.publishing.publish import (
    Published,
    PublishOptions,
    actor,
    check_options,
    now_iso,
    publish,
)
from artreg.publishing.rights import check_promotion
from artreg.publishing.stagefolder import StageBuilder
from artreg.registry import dvcyaml
from artreg.registry.documents import Manifest
from artreg.registry.layout import raw_dir
from artreg.registry.tags import Action, validate_id


def _config_text(config: Mapping[str, Any] | Path | str | None) -> str | None:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return dump_yaml(plain_input(config, "config"))
    path = Path(config)
    data = read_yaml(path, "training config")
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: a training config must be a YAML mapping", hint="use key: value lines"
        )
    return path.read_text(encoding="utf-8")


def _metrics_files(metrics: Mapping[str, Any] | Sequence[Path | str] | None) -> dict[str, str]:
    """metrics/<file>.json texts: a dict becomes training_metrics.json; files are kept as given."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return {"training_metrics.json": dump_json(plain_input(metrics, "metrics"))}
    out: dict[str, str] = {}
    for item in metrics:
        path = Path(item)
        data = read_json(path, "metrics file")
        if not isinstance(data, (dict, list)):
            raise InputError(
                f"{path}: metrics must be a JSON object or array", hint="wrap the values"
            )
        if path.name in out:
            raise InputError(f"{path}: two metrics files named {path.name}", hint="rename one")
        out[path.name] = path.read_text(encoding="utf-8")
    return out


def _epoch(path: str) -> int:
    m = re.search(r"epoch[_-]?(\d+)", path)
    return int(m[1]) if m else -1


def primary_checkpoint(names: Sequence[str]) -> str:
    """best.*, else latest.*, else the highest epoch_*, else the first file."""
    for stem in ("best", "latest"):
        for n in names:
            if Path(n).stem == stem and "/" not in n:
                return n
    epochs = [n for n in names if _epoch(n) >= 0]
    return max(epochs, key=_epoch) if epochs else sorted(names)[0]


def checkpoint_manifest(files: dict[str, Any], session_id: str) -> dict[str, Any]:
    """checkpoints/manifest.json, for a session whose folder brought none."""
    return {
        "session_id": session_id,
        "created_at": now_iso(),
        "checkpoints": [
            {
                "file": rel,
                "sha256": d.sha256,
                "size": d.size,
                "epoch": _epoch(rel) if _epoch(rel) >= 0 else None,
            }
            for rel, d in sorted(files.items())
        ],
    }


def raw_readme(name: str, session_id: str, manifest: Manifest, metrics: dict[str, str]) -> str:
    """The README.md of a raw folder: where it came from, its files, how to promote it."""
    rows = "\n".join(
        f"| `{rel}` | {f.size:,} | `{f.sha256[:16]}…` | {'DVC' if f.dvc else 'git'} |"
        for rel, f in manifest.files.items()
    )
    code = manifest.training_code
    dirty = " (with uncommitted changes)" if code.get("dirty") else ""
    code_line = (
        f"Training code: commit `{code.get('commit')}`{dirty}."
        if code.get("commit")
        else "Training code: not in a git repository (commit unknown)."
    )
    return (
        f"# {name} — training session `{session_id}` (raw)\n\n"
        f"Registered {manifest.created_at} by {manifest.created_by or '?'} with artreg "
        f"{manifest.tool_version}.\n\n{code_line}\n\n"
        "Raw artifacts are the direct outputs of training. This folder is immutable: promote a "
        "checkpoint with `artreg promote "
        f"{name} {session_id} --to validated --checkpoint NAME --results FILE`.\n\n"
        "| file | bytes | sha256 | stored in |\n| --- | ---: | --- | --- |\n"
        f"{rows}\n\n"
        + (
            f"Metrics files: {', '.join(f'`metrics/{m}`' for m in sorted(metrics))}.\n"
            if metrics
            else ""
        )
        + (
            f"\n![training curves](metrics/{CHART_NAME})\n"
            if f"metrics/{CHART_NAME}" in manifest.files
            else ""
        )
    )


def register_raw(
    root: Path,
    name: str | None,
    session_id: str,
    checkpoint_dir: Path | str,
    *,
    config: Mapping[str, Any] | Path | str | None = None,
    metrics: Mapping[str, Any] | Sequence[Path | str] | None = None,
    log: Path | str | None = None,
    progress: ProgressFn | None = None,
    options: PublishOptions | None = None,
) -> Published:
    """Register the outputs of one training session as `artifacts/raw/<name>/<session_id>/`."""
    # 1. Check everything before anything is written.
    check_options(options)
    name = resolve_name(root, name)
    session_id = validate_id(session_id, "session id")
    entry = raw_dir(name, session_id)
    if entry.path(root).exists():
        raise ConflictError(
            f"{entry.relpath}: session {session_id!r} of {name!r} is registered already",
            hint="raw sessions are immutable; register the new run under a new session id",
        )
    source = Path(checkpoint_dir)
    if source.exists() and not source.is_dir():
        raise InputError(
            f"{source}: a file, not a checkpoint folder: `register` takes the folder a training "
            "run wrote its checkpoints to",
            hint=f"pass that folder (--from {source.parent}), or release a ready model file "
            f"with `artreg release {name} {source} --version X.Y.Z`",
        )
    if not source.is_dir():
        raise InputError(
            f"{source}: checkpoint folder not found", hint="pass the folder training wrote"
        )
    dvc = RegistryDvc.open(root)
    check_source_outside_registry(root, source, dvc)
    # What `dvc add` would track of the folder once it sits at its place in the registry.
    out = entry.path(root) / "checkpoints"
    dvc.check_output(out, is_dir=True)
    dvc_view = dvc.folder_filter(out, source)
    files = regular_files(source, keep=dvc_view)
    if not files:
        left_out = f" (DVC's ignore rules leave out {', '.join(dvc_view.skipped)})"
        raise InputError(
            f"{source}: checkpoint folder is empty{left_out if dvc_view.skipped else ''}",
            hint="pass the folder holding the checkpoints",
        )
    inner = [(p.relative_to(source).as_posix(), p) for p in files]
    has_manifest = any(rel == "manifest.json" for rel, _ in inner)
    if not has_manifest:
        dvc.check_output(out / "manifest.json", is_dir=False)  # artreg writes it there
    config_text = _config_text(config)
    metrics_texts = _metrics_files(metrics)
    log_path = Path(log) if log is not None else None
    if log_path is not None and not log_path.is_file():
        raise InputError(f"{log_path}: training log not found", hint="check the path")
    check_promotion(root, ["raw"], sign=bool(options and options.sign))  # params.yaml rights
    who = actor(root)
    training_code = gitread.training_code_state(source.resolve())
    if training_code is not None:
        training_code["path"] = str(source.resolve())

    # 2. Build the folder in a private place; each byte is read once, hashed while copied.
    builder = StageBuilder(root, entry, progress, dvc=dvc)
    try:
        builder.track_dir(
            "checkpoints",
            inner,
            extra=None
            if has_manifest
            else lambda digests: {
                "manifest.json": dump_json(checkpoint_manifest(digests, session_id)).encode()
            },
        )
        checkpoint_names = [rel for rel, _ in inner if rel != "manifest.json"] or [
            rel for rel, _ in inner
        ]
        primary = "checkpoints/" + primary_checkpoint(checkpoint_names)
        if config_text is not None:
            builder.write_text("config.yaml", config_text)
        for fname, text in metrics_texts.items():
            builder.write_text(f"metrics/{fname}", text)
        curves = series(metrics_texts)
        if curves:
            png = training_curves_png(curves, f"{name} {session_id}")
            builder.write_bytes(f"metrics/{CHART_NAME}", png)
        if log_path is not None:
            builder.copy("training.log", log_path)
        manifest = Manifest(
            stage="raw",
            name=name,
            id=session_id,
            created_at=now_iso(),
            created_by=who,
            primary=primary,
            files=builder.manifest_files(),
            provenance={"session_id": session_id, "training_code": training_code},
            tool_version=__version__,
        )
        builder.write_text("README.md", raw_readme(name, session_id, manifest, metrics_texts))
        builder.write_manifest(dataclasses.replace(manifest, files=builder.manifest_files()))
        builder.finish_gitignore()

        # 3-5. Move in, commit, tag: all or nothing.
        published = publish(
            root,
            builder,
            actions=[(Action.ASSIGN, "raw", None)],
            dvc_entry=dvcyaml.entry_for("raw", name, session_id, entry.relpath, primary, None),
            title=f"artreg: register {name} session {session_id} (raw)",
            source=str(source.resolve()),
            who=who,
            options=options,
        )
    finally:
        builder.cleanup()
    published.ignored_by_dvc = sorted(dvc_view.skipped)
    back_to_start(root, published)
    return published
