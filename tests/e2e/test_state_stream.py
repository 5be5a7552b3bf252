"""state.load parses `git for-each-ref` piece by piece as git writes it: records and UTF-8
characters cut between pieces must come out whole, exactly as a parse of the whole output."""

from __future__ import annotations

import subprocess
from pathlib import Path

from artreg import gitrepo, state
from artreg.model import Event

from helpers import git


def test_a_listing_longer_than_one_piece_parses_as_the_whole_output(tmp_path: Path) -> None:
    root = tmp_path / "repo"
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
    whole = state.parse_for_each_ref(gitrepo.for_each_ref(root, state.FOR_EACH_REF_FORMAT))
    assert len(gitrepo.for_each_ref(root, state.FOR_EACH_REF_FORMAT).encode()) > 3 * (1 << 16)

    registry = state.load(root, folders="none")

    def fields(events: list[Event]) -> list[tuple[object, ...]]:
        return [(e.tag, e.commit, e.timestamp, e.tagger, e.message, e.annotated) for e in events]

    assert len(registry.events) == 400
    assert fields(registry.events) == fields(whole)
    assert all("\r" not in e.message and "é€" * 150 in e.message for e in registry.events)
    assert registry.get("m3").stage("raw") is not None
