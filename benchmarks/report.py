"""The report of a benchmark run: its rows (artreg against a baseline) and sections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from timing import Stats

if TYPE_CHECKING:
    from run import Sizes


@dataclass
class Row:
    """One line of the summary table: artreg (A) against a baseline (B)."""

    pair: str  # "1", "2", "4a", ...
    what: str
    a: Stats
    b: Stats
    ratio: float
    ratio_kind: str  # how the ratio is computed, e.g. "speed-up (gto ÷ artreg)"
    target: str
    met: bool
    lower_bound: bool = False  # the ratio is at least this (the baseline hit its time limit)
    notes: list[str] = field(default_factory=list)

    def ratio_text(self) -> str:
        return f"{'≥ ' if self.lower_bound else ''}{self.ratio:.2f}×"


@dataclass
class Report:
    mode: str
    sizes: Sizes
    rows: list[Row] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # markdown, one per pair
    failures: list[str] = field(default_factory=list)


def log(text: str) -> None:
    print(text, flush=True)


def speedup(a: Stats, b: Stats) -> float:
    return b.median / a.median


def ratio_row(
    pair: str,
    what: str,
    a: Stats,
    b: Stats,
    *,
    kind: str,
    target: str,
    check: Callable[[float], bool],
) -> Row:
    """A row whose ratio is `b ÷ a` for speed-ups and `a ÷ b` for time ratios (by `kind`)."""
    ratio = speedup(a, b) if kind.startswith(("speed-up", "throughput")) else a.median / b.median
    return Row(pair, what, a, b, ratio, kind, target, check(ratio), lower_bound=b.lower_bound)
