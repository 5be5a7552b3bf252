"""`artreg demo` builds a registry from nothing: a real training run registered and pushed."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, run_tool


def test_demo_trains_registers_and_pushes(tmp_path: Path) -> None:
    result = run_tool("artreg", "demo", str(tmp_path / "demo"), cwd=tmp_path)
    registry = tmp_path / "demo" / "registry"
    assert "registered artifacts/raw/encoder/demo_1" in result.stdout
    assert git(registry, "tag", "--list").split() == ["encoder#raw#1"]
    assert git(registry, "status", "--porcelain") == ""
    status = run_tool("dvc", "status", "--cloud", "--json", cwd=registry)
    assert json.loads(status.stdout) == {}  # everything is in the demo's local remote
