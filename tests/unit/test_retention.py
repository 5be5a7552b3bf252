"""The gc planner, pure: tag lines as git prints them, hand-made object references, a fixed
clock. What it keeps per stage and why, what it drops, and which objects that frees."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from artreg.errors import ArtregError, InputError
from artreg.registry.fold import fold
from artreg.registry.layout import StageDir
from artreg.registry.policy import _sections, retention_for
from artreg.registry.retirements import Retired, parse_retired
from artreg.registry.state import parse_for_each_ref
from artreg.registry.tags import tag_message
from artreg.services.retention import FolderFacts, Inventory, plan

DAY = 86400
T0 = 1_700_000_000
POLICY: dict[str, Any] = {
    "raw": {"keep_last": 2},
    "validated": {"keep_last": 3},
    "production": {"keep": "all"},
    "deprecated_after_days": 90,
    "min_age_days": 7,
}


def _line(tag: str, commit: str, date: int, message: str) -> str:
    fields = ["tag", tag, "f" * 40, commit, str(date), "Ann", "<a@x>", message]
    return "\x1e" + "\x00".join(fields)


@dataclass
class History:
    """A registry's tags and folders, written in time order (one hour apart)."""

    clock: int = T0
    lines: list[str] = field(default_factory=list)
    facts: dict[str, FolderFacts] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    released: dict[tuple[str, str], str] = field(default_factory=dict)  # version -> commit

    def _tag(self, tag: str, folder: StageDir | None, kind: str, commit: str = "") -> str:
        self.clock += 3600
        message = tag_message("t", kind=kind, folder=folder.relpath if folder else "", by="Ann")
        commit = commit or f"{len(self.lines):040x}"
        self.lines.append(_line(tag, commit, self.clock, message))
        return commit

    def _count(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]

    def promote(
        self,
        folder: StageDir,
        source: StageDir | None = None,
        objects: dict[str, int] | None = None,
    ) -> StageDir:
        name = folder.name
        commit = ""
        if folder.stage == "production":
            commit = self._tag(f"{name}@{folder.entry}", folder, "production")
            self.released[(name, folder.entry)] = commit
        self._tag(f"{name}#{folder.stage}#{self._count(name)}", folder, folder.stage, commit)
        oid = f"{abs(hash(folder.relpath)) % 16**32:032x}"
        self.facts[folder.relpath] = FolderFacts(
            folder, self.clock, source.relpath if source else None, objects or {oid: 100}
        )
        return folder

    def deregister(self, name: str, version: str) -> None:
        """`name@vX!` on the version's own commit, as GTO resolves it."""
        self._tag(f"{name}@{version}!", None, "deregister", self.released[(name, version)])

    def deprecate(self, name: str) -> None:
        self._tag(f"{name}@deprecated", None, "deprecate")

    def lifecycle(self, name: str) -> None:
        """10 raw sessions, every even one validated, those of 2, 6, 10 released."""
        release = 0
        for i in range(1, 11):
            raw = self.promote(StageDir("raw", name, f"s{i:02d}"))
            if i % 2 == 0:
                val = self.promote(StageDir("validated", name, f"v{i:02d}"), raw)
                if i in (2, 6, 10):
                    self.promote(StageDir("production", name, f"v1.{release}.0"), val)
                    release += 1

    def plan(
        self,
        policy: dict[str, Any] | None = POLICY,
        days_later: int = 30,
        grace_hours: int | None = None,
        **inv: Any,
    ):
        registry = fold(parse_for_each_ref("".join(self.lines)))
        inventory = Inventory(self.facts, **inv)
        now = self.clock + days_later * DAY
        return plan(registry, policy, inventory, now=now, grace_hours=grace_hours)


def kept(result: Any, name: str, stage: str) -> list[str]:
    return sorted(
        d.folder.entry
        for d in result.decisions
        if d.keep and d.folder.name == name and d.folder.stage == stage
    )


def test_last_n_per_stage_plus_every_folder_a_kept_one_came_from() -> None:
    history = History()
    history.lifecycle("enc")
    result = history.plan()
    assert kept(result, "enc", "production") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert kept(result, "enc", "validated") == ["v02", "v06", "v08", "v10"]
    assert kept(result, "enc", "raw") == ["s02", "s06", "s08", "s09", "s10"]
    reasons = {d.folder.relpath: d.reasons for d in result.decisions}
    assert (
        "source of kept artifacts/production/enc/v1.0.0" in reasons["artifacts/validated/enc/v02"]
    )
    assert reasons["artifacts/raw/enc/s01"] == ["older than the last 2 raw (raw: keep_last 2)"]
    assert "current production" in reasons["artifacts/production/enc/v1.2.0"]
    assert len(result.drop) == 6 and result.bytes == 600  # 5 raw + 1 validated, 100 bytes each


def test_overrides_replace_the_policy_per_name_and_key() -> None:
    history = History()
    history.lifecycle("enc")
    history.lifecycle("dec")
    policy = {
        **POLICY,
        "overrides": {"dec": {"production": {"keep_last": 1}, "raw": {"keep_last": 0}}},
    }
    result = history.plan(policy)
    assert kept(result, "enc", "production") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert kept(result, "dec", "production") == ["v1.2.0"]
    # v1.0.0 and v1.1.0 gone: their sources are no longer kept for them
    assert kept(result, "dec", "validated") == ["v06", "v08", "v10"]
    assert kept(result, "dec", "raw") == ["s06", "s08", "s10"]  # keep_last 0 + lineage + current
    assert retention_for(policy, "dec").keep_last == {"raw": 0, "validated": 3, "production": 1}


def test_an_object_a_kept_folder_shares_stays_and_two_dropped_folders_count_it_once() -> None:
    history = History()
    history.promote(StageDir("raw", "enc", "s1"), objects={"a" * 32: 10, "s" * 32: 5})
    history.promote(StageDir("raw", "enc", "s2"), objects={"b" * 32: 20, "d" * 32: 7})
    history.promote(StageDir("raw", "enc", "s3"), objects={"c" * 32: 30, "d" * 32: 7})
    history.promote(StageDir("raw", "enc", "s4"), objects={"s" * 32: 5})
    result = history.plan({"raw": {"keep_last": 1}})
    assert kept(result, "enc", "raw") == ["s4"]
    assert result.drop == {"a" * 32: 10, "b" * 32: 20, "c" * 32: 30, "d" * 32: 7}
    first = next(d for d in result.decisions if d.folder.entry == "s1")
    assert first.shared == ["s" * 32] and first.bytes == 10


def test_pointers_outside_the_tagged_folders_protect_their_objects() -> None:
    history = History()
    history.promote(StageDir("raw", "enc", "s1"), objects={"a" * 32: 10, "e" * 32: 3})
    history.promote(StageDir("raw", "enc", "s2"))
    # `others`: a pull request branch, an untagged folder, the work tree
    result = history.plan({"raw": {"keep_last": 1}}, others=frozenset({"e" * 32}))
    assert result.drop == {"a" * 32: 10}


def test_nothing_younger_than_min_age_days_goes() -> None:
    history = History()
    history.lifecycle("enc")
    assert history.plan(days_later=0).drop == {}  # promoted within the last day: all young
    assert len(history.plan(days_later=8).drop) == 6


def test_without_a_policy_gc_keeps_everything() -> None:
    history = History()
    history.lifecycle("enc")
    result = history.plan(None)
    assert all(d.keep for d in result.decisions) and result.drop == {}
    assert result.warnings == ["params.yaml has no retention section: gc keeps every folder"]


def test_a_deregistered_release_goes_after_deprecated_after_days_with_its_lineage() -> None:
    history = History()
    history.lifecycle("enc")
    history.deregister("enc", "v1.0.0")
    assert kept(history.plan(days_later=30), "enc", "production") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    later = history.plan(days_later=91)
    assert kept(later, "enc", "production") == ["v1.1.0", "v1.2.0"]
    assert "v02" not in kept(later, "enc", "validated") and "s02" not in kept(later, "enc", "raw")
    reasons = {d.folder.relpath: d.reasons for d in later.decisions}
    assert reasons["artifacts/production/enc/v1.0.0"][0].startswith("v1.0.0 deregistered on")


def test_a_deprecated_name_goes_entirely_after_deprecated_after_days() -> None:
    history = History()
    history.lifecycle("enc")
    history.lifecycle("dec")
    history.deprecate("enc")
    assert kept(history.plan(days_later=91), "enc", "production") == []
    assert kept(history.plan(days_later=91), "dec", "production") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert kept(history.plan(days_later=10), "enc", "production") != []
    never = {**POLICY, "deprecated_after_days": None}
    assert kept(history.plan(never, days_later=900), "enc", "production") != []


def test_a_retired_folder_stays_retired_even_when_the_policy_would_keep_it() -> None:
    history = History()
    history.lifecycle("enc")
    tomb = Retired("artifacts/raw/enc/s10", [], "2026-01-02T00:00:00Z", "Ann", {})
    result = history.plan(None, retired={tomb.folder: tomb})
    (dropped,) = result.dropped
    assert dropped.folder.entry == "s10" and dropped.reasons[0] == "retired by gc on 2026-01-02"
    # Needed again since it was marked (it is current): the sweep leaves its objects alone.
    assert dropped.reasons[1].startswith("still needed (current raw;") and result.drop == {}
    assert (
        tomb.message
        == "artifacts/raw/enc/s10: retired by gc on 2026-01-02 under the retention policy"
    )


def test_retired_json_round_trips_and_a_broken_one_is_refused() -> None:
    tomb = Retired("artifacts/raw/enc/s1", ["a" * 32], "2026-01-02T00:00:00Z", "Ann", {"raw": {}})
    data = json.dumps({"retired": [tomb.to_json()]}).encode()
    assert parse_retired(data, "retired.json") == {tomb.folder: tomb}
    assert parse_retired(None, "retired.json") == {}
    with pytest.raises(ArtregError, match=r"retired\.json"):
        parse_retired(b'{"retired": {}}', "retired.json")


@pytest.mark.parametrize(
    ("section", "pointer"),
    [
        ({"raw": {"keep_last": -1}}, "/retention/raw/keep_last"),
        ({"raw": {"keep_last": 2, "keep": "all"}}, "/retention/raw"),
        ({"production": {"keep": "some"}}, "/retention/production/keep"),
        ({"min_age": 3}, "/retention"),
        ({"grace_hours": -1}, "/retention/grace_hours"),
        ({"grace_hours": "24"}, "/retention/grace_hours"),
        ({"grace_hours": True}, "/retention/grace_hours"),
        ({"overrides": {"enc": {"raw": {"last": 1}}}}, "/retention/overrides/enc/raw"),
    ],
)
def test_a_wrong_retention_policy_is_refused_naming_the_field(section: Any, pointer: str) -> None:
    with pytest.raises(InputError) as caught:
        _sections({"retention": section}, "params.yaml")
    assert "params.yaml" in caught.value.message and pointer in caught.value.message


def test_a_kept_folder_whose_listing_cannot_be_read_blocks_deleting() -> None:
    history = History()
    history.promote(StageDir("raw", "enc", "s1"))
    history.promote(StageDir("raw", "enc", "s2"))
    unreadable = {"artifacts/raw/enc/s2": ["d" * 32 + ".dir"]}
    result = history.plan({"raw": {"keep_last": 1}}, unreadable=unreadable)
    assert result.blocking == ["artifacts/raw/enc/s2"] and result.warnings
    dropped_only = {"artifacts/raw/enc/s1": ["d" * 32 + ".dir"]}
    assert history.plan({"raw": {"keep_last": 1}}, unreadable=dropped_only).blocking == []


def test_the_dry_run_text_says_per_name_and_stage_what_goes_and_why() -> None:
    from artreg.present.consumer import gc_json, gc_text
    from artreg.services.retention import Applied

    history = History()
    history.lifecycle("enc")
    result = history.plan()
    text = gc_text(result)
    assert "NAME  STAGE       KEPT  DROPPED  OBJECTS  BYTES" in text
    assert "enc   raw         5     5        5        500" in text
    assert "enc   validated   4     1        1        100" in text
    assert "drop artifacts/raw/enc/s01 (1 objects, 100 bytes): older than the last 2 raw" in text
    assert (
        "keep artifacts/validated/enc/v02: source of kept artifacts/production/enc/v1.0.0" in text
    )
    # Nothing is marked yet: every object waits for the grace period after the mark.
    assert "would mark 6 folder(s) retired" in text
    assert "would sweep 0 objects, 0 bytes (0 B): marked at least 24 h ago" in text
    assert "6 objects, 600 bytes wait for the grace period 24 h (retention.grace_hours)" in text
    done = Applied(result, "c" * 40, "storage", 6, 600, 6, 600, ["artifacts/raw/enc/s01"])
    assert "marked 1 folder(s) retired in cccccccccccc" in gc_text(done)
    assert "deleted 6 objects, 600 bytes from remote storage" in gc_text(done)
    assert gc_json(done)["applied"]["remote_bytes"] == 600 and gc_json(result)["bytes"] == 600


A, B, C = "a" * 32, "b" * 32, "c" * 32


def _marked(history: History, rel: str, days_ago: float, now: int) -> Retired:
    """A tombstone committed `days_ago` before `now`."""
    from artreg.registry.records import iso

    return Retired(rel, [], iso(now - int(days_ago * DAY)), "gc", {})


def test_the_sweep_waits_for_the_grace_period_of_every_folder_holding_an_object() -> None:
    history = History()
    old = history.promote(StageDir("raw", "enc", "s1"), objects={A: 10, C: 1})
    new = history.promote(StageDir("raw", "enc", "s2"), objects={B: 20, C: 1})
    history.promote(StageDir("raw", "enc", "s3"))
    now = history.clock + 30 * DAY
    policy: dict[str, Any] = {"raw": {"keep_last": 1}}

    fresh = history.plan(policy)
    assert set(fresh.drop) == {A, B, C} and fresh.sweep == {}  # nothing marked yet
    assert fresh.sweepable_from == fresh.now + 24 * 3600
    assert [d.folder for d in fresh.to_mark] == [old, new]
    assert history.plan(policy, grace_hours=0).sweep == fresh.drop  # --grace-hours 0

    retired = {old.relpath: _marked(history, old.relpath, 2, now)}
    half = history.plan(policy, retired=retired)
    assert half.now == now and [d.folder for d in half.to_mark] == [new]
    # C is in s2 too, whose mark is only being made now: it waits with B.
    assert half.sweep == {A: 10} and set(half.pending) == {B, C}
    retired[new.relpath] = _marked(history, new.relpath, 0.5, now)
    later = history.plan(policy, retired=retired)
    assert later.sweep == {A: 10} and later.as_dict()["pending"]["objects"] == 2
    assert history.plan({**policy, "grace_hours": 6}, retired=retired).sweep == later.drop


def test_a_marked_folder_needed_again_before_the_sweep_keeps_its_objects() -> None:
    history = History()
    base = history.promote(StageDir("production", "base", "v1.0.0"), objects={A: 1})
    history.promote(StageDir("production", "base", "v2.0.0"), objects={B: 1})
    policy: dict[str, Any] = {"production": {"keep_last": 1}}
    now = history.clock + 30 * DAY
    retired = {base.relpath: _marked(history, base.relpath, 3, now)}
    assert history.plan(policy, retired=retired).sweep == {A: 1}
    # A release made since the mark requires base v1.0.0 exactly.
    adapter = StageDir("production", "adapter", "v1.0.0")
    history.promote(adapter, objects={C: 1})
    history.facts[adapter.relpath] = FolderFacts(
        adapter, history.clock, None, {C: 1}, (base.relpath,)
    )
    result = history.plan(policy, retired=retired)
    assert result.drop == {}
    assert f"{base.relpath}: retired, but required by kept {adapter.relpath}" in result.warnings[0]


def test_a_grace_period_beyond_ten_years_is_refused_before_any_date_overflows() -> None:
    history = History()
    history.lifecycle("enc")
    assert history.plan(grace_hours=87_600).grace_hours == 87_600
    with pytest.raises(InputError, match="grace_hours 100000000: out of range") as refused:
        history.plan(grace_hours=100_000_000)
    assert "0 to 87600" in (refused.value.hint or "")
