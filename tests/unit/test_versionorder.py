"""The version-order rule shared by direct, racing and merged releases."""

from __future__ import annotations

from artreg.registry.versionorder import allowed, latest_above


def test_a_version_below_the_latest_release_names_that_release() -> None:
    assert latest_above("1.1.0", ["1.0.0", "1.2.0", "1.10.0-rc.1"]) == "1.10.0-rc.1"
    assert latest_above("1.2.0", ["1.1.0", "1.0.0"]) is None
    assert latest_above("1.0.0", []) is None
    assert latest_above("2.0.0-rc.1", ["2.0.0"]) == "2.0.0"  # a pre-release is below its release


def test_only_a_recorded_true_allows_a_lower_release() -> None:
    assert allowed({"allow_non_monotonic": True})
    assert not allowed({"allow_non_monotonic": "yes"})
    assert not allowed({})
    assert not allowed(None)
