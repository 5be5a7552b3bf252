"""The console script starts `artreg list`'s `git for-each-ref` before the CLI's imports
(tagstream) and ends the listing's process without the interpreter's teardown (entry): the
listing must read exactly what a plain git call reads, serve only the very listing and
repository it was started for, and end with the output whole and the exit status right."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from artreg.adapters.git import read as gitread
from artreg.adapters.git import tagstream
from artreg.errors import ToolError
from artreg.registry import state
from artreg.registry.records import Event

from helpers import ARTREG, git, run_tool


def _tagged_repo(tmp_path: Path, name: str = "repo") -> Path:
    """A repository with 400 annotated tags written by one `git fast-import`."""
    root = tmp_path / name
    git(tmp_path, "init", "--quiet", str(root))
    git(root, "commit", "--quiet", "--allow-empty", "-m", "start")
    # 400 annotated tags with long messages (each with a 2-byte and a 3-byte character and
    # a CR LF): about 250 KB of output, far more than a pipe holds at once.
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


def _fields(events: list[Event]) -> list[tuple[object, ...]]:
    return [(e.tag, e.commit, e.timestamp, e.tagger, e.message, e.annotated) for e in events]


def test_a_listing_started_ahead_reads_what_a_plain_git_call_reads(tmp_path: Path) -> None:
    root = _tagged_repo(tmp_path)
    plain = state.load(root, folders="none")
    assert len(plain.events) == 400

    tagstream.start_all_tags(str(root))
    assert tagstream._started is not None
    ahead = state.load(root, folders="none")
    assert tagstream._started is None  # taken, not left running

    assert _fields(ahead.events) == _fields(plain.events)
    # Decoded as subprocess's text mode decodes: characters whole, CR LF made LF.
    assert all("\r" not in e.message and "é€" * 150 in e.message for e in ahead.events)
    assert ahead.get("m3").stage("raw") is not None


def test_a_started_listing_serves_only_its_own_listing_of_its_own_repository(
    tmp_path: Path,
) -> None:
    root, other = _tagged_repo(tmp_path), _tagged_repo(tmp_path, "other")
    every_tag = tagstream.args(tagstream.FOR_EACH_REF_FORMAT, None)
    expected = subprocess.run(
        ["git", "-C", str(root), *every_tag], capture_output=True, text=True
    ).stdout

    tagstream.start_all_tags(root)
    started = tagstream._started
    assert started is not None
    assert tagstream.take(other, every_tag) is None  # another repository: stopped, not served
    assert started[2].returncode is not None and started[2].fd is None
    assert tagstream._started is None

    tagstream.start_all_tags(root)
    assert tagstream.take(root, tagstream.args(tagstream.FOR_EACH_REF_FORMAT, ["m3"])) is None

    tagstream.start_all_tags(root / ".." / root.name)  # the same folder, spelt otherwise
    listing = tagstream.take(root, every_tag)
    assert listing is not None
    assert listing.read_text() == expected and listing.returncode == 0
    listing.close()
    assert tagstream.take(root, every_tag) is None  # served once


def test_a_failing_started_listing_reports_gits_own_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / ".git").mkdir(parents=True)  # looks like a repository; git refuses it
    tagstream.start_all_tags(broken)
    assert tagstream._started is not None
    with pytest.raises(ToolError, match="not a git repository"):
        gitread.for_each_ref(broken, tagstream.FOR_EACH_REF_FORMAT)
    assert tagstream._started is None


def test_the_listing_process_ends_with_its_output_whole_and_its_exit_status(
    tmp_path: Path,
) -> None:
    root = _tagged_repo(tmp_path)
    listed = subprocess.run(
        [ARTREG, "list", "--json", "--repo", str(root)], capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(listed.stdout)) == [f"m{i}" for i in range(7)]
    in_place = run_tool("artreg", "list", cwd=root)
    assert in_place.stdout.splitlines()[0].split()[0] == "name" and "m6" in in_place.stdout

    missing = subprocess.run(
        [ARTREG, "list", "--repo", str(tmp_path / "nowhere")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "nowhere" in missing.stderr and missing.stdout == ""
