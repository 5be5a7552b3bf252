"""params.yaml's `stages:` section: extra assignment stages, their order, and the errors that
name params.yaml, the field and the fix."""

from __future__ import annotations

import pytest

from artreg.errors import InputError
from artreg.registry.stages import StageModel, parse_stages


def test_no_section_means_only_the_built_in_stages() -> None:
    model = parse_stages(None)
    assert model.order == ("raw", "validated", "production")
    assert model.declared("production") and not model.declared("staging")


def test_extra_stages_sit_after_the_stage_they_follow() -> None:
    model = parse_stages(
        {
            "staging": {"after": "validated"},
            "canary": {"after": "staging"},
            "archive": {"after": "production"},
            "beta": {"after": "validated"},
        }
    )
    assert model.order == (
        "raw",
        "validated",
        "beta",
        "staging",
        "canary",
        "production",
        "archive",
    )
    assert model.declared("canary")


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        (["staging"], "stages", "expected a mapping"),
        ({"bad name": {"after": "validated"}}, "stages.bad name", "not a valid stage name"),
        ({"production": {"after": "validated"}}, "stages.production", "built-in"),
        ({"staging": "validated"}, "stages.staging", "expected {after: STAGE}"),
        ({"staging": {"after": "validated", "x": 1}}, "stages.staging", "expected {after"),
        ({"staging": {"after": "qa"}}, "stages.staging.after", "'qa' is not a stage"),
        ({"a": {"after": "b"}, "b": {"after": "a"}}, "stages.a.after", "circle"),
    ],
)
def test_bad_sections_name_the_file_the_field_and_the_fix(
    section: object, field: str, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_stages(section, "params.yaml@abc123")
    assert caught.value.message.startswith(f"params.yaml@abc123: {field}: ")
    assert words in caught.value.message
    assert caught.value.hint


def test_gates_of_an_undeclared_stage_are_refused() -> None:
    gates = {"staging": {"latency_p95_ms": {"op": "<=", "threshold": 50}}}
    assert parse_stages({"staging": {"after": "validated"}}, gates=gates).declared("staging")
    with pytest.raises(InputError, match=r"gates\.staging: no stage named 'staging'"):
        parse_stages(None, "params.yaml", gates)
    overrides = {"overrides": {"encoder": {"stagin": {}}}}
    with pytest.raises(InputError, match=r"gates\.overrides\.encoder\.stagin"):
        parse_stages({"staging": {"after": "validated"}}, "params.yaml", overrides)


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        ("raw", "folder stage"),
        ("validated", "folder stage"),
        ("production", "rollback"),
        ("qa", "not declared in params.yaml"),
    ],
)
def test_only_declared_extra_stages_are_assignable(stage: str, words: str) -> None:
    model = StageModel({"staging": "validated"})
    assert model.check_assignable("staging", "params.yaml") == "staging"
    with pytest.raises(InputError) as caught:
        model.check_assignable(stage, "params.yaml")
    assert words in caught.value.message + (caught.value.hint or "")
