"""Rendering typed results: tables, the gate table, listings, lineage and the PR summary."""

from __future__ import annotations

from artreg.present import markdown, queries
from artreg.present import text as fmt
from artreg.publishing import gatetable
from artreg.registry.documents import GateResult, ManifestFile, Source
from artreg.registry.layout import StageDir
from artreg.services.queries import LineageStep, TrainingCode
from artreg.services.review import PromotionSummary
from artreg.sources.listing import ArtifactSummary, StageEntry

SHA = "ab" * 32


def test_a_table_pads_columns_to_their_widest_cell() -> None:
    assert fmt.table(["a", "bb"], [["xxx", "y"]]) == "a    bb\n---  --\nxxx  y "


def test_the_gate_table_marks_each_verdict_and_the_reason() -> None:
    text = gatetable.gate_table(
        [
            GateResult("coverage", ">=", 0.95, 0.97, True),
            GateResult("entropy", "in range", [0.5, 1.0], 0.4, False),
            GateResult("latency", "<=", 100, None, False, "metric missing from the results"),
        ]
    )
    assert "| coverage | 0.97 | >= 0.95 | ✅ pass |" in text
    assert "| entropy | 0.4 | in [0.5, 1.0] | ❌ FAIL |" in text
    assert "| latency | — | <= 100 | ❌ FAIL (metric missing from the results) |" in text


def overview() -> dict[str, ArtifactSummary]:
    entry = StageEntry(
        "v1.0.0", "v1.0.0", "artifacts/production/enc/v1.0.0", "c" * 40, "enc@v1.0.0"
    )
    raw = StageEntry(None, "s1", "artifacts/raw/enc/s1", "d" * 40, "enc#raw#1")
    return {
        "enc": ArtifactSummary("enc", "v1.0.0", False, {"raw": raw, "production": entry}),
        "old": ArtifactSummary("old", None, True, {}),
    }


def test_the_listing_in_json_and_as_a_table() -> None:
    data = queries.overview_json(overview())
    assert data["enc"]["stages"]["production"] == {
        "version": "v1.0.0",
        "id": "v1.0.0",
        "folder": "artifacts/production/enc/v1.0.0",
        "commit": "c" * 40,
        "tag": "enc@v1.0.0",
    }
    lines = queries.overview_text(overview()).splitlines()
    assert lines[0].split() == ["name", "latest", "#raw", "#validated", "#production"]
    assert lines[2].split() == ["enc", "v1.0.0", "s1", "-", "v1.0.0"]
    assert lines[3].split() == ["old", "(deprecated)", "-", "-", "-", "-"]
    assert queries.overview_text({}) == "the registry is empty"


def test_lineage_text_and_json() -> None:
    step = LineageStep(
        stage="validated",
        id="s1_best_validated",
        folder="artifacts/validated/enc/s1_best_validated",
        tag="enc#validated#2",
        commit="e" * 40,
        date="2024-05-01T10:00:00Z",
        by="Ann",
        approved_by=None,
        gates=[GateResult("coverage", ">=", 0.95, 0.97, True)],
        files={"model.pt": ManifestFile(SHA, 10, dvc=True), "README.md": ManifestFile(SHA, 1)},
        source=Source("raw", "s1"),
        training_code=None,
    )
    chain = [step, TrainingCode("f" * 40, True, "/src")]
    text = queries.lineage_text(chain)
    assert "validated s1_best_validated  (artifacts/validated/enc/s1_best_validated)" in text
    assert "gate coverage = 0.97 (>= 0.95): pass" in text
    assert f"model.pt  sha256 {SHA}" in text and "README.md  sha256" not in text
    assert text.endswith(f"  ← training code commit {'f' * 40} (dirty)")
    data = queries.lineage_json(chain)
    assert data[0]["source"] == {"stage": "raw", "id": "s1"}
    assert data[0]["files"]["model.pt"] == {"sha256": SHA, "size": 10, "dvc": True}
    assert data[1] == {"stage": "training code", "commit": "f" * 40, "dirty": True, "path": "/src"}


def test_the_pull_request_summary() -> None:
    summary = PromotionSummary(
        folder=StageDir("production", "enc", "v1.1.0"),
        training_commit=None,
        source=Source(
            "validated", "s2_best_validated", checkpoint="checkpoints/best.pt", commit="9" * 40
        ),
        approved_by="rm",
        gates=[GateResult("latency_p95_ms", "<=", 100, 31.0, True)],
        metrics={"latency_p95_ms": 31.0, "throughput_rps": 300},
        baseline=("v1.0.0", {"latency_p95_ms": 40.0}),
        training_curves=None,
        files={"model.pt": ManifestFile(SHA, 1024, dvc=True)},
    )
    text = markdown.summary_markdown([summary])
    assert text.startswith("# artreg promotion summary\n\n## enc: production `v1.1.0`")
    assert "Promotes validated `s2_best_validated` → production `v1.1.0`, approved by rm." in text
    assert "### Metric deltas against production v1.0.0" in text
    assert "| latency_p95_ms | 40.0 | 31.0 | -9 |" in text and "throughput_rps" not in text
    assert "checkpoint `checkpoints/best.pt` ← training code `999999999999`" in text
    assert f"| `model.pt` | 1,024 | `{SHA}` | DVC |" in text
    assert markdown.summary_markdown([]) == "No promotions.\n"
