"""Reading JSON and YAML strictly, with libyaml's loader and the pure one alike; atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from artreg.adapters import files as fileio
from artreg.adapters.files import parse_json, parse_yaml, write_atomic
from artreg.errors import InputError

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": 1e999}', "number out of range"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ("[" * 70 + "]" * 70, "deeper than 64"),
        ('{"a": 1,', "malformed JSON"),
    ],
)
def test_json_is_read_strictly_and_errors_name_the_source(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_json(text, "results.json")
    assert str(caught.value).startswith("results.json:") and message in str(caught.value)


LOADERS = ["fast", "pure"] if fileio._loaders()[1] is not None else ["pure"]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with libyaml's loader and with the pure-Python one."""
    if request.param == "pure":
        monkeypatch.setattr(fileio, "_USE_LIBYAML", False)
    return str(request.param)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: 1\nport: 2\n", "duplicate key 'port'"),
        ("a:\n  b: 1\n  b: 2\n", "duplicate key 'b'"),
        (BOMB, "aliases are not allowed"),
        ("a: &x 1\nb: *x\n", "aliases are not allowed"),
        ("port: !!python/object/apply:os.system ['true']\n", "malformed YAML"),
        ("lr: [0.1\n", "malformed YAML"),
        ("a: " + "[" * 70 + "]" * 70, "deeper than 64"),
        ("1: a\n01: b\n", "duplicate key 1"),
        ("a:\n  <<: {b: 1}\n", "merge keys (<<) are not allowed"),
        ("? [a]\n: b\n", "keys must be plain values"),
        ("a: !!int abc\n", "malformed YAML: invalid literal"),
        ("a: !custom x\n", "tag '!custom' is not allowed"),
    ],
)
def test_yaml_refuses_what_metadata_never_needs(loader: str, text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "deploy.yaml")
    assert str(caught.value).startswith("deploy.yaml:") and message in str(caught.value)


def test_an_anchor_without_alias_and_plain_documents_parse(loader: str) -> None:
    assert parse_yaml("a: &x 1\nb: [1, {c: d}]\n", "x") == {"a": 1, "b": [1, {"c": "d"}]}
    assert parse_yaml("", "x") is None


def test_nesting_deeper_than_libyaml_can_compose_goes_to_the_pure_loader() -> None:
    """libyaml composes in C recursion: 100,000 levels would overflow the C stack (a crash,
    not an error), so such a document must never reach it."""
    deep = "a: " + "[" * 100_000 + "]" * 100_000
    pure, fast = fileio._loaders()
    assert fileio._loader_for(deep) is pure
    dashes = "- " * 100_000 + "x"
    assert fileio._loader_for(dashes) is pure
    with pytest.raises(InputError, match="nested"):
        parse_yaml(deep, "deep.yaml")
    if fast is not None:
        assert fileio._loader_for("artifacts:\n  enc:\n    path: x\n" * 200) is fast


def test_both_loaders_read_a_dvc_yaml_alike() -> None:
    text = "artifacts:\n" + "".join(
        f"  model-{i:03d}:\n    path: artifacts/raw/model-{i:03d}/s1/checkpoints\n    type: model\n"
        for i in range(100)
    )
    fast = parse_yaml(text, "dvc.yaml")
    assert fast == yaml.safe_load(text)


def test_write_atomic_keeps_the_mode_of_a_file_it_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "dvc.yaml"
    path.write_text("a: 1\n")
    path.chmod(0o640)
    write_atomic(path, "a: 2\n")
    assert path.read_text() == "a: 2\n" and (path.stat().st_mode & 0o777) == 0o640
    new = tmp_path / "new" / "registry.json"
    umask = os.umask(0o022)
    try:
        write_atomic(new, "{}\n")
    finally:
        os.umask(umask)
    assert (new.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in new.parent.iterdir()] == ["registry.json"]


@pytest.mark.parametrize(
    "text",
    [
        "artifacts:\n  a: {path: x/model.pt, type: model}\n  b: {type: model}\n  c: {path: null}\n",
        "artifacts:\n  7: {path: 12}\n  d: [path]\n  e: !!omap [{path: q}]\nstages: {s: {cmd: x}}\n",
        "artifacts: [a]\n",
        "- artifacts\n",
        "stages: {}\n",
        "",
    ],
)
def test_entries_of_a_section_are_what_a_full_parse_then_a_lookup_gives(
    loader: str, text: str
) -> None:
    """`parse_yaml_entries` builds only the values it returns; the answer is the full one."""
    doc = parse_yaml(text, "dvc.yaml")
    section = doc.get("artifacts") if isinstance(doc, dict) else None
    expected = {
        name: entry["path"]
        for name, entry in (section.items() if isinstance(section, dict) else [])
        if isinstance(entry, dict) and entry.get("path") is not None
    }
    assert fileio.parse_yaml_entries(text, "dvc.yaml", "artifacts", "path") == expected


def test_entries_of_a_document_with_an_error_anywhere_are_refused(loader: str) -> None:
    """Only the entries are built, but the whole document is checked as `parse_yaml` checks it."""
    for text in ("artifacts: {a: {path: x}}\nstages: {s: 1, s: 2}\n", "artifacts: {}\nx: !bad 1\n"):
        with pytest.raises(InputError, match=r"^dvc.yaml: malformed YAML"):
            fileio.parse_yaml_entries(text, "dvc.yaml", "artifacts", "path")
