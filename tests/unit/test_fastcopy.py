"""Kernel-side copies (never a read-write loop in Python) and the link-type advice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from artreg.adapters.fastcopy import LINKED_CACHE, advice, kernel_copy


def test_a_kernel_copy_is_byte_for_byte_and_never_overwrites(tmp_path: Path) -> None:
    src = tmp_path / "object"
    data = os.urandom(3 << 20) + b"tail"
    src.write_bytes(data)
    how = kernel_copy(src, tmp_path / "copy")
    assert how in ("reflink", "copy_file_range", "sendfile")
    assert (tmp_path / "copy").read_bytes() == data
    assert (tmp_path / "copy").stat().st_ino != src.stat().st_ino  # a copy, not a link
    with pytest.raises(FileExistsError):
        kernel_copy(src, tmp_path / "copy")
    assert kernel_copy(tmp_path / "copy", tmp_path / "copy-again") == how


def test_an_empty_file_copies(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    kernel_copy(tmp_path / "empty", tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b""


def test_doctor_advice_only_where_every_release_would_copy() -> None:
    for copying in (["copy"], ["reflink", "copy"]):
        text = advice(copying)
        assert text is not None and f"dvc config cache.type {LINKED_CACHE}" in text
    assert advice(LINKED_CACHE.split(",")) is None
    assert advice(["symlink"]) is None
