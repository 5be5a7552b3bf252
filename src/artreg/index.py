"""artifacts/registry.json: the generated index of every name, its production model and stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg import schemas
from artreg.errors import ArtregError, VerificationFailed
from artreg.fileio import dump_json, parse_json, read_json, write_atomic
from artreg.layout import ARTIFACTS_DIR, REGISTRY_JSON, StageDir
from artreg.model import Registry, iso


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


def build_index(root: Path, registry: Registry) -> dict[str, Any]:
    """The registry.json document for `registry` (its current folders resolved), reading
    manifests from the work tree."""
    index: dict[str, Any] = {}
    prefix = f"{ARTIFACTS_DIR}/"
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        stages: dict[str, Any] = {}
        for stage, holder in artifact.stages().items():
            event = holder.assignment(stage)
            assert event is not None
            folder = event.folder
            if folder is None:
                continue
            file, sha = primary_file(root, folder)
            stages[stage] = {
                "id": folder.entry,
                "path": folder.relpath,
                "file": file.removeprefix(prefix) if file else None,
                "hash": sha,
                "tag": event.tag,
                "updated": iso(event.timestamp),
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


def render(root: Path, registry: Registry) -> str:
    return dump_json(build_index(root, registry))


def stale(root: Path, registry: Registry) -> bool:
    """True when artifacts/registry.json differs from what the tags and folders say."""
    path = root / REGISTRY_JSON
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    return current != render(root, registry)


def write(root: Path, registry: Registry) -> None:
    """Write artifacts/registry.json for `registry` (atomically: readers never see half)."""
    write_atomic(root / REGISTRY_JSON, render(root, registry))


def check(root: Path) -> None:
    """`artreg index --check`: raise VerificationFailed (exit 1) when registry.json is stale."""
    from artreg import state

    if stale(root, state.load(root)):
        raise VerificationFailed(
            f"{REGISTRY_JSON} is out of date",
            [f"{REGISTRY_JSON} differs from what the tags and folders say; run `artreg index`"],
        )


def regenerate(root: Path, wait: float = 0.0) -> None:
    """`artreg index`: rewrite registry.json from the tags and folders, under the repo lock."""
    from artreg import state
    from artreg.transaction import repo_lock

    with repo_lock(root, wait=wait):
        write(root, state.load(root))


def load(root: Path) -> dict[str, Any]:
    """The committed artifacts/registry.json (empty when the registry has none yet)."""
    path = root / REGISTRY_JSON
    if not path.is_file():
        return {}
    data: dict[str, Any] = parse_json(path.read_text(encoding="utf-8"), str(path))
    return data
