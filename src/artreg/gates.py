"""Promotion gates: rules from params.yaml (metric, operator, threshold) and their evaluation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from artreg.errors import InputError

OPERATORS = (">=", ">", "<=", "<", "==", "!=", "in range")


@dataclass(frozen=True)
class GateResult:
    metric: str
    op: str
    threshold: Any
    value: Any
    passed: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["reason"]:
            del data["reason"]
        return data


def rules_for(gates: dict[str, Any], stage: str, name: str) -> dict[str, dict[str, Any]]:
    """The stage's gates, with the model's overrides replacing or adding per metric."""
    rules = dict((gates or {}).get(stage) or {})
    override = (((gates or {}).get("overrides") or {}).get(name) or {}).get(stage) or {}
    rules.update(override)
    return rules


def lookup(metrics: dict[str, Any], metric: str) -> tuple[bool, Any]:
    """Find a metric by name or dotted path (`coverage_report.coverage`)."""
    if metric in metrics:
        return True, metrics[metric]
    node: Any = metrics
    for part in metric.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def evaluate_one(
    metric: str, rule: dict[str, Any], metrics: dict[str, Any], source: str
) -> GateResult:
    op, threshold = rule.get("op"), rule.get("threshold")
    if op not in OPERATORS:
        raise InputError(
            f"{source}: gate {metric!r} has unknown operator {op!r}",
            hint=f"use one of: {', '.join(OPERATORS)}",
        )
    found, value = lookup(metrics, metric)
    if not found:
        return GateResult(metric, op, threshold, None, False, "metric missing from the results")
    if op == "in range":
        if not (
            isinstance(threshold, list) and len(threshold) == 2 and all(map(_is_number, threshold))
        ):
            raise InputError(
                f"{source}: gate {metric!r} uses 'in range' with threshold {threshold!r}",
                hint="give the range as [low, high]",
            )
        if not _is_number(value):
            return GateResult(metric, op, threshold, value, False, "value is not a number")
        return GateResult(metric, op, threshold, value, threshold[0] <= value <= threshold[1])
    if op in ("==", "!="):
        same = (value == threshold and type(value) is type(threshold)) or (
            _is_number(value) and _is_number(threshold) and value == threshold
        )
        return GateResult(metric, op, threshold, value, same if op == "==" else not same)
    if not _is_number(threshold):
        raise InputError(
            f"{source}: gate {metric!r} compares with {op} against {threshold!r}",
            hint="give a number as threshold",
        )
    if not _is_number(value):
        return GateResult(metric, op, threshold, value, False, "value is not a number")
    passed = {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
    }[op]
    return GateResult(metric, op, threshold, value, passed)


def evaluate(
    gates: dict[str, Any],
    stage: str,
    name: str,
    metrics: dict[str, Any],
    source: str = "params.yaml",
) -> list[GateResult]:
    """Evaluate every gate of `stage` for model `name` against `metrics`."""
    return [
        evaluate_one(metric, rule, metrics, source)
        for metric, rule in rules_for(gates, stage, name).items()
    ]


def format_table(results: list[GateResult]) -> str:
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
