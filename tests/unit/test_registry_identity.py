"""One identity per registry: every spelling of one registry's URL maps to one key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from artreg.reading.cache import registry_key
from artreg.reading.identity import file_url, identity


def test_every_spelling_of_a_local_repository_is_its_realpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "srv" / "d3.git"
    repo.mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "srv")
    monkeypatch.chdir(tmp_path / "srv")
    real = repo.resolve().as_uri()
    spellings = [
        str(repo),
        "d3.git",
        "./d3.git/",
        "../srv/../srv/d3.git",
        str(tmp_path / "link" / "d3.git"),
        repo.as_uri(),
        repo.as_uri() + "/",
        f"file://localhost{repo}",
        f"FILE://LOCALHOST{repo}",
    ]
    assert {identity(s) for s in spellings} == {real}
    assert len({registry_key(s) for s in spellings}) == 1
    assert file_url("d3.git") == real  # what a lock file stores


def test_network_urls_ignore_case_of_scheme_and_host_slashes_git_suffix_and_default_port() -> None:
    same = [
        "git://127.0.0.1:19420/d3.git",
        "git://127.0.0.1:19420/d3",
        "git://127.0.0.1:19420/d3/",
        "GIT://127.0.0.1:19420/d3.git/",
    ]
    assert {identity(u) for u in same} == {"git://127.0.0.1:19420/d3"}
    assert identity("https://GitHub.com:443/Org/Repo.git") == "https://github.com/Org/Repo"
    assert identity("git@GitHub.com:Org/Repo.git") == identity("ssh://git@github.com/Org/Repo")
    assert identity("ssh://git@github.com:22/Org/Repo") == "ssh://git@github.com/Org/Repo"
    assert file_url("https://host/x.git/") == "https://host/x.git"  # stored as given


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # Not provably one registry without DNS: kept apart (each ratchets on its own).
        ("git://127.0.0.1:19420/d3.git", "git://localhost:19420/d3.git"),
        ("git://host:19420/d3", "git://host:19421/d3"),
        ("https://host/Org/Repo", "https://host/org/repo"),  # a path's case may matter
        ("https://host/a", "ssh://host/a"),
    ],
)
def test_different_registries_stay_different(one: str, other: str) -> None:
    assert identity(one) != identity(other)
    assert registry_key(one) != registry_key(other)


def test_a_local_path_and_a_file_url_are_one_but_not_the_git_suffix(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x.git").mkdir()
    assert identity(str(tmp_path / "x")) != identity(str(tmp_path / "x.git"))  # two folders
    assert identity(os.fspath(tmp_path / "x")) == identity((tmp_path / "x").as_uri())
