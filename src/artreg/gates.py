"""Promotion gates: rules from params.yaml (metric, operator, threshold) and their evaluation."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.errors import InputError

if TYPE_CHECKING:
    from artreg.layout import StageDir

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


# --- re-checking recorded gates (artreg verify) ---------------------------------------------


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _rule_text(op: Any, threshold: Any) -> str:
    return f"{op} {threshold!r}"


def recheck(
    recorded: dict[str, Any], rules: dict[str, dict[str, Any]], where: str, source: str
) -> list[str]:
    """What is wrong with a folder's recorded gates (`metadata.json` → gates) measured against
    the committed `rules`: a gate not evaluated, a different operator or threshold (promoted
    against uncommitted gates), or a recorded value that fails the committed rule."""
    problems: list[str] = []
    results = recorded.get("results")
    by_metric = {
        r.get("metric"): r
        for r in (results if isinstance(results, list) else [])
        if isinstance(r, dict)
    }
    for metric, rule in rules.items():
        record = by_metric.get(metric)
        committed = _rule_text(rule.get("op"), rule.get("threshold"))
        if record is None:
            problems.append(
                f"{where}: gate {metric} ({committed} in {source}) was not evaluated when it was promoted"
            )
            continue
        if not (
            _same(record.get("op"), rule.get("op"))
            and _same(record.get("threshold"), rule.get("threshold"))
        ):
            problems.append(
                f"{where}: gate {metric} is recorded as "
                f"{_rule_text(record.get('op'), record.get('threshold'))}, but {source} says "
                f"{committed}: it was promoted against gates nobody committed"
            )
            continue
        value = record.get("value")
        try:
            result = evaluate_one(metric, rule, {} if value is None else {metric: value}, source)
        except InputError as exc:
            problems.append(f"{where}: gate {metric} cannot be re-checked: {exc.message}")
            continue
        if not result.passed:
            problems.append(f"{where}: {metric}={value!r} fails the gate {committed} of {source}")
    if recorded.get("passed") is not True:
        problems.append(f"{where}: records gates.passed = {recorded.get('passed')!r}")
    return problems


def recheck_folders(
    root: Path, folders: Iterable[StageDir], created: Mapping[str, str]
) -> list[str]:
    """Problems of promoted folders whose recorded gates are not the gates of params.yaml as
    committed when they were promoted, or whose recorded values fail those gates.

    The gates are read at the commit recorded in the metadata (`gates.params_commit`) when that
    commit is in the history of the promotion, else at the commit that created the folder."""
    from artreg import gitrepo
    from artreg.config import committed_sections, settings_from
    from artreg.errors import ArtregError

    problems: list[str] = []
    for folder in folders:
        commit = created.get(folder.relpath)
        if folder.stage == "raw" or not commit:
            continue
        where = f"{folder.relpath}/metadata.json"
        try:
            metadata = gitrepo.json_at(root, commit, where)
        except ArtregError:
            continue  # the schema check reports a broken metadata.json
        if not isinstance(metadata, dict) or not isinstance(metadata.get("gates"), dict):
            continue
        rev = metadata["gates"].get("params_commit")
        if not (
            isinstance(rev, str)
            and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", rev)
            and gitrepo.is_ancestor(root, rev, commit)
        ):
            rev = commit
        try:
            settings = settings_from(committed_sections(root, rev), rev)
        except ArtregError as exc:
            problems.append(f"{where}: its gates cannot be re-checked: {exc.message}")
            continue
        rules = rules_for(settings.gates, folder.stage, folder.name)
        problems += recheck(metadata["gates"], rules, where, settings.source)
    return problems
