"""The benchmark suite runs end to end at its --quick sizes and reports every pair with a ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
PAIRS = (
    "1",
    "2",
    "3a",
    "3b",
    "4a",
    "4b",
    "5a",
    "5b",
    "6",
    "7a",
    "7b",
    "7c",
    "8",
    "9",
    "10",
    "11a",
    "11b",
    "11c",
    "11d",
    "12",
    "13a",
    "13b",
    "15a",
    "15b",
)


def _rows(
    tmp_path: Path, *only: str, skip: tuple[str, ...] = ()
) -> tuple[str, dict[str, list[str]]]:
    out = tmp_path / "RESULTS.md"
    select = [arg for pair in only for arg in ("--only", pair)]
    select += [arg for pair in skip for arg in ("--skip", pair)]
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--quick",
            *select,
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=900,  # a guard against a hang, not a timing: CI shares 2 cores with another worker
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    rows = {
        cells[1]: cells
        for line in text.splitlines()
        if line.startswith("| ") and len(cells := [c.strip() for c in line.split("|")]) > 8
    }
    return text, rows


def test_quick_benchmark_writes_a_row_with_a_numeric_ratio_per_pair(tmp_path: Path) -> None:
    # Pair 14 (MLflow) runs from the bench-only environment `make bench` builds
    # (benchmarks/mlflow.lock), which `make test` does not install.
    text, rows = _rows(tmp_path, skip=("mlflow",))
    assert "14a" not in rows
    assert "## Machine" in text and "CPU:" in text
    for pair in PAIRS:
        assert pair in rows, f"no row for pair {pair} in\n{text}"
        ratio = rows[pair][5]
        assert re.fullmatch(r"(≥ )?\d+\.\d+×", ratio), f"pair {pair}: ratio {ratio!r}"
        assert rows[pair][8] in ("yes", "**no**")


def test_quick_gto_written_registry_rows(tmp_path: Path) -> None:
    """Pair 7 alone: a registry whose tags carry gto's messages, listed by artreg and gto (whose
    stages artreg's must equal; the run fails otherwise)."""
    text, rows = _rows(tmp_path, "gto-list")
    assert set(rows) - {"#", "---"} == {"7a", "7b", "7c"}, text
    assert "gto wrote" in rows["7a"][2] and rows["7a"][7] == "≥ 50×"
    assert "`git clone` (refs packed)" in rows["7c"][2] and rows["7c"][7] == "artreg < 0.2 s"
    assert "### 7. Listing a registry whose tags gto wrote" in text


def test_quick_gc_row(tmp_path: Path) -> None:
    """Pair 8 alone: planning a gc (dry run) on the tag registry, with dvc gc --dry beside it."""
    text, rows = _rows(tmp_path, "gc")
    assert set(rows) - {"#", "---"} == {"8"}, text
    assert "artreg gc" in rows["8"][2] and rows["8"][7] == "artreg < 5 s"
    assert rows["8"][8] == "yes", text
    assert "### 8. Planning a gc" in text


def test_quick_racing_pushers_row(tmp_path: Path) -> None:
    """Pair 9 alone: concurrent `--push` promotions of different names into one origin all land
    (the run fails otherwise), timed against the same promotions one after another."""
    text, rows = _rows(tmp_path, "push")
    assert set(rows) - {"#", "---"} == {"9"}, text
    assert "all land" in rows["9"][7]
    assert re.fullmatch(r"\d+\.\d+×", rows["9"][5]), rows["9"]
    assert "### 9. Racing pushers" in text


def test_quick_model_folder_rows(tmp_path: Path) -> None:
    """Pair 13 alone: a sharded model folder released (`artreg release`) against `cp -r` +
    `dvc add` + `git commit`, then verified against `sha256sum -c model.sha256`."""
    text, rows = _rows(tmp_path, "folders")
    assert set(rows) - {"#", "---"} == {"13a", "13b"}, text
    assert "artreg release" in rows["13a"][2] and rows["13a"][7] == "≤ 0.6×"
    assert "sha256sum -c model.sha256" in rows["13b"][2] and rows["13b"][7] == "artreg ≥ 2.5 GB/s"
    for pair in ("13a", "13b"):
        assert re.fullmatch(r"\d+\.\d+×", rows[pair][5]), rows[pair]
    assert "### 13. A model folder" in text


def test_quick_folder_fetch_row(tmp_path: Path) -> None:
    """Pair 11d alone: a model folder of many files fetched cold from a registry URL by
    `artreg get` and `dvc artifacts get` (both outputs checked against the release, or the
    run fails)."""
    text, rows = _rows(tmp_path, "folder-fetch")
    assert set(rows) - {"#", "---"} == {"11d"}, text
    assert "model folder of 200 files" in rows["11d"][2] and rows["11d"][7] == "≤ 1.2×"
    assert re.fullmatch(r"\d+\.\d+×", rows["11d"][5]), rows["11d"]
    assert "### 11d. Cold fetch of a model folder" in text


def test_quick_oci_rows(tmp_path: Path) -> None:
    """Pair 15 alone: `artreg export --oci` to a docker-registry on loopback against `skopeo
    copy` of the same artifact as an OCI layout, and the re-export of one changed shard of four
    (bytes uploaded against that shard's size)."""
    text, rows = _rows(tmp_path, "oci")
    assert set(rows) - {"#", "---"} == {"15a", "15b"}, text
    assert "skopeo copy" in rows["15a"][2] and rows["15a"][7] == "≤ 1.2×"
    assert re.fullmatch(r"\d+\.\d+×", rows["15a"][5]), rows["15a"]
    assert rows["15b"][7] == "≤ 1.01×" and rows["15b"][8] == "yes", rows["15b"]
    assert "### 15. A release as an OCI ModelPack artifact" in text
