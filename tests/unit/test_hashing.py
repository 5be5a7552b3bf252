"""Property-based tests of the one copy-and-hash pass and the one hash-and-compare: every change
to any byte is caught and named, nothing unchanged is ever reported, and hashing while copying
equals hashing the copy (sha256, and DVC's md5 when asked)."""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artreg.adapters.hashing import (
    COPY_CHUNK,
    FileDigest,
    compare_files,
    copy_and_hash,
    fetch_and_hash,
    hash_file,
)

file_names = st.from_regex(r"\A[a-z][a-z0-9_]{0,8}(\.pt|\.json|\.bin)?\Z")
contents = st.binary(min_size=0, max_size=3 * 1024)
folders = st.dictionaries(file_names, contents, min_size=1, max_size=6)


def _write(root: Path, files: dict[str, bytes]) -> dict[str, FileDigest]:
    expected = {}
    for name, data in files.items():
        (root / name).write_bytes(data)
        expected[name] = FileDigest(hashlib.sha256(data).hexdigest(), len(data))
    return expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(folders)
def test_an_untouched_folder_always_verifies(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        expected = _write(Path(tmp), files)
        result = compare_files(Path(tmp), expected)
        assert result.ok and not result.missing and not result.mismatched


@settings(max_examples=80, deadline=None)
@given(folders, st.data())
def test_any_single_change_is_caught_and_named(
    files: dict[str, bytes], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        expected = _write(root, files)
        victim = data.draw(st.sampled_from(sorted(files)))
        original = files[victim]
        change = data.draw(st.sampled_from(["flip", "append", "truncate", "delete"]))
        if change == "flip" and original:
            i = data.draw(st.integers(0, len(original) - 1))
            bit = data.draw(st.integers(0, 7))
            mutated = bytearray(original)
            mutated[i] ^= 1 << bit
            (root / victim).write_bytes(bytes(mutated))
        elif change == "truncate" and original:
            (root / victim).write_bytes(original[:-1])
        elif change == "delete":
            (root / victim).unlink()
        else:
            (root / victim).write_bytes(original + b"\x00")
        result = compare_files(root, expected)
        assert not result.ok
        named = result.missing + [rel for rel, _ in result.mismatched]
        assert named == [victim]
        if change == "delete":
            assert result.missing == [victim]
        else:
            ((_, found),) = result.mismatched
            assert found == hash_file(root / victim)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3 * (1 << 20) + 7))
def test_hashing_while_copying_equals_hashing_the_copy(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "src", Path(tmp) / "dst"
        src.write_bytes(data)
        copied = copy_and_hash(src, dst)
        assert dst.read_bytes() == data
        assert copied == hash_file(dst) == FileDigest(hashlib.sha256(data).hexdigest(), len(data))
        assert copied.md5 is None


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=9 * (1 << 20) + 3))
def test_the_cache_copy_and_md5_come_from_the_same_read(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst, cache = Path(tmp) / "src", Path(tmp) / "dst", Path(tmp) / "cache"
        src.write_bytes(data)
        copied = copy_and_hash(src, dst, also_to=cache, md5=True)
        assert dst.read_bytes() == cache.read_bytes() == data
        assert copied.md5 == hashlib.md5(data).hexdigest()
        assert copied.sha256 == hashlib.sha256(data).hexdigest()


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=9 * (1 << 20) + 5), st.booleans())
def test_a_fetch_hashes_what_it_stored_while_it_copies(data: bytes, from_file: bool) -> None:
    """A remote's file (copied by the kernel, hashed back from the copy) and any other stream
    (hashed block by block as written) both store the bytes and hash them once, part by part."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "src", Path(tmp) / "dst"
        src.write_bytes(data)
        parts: list[int] = []
        with (
            open(src, "rb", buffering=0) if from_file else io.BytesIO(data) as fin,
            open(dst, "x+b", buffering=0) as fout,
        ):
            got = fetch_and_hash(fin, fout.fileno(), parts.append, lambda: None)
        assert dst.read_bytes() == data
        assert got == FileDigest(hashlib.sha256(data).hexdigest(), len(data))
        assert sum(parts) == len(data)
        assert len(parts) == -(-len(data) // COPY_CHUNK)  # a progress call per part
