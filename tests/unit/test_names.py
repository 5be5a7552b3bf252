"""The grammar of portable names and ids: pure functions, no git, milliseconds.

A name or id becomes a folder under artifacts/, so it must be checked out on every platform git
runs on: no Windows device names (with or without an extension, in any case), no trailing dots
or spaces, and no second name that differs from an existing one only by letter case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artreg.errors import InputError
from artreg.registry.tags import case_twin, validate_id, validate_name

# The list of issue 12, item 10, written out on purpose: artreg takes Python's rule for Windows
# paths, and these tests check that rule against the names the issue names.
DEVICES = ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10))]
DEVICES += [f"LPT{i}" for i in range(1, 10)]


def _cases(word: str) -> list[str]:
    return [word, word.lower(), word.capitalize(), word[:-1].lower() + word[-1]]


@pytest.mark.parametrize("name", [c for d in DEVICES for c in _cases(d)])
def test_windows_device_names_are_refused_as_artifact_names_in_any_case(name: str) -> None:
    with pytest.raises(InputError) as info:
        validate_name(name)
    error = info.value
    assert "Windows device name" in error.message
    assert name in error.message
    assert error.hint is not None
    assert "CON, PRN, AUX, NUL, COM1-COM9 or LPT1-LPT9" in error.hint  # the rule
    assert f"'{name.split('.')[0]}_1'" in error.hint  # and a fix that passes


@pytest.mark.parametrize(
    "value", ["CON.txt", "nul.tar.gz", "Com1.v2", "lpt9.x", "aux.1", "PRN.model"]
)
def test_device_names_with_an_extension_are_refused_as_ids(value: str) -> None:
    with pytest.raises(InputError) as info:
        validate_id(value, "session id")
    assert "invalid session id" in info.value.message
    assert "Windows device name" in info.value.message
    stem, _, rest = value.partition(".")
    suggestion = f"{stem}_1.{rest}"
    assert f"'{suggestion}'" in (info.value.hint or "")
    assert validate_id(suggestion, "session id") == suggestion


@pytest.mark.parametrize(
    "value", ["console", "CONx", "COM10", "LPT10", "com", "aux_1", "null", "prn-model", "nul_1"]
)
def test_names_that_merely_contain_a_device_name_are_accepted(value: str) -> None:
    assert validate_name(value) == value
    assert validate_id(value, "session id") == value
    assert validate_id(f"{value}.v1", "session id") == f"{value}.v1"


@pytest.mark.parametrize("value", ["run1.", "run1 ", "run1. ", "run1..", "v1.0."])
def test_a_trailing_dot_or_space_is_refused_with_the_rule_and_the_fix(value: str) -> None:
    with pytest.raises(InputError) as info:
        validate_id(value, "validated id")
    assert "ends with a dot or a space" in info.value.message
    assert "Windows drops" in info.value.message
    fixed = value.rstrip(". ")
    assert f"use '{fixed}' instead" in (info.value.hint or "")
    assert validate_id(fixed, "validated id") == fixed
    with pytest.raises(InputError, match="ends with a dot or a space"):
        validate_name(value.replace(".", "-").rstrip("-") + ".")


def test_case_twin_finds_only_a_different_spelling_of_the_same_letters() -> None:
    existing = ["encoder", "decoder", "Big-Model"]
    assert case_twin("Encoder", existing) == "encoder"
    assert case_twin("ENCODER", existing) == "encoder"
    assert case_twin("big-model", existing) == "Big-Model"
    assert case_twin("encoder", existing) is None  # the same artifact, not a twin
    assert case_twin("encoders", existing) is None
    assert case_twin("x", []) is None


DEVICE_SET = {d.upper() for d in DEVICES}
any_case_device = st.sampled_from(DEVICES).flatmap(
    lambda d: st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in d)).map("".join)
)
names = st.one_of(
    st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9_-]{0,12}[a-zA-Z0-9])?\Z"), any_case_device
)
ids = st.one_of(
    st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9_-]{0,8}[a-zA-Z0-9])?(\.[a-zA-Z0-9]{1,4}){0,2}\Z"),
    st.tuples(any_case_device, st.from_regex(r"\A(\.[a-zA-Z0-9]{1,4}){0,2}\Z")).map("".join),
)


@given(names)
def test_a_grammatical_name_is_refused_exactly_when_it_is_a_device_name(name: str) -> None:
    refused = name.upper() in DEVICE_SET
    try:
        validate_name(name)
    except InputError as exc:
        assert refused, exc
        assert "Windows device name" in exc.message
    else:
        assert not refused, name


@given(ids)
def test_a_grammatical_id_is_refused_exactly_when_its_stem_is_a_device_name(value: str) -> None:
    refused = value.split(".")[0].upper() in DEVICE_SET
    try:
        validate_id(value, "session id")
    except InputError as exc:
        assert refused, exc
    else:
        assert not refused, value


# Issue 29, item 10: one rule for artifact names, ids and every name inside a model folder.
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("CON.txt", "CON is a Windows device name"),
        ("nul", "NUL is a Windows device name"),
        ("q?.txt", "the name holds ?, which Windows forbids in names"),
        ("colon:x", "the name holds :, which Windows forbids in names"),
        ('a<b>"c|d*', 'the name holds " * < > |, which Windows forbids in names'),
        ("back\\slash.pt", "the name holds a backslash, a folder separator on Windows"),
        ("tab\tname", "the name holds a control character ('\\t')"),
        ("notes ", "it ends with a dot or a space, which Windows drops"),
        ("notes.", "it ends with a dot or a space, which Windows drops"),
    ],
)
def test_the_portable_name_rule_refuses_what_windows_cannot_check_out(
    name: str, why: str, tmp_path: Path
) -> None:
    from artreg.adapters.hashing import regular_files
    from artreg.adapters.portable import portable_problem

    found = portable_problem(name)
    assert found is not None and found[0] == why
    assert portable_problem(found[1]) is None  # the suggested name passes
    # The same rule for a name inside a folder, as every folder is walked on admission.
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / name).write_text("x")
    with pytest.raises(InputError) as info:
        regular_files(tmp_path / "model")
    assert why in info.value.message
    assert "no name in a model folder may hold" in (info.value.hint or "")


@pytest.mark.parametrize(
    "name",
    [
        "model-00001-of-00002.safetensors", "tokenizer.json", "special tokens.txt",
        "console.txt", "nul_1", "CON_1.txt", "é.md", ".gitattributes", "v1.0",
    ],
)  # fmt: skip
def test_the_portable_name_rule_accepts_ordinary_names(name: str) -> None:
    from artreg.adapters.portable import portable_problem

    assert portable_problem(name) is None
