"""`get -o DIR` run again keeps a file that holds the model's bytes already, but only a plain file
of its own, and only if it still holds them when the other files are in place."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from artreg.adapters.hashing import FileDigest
from artreg.errors import InputError, IntegrityError
from artreg.reading import outputs


def digest(data: bytes) -> FileDigest:
    return FileDigest(hashlib.sha256(data).hexdigest(), len(data))


def test_a_file_hard_linked_elsewhere_is_not_kept_as_the_models_copy(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    out.mkdir()
    cached = tmp_path / "cache-object"  # e.g. a DVC cache object the deploy was linked to
    cached.write_bytes(b"model bytes")
    os.link(cached, out / "model.pt")
    with pytest.raises(InputError) as refused:
        outputs.check(out, [out / "model.pt"], None, {out / "model.pt": digest(b"model bytes")})
    assert "hard-linked elsewhere" in refused.value.message
    (out / "model.pt").unlink()
    (out / "model.pt").symlink_to(cached)
    with pytest.raises(InputError):
        outputs.check(out, [out / "model.pt"], None, {out / "model.pt": digest(b"model bytes")})
    (out / "model.pt").unlink()
    (out / "model.pt").write_bytes(b"model bytes")  # a plain copy of its own is kept
    outputs.check(out, [out / "model.pt"], None, {out / "model.pt": digest(b"model bytes")})


def test_a_kept_file_changed_while_the_others_are_copied_fails_and_leaves_none_of_them(
    tmp_path: Path,
) -> None:
    out = tmp_path / "deploy"
    out.mkdir()
    kept = out / "config.json"
    kept.write_bytes(b"{}")
    # The other file's source is a pipe: its copy waits until this test has changed the kept
    # file, so the change falls exactly between the check and the end of the copy.
    pipe = tmp_path / "weights"
    os.mkfifo(pipe)
    weights = b"w" * 1000

    def change_then_feed() -> None:
        kept.write_bytes(b'{"x": 1}')
        with open(pipe, "wb") as fh:
            fh.write(weights)

    copies = [(pipe, out / "weights.bin", digest(weights)), (kept, kept, digest(b"{}"))]
    outputs.check(out, [c[1] for c in copies], None, {c[1]: c[2] for c in copies})
    feeder = threading.Thread(target=change_then_feed)
    feeder.start()
    try:
        with pytest.raises(IntegrityError) as failed:
            outputs.write_verified(out, copies)
    finally:
        feeder.join()
    assert "changed while" in failed.value.message
    assert not (out / "weights.bin").exists()  # nothing of this call left under a final name
