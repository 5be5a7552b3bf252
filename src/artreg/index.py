"""artifacts/registry.json: the generated index of every name, its production model and stages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from artreg import gitrepo, schemas
from artreg.documents import dump_json, parse_json, parse_yaml, read_json
from artreg.errors import ArtregError
from artreg.layout import ARTIFACTS_DIR, REGISTRY_JSON, StageDir
from artreg.registry import RegistryState, message_fields
from artreg.tags import Action, TagRecord


def load_state_for(root: Path) -> RegistryState:
    from artreg.registry import load_state

    return load_state(root)


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def folder_of(root: Path, record: TagRecord) -> StageDir | None:
    """The stage folder a tag promoted: from its message, else from dvc.yaml at its commit."""
    fields = message_fields(record.message)
    if fields.get("folder"):
        return StageDir.parse(fields["folder"])
    if fields or record.parsed.action not in (Action.ASSIGN, Action.REGISTER):
        return None  # artreg's own tag without a folder (deprecate, unassign), or no folder at all
    data = gitrepo.show_file(root, record.commit, "dvc.yaml")
    if data is None:
        return None
    try:
        dvc_yaml = parse_yaml(data.decode("utf-8", "replace"), f"dvc.yaml at {record.commit[:8]}")
        path = dvc_yaml["artifacts"][record.parsed.name]["path"]
    except (ArtregError, KeyError, TypeError):
        return None
    return StageDir.parse(str(path))


def primary_file(root: Path, folder: StageDir) -> tuple[str | None, str | None]:
    """(repo-relative path, sha256) of the folder's model file, read from its manifest."""
    manifest_path = folder.path(root) / "manifest.json"
    if not manifest_path.is_file():
        return None, None
    try:
        manifest = read_json(manifest_path, "manifest")
        rel = manifest["primary"]
        return f"{folder.relpath}/{rel}", manifest["files"][rel]["sha256"]
    except (ArtregError, KeyError, TypeError):
        return None, None


def build_index(root: Path, state: RegistryState) -> dict[str, Any]:
    """The registry.json document for `state`, reading manifests from the work tree."""
    index: dict[str, Any] = {}
    prefix = f"{ARTIFACTS_DIR}/"
    for name in sorted(state.artifacts):
        artifact = state.artifacts[name]
        stages: dict[str, Any] = {}
        for stage, holder in artifact.stages().items():
            record = holder.assignment(stage)
            assert record is not None
            folder = folder_of(root, record)
            if folder is None:
                continue
            file, sha = primary_file(root, folder)
            stages[stage] = {
                "id": folder.entry,
                "path": folder.relpath,
                "file": file.removeprefix(prefix) if file else None,
                "hash": sha,
                "tag": record.tag,
                "updated": iso(record.timestamp),
                "version": holder.version if holder.registered else None,
            }
        production = stages.get("production")
        latest = artifact.latest()
        updated = max((e.timestamp for e in artifact.events), default=0)
        index[name] = {
            "version": production["version"]
            if production
            else (latest.version if latest else None),
            "file": production["file"] if production else None,
            "hash": production["hash"] if production else None,
            "updated": iso(updated),
            "deprecated": artifact.deprecated,
            "stages": stages,
            "versions": [v.version for v in artifact.active_versions() if v.registered],
        }
    schemas.validate(index, "registry", REGISTRY_JSON)
    return index


def render(root: Path, state: RegistryState) -> str:
    return dump_json(build_index(root, state))


def stale(root: Path, state: RegistryState) -> bool:
    """True when artifacts/registry.json differs from what the tags and folders say."""
    path = root / REGISTRY_JSON
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    return current != render(root, state)


def load(root: Path) -> dict[str, Any]:
    """The committed artifacts/registry.json (empty when the registry has none yet)."""
    path = root / REGISTRY_JSON
    if not path.is_file():
        return {}
    data: dict[str, Any] = parse_json(path.read_text(encoding="utf-8"), str(path))
    return data
