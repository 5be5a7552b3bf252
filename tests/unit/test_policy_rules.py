"""Pure rules behind the release policy: re-checking recorded gates, names from folders."""

from __future__ import annotations

import pytest

from artreg.registry.policy import (
    DEFAULT_PARAMS,
    _differences,
    evaluate,
    recheck,
    rules_for,
    settings_from,
)
from artreg.services.init import name_from_folder

RULES = rules_for(DEFAULT_PARAMS["gates"], "production", "encoder")
GOOD = {"latency_p95_ms": 31.0, "throughput_rps": 120, "peak_memory_mb": 900}


def recorded(metrics: dict[str, object], gates: dict[str, object] | None = None) -> dict:
    results = evaluate(gates or DEFAULT_PARAMS["gates"], "production", "encoder", metrics)
    return {"passed": all(r.passed for r in results), "results": [r.as_dict() for r in results]}


def test_gates_recorded_as_committed_and_passed_recheck_clean() -> None:
    assert recheck(recorded(GOOD), RULES, "m.json", "params.yaml@abc") == []


def test_a_loosened_threshold_is_named_with_both_rules() -> None:
    loose = {
        **DEFAULT_PARAMS["gates"],
        "production": {
            **DEFAULT_PARAMS["gates"]["production"],
            "latency_p95_ms": {"op": "<=", "threshold": 500},
        },
    }
    problems = recheck(recorded({**GOOD, "latency_p95_ms": 400.0}, loose), RULES, "m.json", "P")
    assert problems == [
        "m.json: gate latency_p95_ms is recorded as <= 500, but P says <= 100: "
        "it was promoted against gates nobody committed"
    ]


def test_a_gate_never_evaluated_and_a_failing_value_are_named() -> None:
    data = {"passed": True, "results": []}
    problems = recheck(data, RULES, "m.json", "P")
    assert len(problems) == 3 and all("was not evaluated" in p for p in problems)
    forged = recorded(GOOD)
    forged["results"][0]["value"] = 1000.0  # latency, still "passed" in the record
    assert recheck(forged, RULES, "m.json", "P") == [
        "m.json: latency_p95_ms=1000.0 fails the gate <= 100 of P"
    ]


def test_a_bool_threshold_is_not_the_number_one() -> None:
    rules = {"ok": {"op": "==", "threshold": True}}
    data = {"passed": True, "results": [{"metric": "ok", "op": "==", "threshold": 1, "value": 1}]}
    assert "recorded as == 1" in recheck(data, rules, "m", "P")[0]


def test_settings_fill_defaults_and_remember_their_commit() -> None:
    settings = settings_from({"artreg": {"require_approval": False}}, "a" * 40)
    assert settings.require_approval is False
    assert settings.gates == DEFAULT_PARAMS["gates"]
    assert settings.source == "params.yaml@" + "a" * 12


def test_differences_are_json_pointers() -> None:
    committed = {"gates": {"production": {"x": {"op": "<=", "threshold": 1}}}}
    working = {"gates": {"production": {"x": {"op": "<=", "threshold": 2}}}, "artreg": {}}
    assert _differences(working, committed) == ["/artreg", "/gates/production/x/threshold"]


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("sentenialx", "sentenialx"),
        ("my registry", "my-registry"),
        ("models.v2", "models-v2"),
        ("_private-", "private"),
        ("模型", "model"),
        ("..", "model"),
        ("x" * 300, "x" * 100),
    ],
)
def test_a_folder_name_becomes_a_valid_artifact_name(folder: str, name: str) -> None:
    assert name_from_folder(folder) == name
