"""Every read command over every source (issue 25, item 1): `site` and `lock` take a clone or a
registry URL as `list`, `show`, `get` and the others do, and give the same answer for the same
registry state. The `source` fixture (tests/helpers/sources.py, shared with
test_read_sources.py) reads one registry from a clone, a file:// URL, a `git daemon` URL and a
lock file; the answer each is compared with is the registry's own work tree's.

Everything is real: git repositories, a bare registry served by file:// and `git daemon` on
127.0.0.1, a local DVC remote, lock files written by `artreg lock add`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import CliResult
from helpers.sources import ENCODER, Source


def answered(result: CliResult) -> Any:
    assert result.exit_code == 0, result.stderr
    return result.json()


def pages(site: Path) -> dict[str, bytes]:
    """Every file of a written site, by its path inside the site."""
    return {
        str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()
    }


def test_site_writes_the_same_pages_from_every_source(source: Source, tmp_path: Path) -> None:
    ref = tmp_path / "from-the-work-tree"
    expected = answered(
        source.cli("site", "-o", str(ref), "--json", "--repo", str(source.root), cwd=tmp_path)
    )
    out = tmp_path / "site"
    asked = source.run("site", "-o", str(out), "--json")  # a lock: the registry it names
    written = answered(asked)
    assert {k: written[k] for k in ("pages", "names", "files")} == {
        k: expected[k] for k in ("pages", "names", "files")
    }
    assert written["names"] == 3
    assert pages(out) == pages(ref)


PIN = ("name", "stage", "version", "tag", "commit", "folder", "model", "files")


def test_lock_add_pins_the_same_bytes_from_every_source(source: Source, tmp_path: Path) -> None:
    ref_lock = tmp_path / "ref" / "artreg.lock"
    ref_lock.parent.mkdir()
    expected = answered(
        source.cli(
            "lock", "add", str(source.root), "encoder#production", "--file", str(ref_lock),
            "--json", cwd=tmp_path,
        )
    )  # fmt: skip
    lock = tmp_path / "consumer" / "artreg.lock"
    lock.parent.mkdir()
    asked = source.cli(
        "lock", "add", source.where, "encoder#production", "--file", str(lock), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    if source.kind == "lock":
        # A lock file is no registry to pin from: bad input, naming where it looked; the pins
        # it holds are checked against their registry instead.
        assert asked.exit_code == 2, asked.stdout
        assert str(Path(source.where).parent) in asked.stderr
        assert "not inside a git repository" in asked.stderr
        assert not lock.exists()
        current = source.cli("lock", "check", "--file", source.where, cwd=tmp_path)
        assert current.exit_code == 0, current.stderr
        assert "every pin is current" in current.stdout
        return
    if source.kind != "clone":  # a URL names the registry, not what to get: NAME is missing
        unnamed = source.cli("get", source.where, "-o", str(tmp_path / "out"), cwd=tmp_path)
        assert unnamed.exit_code == 2 and "name the artifact too" in unnamed.stderr
    pinned = answered(asked)
    assert {k: pinned[k] for k in PIN} == {k: expected[k] for k in PIN}
    assert pinned["folder"] == ENCODER
    got = answered(source.cli("resolve", "encoder", "--lock", str(lock), "--json", cwd=tmp_path))
    assert Path(got["path"]).read_bytes() == source.models[ENCODER]
    current = source.cli("lock", "check", "--file", str(lock), cwd=tmp_path)
    assert current.exit_code == 0, current.stderr
