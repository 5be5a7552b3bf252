"""Every read and write of `dvc.yaml`: the `artifacts:` section that `dvc artifacts get`, gto and
DVC Studio read, which artreg keeps pointing at each artifact's newest promotion."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

from artreg.adapters.files import parse_yaml, parse_yaml_entries, prepare_yaml, write_atomic
from artreg.errors import ArtregError
from artreg.registry.layout import DVC_YAML, model_target

TEMPLATE = (
    "# Artifacts of this registry, as `dvc artifacts get` and DVC Studio read them.\n"
    "# artreg keeps artifacts.<name>.path pointing at the model of the latest promotion.\n"
    "artifacts: {}\n"
)


def prepare() -> None:
    """Load the YAML parser `artifact_paths` uses, ahead of time: the read model does this
    while git still reads the tags, in case they turn out to be another tool's."""
    prepare_yaml()


def artifact_paths(data: bytes, source: str) -> dict[str, str]:
    """`artifacts.<name>.path` of every name in a dvc.yaml's bytes; {} when it is unreadable."""
    try:
        paths = parse_yaml_entries(data.decode("utf-8", "replace"), source, "artifacts", "path")
    except ArtregError:
        return {}
    return {str(name): str(path) for name, path in paths.items()}


def read(root: Path) -> dict[str, Any]:
    """The work tree's dvc.yaml, strictly parsed (errors name the file)."""
    data = parse_yaml((root / DVC_YAML).read_text("utf-8"), DVC_YAML) or {}
    if not isinstance(data, dict):
        return {}
    return data


def entry_for(
    stage: str, name: str, entry_id: str, folder: str, primary: str, sha256: str | None
) -> dict[str, Any]:
    """The `artifacts.<name>` entry of a promoted folder: raw points at its checkpoints, the
    other stages at their model file (`primary`, relative to the folder), or at their model
    folder when the model is one (`dvc artifacts get` then returns the whole folder)."""
    if stage == "raw":
        return {
            "path": f"{folder}/checkpoints",
            "type": "model",
            "desc": f"{name}: checkpoints of training session {entry_id}",
            "labels": ["raw"],
            "meta": {"stage": "raw", "id": entry_id, "primary": f"{folder}/{primary}"},
        }
    return {
        "path": f"{folder}/{model_target(stage, primary)}",
        "type": "model",
        "desc": f"{name} {stage} {entry_id}",
        "labels": [stage],
        "meta": {"stage": stage, "id": entry_id, "sha256": sha256},
    }


def with_artifact(text: str | None, name: str, entry: dict[str, Any]) -> str:
    """A dvc.yaml's text with `artifacts.<name>` set, keeping the rest and its comments."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(text) if text else None
    if data is None:
        data = {}
    artifacts = data.setdefault("artifacts", {})
    if artifacts is None:
        artifacts = data["artifacts"] = {}
    artifacts[name] = entry
    out = StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def set_artifact(root: Path, name: str, entry: dict[str, Any]) -> None:
    """Set `artifacts.<name>` in dvc.yaml, keeping the rest of the file and its comments."""
    path = root / DVC_YAML
    text = path.read_text(encoding="utf-8") if path.is_file() else None
    write_atomic(path, with_artifact(text, name, entry))


__all__ = [
    "DVC_YAML",
    "TEMPLATE",
    "artifact_paths",
    "entry_for",
    "read",
    "set_artifact",
    "with_artifact",
]
