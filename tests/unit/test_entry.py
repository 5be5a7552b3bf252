"""The console script's exit path for listings: the status `sys.exit(code)` would give."""

from __future__ import annotations

import pytest

from artreg import entry


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (2, 2), (4, 4)])
def test_exit_codes_pass_through_the_fast_exit(code: int | None, status: int) -> None:
    assert entry._exit_status(code) == status


def test_an_exit_message_is_printed_and_ends_with_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert entry._exit_status("stopped") == 1
    assert capsys.readouterr().err == "stopped\n"


@pytest.mark.parametrize(
    ("argv", "folder"),
    [
        (["list"], "HERE"),
        (["list", "--json", "--repo", "/r"], "/r"),
        (["list", "--repo=/r"], "/r"),
        (["list", "--as-of", "2024-01-01"], None),
        (["show", "enc"], None),
        ([], None),
    ],
)
def test_only_a_listing_of_now_starts_git_ahead(
    argv: list[str], folder: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entry.os, "getcwd", lambda: "HERE")
    assert entry._listing_folder(argv) == folder
