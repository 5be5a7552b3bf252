"""Every read and write of `dvc.yaml`: the `artifacts:` section that `dvc artifacts get`, gto and
DVC Studio read, which artreg keeps pointing at each artifact's newest promotion."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

from artreg.errors import ArtregError
from artreg.fileio import parse_yaml, write_atomic
from artreg.layout import DVC_YAML

TEMPLATE = (
    "# Artifacts of this registry, as `dvc artifacts get` and DVC Studio read them.\n"
    "# artreg keeps artifacts.<name>.path pointing at the model of the latest promotion.\n"
    "artifacts: {}\n"
)


def artifact_paths(data: bytes, source: str) -> dict[str, str]:
    """`artifacts.<name>.path` of every name in a dvc.yaml's bytes; {} when it is unreadable."""
    try:
        doc = parse_yaml(data.decode("utf-8", "replace"), source)
    except ArtregError:
        return {}
    artifacts = doc.get("artifacts") if isinstance(doc, dict) else None
    if not isinstance(artifacts, dict):
        return {}
    return {
        str(name): str(entry["path"])
        for name, entry in artifacts.items()
        if isinstance(entry, dict) and entry.get("path") is not None
    }


def read(root: Path) -> dict[str, Any]:
    """The work tree's dvc.yaml, strictly parsed (errors name the file)."""
    data = parse_yaml((root / DVC_YAML).read_text("utf-8"), DVC_YAML) or {}
    if not isinstance(data, dict):
        return {}
    return data


def set_artifact(root: Path, name: str, entry: dict[str, Any]) -> None:
    """Set `artifacts.<name>` in dvc.yaml, keeping the rest of the file and its comments."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = root / DVC_YAML
    data = yaml.load(path.read_text(encoding="utf-8")) if path.is_file() else None
    if data is None:
        data = {}
    artifacts = data.setdefault("artifacts", {})
    if artifacts is None:
        artifacts = data["artifacts"] = {}
    artifacts[name] = entry
    out = StringIO()
    yaml.dump(data, out)
    write_atomic(path, out.getvalue())


__all__ = ["DVC_YAML", "TEMPLATE", "artifact_paths", "read", "set_artifact"]
