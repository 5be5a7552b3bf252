"""`artreg demo` builds a registry from nothing: a real training run registered and pushed."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import git, run_tool


def test_demo_runs_the_whole_lifecycle_and_pushes_everything(tmp_path: Path) -> None:
    result = run_tool("artreg", "demo", str(tmp_path / "demo"), cwd=tmp_path)
    registry = tmp_path / "demo" / "registry"
    assert "registered artifacts/raw/encoder/demo_1" in result.stdout
    assert "released encoder v1.0.0 to production" in result.stdout
    assert "| coverage | 0.97 | >= 0.95 | ✅ pass |" in result.stdout
    assert sorted(git(registry, "tag", "--list").split()) == [
        "encoder#production#3",
        "encoder#raw#1",
        "encoder#validated#2",
        "encoder@v1.0.0",
    ]
    assert git(registry, "status", "--porcelain") == ""
    status = run_tool("dvc", "status", "--cloud", "--json", cwd=registry)
    assert json.loads(status.stdout) == {}  # everything is in the demo's local remote
