"""The registry state from `git for-each-ref` lines, with GTO's semantics, and no git at all."""

from __future__ import annotations

from artreg.adapters.git.tagstream import FOR_EACH_REF_FORMAT
from artreg.registry.fold import fold
from artreg.registry.layout import StageDir
from artreg.registry.records import Event
from artreg.registry.state import parse_for_each_ref
from artreg.registry.tags import next_counter, next_tag_time, parse_tag, tag_message

from helpers import ref_line as line

C1, C2, C3 = "a" * 40, "b" * 40, "c" * 40


def artreg_message(folder: str) -> str:
    return tag_message("artreg: promote", kind="validated", folder=folder, by="Ann <a@x>")


def test_the_format_asks_for_every_field_the_parser_reads() -> None:
    assert FOR_EACH_REF_FORMAT.count("%00") == 7 and FOR_EACH_REF_FORMAT.startswith("%1e")


def test_tags_outside_the_grammar_are_skipped_and_lightweight_ones_marked() -> None:
    out = "".join(
        [
            line("v1.0", C1, 1),
            line("encoder#raw#1", C1, 2, artreg_message("artifacts/raw/encoder/s1")),
            line("encoder#raw#2", C2, 3, kind="commit"),
        ]
    )
    events = parse_for_each_ref(out)
    assert [e.tag for e in events] == ["encoder#raw#1", "encoder#raw#2"]
    assert events[0].annotated and not events[1].annotated
    assert events[0].folder == StageDir("raw", "encoder", "s1")
    assert events[0].by == "Ann <a@x>" and events[1].by == "Ann <ann@example.com>"
    assert events[1].commit == C2  # a lightweight tag points at the commit itself


def test_a_gto_message_leaves_the_folder_for_dvc_yaml() -> None:
    (event,) = parse_for_each_ref(line("encoder#prod#1", C1, 1, "Assigning stage prod"))
    assert event.folder is None and event.fields == {}


def _fold(*lines: str):
    return fold(parse_for_each_ref("".join(lines)))


def test_a_stage_resolves_to_the_newest_assignment_and_unassign_removes_it() -> None:
    registry = _fold(
        line("enc#production#1", C1, 10),
        line("enc#production#2", C2, 20),
    )
    assert registry.get("enc").stage("production").commit == C2
    registry = _fold(
        line("enc#production#1", C1, 10),
        line("enc#production#2", C2, 20),
        line("enc#production!#3", C2, 30),
    )
    assert registry.get("enc").stage("production").commit == C1


def test_a_stage_tag_joins_the_version_registered_at_its_commit() -> None:
    registry = _fold(
        line("enc@v1.0.0", C1, 10),
        line("enc#production#1", C1, 11),
        line("enc@v1.1.0", C2, 20),
    )
    artifact = registry.get("enc")
    assert artifact.stage("production").label == "v1.0.0"
    assert artifact.latest().version == "1.1.0"
    assert [v.version for v in artifact.released()] == ["1.0.0", "1.1.0"]


def test_a_deregistered_version_no_longer_resolves() -> None:
    artifact = _fold(
        line("enc@v1.0.0", C1, 10),
        line("enc@v1.1.0", C2, 20),
        line("enc@v1.1.0!#3", C2, 30),
    ).get("enc")
    assert artifact.find_version("1.1.0") is None
    assert artifact.latest().version == "1.0.0"


def test_deprecation_hides_the_artifact_while_it_is_the_newest_event() -> None:
    assert _fold(line("enc#raw#1", C1, 1), line("enc@deprecated#2", C1, 2)).get("enc").deprecated
    assert (
        not _fold(line("enc@deprecated#1", C1, 1), line("enc#raw#2", C1, 2)).get("enc").deprecated
    )


def test_events_fold_in_date_order_not_listing_order() -> None:
    registry = _fold(line("enc#raw#2", C2, 20), line("enc#raw#1", C1, 10))
    assert [e.tag for e in registry.get("enc").events] == ["enc#raw#1", "enc#raw#2"]


def test_lightweight_tags_count_for_the_counter_but_not_the_state() -> None:
    registry = _fold(line("enc#raw#1", C1, 1), line("enc#raw#7", C3, 2, kind="commit"))
    assert registry.get("enc").stage("raw").commit == C1
    assert next_counter(registry.events, "enc") == 8
    assert next_counter(registry.events, "other") == 1


def test_the_tag_clock_never_goes_back_and_never_ties() -> None:
    future = 4_000_000_000
    events = parse_for_each_ref(line("enc#raw#1", C1, future))
    assert next_tag_time(events) == future + 1
    assert next_tag_time([]) >= 1_700_000_000


def test_promotions_of_a_folder_are_its_assign_and_register_tags() -> None:
    folder = "artifacts/production/enc/v1.0.0"
    message = tag_message("release", kind="production", folder=folder)
    registry = _fold(
        line("enc@v1.0.0", C1, 10, message),
        line("enc#production#1", C1, 11, message),
        line("enc#production!#2", C1, 12, tag_message("unassign", kind="unassign")),
    )
    found = registry.promotions(StageDir.parse(folder))
    assert [e.tag for e in found] == ["enc@v1.0.0", "enc#production#1"]
    assert registry.tagged_folders() == {folder}


def test_unknown_names_say_which_names_exist() -> None:
    import pytest

    from artreg.errors import NotFoundError

    with pytest.raises(NotFoundError, match="known: enc"):
        _fold(line("enc#raw#1", C1, 1)).get("nope")


def test_an_event_built_by_hand_reads_like_a_parsed_one() -> None:
    parsed = parse_tag("enc#validated#3")
    assert parsed is not None
    event = Event("enc#validated#3", parsed, C1, 0, "Ann", "<a@x>", "title", True)
    assert (event.name, event.stage, event.action.value) == ("enc", "validated", "assign")
    assert event.date == "1970-01-01T00:00:00Z" and event.promotes
