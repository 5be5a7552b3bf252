"""Manifest and metadata records: one constructor each, a JSON form that passes the schema,
and a round trip through that form. Also the DVC formats artreg writes, byte for byte."""

from __future__ import annotations

import hashlib
import json

from artreg.adapters import schemas
from artreg.adapters.dvc.cache import pointer_text, tree_object
from artreg.adapters.dvc.repo import CopiedFile
from artreg.registry.documents import (
    Approval,
    GateResult,
    Manifest,
    ManifestFile,
    Metadata,
    ModelFile,
    ModelInfo,
    Source,
)
from artreg.registry.formatnames import FormatInfo

SHA = "0" * 64


def manifest() -> Manifest:
    return Manifest(
        stage="validated",
        name="encoder",
        id="s1_best_validated",
        created_at="2024-05-01T10:00:00Z",
        created_by="Ann <ann@example.com>",
        primary="model.pt",
        files={
            "model.pt": ManifestFile(SHA, 10, dvc=True),
            "README.md": ManifestFile("1" * 64, 3),
        },
        provenance={"source": {"stage": "raw", "id": "s1"}},
        tool_version="0.1.0",
    )


def metadata(**extra: object) -> Metadata:
    fields: dict[str, object] = {
        "stage": "production",
        "name": "encoder",
        "id": "v1.0.0",
        "version": "1.0.0",
        "created_at": "2024-05-01T10:00:00Z",
        "created_by": "Ann <ann@example.com>",
        "source": Source("validated", "s1_best_validated", sha256=SHA),
        "gates": [GateResult("latency_p95_ms", "<=", 100, 31.0, True)],
        "model": ModelInfo([ModelFile.named("model.pt", SHA, 10)], 1234),
        "approval": Approval("rm", "2024-05-01T10:00:00Z"),
        **extra,
    }
    return Metadata(**fields)  # type: ignore[arg-type]


def test_a_manifest_serialises_to_its_schema_and_back() -> None:
    record = manifest()
    data = record.to_json()
    schemas.validate(data, "manifest", "manifest.json")
    assert data["files"]["model.pt"] == {"sha256": SHA, "size": 10, "dvc": True}
    assert "dvc" not in data["files"]["README.md"]
    assert list(data["files"]) == ["README.md", "model.pt"]  # sorted, as the file is written
    assert Manifest.from_json(json.loads(json.dumps(data))) == record
    assert record.dvc_files == {"model.pt"} and record.folder.relpath.endswith("s1_best_validated")


def test_metadata_serialises_to_its_schema_and_back() -> None:
    record = metadata(notes="first", deployment={"port": 9000})
    data = record.to_json()
    schemas.validate(data, "metadata", "metadata.json")
    assert data["gates"] == {
        "passed": True,
        "results": [
            {
                "metric": "latency_p95_ms",
                "op": "<=",
                "threshold": 100,
                "value": 31.0,
                "passed": True,
            }
        ],
    }
    assert data["model"]["formats"] == ["pt"] and data["model"]["files"][0]["format"] == "pt"
    assert Metadata.from_json(json.loads(json.dumps(data))) == record


def test_unset_optional_fields_are_left_out_and_read_back_as_unset() -> None:
    data = metadata().to_json()
    for key in ("notes", "security_review", "deployment", "training_curves"):
        assert key not in data
    assert set(data["source"]) == {"stage", "id", "sha256"}
    back = Metadata.from_json(data)
    assert back.notes is None and back.source.commit is None


def test_metadata_of_a_failed_gate_says_so() -> None:
    failed = metadata(gates=[GateResult("x", ">=", 1, 0, False, "too low")])
    data = failed.to_json()
    assert data["gates"]["passed"] is False
    assert data["gates"]["results"][0]["reason"] == "too low"


def test_the_dir_listing_is_dvc_datas_bytes() -> None:
    files = [CopiedFile("b.pt", SHA, "b" * 32, 2), CopiedFile("a b/é.pt", SHA, "a" * 32, 1)]
    oid, data = tree_object(files)
    assert data == (
        b'[{"md5": "' + b"a" * 32 + b'", "relpath": "a b/\\u00e9.pt"}, '
        b'{"md5": "' + b"b" * 32 + b'", "relpath": "b.pt"}]'
    )
    assert oid == hashlib.md5(data).hexdigest() + ".dir"
    assert tree_object(files[::-1]) == (oid, data)  # the order files were copied in is no matter


def test_a_pointer_is_written_in_dvc_adds_field_order() -> None:
    assert pointer_text("checkpoints", "c" * 32 + ".dir", 30, nfiles=3) == (
        f"outs:\n- md5: {'c' * 32}.dir\n  size: 30\n  nfiles: 3\n  hash: md5\n  path: checkpoints\n"
    )
    assert "nfiles" not in pointer_text("model.pt", "d" * 32, 5)


def test_model_files_record_their_detected_format_and_old_records_fall_back_to_the_suffix() -> None:
    detected = ModelFile.named(
        "weights.bin", SHA, 10, FormatInfo("safetensors", "safetensors, 1 tensors, U8")
    )
    data = metadata(model=ModelInfo([detected])).to_json()
    schemas.validate(data, "metadata", "metadata.json")
    assert data["model"]["files"][0] == {
        "path": "weights.bin",
        "format": "bin",
        "sha256": SHA,
        "size": 10,
        "content_format": "safetensors",
        "format_detail": "safetensors, 1 tensors, U8",
    }
    assert Metadata.from_json(data).model.primary.detected == "safetensors"
    # A record written before formats were detected: no null fields, the suffix decides.
    old = metadata().to_json()
    assert set(old["model"]["files"][0]) == {"path", "format", "sha256", "size"}
    record = Metadata.from_json(old).model.primary
    assert (record.content_format, record.detected) == (None, "pytorch")
