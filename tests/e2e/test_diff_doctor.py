"""`artreg diff` compares two artifacts; `artreg doctor` names each problem with its fix."""

from __future__ import annotations

import json
from pathlib import Path

from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES


def test_diff_shows_metric_deltas_between_two_validated_artifacts(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    first = tmp_path / "a.json"
    first.write_text((EXAMPLES / "validation_results.json").read_text())
    promote_to_validated(registry, "encoder", "s1", "epoch_1", first, validated_id="first")
    second = tmp_path / "b.json"
    second.write_text(json.dumps({**json.loads(first.read_text()), "coverage": 0.99}))
    promote_to_validated(registry, "encoder", "s1", "best", second, validated_id="second")

    result = cli("diff", "encoder#raw", "encoder#validated", "--json", cwd=registry)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["b"]["folder"] == "artifacts/validated/encoder/second"
    assert data["same_model"] is False

    from artreg.services.queries import diff

    both = diff(registry, "encoder#validated", "encoder#validated")
    assert both.same_model and both.files == []


def test_doctor_passes_on_a_healthy_registry_and_names_the_fix_otherwise(
    registry: Path, tmp_path: Path, cli
) -> None:
    healthy = cli("doctor", "--repo", str(registry))
    assert healthy.exit_code == 0, healthy.stdout
    assert "remote reachable: yes" in healthy.stdout

    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    broken = cli("doctor", "--repo", str(outside))
    assert broken.exit_code == 1
    assert "fix: artreg init" in broken.stdout
