"""The site's model-card front matter table: the fast reader of the plain block style gives
exactly the rows libyaml's events give, and hands everything else to libyaml."""

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

# Plain block style: the fast reader reads these itself.
SIMPLE = [
    CARD,
    "a: 1\nb: ~\nc: Null\nd: it's, [x] {y}\n",
    "- a\n- b\n",
    "- a: 1\n  b: 2\n- c: 3\n",
    "a:\n  - x\n  - y: 1\n    z:\n      - w\n",
    "a:  two spaces\nhttp://x: y\n",
]
# Everything else: the fast reader declines and libyaml decides (rows, or None).
OTHER = [
    "a: 'quoted'\n",
    'a: "x"\n',
    "a: 1 # comment\n",
    "# comment\na: 1\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: [1, 2]\nb: {c: d}\n",
    "a: b\n  continued\n",
    "a: b: c\n",
    "a:\tb\n",
    "a: é\n",
    "a : b\n",
    "? a\n: b\n",
    "- - a\n",
    "just text\n",
    "a: 1\n - b\n",
    "k" * 1100 + ": v\n",
    "a: 1 \n",
]


def _libyaml(text: str) -> list[tuple[str, str]] | None:
    def decline(_text: str) -> list[tuple[str, str, bool]]:
        raise site._NotSimple

    simple, site._simple_events = site._simple_events, decline  # type: ignore[assignment]
    try:
        return site._front_matter_rows(text)
    finally:
        site._simple_events = simple  # type: ignore[assignment]


@pytest.mark.parametrize("text", SIMPLE)
def test_the_plain_block_style_is_read_fast_and_alike(text: str) -> None:
    site._simple_events(text)  # does not decline
    assert site._front_matter_rows(text) == _libyaml(text)


@pytest.mark.parametrize("text", OTHER)
def test_anything_else_goes_to_libyaml(text: str) -> None:
    with pytest.raises(site._NotSimple):
        site._simple_events(text)
    assert site._front_matter_rows(text) == _libyaml(text)


def test_a_card_gives_the_rows_the_table_shows() -> None:
    rows = dict(site._front_matter_rows(CARD) or [])
    assert rows["tags"] == "artreg, production"
    assert rows["artreg.empty"] == "—"
    assert rows["artreg.threshold"] == "-0.5"
    assert rows["model-index[0].results[0].metrics[1].value"] == "—"
    assert rows["model-index[1]"] == "plain item"
