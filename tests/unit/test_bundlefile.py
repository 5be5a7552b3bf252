"""The bundle file's member checks: what may be read from a stranger's tar, and what not."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from artreg.artifacts import bundlefile
from artreg.errors import InputError, IntegrityError


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "name",
    ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "", "a\\..\\b", "a\x00b"],
)
def test_a_path_leaving_the_bundle_root_is_refused(name: str) -> None:
    assert bundlefile.name_problem(name) is not None
    with pytest.raises(InputError, match="refusing the bundle"):
        bundlefile.check_member(member(name), set())


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        (tarfile.SYMTYPE, "a link"),
        (tarfile.LNKTYPE, "a link"),
        (tarfile.DIRTYPE, "not a regular file"),
        (tarfile.CHRTYPE, "not a regular file"),
        (tarfile.FIFOTYPE, "not a regular file"),
    ],
)
def test_only_regular_files_are_members(kind: bytes, says: str) -> None:
    with pytest.raises(InputError, match=says):
        bundlefile.check_member(member("objects/x", kind, "/etc/passwd"), set())


def test_a_member_read_twice_is_refused() -> None:
    seen: set[str] = set()
    bundlefile.check_member(member("history.bundle"), seen)
    with pytest.raises(InputError, match="appears twice"):
        bundlefile.check_member(member("history.bundle"), seen)


def test_object_members_use_dvc_cache_layout() -> None:
    oid = "0123456789abcdef0123456789abcdef"
    assert bundlefile.object_member(oid) == f"objects/files/md5/01/{oid[2:]}"
    assert bundlefile.member_object(bundlefile.object_member(oid)) == oid
    assert bundlefile.member_object(bundlefile.object_member(oid + ".dir")) == oid + ".dir"
    assert bundlefile.member_object("objects/files/md5/01/zz") is None
    assert bundlefile.member_object("history.bundle") is None


def test_sums_are_sha256sum_lines_and_refuse_repeats_and_unsafe_paths() -> None:
    sums = {"b": "1" * 64, "a": "2" * 64}
    text = bundlefile.sums_text(sums)
    assert text == f"{'2' * 64}  a\n{'1' * 64}  b\n"
    assert bundlefile.parse_sums(text.encode()) == sums
    with pytest.raises(InputError, match="listed twice"):
        bundlefile.parse_sums((text + f"{'3' * 64}  a\n").encode())
    with pytest.raises(InputError, match="leaving"):
        bundlefile.parse_sums(f"{'3' * 64}  ../a\n".encode())
    with pytest.raises(InputError, match="line 1"):
        bundlefile.parse_sums(b"not a line\n")


def _index(sizes: dict[str, int]) -> bytes:
    doc = {
        "format": bundlefile.FORMAT,
        "branch": "main",
        "tip": "a" * 40,
        "releases": [{"name": "m", "version": "1.0.0", "tag": "m@v1.0.0", "commit": "a" * 40}],
        "tags": {"m@v1.0.0": "b" * 40},
        "members": sizes,
    }
    return bundlefile.dumps(doc).encode()


def _tar(path: Path, members: list[tuple[str, bytes]], sizes: dict[str, int] | None = None) -> Path:
    index = _index(sizes or {n: len(b) for n, b in members})
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in members}
    sums[bundlefile.INDEX] = hashlib.sha256(index).hexdigest()
    head = [(bundlefile.SUMS, bundlefile.sums_text(sums).encode()), (bundlefile.INDEX, index)]
    with tarfile.open(path, "w") as tar:
        for name, data in head + members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_members_are_read_once_and_checked(tmp_path: Path) -> None:
    oid = hashlib.md5(b"weights").hexdigest()
    name = bundlefile.object_member(oid)
    bundle = _tar(tmp_path / "b.tar", [(bundlefile.HISTORY, b"git"), (name, b"weights")])
    index, got = bundlefile.read_members(bundle, tmp_path / "out")
    assert index.releases[0].tag == "m@v1.0.0"
    assert got[name].md5 == oid and (tmp_path / "out" / name).read_bytes() == b"weights"


def test_a_header_bigger_than_declared_is_refused_unread(tmp_path: Path) -> None:
    bundle = _tar(tmp_path / "b.tar", [(bundlefile.HISTORY, b"x" * 4096)], {"history.bundle": 10})
    with pytest.raises(InputError, match="refusing it unread"):
        bundlefile.read_members(bundle, tmp_path / "out")
    assert not (tmp_path / "out" / bundlefile.HISTORY).exists()


def test_an_altered_index_is_an_integrity_failure(tmp_path: Path) -> None:
    bundle = _tar(tmp_path / "b.tar", [(bundlefile.HISTORY, b"git")])
    with tarfile.open(bundle) as tar:
        data = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    doc = json.loads(data[bundlefile.INDEX])
    doc["tip"] = "c" * 40
    data[bundlefile.INDEX] = json.dumps(doc).encode()
    with tarfile.open(bundle, "w") as tar:
        for name, payload in data.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(IntegrityError, match=r"bundle\.json: sha256"):
        bundlefile.read_members(bundle, tmp_path / "out")


def test_the_first_members_must_be_the_lists(tmp_path: Path) -> None:
    path = tmp_path / "b.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("history.bundle")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(InputError, match="member SHA256SUMS must come next"):
        bundlefile.read_members(path, tmp_path / "out")
