"""Verification records (a stat instead of a rehash) and lock-file checks, without git or DVC."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from artreg import hashing
from artreg.errors import InputError, NotFoundError
from artreg.sources import lock


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_record_is_trusted_while_the_stat_is_unchanged_and_full_rehashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 0)  # no racy window: the file may be recorded now
    records = tmp_path / "cache"
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    assert hashing.digest(path, records).sha256 == _sha(b"weights")
    st = os.stat(path)
    record = hashing.record_path(records, st)
    assert record.is_file()
    # A record is believed as long as the stat matches: plant a false one to see it is used.
    state = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"
    record.write_text(f"{state} {'0' * 64}\n")
    assert hashing.digest(path, records).sha256 == "0" * 64
    assert hashing.digest(path, records, full=True).sha256 == _sha(b"weights")  # and replaced
    assert hashing.digest(path, records).sha256 == _sha(b"weights")
    # Any write (same size) changes mtime/ctime: the record no longer applies.
    path.write_bytes(b"WEIGHTS")
    assert hashing.digest(path, records).sha256 == _sha(b"WEIGHTS")


def test_a_file_changed_within_the_racy_window_gets_no_record(tmp_path: Path) -> None:
    records = tmp_path / "cache"
    path = tmp_path / "model.pt"
    path.write_bytes(b"fresh")
    assert hashing.digest(path, records).sha256 == _sha(b"fresh")
    assert not hashing.record_path(records, os.stat(path)).exists()


def test_compare_files_uses_records_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 0)
    records = tmp_path / "cache"
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    expected = {
        "a": hashing.FileDigest(_sha(b"a"), 1),
        "b": hashing.FileDigest(_sha(b"b"), 1),
        "c": hashing.FileDigest(_sha(b"c"), 1),
    }
    result = hashing.compare_files(tmp_path, expected, records=records, full=False)
    assert result.missing == ["c"] and result.mismatched == []
    st = os.stat(tmp_path / "a")
    hashing.record_path(records, st).write_text(
        f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {'f' * 64}\n"
    )
    trusted = hashing.compare_files(tmp_path, expected, records=records, full=False)
    assert [rel for rel, _ in trusted.mismatched] == ["a"]  # the (planted) record was used
    assert hashing.compare_files(tmp_path, expected).mismatched == []  # no records: hashed


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "registry": "https://git.example.com/ml/registry.git",
        "name": "encoder",
        "stage": "production",
        "version": "1.0.0",
        "tag": "encoder#production#3",
        "commit": "a" * 40,
        "folder": "artifacts/production/encoder/v1.0.0",
        "model": "model.pt",
        "files": {"model.pt": {"sha256": "b" * 64, "size": 10, "dvc": True}},
    }
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"commit": "HEAD"}, "/commit"),
        ({"folder": "artifacts/production/decoder/v1.0.0"}, "/folder"),
        ({"name": "bad name"}, "/name"),
        ({"files": {"../x": {"sha256": "b" * 64, "size": 1}}}, "/files/../x"),
        ({"files": {"model.pt": {"sha256": "short", "size": 1}}}, "/files/model.pt"),
        ({"model": "other.pt"}, "/model"),
    ],
    ids=["commit", "folder", "name", "path", "sha256", "model"],
)
def test_a_hand_edited_lock_entry_is_refused_naming_the_field(
    tmp_path: Path, changes: dict[str, object], field: str
) -> None:
    path = tmp_path / "artreg.lock"
    doc = {"lockfile_version": 1, "artifacts": {"encoder#production": _entry(**changes)}}
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=f"/artifacts/encoder#production{field}"):
        lock.load(path)


def test_a_lock_entry_is_found_by_spec_or_as_the_names_only_pin(tmp_path: Path) -> None:
    path = tmp_path / "artreg.lock"
    doc = {"lockfile_version": 1, "artifacts": {"encoder@v1.0.0": _entry(stage=None)}}
    path.write_text(json.dumps(doc))
    assert lock.find(path, "encoder", None, None).tag == "encoder#production#3"
    assert lock.find(path, "encoder", None, "v1.0.0").tag == "encoder#production#3"
    # A lock serves only what it pins: another stage or version is not "the only pin".
    for stage, version in (("production", None), ("validated", None), (None, "1.1.0")):
        with pytest.raises(NotFoundError, match=r"pins encoder@v1\.0\.0, not encoder"):
            lock.find(path, "encoder", stage, version)
    with pytest.raises(NotFoundError, match="pins nothing of decoder"):
        lock.find(path, "decoder", None, None)
    with pytest.raises(NotFoundError, match="no lock file"):
        lock.load(tmp_path / "missing.lock")
