"""`artreg history` and `--as-of` on hand-built tag sequences with known answers.

The events (what one `git for-each-ref` yields) go straight into the interval builder and the
as-of state, so each case is a few lines and runs in microseconds; a property test checks that
both agree at every moment of random sequences. tests/e2e/test_history.py does the same through
real tags, merges, the CLI and gto.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from artreg.adapters.git.read import CommitInfo
from artreg.registry.fold import Folding, replay_order
from artreg.registry.history import PullRequests, intervals, landing_commits, pull_request_number
from artreg.registry.records import Event
from artreg.registry.tags import parse_tag, tag_message
from artreg.sources.asof import parse_moment, state_as_of

C1, C2, C3, C4 = ("1" * 40, "2" * 40, "3" * 40, "4" * 40)


def rec(
    tag: str,
    commit: str,
    t: int,
    by: str = "Alice",
    folder: str = "",
    annotated: bool = True,
) -> Event:
    parsed = parse_tag(tag)
    assert parsed is not None, tag
    email = f"{by.lower()}@example.com"
    message = tag_message(f"test {tag}", folder=folder, by=f"{by} <{email}>")
    return Event(tag, parsed, commit, t, by, email, message, annotated)


def spans(records: list[Event], stage: str) -> list[tuple[str, int, int | None, str | None]]:
    return [(i.label, i.start, i.end, i.end_reason) for i in intervals(records, "m", stage)]


def release_tags(version: str, commit: str, t: int, counter: int, by: str = "Alice") -> list[Event]:
    folder = f"artifacts/production/m/v{version}"
    return [
        rec(f"m@v{version}", commit, t, by, folder),
        rec(f"m#production#{counter}", commit, t + 1, by, folder),
    ]


TWO_RELEASES = [*release_tags("1.0.0", C1, 10, 1), *release_tags("1.1.0", C2, 20, 2, by="Bob")]


def test_promotions_make_consecutive_intervals() -> None:
    found = intervals(TWO_RELEASES, "m", "production")
    assert [(i.label, i.start, i.end) for i in found] == [("v1.0.0", 11, 21), ("v1.1.0", 21, None)]
    first, second = found
    assert first.end_reason == "replaced" and first.successor == "v1.1.0"
    assert first.end_tag == "m#production#2" and first.ended_by == "Bob <bob@example.com>"
    assert second.tag == "m#production#2" and second.by == "Bob <bob@example.com>"
    assert second.began == "assigned" and second.commit == C2
    assert second.folder == "artifacts/production/m/v1.1.0"


def test_unassigning_production_falls_back_to_the_older_assignment() -> None:
    # GTO's rule (and gto show's answer, see test_housekeeping): v1's assignment is active again.
    records = [*TWO_RELEASES, rec("m#production!#3", C2, 30, by="Carol")]
    found = intervals(records, "m", "production")
    assert [(i.label, i.start, i.end, i.end_reason) for i in found] == [
        ("v1.0.0", 11, 21, "replaced"),
        ("v1.1.0", 21, 30, "unassigned"),
        ("v1.0.0", 30, None, None),
    ]
    back = found[-1]
    assert back.began == "fallback" and back.by == "Carol <carol@example.com>"
    assert back.tag == "m#production!#3"
    assert state_as_of(records, 30).get("m").stage("production").version == "1.0.0"  # type: ignore[union-attr]


def test_unassigning_the_only_holder_leaves_the_stage_empty() -> None:
    records = [*release_tags("1.0.0", C1, 10, 1), rec("m#production!#2", C1, 15)]
    assert spans(records, "production") == [("v1.0.0", 11, 15, "unassigned")]
    assert state_as_of(records, 15).get("m").stage("production") is None
    assert state_as_of(records, 14).get("m").stage("production") is not None


def test_deregistering_the_holder_ends_its_interval() -> None:
    records = [*TWO_RELEASES, rec("m@v1.1.0!#3", C2, 30)]
    assert spans(records, "production") == [
        ("v1.0.0", 11, 21, "replaced"),
        ("v1.1.0", 21, 30, "deregistered"),
        ("v1.0.0", 30, None, None),
    ]
    found = intervals(records, "m", "production")
    assert found[1].successor == "v1.0.0" and found[1].end_tag == "m@v1.1.0!#3"


def test_deprecation_ends_every_stage_and_a_new_promotion_reopens() -> None:
    records = [
        rec("m#raw#1", C1, 5, folder="artifacts/raw/m/s1"),
        rec("m#validated#2", C2, 6, folder="artifacts/validated/m/s1_best_validated"),
        *release_tags("1.0.0", C3, 10, 3),
        rec("m@deprecated#4", C3, 40, by="Dora"),
        rec("m#raw#5", C4, 50, folder="artifacts/raw/m/s2"),
    ]
    found = intervals(records, "m")
    # GTO: a deprecation hides the artifact only while it is the newest event, so the next
    # event brings back every stage, not only the one it assigns.
    assert [(i.stage, i.label, i.start, i.end, i.end_reason, i.began) for i in found] == [
        ("raw", "s1", 5, 40, "deprecated", "assigned"),
        ("raw", "s2", 50, None, None, "assigned"),
        ("validated", "s1_best_validated", 6, 40, "deprecated", "assigned"),
        ("validated", "s1_best_validated", 50, None, None, "restored"),
        ("production", "v1.0.0", 11, 40, "deprecated", "assigned"),
        ("production", "v1.0.0", 50, None, None, "restored"),
    ]
    assert found[0].end_tag == "m@deprecated#4" and found[0].ended_by == "Dora <dora@example.com>"
    assert state_as_of(records, 45).get("m").deprecated
    assert not state_as_of(records, 50).get("m").deprecated


def test_re_promoting_an_older_version() -> None:
    records = [*TWO_RELEASES, rec("m#production#3", C1, 30, by="Eve")]
    found = intervals(records, "m", "production")
    assert [(i.label, i.start, i.end, i.end_reason) for i in found] == [
        ("v1.0.0", 11, 21, "replaced"),
        ("v1.1.0", 21, 30, "replaced"),
        ("v1.0.0", 30, None, None),
    ]
    assert found[1].successor == "v1.0.0"
    assert found[2].began == "assigned" and found[2].tag == "m#production#3"
    assert found[2].by == "Eve <eve@example.com>"


def test_events_of_one_second_make_one_change_and_lightweight_tags_count_for_nothing() -> None:
    records = [
        rec("m@v1.0.0", C1, 10),
        rec("m#production#1", C1, 10),
        rec("m#production#2", C2, 12, annotated=False),
        rec("m#raw#3", C3, 13, annotated=False),
    ]
    assert spans(records, "production") == [("v1.0.0", 10, None, None)]
    assert spans(records, "raw") == []


def test_other_names_and_a_stage_filter() -> None:
    other = [
        rec(r.tag.replace("m", "other", 1), r.commit, r.timestamp)
        for r in release_tags("9.0.0", C4, 12, 1)
    ]
    records = [*TWO_RELEASES, *other, rec("m#validated#3", C3, 15)]
    assert [i.stage for i in intervals(records, "m")] == ["validated", "production", "production"]
    assert [i.label for i in intervals(records, "other")] == ["v9.0.0"]
    assert intervals(records, "m", "raw") == []


def test_as_of_ignores_tags_made_after_the_moment() -> None:
    assert state_as_of(TWO_RELEASES, 9).artifacts == {}
    assert state_as_of(TWO_RELEASES, 10).get("m").stage("production") is None  # registered only
    assert state_as_of(TWO_RELEASES, 11).get("m").stage("production").version == "1.0.0"  # type: ignore[union-attr]
    assert state_as_of(TWO_RELEASES, 20).get("m").latest().version == "1.1.0"  # type: ignore[union-attr]
    assert state_as_of(TWO_RELEASES, 20).get("m").stage("production").version == "1.0.0"  # type: ignore[union-attr]
    assert state_as_of(TWO_RELEASES, 10**10).get("m").stage("production").version == "1.1.0"  # type: ignore[union-attr]


# --- both views agree, at every moment of random sequences -------------------------------------

_COMMITS = [C1, C2, C3, C4]


@st.composite
def tag_sequences(draw: st.DrawFn) -> list[Event]:
    records: list[Event] = []
    t = 100
    for counter in range(1, draw(st.integers(1, 14)) + 1):
        t += draw(st.integers(0, 3))  # ties happen: several tags in one second
        commit = draw(st.sampled_from(_COMMITS))
        version = f"1.{_COMMITS.index(commit)}.0"
        stage = draw(st.sampled_from(["raw", "validated", "production"]))
        tag = draw(
            st.sampled_from(
                [
                    f"m#{stage}#{counter}",
                    f"m#{stage}!#{counter}",
                    f"m@v{version}",
                    f"m@v{version}!#{counter}",
                    f"m@deprecated#{counter}",
                ]
            )
        )
        records.append(
            rec(tag, commit, t, annotated=draw(st.sampled_from([True, True, True, False])))
        )
    return records


@settings(max_examples=300, deadline=None)
@given(tag_sequences())
def test_history_and_as_of_agree_at_every_moment(records: list[Event]) -> None:
    found = intervals(records, "m")
    moments = sorted({r.timestamp for r in records} | {r.timestamp + 1 for r in records} | {0})
    for moment in moments:
        state = state_as_of(records, moment)
        artifact = state.artifacts.get("m")
        for stage in ("raw", "validated", "production"):
            holder = None
            if artifact is not None and not artifact.deprecated:
                holder = artifact.stage(stage)
            covering = [
                i
                for i in found
                if i.stage == stage and i.start <= moment and (i.end is None or moment < i.end)
            ]
            assert len(covering) <= 1, covering
            if holder is None:
                assert covering == [], (moment, stage)
            else:
                assert covering, (moment, stage, holder.label)
                assert covering[0].commit == holder.commit
                assert covering[0].version == (f"v{holder.version}" if holder.registered else None)
    # Intervals of one stage never overlap and never have zero length.
    for stage in ("raw", "validated", "production"):
        mine = sorted((i for i in found if i.stage == stage), key=lambda i: i.start)
        for a, b in itertools.pairwise(mine):
            assert a.end is not None and a.end <= b.start
        assert all(i.end is None or i.end > i.start for i in mine)


@settings(max_examples=300, deadline=None)
@given(tag_sequences())
@example(  # a tie in time: the version listed later wins, though assigned first
    [rec("m#raw#1", C2, 100), rec("m#raw#2", C1, 101), rec("m#raw#3", C2, 101)]
)
def test_stages_kept_up_to_date_event_by_event_equal_a_full_pass(records: list[Event]) -> None:
    """History asks for the stages after every event; the fold keeps them current instead of
    recomputing them over every version (state._update_stages): always the same answer."""
    folding = Folding()
    for record in replay_order(records):
        artifact = folding.add(record)
        kept = [(stage, id(version)) for stage, version in artifact.stages().items()]
        cache, artifact._stages = artifact._stages, None
        assert kept == [(stage, id(version)) for stage, version in artifact.stages().items()]
        artifact._stages = cache  # go on from what the fold kept, as a listing does


# --- pull requests from commit subjects --------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Merge pull request #12 from team/release-1.0.0", 12),
        ("Release encoder 1.1.0 (#34)", 34),
        ("Release encoder 1.1.0 (#34) ", 34),
        ("artreg: release encoder v1.0.0 to production", None),
        ("Fix #12 in the card", None),
        ("Merge branch 'main' into x", None),
    ],
)
def test_pull_request_number(subject: str, number: int | None) -> None:
    assert pull_request_number(subject) == number


def test_merge_commits_claim_what_they_brought_in() -> None:
    # main: a - m1 - b - m2 (HEAD); m1 merges x1 <- x2; m2 merges y1, which merged x2 again.
    def c(sha: str, *parents: str, subject: str = "") -> CommitInfo:
        return CommitInfo(sha, parents, 0, subject or sha)

    commits = [
        c("m2", "b", "y1", subject="Merge pull request #7 from team/y"),
        c("y1", "x2", "b"),
        c("b", "m1"),
        c("m1", "a", "x2", subject="Merge pull request #5 from team/x"),
        c("x2", "x1"),
        c("x1", "a", subject="Release (#99)"),
        c("a"),
    ]
    landed = landing_commits(commits, "m2")
    assert landed == {
        "m2": "m2",
        "b": "b",
        "m1": "m1",
        "a": "a",
        "x2": "m1",
        "x1": "m1",
        "y1": "m2",
    }
    prs = PullRequests(commits)
    assert prs.find("x2") == (5, "m1")
    assert prs.find("y1") == (7, "m2")
    assert prs.find("x1") == (99, "m1")  # its own squash title wins
    assert prs.find("b") == (None, None)
    assert prs.find("unknown") == (None, None)


# --- moments ---------------------------------------------------------------------------------------


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("2024-05-01", _ts("2024-05-01T23:59:59+00:00")),
        ("2024-05-01T12:30:00Z", _ts("2024-05-01T12:30:00+00:00")),
        ("2024-05-01T12:30:00", _ts("2024-05-01T12:30:00+00:00")),
        ("2024-05-01 12:30:00+02:00", _ts("2024-05-01T10:30:00+00:00")),
        ("@1714566600", 1714566600),
    ],
)
def test_dates_and_times(tmp_path: Path, given_: str, expected: int) -> None:
    assert parse_moment(tmp_path, given_).timestamp == expected


def test_a_datetime_object() -> None:
    moment = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert parse_moment(Path("."), moment).timestamp == int(moment.timestamp())
    assert parse_moment(Path("."), datetime(2024, 5, 1, 12)).timestamp == int(moment.timestamp())
