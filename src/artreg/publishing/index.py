"""artifacts/registry.json: the generated index of every name, its production model and stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg.adapters import schemas
from artreg.adapters.files import dump_json, parse_json, read_json, write_atomic
from artreg.adapters.git import read as gitread
from artreg.adapters.values import to_plain
from artreg.errors import ArtregError, InputError, VerificationFailed
from artreg.publishing.transaction import repo_lock
from artreg.registry import state
from artreg.registry.layout import ARTIFACTS_DIR, REGISTRY_JSON, StageDir, model_target
from artreg.registry.records import Registry, iso


def primary_file(root: Path, folder: StageDir) -> tuple[str | None, str | None]:
    """(repo-relative path, sha256) of the folder's model file, read from its manifest."""
    manifest_path = folder.path(root) / "manifest.json"
    if not manifest_path.is_file():
        return None, None
    try:
        manifest = read_json(manifest_path, "manifest")
        rel = manifest["primary"]
        return f"{folder.relpath}/{model_target(folder.stage, rel)}", manifest["files"][rel][
            "sha256"
        ]
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
    if stale(root, state.load(root)):
        raise VerificationFailed(
            f"{REGISTRY_JSON} is out of date",
            [f"{REGISTRY_JSON} differs from what the tags and folders say; run `artreg index`"],
        )


def regenerate(root: Path, wait: float = 0.0) -> bool:
    """`artreg index`: rewrite registry.json from the tags and folders, under the repo lock.
    True when it then differs from the committed one: a change to commit."""
    with repo_lock(root, wait=wait):
        write(root, state.load(root))
        return bool(gitread.status(root, [REGISTRY_JSON]).strip())


def load(root: Path) -> dict[str, Any]:
    """The committed artifacts/registry.json (empty when the registry has none yet)."""
    path = root / REGISTRY_JSON
    if not path.is_file():
        return {}
    data: dict[str, Any] = parse_json(path.read_text(encoding="utf-8"), str(path))
    return data


# --- save_registry: the seed's writer, on a generated file ----------------------------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _entry_changes(name: str, given: Any, current: Any) -> list[str]:
    """Each difference of one entry from the generated one, with the call that makes it."""
    release = f"register_artifact({name!r}, path, {{version}})"
    if given is None:
        return [
            f"{name}: left out, but the registry holds it; a name leaves the index only by "
            f"deprecation: `artreg deprecate {name}`"
        ]
    if not isinstance(given, dict):
        return [
            f"{name}: {_shown(given)} is not an entry; pass the entries load_registry() returns"
        ]
    if current is None:
        version = given.get("version")
        shown = repr(version) if isinstance(version, str) else "'VERSION'"
        return [f"{name}: not in the registry; add it with {release.format(version=shown)}"]
    changes = []
    for key in sorted(set(given) | set(current)):
        old, new = current.get(key), given.get(key)
        if key not in given:
            changes.append(f"{name}: lacks {key!r}; pass the entry as load_registry() returns it")
        elif key not in current:
            changes.append(f"{name}: {key!r} is not a field of the index; leave it out")
        elif old == new:
            continue
        elif key == "version":
            changes.append(
                f"{name}: version {old} → {new}: use {release.format(version=repr(new))}"
            )
        elif key == "deprecated":
            how = (
                f"`artreg deprecate {name}`"
                if new
                else f"a new release, {release.format(version=repr('VERSION'))}"
            )
            changes.append(f"{name}: deprecated {old} → {new}: use {how}")
        elif key in ("file", "hash"):
            changes.append(
                f"{name}: {key} {_shown(old)} → {_shown(new)}: a release is immutable; a new file "
                f"is a new version: {release.format(version=repr('VERSION'))}"
            )
        else:
            changes.append(
                f"{name}: {key} {_shown(old)} → {_shown(new)}: {key!r} is generated from the "
                "tags and folders; leave it as load_registry() returns it"
            )
    return changes


def save(root: Path, data: Any) -> None:
    """Write `data` as artifacts/registry.json if it equals the generated index (idempotent);
    otherwise raise InputError naming each differing entry and the call that makes the change."""
    given = to_plain(data, "")
    if not isinstance(given, dict):
        raise InputError(
            f"save_registry: expected a dict of name → entry, got {type(data).__name__}",
            hint="pass the dict load_registry() returns",
        )
    generated = build_index(root, state.load(root))
    changes = [
        change
        for name in sorted(set(given) | set(generated))
        for change in _entry_changes(name, given.get(name), generated.get(name))
    ]
    if changes:
        raise InputError(
            f"{REGISTRY_JSON}: generated from the tags and folders, and the data differs from it:"
            "\n    " + "\n    ".join(changes),
            hint="make each change with the call named; load_registry() returns the index as it is",
        )
    path = root / REGISTRY_JSON
    text = dump_json(generated)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text)
