"""Promotion gates from params.yaml, evaluated without any repository: boundaries, operators,
per-model overrides, and the errors a wrong rule gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artreg.errors import GateFailed, InputError
from artreg.registry.policy import (
    DEFAULT_PARAMS,
    MISSING,
    Settings,
    approver,
    check_gates,
    evaluate,
    evaluate_one,
    lookup,
    rules_for,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSING = json.loads((EXAMPLES / "validation_results.json").read_text())
GATES = DEFAULT_PARAMS["gates"]


def settings(**gates: object) -> Settings:
    return Settings(None, True, False, {**GATES, **gates})


@pytest.mark.parametrize(
    ("overrides", "passes"),
    [
        ({"coverage": 0.95}, True),  # >= at the threshold
        ({"coverage": 0.9499}, False),
        ({"entropy_utilization": 0.5}, True),  # range bounds are inclusive
        ({"entropy_utilization": 1.0}, True),
        ({"entropy_utilization": 0.4999}, False),
        ({"posterior_collapse_detected": True}, False),
        ({"generalization_tests_passed": False}, False),
    ],
)
def test_validated_gates_at_their_boundaries(overrides: dict[str, object], passes: bool) -> None:
    results = evaluate(GATES, "validated", "encoder", {**PASSING, **overrides})
    metric, value = next(iter(overrides.items()))
    result = next(r for r in results if r.metric == metric)
    assert result.value == value and result.passed is passes
    assert all(r.passed for r in results if r.metric != metric)
    if passes:
        assert check_gates(settings(), "validated", "encoder", {**PASSING, **overrides}, "x")
    else:
        with pytest.raises(GateFailed) as failed:
            check_gates(settings(), "validated", "encoder", {**PASSING, **overrides}, "x")
        assert f"{metric}={value!r}" in str(failed.value)
        assert "a gate changes only through a reviewed commit of params.yaml" in str(failed.value)
        assert {"metric": metric, "passed": False}.items() <= next(
            r for r in failed.value.results if r["metric"] == metric
        ).items()


def test_a_missing_metric_fails_its_gate_with_a_reason() -> None:
    results = evaluate(
        GATES, "validated", "m", {k: v for k, v in PASSING.items() if k != "coverage"}
    )
    missing = next(r for r in results if r.metric == "coverage")
    assert not missing.passed and missing.reason == MISSING == "metric missing from the results"
    with pytest.raises(GateFailed) as failed:
        check_gates(settings(), "validated", "m", {}, "pass them with --results")
    assert "missing: pass them with --results" in str(failed.value)


@pytest.mark.parametrize(
    ("op", "threshold", "value", "passed"),
    [
        (">", 1, 1, False),
        (">", 1, 1.0001, True),
        ("<", 5, 5, False),
        ("<=", 5, 5, True),
        ("!=", "a", "b", True),
        ("==", 1, 1.0, True),  # numbers compare as numbers
        ("==", True, 1, False),  # a bool is not a number
        (">=", 1, "2", False),  # a string is not a number
        (">=", 1, float("nan"), False),
    ],
)
def test_operators(op: str, threshold: object, value: object, passed: bool) -> None:
    result = evaluate_one("m", {"op": op, "threshold": threshold}, {"m": value}, "params.yaml")
    assert result.passed is passed


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"op": "~", "threshold": 1}, "unknown operator"),
        ({"op": "in range", "threshold": [1]}, "give the range as [low, high]"),
        ({"op": ">=", "threshold": "high"}, "give a number as threshold"),
    ],
)
def test_a_wrong_rule_is_an_input_error_naming_the_gate(
    rule: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        evaluate_one("coverage", rule, {"coverage": 1}, "params.yaml")
    assert "coverage" in str(caught.value) and message in str(caught.value)


def test_a_per_model_override_replaces_the_default_gate() -> None:
    gates = {
        **GATES,
        "overrides": {"encoder": {"validated": {"coverage": {"op": ">=", "threshold": 0.9}}}},
    }
    assert rules_for(gates, "validated", "encoder")["coverage"]["threshold"] == 0.9
    assert rules_for(gates, "validated", "other")["coverage"]["threshold"] == 0.95


def test_metrics_are_found_by_dotted_path() -> None:
    assert lookup({"report": {"coverage": 0.9}}, "report.coverage") == (True, 0.9)
    assert lookup({"report": {}}, "report.coverage") == (False, None)


def test_the_approver_is_given_or_comes_from_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARTREG_APPROVED_BY", raising=False)
    assert approver(None) is None and approver("  ") is None
    monkeypatch.setenv("ARTREG_APPROVED_BY", "ci")
    assert approver(None) == "ci"
    assert approver("rm") == "rm"
    with pytest.raises(InputError, match="expected text"):
        approver(5)  # type: ignore[arg-type]


def test_may_set_is_false_only_where_no_yaml_spelling_of_the_key_can_hide() -> None:
    from artreg.registry.policy import may_set

    assert not may_set(None, "rights")
    assert not may_set(b"artreg:\n  stages: []\ngates: {}\n", "rights")
    for blob in (b"rights:\n", b'"rights": {}\n', b"{rights: {}}\n", b'"\\x72ights": {}\n'):
        assert may_set(blob, "rights"), blob
    assert may_set("rights: {}\n".encode("utf-16"), "rights")  # NUL bytes: parse, never skip
