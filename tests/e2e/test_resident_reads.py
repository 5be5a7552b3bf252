"""The resident read path: inside one process, a repeated `get_artifact_path` of a registry that
has not changed runs no git process, and a tag made, moved or deleted since is noticed at the
very next call."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artreg import get_artifact_path
from artreg.errors import InputError

from helpers import git, release, run_tool, serve


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every git process started in this process (the real one runs; it is only counted)."""
    calls: list[list[str]] = []
    real = subprocess.run

    def counted(args: Any, *rest: Any, **kwargs: Any) -> Any:
        if isinstance(args, list) and args and args[0] == "git":
            calls.append([str(a) for a in args])
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    yield calls


def _folder(path: Path) -> str:
    return path.parent.name


def test_an_unchanged_clone_is_read_again_without_git_and_every_tag_change_is_noticed(
    registry: Path, checkpoint_dir: Path, cache: Path, git_calls: list[list[str]]
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    first = get_artifact_path("encoder", repo=registry)
    assert _folder(first) == "v1.0.0"
    git_calls.clear()
    assert get_artifact_path("encoder", repo=registry) == first
    assert get_artifact_path("encoder", repo=registry) == first
    assert git_calls == [], git_calls

    # A new tag: v1.1.0 released to production.
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    assert _folder(get_artifact_path("encoder", repo=registry)) == "v1.1.0"

    tags = git(registry, "tag", "--list", "encoder#production#*", "--sort=creatordate").split()
    old, new = tags[0], tags[-1]
    message = git(registry, "tag", "--list", "--format=%(contents)", new)
    commit = git(registry, "rev-parse", f"{new}^{{commit}}").strip()

    # A deleted tag: without v1.1.0's assignment, v1.0.0's holds production again.
    git(registry, "tag", "-d", new)
    assert _folder(get_artifact_path("encoder", repo=registry)) == "v1.0.0"

    # A moved tag: v1.0.0's assignment remade onto what v1.1.0's said.
    git(registry, "tag", "-f", "-a", old, "-m", message, commit)
    assert _folder(get_artifact_path("encoder", repo=registry)) == "v1.1.0"

    answer = get_artifact_path("encoder", repo=registry)
    git_calls.clear()
    assert get_artifact_path("encoder", repo=registry) == answer  # settled again: no git
    assert git_calls == [], git_calls


def test_a_url_is_asked_again_only_after_artreg_url_ttl_seconds(
    registry: Path,
    checkpoint_dir: Path,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    git_calls: list[list[str]],
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = serve(registry, tmp_path)
    url = bare.as_uri()
    monkeypatch.setenv("ARTREG_URL_TTL", "3600")
    first = get_artifact_path("encoder", repo=url)
    assert _folder(first) == "v1.0.0"
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", str(bare), "main", "--tags")
    git_calls.clear()
    assert get_artifact_path("encoder", repo=url) == first  # within the TTL: not asked
    assert git_calls == [], git_calls
    monkeypatch.setenv("ARTREG_URL_TTL", "0")  # the default: every read asks
    assert _folder(get_artifact_path("encoder", repo=url)) == "v1.1.0"
    monkeypatch.setenv("ARTREG_URL_TTL", "soon")
    with pytest.raises(InputError, match="ARTREG_URL_TTL='soon' is not a number of seconds"):
        get_artifact_path("encoder", repo=url)
