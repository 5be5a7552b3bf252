"""Values handed in from Python become plain JSON data, or an InputError naming the field."""

from __future__ import annotations

import json
import math
import sys
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import torch

from artreg.adapters.values import check_text, plain_input, pointer_join, shown, to_plain
from artreg.errors import InputError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.99), 0.99),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7),
        (np.bool_(True), True),
        (np.array(0.25), 0.25),  # a 0-d array is a scalar
        (np.str_("ok"), "ok"),
        (torch.tensor(0.5), 0.5),
        (torch.tensor(3), 3),
        (torch.tensor(False), False),
        (torch.nn.Parameter(torch.tensor(2.0)), 2.0),
    ],
    ids=repr,
)
def test_finite_numpy_and_torch_scalars_become_python_numbers(
    value: object, expected: object
) -> None:
    plain = to_plain(value, "/metrics/coverage")
    assert plain == expected
    assert type(plain) is type(expected)  # builtins only: json, yaml and jsonschema take them


def test_containers_become_dicts_and_lists_of_plain_values() -> None:
    data = {
        "coverage": np.float64(0.99),
        "history": (np.float32(0.5), torch.tensor(0.25)),
        "nested": OrderedDict(ok=[True, None, "x", 1]),
    }
    plain = plain_input(data, "metrics")
    assert plain == {
        "coverage": 0.99,
        "history": [0.5, 0.25],
        "nested": {"ok": [True, None, "x", 1]},
    }
    assert type(plain["coverage"]) is float and type(plain["nested"]) is dict
    json.dumps(plain, allow_nan=False)  # what artreg writes


@pytest.mark.parametrize(
    ("value", "pointer", "words"),
    [
        (float("nan"), "/metrics/coverage", ["nan", "finite"]),
        (math.inf, "/metrics/coverage", ["inf", "finite"]),
        (np.float64("nan"), "/metrics/coverage", ["nan", "finite"]),
        (torch.tensor(float("-inf")), "/metrics/coverage", ["-inf", "finite"]),
        ({1, 2}, "/metrics/coverage", ["set", "list"]),
        (frozenset(), "/metrics/coverage", ["frozenset", "list"]),
        (b"raw", "/metrics/coverage", ["bytes", "text"]),
        (1 + 2j, "/metrics/coverage", ["complex"]),
        (Decimal("0.5"), "/metrics/coverage", ["decimal.Decimal", "convert"]),
        (Path("/tmp/x"), "/metrics/coverage", ["Path", "str(value)"]),
        (object(), "/metrics/coverage", ["object", "not a JSON value"]),
        (torch.tensor([0.1, 0.2]), "/metrics/coverage", ["shape (2,)", ".tolist()"]),
        (np.array([1, 2, 3]), "/metrics/coverage", ["shape (3,)", ".item()"]),
        (torch.ones(1), "/metrics/coverage", ["shape (1,)"]),  # not a scalar, even with one value
        (np.complex128(1j), "/metrics/coverage", ["complex"]),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, (str, list)) else None,
)
def test_anything_else_is_an_input_error_naming_the_field(
    value: object, pointer: str, words: list[str]
) -> None:
    with pytest.raises(InputError) as caught:
        plain_input({"coverage": value}, "metrics")
    error = caught.value
    assert error.exit_code == 2
    assert str(error).startswith(f"{pointer}: "), str(error)
    assert error.hint
    for word in words:
        assert word in str(error), (word, str(error))


def test_the_pointer_reaches_into_lists_and_escapes_keys() -> None:
    with pytest.raises(InputError, match=r"^/config/a~1b~0c/2/x: "):
        plain_input({"a/b~c": [0, 1, {"x": {1}}]}, "config")
    assert pointer_join("/metrics", "a/b") == "/metrics/a~1b"


def test_keys_must_be_strings() -> None:
    with pytest.raises(InputError, match=r"^/metrics: key 1 \(int\) is not a string"):
        plain_input({1: 0.5}, "metrics")  # type: ignore[dict-item]


def test_a_circular_structure_is_refused_not_a_recursion_error() -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(InputError, match="nested deeper than"):
        plain_input(loop, "config")


def test_plain_values_pass_through_unchanged() -> None:
    data = {"a": 1, "b": 0.5, "c": "x", "d": None, "e": [True, False], "f": {"g": -3}}
    assert plain_input(data, "metrics") == data


def test_neither_numpy_nor_torch_is_imported_to_normalise() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from artreg.adapters.values import plain_input\n"
        "plain_input({'a': [1, 2.5, 'x']}, 'metrics')\n"
        "print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"\ud800": 1}, "/benchmarks (a key)"),
        ({"hardware": "cpu \ud800"}, "/benchmarks/hardware"),
        ({"runs": ["ok", "r\udcffm"]}, "/benchmarks/runs/1"),
    ],
    ids=["key", "value", "list item"],
)
def test_text_utf8_cannot_encode_is_refused_naming_the_field(value: object, field: str) -> None:
    with pytest.raises(InputError) as refused:
        plain_input(value, "benchmarks")  # type: ignore[arg-type]
    message = str(refused.value)
    assert message.startswith(f"{field}: ") and "not valid text" in message
    message.encode("utf-8")  # the message itself can be printed


def test_check_text_shows_non_utf8_bytes_as_bytes() -> None:
    assert check_text("Ada <ada@example.com>", "--approved-by") == "Ada <ada@example.com>"
    with pytest.raises(InputError, match=r"^--notes: 'r\\xffm' is not valid text"):
        check_text(b"r\xffm".decode("utf-8", "surrogateescape"), "--notes")
    assert shown("a\ud800b") == "a\\ud800b"


def test_a_json_or_yaml_document_with_a_lone_surrogate_is_refused_naming_the_field() -> None:
    from artreg.adapters.files import parse_json, parse_yaml

    with pytest.raises(InputError, match=r"^bench.json: /k/\\ud800: a lone surrogate"):
        parse_json('{"k": {"\\ud800": 1}}', "bench.json")
    assert parse_json('{"k": "\\ud83d\\ude00 \\u00e9"}', "ok.json") == {"k": "😀 é"}
    with pytest.raises(InputError, match=r"^d\.yaml: "):
        parse_yaml('k: ["\\udcff"]', "d.yaml")
