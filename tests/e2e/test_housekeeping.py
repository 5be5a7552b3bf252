"""Deprecate, deregister, unassign: GTO tags that gto shows the same way, and resolution follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artreg import NotFoundError, load_registry
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated
from artreg.sources.clone_fetch import resolve

from helpers import EXAMPLES, RELEASE_INPUTS, git, run_tool, snapshot


@pytest.fixture
def two_releases(registry: Path, checkpoint_dir: Path) -> Path:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    promote_to_production(registry, "encoder", vid, "1.0.0", **RELEASE_INPUTS)
    promote_to_production(registry, "encoder", vid, "1.1.0", **RELEASE_INPUTS)
    return registry


def _gto(root: Path) -> dict[str, object]:
    shown = json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)
    return {
        n: {"latest": i["version"], "stages": {s: v for s, v in i["stage"].items() if v}}
        for n, i in shown.items()
    }


def test_deregistering_the_newest_release_falls_back_to_the_previous_one(
    two_releases: Path, cli
) -> None:
    result = cli("deprecate", "encoder@v1.1.0", cwd=two_releases)
    assert result.exit_code == 0, result.stderr
    assert "encoder@v1.1.0!#" in result.stdout
    assert _gto(two_releases)["encoder"]["latest"] == "v1.0.0"
    assert resolve(two_releases, "encoder").version == "1.0.0"
    assert load_registry(repo=two_releases)["encoder"]["version"] == "1.0.0"
    assert cli("index", "--check", cwd=two_releases).exit_code == 0
    assert cli("verify", cwd=two_releases).exit_code == 0


def test_unassigning_production_is_seen_by_gto_and_artreg(two_releases: Path, cli) -> None:
    result = cli("unassign", "encoder#production", cwd=two_releases)
    assert result.exit_code == 0, result.stderr
    gto = _gto(two_releases)["encoder"]
    ours = cli("list", "--json", cwd=two_releases).json()["encoder"]
    assert gto["stages"].get("production") == "v1.0.0"  # the older assignment is active again
    assert ours["stages"]["production"]["version"] == "v1.0.0"
    assert resolve(two_releases, "encoder").version == "1.0.0"


def test_deprecating_an_artifact_hides_it_and_stops_resolution(two_releases: Path, cli) -> None:
    assert cli("deprecate", "encoder", cwd=two_releases).exit_code == 0
    assert _gto(two_releases) == {}
    assert cli("list", "--json", cwd=two_releases).json() == {}
    with pytest.raises(NotFoundError, match="deprecated"):
        resolve(two_releases, "encoder")
    assert load_registry(repo=two_releases)["encoder"]["deprecated"] is True
    assert cli("log", "encoder", "--json", cwd=two_releases).json()[0]["action"] == "deprecate"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deprecate", "encoder@v9.9.9"], "no active version 9.9.9"),
        (["unassign", "encoder#staging"], "unknown stage"),
        (["unassign", "encoder"], "give NAME#STAGE"),
        (["deprecate", "nobody"], "no artifact named 'nobody'"),
        (["deprecate", "encoder#production"], "artreg unassign"),
    ],
)
def test_refused_housekeeping_changes_nothing(
    two_releases: Path, cli, args: list[str], message: str
) -> None:
    before = snapshot(two_releases)
    tags = git(two_releases, "tag", "--list")
    result = cli(*args, cwd=two_releases)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert snapshot(two_releases) == before and git(two_releases, "tag", "--list") == tags
