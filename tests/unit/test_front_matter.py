"""The site's model-card front matter table: read by artreg's strict YAML loader, each value shown
as written; what the loader refuses (aliases, a key twice, Python tags) is shown as text."""

from __future__ import annotations

import pytest

from artreg.present.site import front_matter as site

CARD = """model_name: encoder
library_name: pytorch
tags:
- artreg
- production
artreg:
  stage: production
  id: v1.2.0
  version: 1.2.0
  empty:
  threshold: -0.5
  url: https://example.com/a#b
model-index:
- name: encoder
  results:
  - task:
      type: model-validation
      name: production gates
    metrics:
    - type: latency_p95_ms
      value: 32.0
    - type: accuracy
      value: null
- plain item
"""

# (front matter, the rows its table shows): values as written, a null as a dash, a list of
# plain values as one row, a list holding collections as a row per item.
ROWS = [
    (
        "a: 1\nb: ~\nc: Null\nd: it's, [x] {y}\n",
        [("a", "1"), ("b", "—"), ("c", "—"), ("d", "it's, [x] {y}")],
    ),
    ("- a\n- b\n", [("[]", "a, b")]),
    ("- a: 1\n  b: 2\n- c: 3\n", [("[0].a", "1"), ("[0].b", "2"), ("[1].c", "3")]),
    ("a:\n  - x\n  - y: 1\n    z:\n      - w\n", [("a[0]", "x"), ("a[1].y", "1"), ("a[1].z", "w")]),
    ("a:  two spaces\nhttp://x: y\n", [("a", "two spaces"), ("http://x", "y")]),
    ("a: 'quoted'\nb: \"x\"\nc: 'null'\n", [("a", "quoted"), ("b", "x"), ("c", "null")]),
    ("# comment\na: 1 # comment\n", [("a", "1")]),
    ("a: |\n  text\n", [("a", "text\n")]),
    ("a: [1, 2]\nb: {c: d}\n", [("a", "1, 2"), ("b.c", "d")]),
    ("a: b\n  continued\n", [("a", "b continued")]),
    ("a: é\n", [("a", "é")]),
    ("- - a\n", [("[0]", "a")]),
    ("a:\n", [("a", "—")]),
]

# What the strict loader refuses, or what is not a mapping or list: the page shows the text.
REFUSED = [
    "a: &x 1\nb: *x\n",  # aliases
    "a: b\na: c\n",  # a key twice
    "a: !!python/name:os.system x\n",  # a tag the safe loader cannot build
    "a: b: c\n",
    "just text\n",
    "k" * 1100 + ": v\n",
    "? [a]\n: b\n",  # a collection as a key
    'a: "\\ud800"\n',  # a lone surrogate is not text
]


@pytest.mark.parametrize(("text", "rows"), ROWS)
def test_front_matter_gives_its_values_as_written(text: str, rows: list[tuple[str, str]]) -> None:
    assert site.front_matter_rows(text) == rows


@pytest.mark.parametrize("text", REFUSED)
def test_front_matter_the_strict_loader_refuses_shows_as_text(text: str) -> None:
    assert site.front_matter_rows(text) is None


def test_at_most_the_limit_of_rows() -> None:
    text = "".join(f"k{i}: {i}\n" for i in range(300))
    rows = site.front_matter_rows(text) or []
    assert len(rows) == 200 and rows[-1] == ("k199", "199")


def test_a_card_gives_the_rows_the_table_shows() -> None:
    rows = dict(site.front_matter_rows(CARD) or [])
    assert rows["tags"] == "artreg, production"
    assert rows["artreg.empty"] == "—"
    assert rows["artreg.threshold"] == "-0.5"
    assert rows["model-index[0].results[0].metrics[1].value"] == "—"
    assert rows["model-index[1]"] == "plain item"
