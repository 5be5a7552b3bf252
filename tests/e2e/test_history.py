"""`artreg history` and `--as-of` through real tags: pull request numbers from real merge and
squash commits, the CLI, `get_artifact_path(as_of=...)`, and gto as the oracle for the state as
of a moment (gto in a copy that holds only the tags of then). Hand-built sequences with known
answers are in tests/unit/test_history.py.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from artreg.errors import InputError, NotFoundError
from artreg.sources.asof import parse_moment

from helpers import EXAMPLES, RELEASE_INPUTS, git, release, run_tool


@pytest.fixture(scope="module")
def plain_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plain")
    git(root, "init", "--quiet")
    git(
        root,
        "-c",
        "user.name=a",
        "-c",
        "user.email=a@b",
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "x",
    )
    return root


@pytest.mark.parametrize("bad", ["2024-13-01", "2024-02-30T00:00:00", "yesterday", "-h", ""])
def test_bad_moments_are_refused_with_the_formats(plain_repo: Path, bad: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_moment(plain_repo, bad)
    assert "YYYY-MM-DD" in str(caught.value) and caught.value.exit_code == 2


# --- end to end: real tags, real merges, the CLI -----------------------------------------------


@pytest.fixture
def through_pull_requests(registry: Path, checkpoint_dir: Path) -> Path:
    """encoder v1.0.0 released through a merge commit (PR #12), v1.1.0 through a squash (#34)."""
    from artreg.publishing.publish import PublishOptions
    from artreg.services.register import register_raw
    from artreg.services.release import promote_to_production
    from artreg.services.review import tag_merged
    from artreg.services.validate import promote_to_validated

    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    promote_to_production(
        registry,
        "encoder",
        vid,
        "1.0.0",
        **RELEASE_INPUTS,
        options=PublishOptions(branch="release-1.0.0"),
    )
    git(registry, "switch", "--quiet", "main")
    (registry / "NOTES.md").write_text("work on main meanwhile\n")
    git(registry, "add", "NOTES.md")
    git(registry, "commit", "--quiet", "-m", "notes")
    git(
        registry,
        "merge",
        "--quiet",
        "--no-ff",
        "-m",
        "Merge pull request #12 from team/release-1.0.0",
        "release-1.0.0",
    )
    assert tag_merged(registry) == ["encoder@v1.0.0", "encoder#production#3"]

    vid2 = promote_to_validated(
        registry, "encoder", "s1", "epoch_2", EXAMPLES / "validation_results.json"
    ).id
    promote_to_production(
        registry,
        "encoder",
        vid2,
        "1.1.0",
        **RELEASE_INPUTS,
        options=PublishOptions(branch="release-1.1.0"),
    )
    git(registry, "switch", "--quiet", "main")
    git(registry, "merge", "--quiet", "--squash", "release-1.1.0")
    git(registry, "commit", "--quiet", "-m", "Release encoder 1.1.0 (#34)")
    assert tag_merged(registry) == ["encoder@v1.1.0", "encoder#production#5"]
    return registry


def test_history_names_the_pull_requests_and_merge_commits(
    through_pull_requests: Path, cli
) -> None:
    root = through_pull_requests
    result = cli("history", "encoder", "--stage", "production", "--json", "--repo", str(root))
    assert result.exit_code == 0, result.stderr
    first, second = result.json()  # type: ignore[misc]
    merge = git(root, "log", "--merges", "--format=%H", "-1").strip()
    assert (first["label"], first["pull_request"], first["landed_in"]) == ("v1.0.0", 12, merge)
    assert first["end"] == second["start"] and first["end_reason"] == "replaced"
    assert (second["label"], second["pull_request"], second["landed_in"]) == ("v1.1.0", 34, None)
    assert second["commit"] == git(root, "rev-parse", "HEAD").strip()
    assert second["end"] is None and second["by"] == "Test Trainer <trainer@example.com>"
    assert second["folder"] == "artifacts/production/encoder/v1.1.0"

    text = cli("history", "encoder", "--repo", str(root)).stdout
    assert "#12" in text and "#34" in text and "replaced by v1.1.0" in text
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["stage", "version", "from"]
    assert [line.split()[0] for line in lines[2:]] == [
        "raw",
        "validated",
        "validated",
        "production",
        "production",
    ]


def test_history_of_an_unknown_name_or_stage_is_refused(through_pull_requests: Path, cli) -> None:
    missing = cli("history", "decoder", "--repo", str(through_pull_requests))
    assert missing.exit_code == 2 and "no artifact named 'decoder'" in missing.stderr
    assert "artreg list" in missing.stderr
    bad = cli("history", "encoder", "--stage", "staging", "--repo", str(through_pull_requests))
    assert bad.exit_code == 2


@pytest.fixture
def released_twice(registry: Path, checkpoint_dir: Path) -> Path:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    return registry


def _tag_times(root: Path) -> dict[str, int]:
    out = git(root, "for-each-ref", "refs/tags", "--format=%(refname:strip=2) %(creatordate:unix)")
    return {tag: int(t) for tag, t in (line.split() for line in out.splitlines())}


def test_list_as_of_a_date_a_time_and_a_commit(released_twice: Path, cli) -> None:
    root = released_twice
    times = _tag_times(root)
    first = times["encoder#production#3"]

    def prod(*args: str) -> object:
        result = cli("list", "--json", "--repo", str(root), *args)
        assert result.exit_code == 0, result.stderr
        data = result.json()
        assert isinstance(data, dict)
        return data.get("encoder", {}).get("stages", {}).get("production", {}).get("version")

    assert prod() == "v1.1.0"
    assert prod("--as-of", f"@{first}") == "v1.0.0"
    assert prod("--as-of", f"@{first - 1}") is None
    assert (
        prod("--as-of", datetime.fromtimestamp(first, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        == "v1.0.0"
    )
    assert prod("--as-of", "1999-12-31") is None
    # A commit stands for its date: the second release's commit predates its tags.
    second_release = git(root, "rev-list", "-n1", "encoder@v1.1.0").strip()
    date = int(git(root, "show", "-s", "--format=%ct", second_release))
    assert date < times["encoder#production#6"]
    assert prod("--as-of", second_release) == prod("--as-of", f"@{date}")
    assert prod("--as-of", "encoder@v1.1.0") == prod("--as-of", f"@{date}")
    text = cli("list", "--as-of", f"@{first}", "--repo", str(root)).stdout
    assert text.startswith("as of ") and "v1.0.0" in text
    bad = cli("list", "--as-of", "not-a-commit", "--repo", str(root))
    assert bad.exit_code == 2 and "neither a date nor a commit" in bad.stderr


def test_get_artifact_path_as_of(released_twice: Path) -> None:
    from artreg.api import get_artifact_path

    root = released_twice
    first = _tag_times(root)["encoder#production#3"]
    now = get_artifact_path("encoder", repo=root)
    then = get_artifact_path("encoder", repo=root, as_of=f"@{first}")
    assert now == root / "artifacts/production/encoder/v1.1.0/model.pt"
    assert then == root / "artifacts/production/encoder/v1.0.0/model.pt"
    moment = datetime.fromtimestamp(first, timezone.utc)
    assert get_artifact_path("encoder", repo=root, as_of=moment) == then
    with pytest.raises(NotFoundError):
        get_artifact_path("encoder", repo=root, as_of=f"@{first - 1}")


def test_as_of_answers_what_gto_answered_with_the_tags_of_then(
    released_twice: Path, tmp_path: Path, cli
) -> None:
    """The oracle: gto show in a clone holding only the tags that existed at the moment."""
    from artreg.services.housekeeping import unassign

    root = released_twice
    unassign(root, "encoder", "production")
    times = _tag_times(root)
    moments = [
        times["encoder#production#3"],
        times["encoder#validated#5"],
        times["encoder#production#6"],
        times["encoder#production!#7"],
    ]
    for moment in moments:
        clone = tmp_path / f"at-{moment}"
        shutil.copytree(root / ".git", clone / ".git")
        git(clone, "config", "core.bare", "false")
        later = [tag for tag, t in times.items() if t > moment]
        if later:
            git(clone, "tag", "-d", *later)
        theirs = json.loads(run_tool("gto", "show", "--json", cwd=clone).stdout)
        ours = cli("list", "--json", "--as-of", f"@{moment}", "--repo", str(root)).json()
        assert isinstance(ours, dict)
        assert sorted(ours) == sorted(theirs)
        for name, info in ours.items():
            assert info["latest"] == theirs[name]["version"], moment
            assert {s: e["version"] or e["commit"] for s, e in info["stages"].items()} == {
                s: v for s, v in theirs[name]["stage"].items() if v
            }, moment
