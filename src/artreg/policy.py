"""The promotion policy, read from params.yaml (one place, reviewed in git): the registry's
settings, the gates per stage (metric, operator, threshold) and their evaluation, and the
checks every promotion applies."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import schemas
from artreg.errors import GateFailed, InputError
from artreg.fileio import read_yaml
from artreg.layout import PARAMS_FILE
from artreg.model import Approval, GateResult
from artreg.tags import validate_name

OPERATORS = (">=", ">", "<=", "<", "==", "!=", "in range")


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


def check_gates(
    settings: Settings, stage: str, name: str, metrics: dict[str, Any]
) -> list[GateResult]:
    """Evaluate the stage's gates; raise GateFailed (exit 1) with every result if one fails."""
    results = evaluate(settings.gates, stage, name, metrics)
    failed = [r for r in results if not r.passed]
    if failed:
        raise GateFailed(
            f"{len(failed)} of {len(results)} {stage} gates failed for {name}: "
            + ", ".join(f"{r.metric}={r.value!r} (needs {r.op} {r.threshold!r})" for r in failed),
            [r.as_dict() for r in results],
        )
    return results


# --- settings -----------------------------------------------------------------------------------

DEFAULT_PARAMS: dict[str, Any] = {
    "artreg": {
        "default_name": None,
        "require_approval": True,
        "require_security_review": False,
    },
    "gates": {
        "validated": {
            "coverage": {
                "op": ">=",
                "threshold": 0.95,
                "description": "share of test cases covered",
            },
            "generalization_tests_passed": {"op": "==", "threshold": True},
            "entropy_utilization": {"op": "in range", "threshold": [0.5, 1.0]},
            "posterior_collapse_detected": {"op": "==", "threshold": False},
        },
        "production": {
            "latency_p95_ms": {"op": "<=", "threshold": 100},
            "throughput_rps": {"op": ">=", "threshold": 50},
            "peak_memory_mb": {"op": "<=", "threshold": 4096},
        },
        "overrides": {},
    },
}


@dataclass(frozen=True)
class Settings:
    default_name: str | None
    require_approval: bool
    require_security_review: bool
    gates: dict[str, Any]


def read_params(root: Path) -> dict[str, Any]:
    """params.yaml, validated against artreg's schema for its sections (other keys are free)."""
    path = root / PARAMS_FILE
    if not path.exists():
        return {}
    data = read_yaml(path, "params file") or {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level", hint="see `artreg init`")
    mine = {k: data[k] for k in ("artreg", "gates") if k in data}
    schemas.validate(mine, "params", str(path))
    return data


def load_settings(root: Path) -> Settings:
    """Settings with defaults filled in where params.yaml is silent."""
    params = read_params(root)
    section = {**DEFAULT_PARAMS["artreg"], **(params.get("artreg") or {})}
    gates = params.get("gates")
    return Settings(
        default_name=section.get("default_name"),
        require_approval=bool(section.get("require_approval", True)),
        require_security_review=bool(section.get("require_security_review", False)),
        gates=gates if gates is not None else DEFAULT_PARAMS["gates"],
    )


def resolve_name(root: Path, name: str | None) -> str:
    """The artifact name given, or the registry's configured default (params.yaml is checked)."""
    default = load_settings(root).default_name
    if name is not None:
        return validate_name(name)
    if not default:
        raise InputError(
            "no artifact name given and params.yaml sets no artreg.default_name",
            hint="pass name=... (or NAME on the command line), or set artreg.default_name",
        )
    return validate_name(default, "default_name in params.yaml")


def approval(settings: Settings, approved_by: str | None, now: str) -> Approval | None:
    """The approval record of a release: given, or from $ARTREG_APPROVED_BY (CI); refused when
    params.yaml requires one and there is none."""
    who = approved_by or os.environ.get("ARTREG_APPROVED_BY")
    if not who and settings.require_approval:
        raise InputError(
            "production promotion needs an approval record, and none was given",
            hint="pass --approved-by WHO (approved_by=...), or set ARTREG_APPROVED_BY in CI",
        )
    return Approval(who, now) if who else None
