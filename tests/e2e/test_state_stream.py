"""state.load parses `git for-each-ref` piece by piece as git writes it: records and UTF-8
characters cut between pieces must come out whole, exactly as a parse of the whole output. The
console script may start that listing before the CLI's imports (tagstream): it must be used
only for the very listing and repository it was started for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from artreg import gitrepo, state, tagstream
from artreg.model import Event

from helpers import git, run_tool


def _tagged_repo(tmp_path: Path, name: str = "repo") -> Path:
    """A repository with 400 annotated tags written by one `git fast-import`."""
    root = tmp_path / name
    git(tmp_path, "init", "--quiet", str(root))
    git(root, "commit", "--quiet", "--allow-empty", "-m", "start")
    # 400 annotated tags with long messages (each with a 2-byte and a 3-byte character and
    # a CR LF): about 250 KB of output, so records and characters straddle 64 KB pieces.
    stream = []
    for i in range(400):
        message = f"artreg: promote m{i}\r\n\nkind: raw\nfolder: artifacts/raw/m{i % 7}/s{i}\n"
        message += f"note: {'é€' * 150} {i}\n"
        data = message.encode()
        stream.append(
            f"tag m{i % 7}#raw#{i}\nfrom HEAD\ntagger T <t@example.com> {1_700_000_000 + i} +0000\n"
            f"data {len(data)}\n".encode()
            + data
            + b"\n"
        )
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream), check=True
    )
    return root


def test_a_listing_longer_than_one_piece_parses_as_the_whole_output(tmp_path: Path) -> None:
    root = _tagged_repo(tmp_path)
    whole = state.parse_for_each_ref(gitrepo.for_each_ref(root, state.FOR_EACH_REF_FORMAT))
    assert len(gitrepo.for_each_ref(root, state.FOR_EACH_REF_FORMAT).encode()) > 3 * (1 << 16)

    registry = state.load(root, folders="none")

    def fields(events: list[Event]) -> list[tuple[object, ...]]:
        return [(e.tag, e.commit, e.timestamp, e.tagger, e.message, e.annotated) for e in events]

    assert len(registry.events) == 400
    assert fields(registry.events) == fields(whole)
    assert all("\r" not in e.message and "é€" * 150 in e.message for e in registry.events)
    assert registry.get("m3").stage("raw") is not None


def test_a_started_listing_serves_only_its_own_listing_of_its_own_repository(
    tmp_path: Path,
) -> None:
    root, other = _tagged_repo(tmp_path), _tagged_repo(tmp_path, "other")
    every_tag = tagstream.args(state.FOR_EACH_REF_FORMAT, None)
    expected = subprocess.run(["git", "-C", str(root), *every_tag], capture_output=True).stdout

    tagstream.start_all_tags(root)
    started = tagstream._started
    assert started is not None
    assert tagstream.take(other, every_tag) is None  # another repository: stopped, not served
    assert started[2].returncode is not None and tagstream._started is None

    tagstream.start_all_tags(root)
    assert tagstream.take(root, tagstream.args(state.FOR_EACH_REF_FORMAT, ["m3"])) is None

    tagstream.start_all_tags(root / ".." / root.name)  # the same folder, spelt otherwise
    proc = tagstream.take(root, every_tag)
    assert proc is not None and proc.stdout is not None
    with proc:
        assert proc.stdout.read() == expected
    assert tagstream.take(root, every_tag) is None  # served once

    tagstream.start_all_tags(tmp_path)  # not a repository: nothing is started
    assert tagstream._started is None


def test_the_console_script_lists_as_the_cli_does_wherever_it_is_run(tmp_path: Path) -> None:
    root = _tagged_repo(tmp_path)
    (root / "sub").mkdir()
    in_root = run_tool("artreg", "list", "--json", cwd=root).stdout
    listed = json.loads(in_root)
    assert set(listed) == {f"m{i}" for i in range(7)}
    assert run_tool("artreg", "list", "--json", cwd=root / "sub").stdout == in_root
    assert run_tool("artreg", "list", "--json", "--repo", str(root), cwd=tmp_path).stdout == in_root
    # a guess that names another repository is dropped: the listing is this one's
    other = _tagged_repo(tmp_path, "other")
    git(other, "tag", "-a", "-m", "x", "only-in-other#raw#1")
    assert run_tool("artreg", "list", "--json", f"--repo={root}", cwd=other).stdout == in_root
