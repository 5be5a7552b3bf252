"""The JSON forms of records whose --json output is not just their fields: each says what it
changes (a count for a list, a field left out, a key added) and keeps every other field."""

from __future__ import annotations

import json

from artreg.artifacts.signing.keys import Signer
from artreg.services.oci_export import Exported


def test_an_export_counts_its_blobs_and_leaves_the_layout_switch_out() -> None:
    done = Exported(
        name="encoder",
        version="1.2.0",
        target="ghcr.io/acme/encoder",
        tags=["v1.2.0"],
        digest="sha256:" + "ab" * 32,
        layers=3,
        uploaded=["sha256:" + "01" * 32, "sha256:" + "02" * 32],
        skipped=["sha256:" + "03" * 32],
        bytes_uploaded=640,
        layout=True,
        notes=["pushed over plain HTTP"],
    )
    assert done.as_dict() == {
        "name": "encoder",
        "version": "1.2.0",
        "target": "ghcr.io/acme/encoder",
        "tags": ["v1.2.0"],
        "digest": "sha256:" + "ab" * 32,
        "layers": 3,
        "uploaded": 2,
        "skipped": 1,
        "bytes_uploaded": 640,
        "signature": None,
        "notes": ["pushed over plain HTTP"],
    }


def test_a_signers_covered_files_are_a_json_list() -> None:
    signer = Signer("key", "sha256:" + "cd" * 32, key="keys/release.pub", files=("model.pt",))
    assert (
        json.loads(json.dumps(signer.as_dict()))
        == signer.as_dict()
        == {
            "kind": "key",
            "fingerprint": "sha256:" + "cd" * 32,
            "key": "keys/release.pub",
            "subject": None,
            "files": ["model.pt"],
        }
    )
