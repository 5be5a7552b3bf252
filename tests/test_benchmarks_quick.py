"""The benchmark suite runs end to end at its --quick sizes and reports every pair with a ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
PAIRS = ("1", "2", "3a", "3b", "4a", "4b", "5a", "5b", "6", "7")


def test_quick_benchmark_writes_a_row_with_a_numeric_ratio_per_pair(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(out), "--work", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "## Machine" in text and "CPU:" in text
    rows = {
        cells[1]: cells
        for line in text.splitlines()
        if line.startswith("| ") and len(cells := [c.strip() for c in line.split("|")]) > 8
    }
    for pair in PAIRS:
        assert pair in rows, f"no row for pair {pair} in\n{text}"
        ratio = rows[pair][5]
        assert re.fullmatch(r"(≥ )?\d+\.\d+×", ratio), f"pair {pair}: ratio {ratio!r}"
        assert rows[pair][8] in ("yes", "**no**")
