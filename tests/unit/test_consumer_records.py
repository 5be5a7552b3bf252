"""Verification records (a stat instead of a rehash) and lock-file checks, without git or DVC."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from artreg.adapters import hashing
from artreg.errors import InputError, NotFoundError
from artreg.sources import lock


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_record_is_trusted_while_the_stat_is_unchanged_and_full_rehashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_racy_window(monkeypatch)  # the file may be recorded now
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


def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 0)
    monkeypatch.setattr(hashing, "TICK_NS", 0)


def test_a_file_changed_within_the_racy_window_gets_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "TICK_NS", 60 * 10**9)  # a clock this coarse: just written
    records = tmp_path / "cache"
    path = tmp_path / "model.pt"
    path.write_bytes(b"fresh")
    assert hashing.digest(path, records).sha256 == _sha(b"fresh")
    assert not hashing.record_path(records, os.stat(path)).exists()


def _rewrite_keeping_mtime(path: Path, data: bytes) -> os.stat_result:
    """Other bytes of the same size, with the old mtime put back (as `touch -r` or a careless
    copy tool would): only ctime, which no user can set, shows the change."""
    before = os.stat(path)
    os.chmod(path, 0o644)
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns
    return after


def test_a_file_changed_in_the_same_second_after_its_record_is_still_caught(
    tmp_path: Path,
) -> None:
    records = tmp_path / "cache"
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    hashing.remember_written(records, path, _sha(b"weights"))  # written and hashed by us
    assert hashing.recorded(records, os.stat(path)) == _sha(b"weights")  # at once, no window
    _rewrite_keeping_mtime(path, b"WEIGHTS")
    assert hashing.digest(path, records).sha256 == _sha(b"WEIGHTS")


def test_a_file_hashed_after_its_last_change_is_recorded_without_a_wide_window(
    tmp_path: Path,
) -> None:
    records = tmp_path / "cache"
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    st = os.stat(path)
    assert hashing.fine_timestamps(st)  # this file system stamps in nanoseconds
    started = max(st.st_mtime_ns, st.st_ctime_ns) + hashing.TICK_NS + 1
    hashing.remember(records, st, _sha(b"weights"), started)  # a hash started a tick later
    assert hashing.recorded(records, st) == _sha(b"weights")
    hashing.remember(records, st, "f" * 64, started - 2)  # changed within a tick of the hash
    assert hashing.recorded(records, st) == _sha(b"weights")  # no record made of that
    _rewrite_keeping_mtime(path, b"WEIGHTS")
    assert hashing.digest(path, records).sha256 == _sha(b"WEIGHTS")


def test_coarse_timestamps_are_detected_and_keep_the_wide_window() -> None:
    def stat_of(dev: int, ctime_ns: int) -> os.stat_result:
        times = {"st_mtime_ns": ctime_ns, "st_ctime_ns": ctime_ns}
        return os.stat_result((0o100444, 7, dev, 1, 0, 0, 5, 0, 0, 0), times)

    now = 1_800_000_000 * 10**9
    coarse = stat_of(-1, now - 10**9)  # whole seconds, as FAT or an old NFS server stamps them
    fine = stat_of(-2, now - 10**9 + 123_457)
    assert not hashing.fine_timestamps(coarse) and hashing.fine_timestamps(fine)
    assert hashing.racy(coarse, now)  # a second before the hash: within a coarse clock's window
    assert not hashing.racy(fine, now)  # a second is many ticks of a fine one


def test_compare_files_uses_records_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_racy_window(monkeypatch)
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
