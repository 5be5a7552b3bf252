"""The gate table: a markdown table of gate results, pass/fail marked. The model card writes it
into each stage folder; the terminal, the review summary and the demo show the same table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from artreg.registry.documents import GateResult


def gate_table(results: Sequence[GateResult]) -> str:
    """A markdown table of gate results, pass/fail marked, for terminals, cards and PRs."""
    lines = ["| gate | value | threshold | result |", "| --- | --- | --- | --- |"]
    for r in results:
        threshold = (
            f"{r.op} {r.threshold}"
            if r.op != "in range"
            else f"in [{r.threshold[0]}, {r.threshold[1]}]"
        )
        verdict = "✅ pass" if r.passed else f"❌ FAIL{f' ({r.reason})' if r.reason else ''}"
        value = "—" if r.value is None else r.value
        lines.append(f"| {r.metric} | {value} | {threshold} | {verdict} |")
    return "\n".join(lines)
