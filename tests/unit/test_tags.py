"""GTO's tag grammar: artreg formats what gto parses and accepts nothing gto's regex rejects."""

from __future__ import annotations

import re

from gto.constants import tag_re as gto_tag_re
from hypothesis import given
from hypothesis import strategies as st

from artreg.registry.tags import NAME_RE, Action, format_tag, parse_tag

names = st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9_-]{0,20}[a-zA-Z0-9])?\Z")
stages = st.sampled_from(["raw", "validated", "production", "staging-2"])
numbers = st.integers(min_value=0, max_value=10_000)
versions = st.tuples(numbers, numbers, numbers).map(lambda t: ".".join(map(str, t)))
counters = st.one_of(st.none(), st.integers(min_value=1, max_value=10**6))


@given(names, stages, counters, st.booleans())
def test_stage_tags_round_trip_and_gto_agrees(name: str, stage: str, counter, cancel: bool) -> None:
    action = Action.UNASSIGN if cancel else Action.ASSIGN
    tag = format_tag(action, name, stage=stage, counter=counter)
    parsed = parse_tag(tag)
    assert parsed is not None
    assert (parsed.name, parsed.action, parsed.stage, parsed.counter) == (
        name,
        action,
        stage,
        counter,
    )
    gto = gto_tag_re.match(tag)
    assert gto and gto["artifact"] == name and gto["stage"] == stage
    assert bool(gto["cancel"]) == cancel


@given(names, versions, counters, st.booleans())
def test_version_tags_round_trip_and_gto_agrees(
    name: str, version: str, counter, cancel: bool
) -> None:
    action = Action.DEREGISTER if cancel else Action.REGISTER
    tag = format_tag(action, name, version=version, counter=counter)
    parsed = parse_tag(tag)
    assert parsed is not None
    assert (parsed.name, parsed.action, parsed.version, parsed.counter) == (
        name,
        action,
        version,
        counter,
    )
    gto = gto_tag_re.match(tag)
    assert gto and gto["version"] == f"v{version}"


@given(st.text(max_size=40))
def test_nothing_outside_gtos_grammar_is_accepted(text: str) -> None:
    parsed = parse_tag(text)
    if parsed is not None:
        gto = gto_tag_re.match(text)
        assert gto is not None, text
        assert NAME_RE.match(parsed.name)


def test_studio_counters_on_version_tags_parse() -> None:
    parsed = parse_tag("encoder@v1.2.0#7")
    assert parsed is not None
    assert (parsed.action, parsed.version, parsed.counter) == (Action.REGISTER, "1.2.0", 7)


def test_names_with_slash_are_gtos_but_not_artregs() -> None:
    assert gto_tag_re.match("team/encoder#raw#1")
    assert parse_tag("team/encoder#raw#1") is None
    assert not re.match(NAME_RE, "team/encoder")
