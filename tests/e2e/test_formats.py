"""Formats by content through the stages: a distilled student exported with torch.onnx.export
released as a file and promoted from a session (its card names ONNX), a GGUF written by hand, a
torch pickle and a safetensors file both named .bin, and the refusals (TorchScript named .pt or
.onnx, a pickle named .onnx, a safetensors file cut short) with exit 2 and nothing changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from artreg import get_artifact_path, register_artifact
from artreg.artifacts.formats import detect
from artreg.artifacts.integrity import Report, check_folder
from artreg.errors import InputError
from artreg.registry.layout import production_dir
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, snapshot, tiny_safetensors, validate_args
from helpers.modelfiles import (
    gguf_bytes,
    safetensors_bytes,
    tensor_entry,
    write_code_pickle,
    write_safetensors,
    write_torchscript,
)


def _distilled_student(out: Path) -> tuple[Path, torch.nn.Module]:
    """A teacher and a smaller student distilled from it for a few steps (soft targets, KL),
    the student exported to ONNX with torch.onnx.export (the TorchScript-based exporter:
    dynamo=False needs no onnxscript)."""
    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    student = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    inputs = torch.randn(64, 8)
    with torch.no_grad():
        soft = torch.softmax(teacher(inputs) / 2.0, dim=-1)
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.kl_div(
            torch.log_softmax(student(inputs) / 2.0, dim=-1), soft, reduction="batchmean"
        )
        loss.backward()
        optimizer.step()
    student.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        student,
        (torch.randn(1, 8),),
        str(out),
        input_names=["x"],
        output_names=["logits"],
        dynamo=False,
    )
    return out, student


def _model_record(folder: Path) -> dict[str, object]:
    return json.loads((folder / "metadata.json").read_text())["model"]["files"][0]


def _front_matter(folder: Path) -> dict[str, object]:
    card = (folder / "README.md").read_text()
    return yaml.safe_load(card.split("---\n")[1])


def test_a_distilled_onnx_student_records_its_teacher_and_its_card_names_onnx(
    registry: Path, tmp_path: Path
) -> None:
    from onnx.reference import ReferenceEvaluator

    teacher = tiny_safetensors(tmp_path / "teacher" / "teacher.safetensors", 1, {"fc": (4, 8)})
    register_artifact("teacher", teacher, "1.0.0", repo=registry, **RELEASE_INPUTS)
    onnx_file, student = _distilled_student(tmp_path / "distill" / "threat_student_v1.onnx")
    assert detect(onnx_file).detail.startswith("ONNX IR ")
    released = register_artifact(
        "distill", onnx_file, "1.0.0", repo=registry, requires=["teacher@v1.0.0"], **RELEASE_INPUTS
    )
    assert released["distill"]["version"] == "1.0.0"

    folder = production_dir("distill", "1.0.0").path(registry)
    record = _model_record(folder)
    assert record["format"] == "onnx" and record["content_format"] == "onnx"
    detail = str(record["format_detail"])
    assert detail.startswith("ONNX IR ") and ", 3 nodes (graph checked with onnx " in detail
    card = (folder / "README.md").read_text()
    assert f"| `threat_student_v1.onnx` | {detail} |" in card
    front = _front_matter(folder)
    assert front["library_name"] == "onnx"
    assert front["artreg"]["format"] == "onnx"  # type: ignore[index]

    # the file handed out is the student: the same logits as the PyTorch model
    path = get_artifact_path("distill", repo=registry)
    x = np.random.default_rng(0).standard_normal((1, 8)).astype(np.float32)
    (got,) = ReferenceEvaluator(str(path)).run(None, {"x": x})
    with torch.no_grad():
        expected = student(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    # the student records its teacher, and a consumer can ask for both, verified
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["requires"] == [{"name": "teacher", "version": "1.0.0"}]
    both = get_artifact_path("distill", repo=registry, with_requirements=True)
    assert set(both) == {"distill", "teacher"}
    assert both["teacher"].read_bytes() == teacher.read_bytes()


def test_an_onnx_session_goes_raw_validated_production_by_content(
    registry: Path, tmp_path: Path
) -> None:
    session = tmp_path / "distill-run"
    _distilled_student(session / "student.onnx")
    register_raw(registry, "distill", "d1", session)
    shutil.rmtree(session)  # from here on the registry's copy is the only one
    results = EXAMPLES / "validation_results.json"
    validated = promote_to_validated(registry, "distill", "d1", "student", results)
    assert _model_record(registry / validated.folder)["content_format"] == "onnx"
    assert (registry / validated.folder / "model.onnx").is_file()
    release = promote_to_production(registry, "distill", validated.id, "1.0.0", **RELEASE_INPUTS)
    folder = registry / release.folder
    record = _model_record(folder)
    assert record["path"] == "model.onnx" and record["content_format"] == "onnx"
    assert "ONNX IR " in (folder / "README.md").read_text()
    with pytest.raises(InputError, match="need a PyTorch model, and this one holds onnx"):
        promote_to_production(
            registry, "distill", validated.id, "1.0.1", optimize="fp16", **RELEASE_INPUTS
        )


def test_a_gguf_file_written_by_hand_registers_as_gguf(registry: Path, tmp_path: Path) -> None:
    model = tmp_path / "tiny-llama.gguf"
    model.write_bytes(gguf_bytes([("token_embd.weight", (8, 4)), ("output.weight", (4, 8))]))
    register_artifact("tiny-llm", model, "0.1.0", repo=registry, **RELEASE_INPUTS)
    folder = production_dir("tiny-llm", "0.1.0").path(registry)
    record = _model_record(folder)
    assert record["content_format"] == "gguf"
    assert record["format_detail"] == "GGUF v3, 2 tensors, 3 keys, llama"
    assert _front_matter(folder)["library_name"] == "gguf"
    assert get_artifact_path("tiny-llm", repo=registry).read_bytes() == model.read_bytes()


def test_files_named_bin_are_what_their_bytes_say(registry: Path, tmp_path: Path) -> None:
    state = torch.nn.Linear(4, 2).state_dict()
    lora = tmp_path / "lora_weights_v1.bin"
    torch.save(state, lora)  # a torch pickle of tensors: loaded with weights_only=True
    register_artifact("lora", lora, "1.0.0", repo=registry, **RELEASE_INPUTS)
    record = _model_record(production_dir("lora", "1.0.0").path(registry))
    assert (record["format"], record["content_format"]) == ("bin", "pytorch")
    assert record["format_detail"] == "PyTorch checkpoint, 2 tensors, float32"

    encoder = write_safetensors(tmp_path / "encoder.bin", 64)
    register_artifact("encoder", encoder, "1.0.0", repo=registry, **RELEASE_INPUTS)
    record = _model_record(production_dir("encoder", "1.0.0").path(registry))
    assert (record["format"], record["content_format"]) == ("bin", "safetensors")
    assert record["format_detail"] == "safetensors, 1 tensors, U8"


def _cut_safetensors(path: Path) -> Path:
    """A safetensors file whose header says its last tensor ends past the file's end."""
    header = {"a": tensor_entry("F32", [4], 0, 16), "b": tensor_entry("F32", [4], 16, 32)}
    path.write_bytes(safetensors_bytes(header, b"\0" * 24))
    return path


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (write_torchscript, "encoder.pt", "a TorchScript archive"),
        (write_torchscript, "threat_student_v1.onnx", "a TorchScript archive"),
        (write_code_pickle, "threat_student_v1.onnx", "an arbitrary pickle"),
        (_cut_safetensors, "model.safetensors", "tensor 'b' ends at byte 32 of the data, past"),
    ],
    ids=["torchscript-pt", "torchscript-onnx", "pickle-onnx", "safetensors-cut"],
)
def test_refused_files_exit_2_and_change_nothing(
    registry: Path, tmp_path: Path, make, name: str, expected: str
) -> None:
    model = tmp_path / name
    make(model)
    before = snapshot(registry)
    with pytest.raises(InputError) as err:
        register_artifact("distill", model, "1.0.0", repo=registry, **RELEASE_INPUTS)
    assert err.value.exit_code == 2
    assert str(model) in err.value.message and expected in err.value.message
    assert err.value.hint
    assert snapshot(registry) == before


def test_a_torchscript_checkpoint_is_refused_by_promote(
    registry: Path, tmp_path: Path, cli
) -> None:
    session = tmp_path / "run"
    session.mkdir()
    write_torchscript(session / "best.pt")
    register_raw(registry, "encoder", "s1", session)
    before = snapshot(registry)
    result = cli(*validate_args("encoder", "s1", "best"), cwd=registry)
    assert result.exit_code == 2, result.stderr
    assert "artifacts/raw/encoder/s1/checkpoints/best.pt: a TorchScript archive" in result.stderr
    assert snapshot(registry) == before


def test_verify_rechecks_safetensors_headers_of_stored_files(
    registry: Path, tmp_path: Path
) -> None:
    """A production file whose header is damaged but whose manifest matches its bytes (a file
    released before artreg checked headers) is a verification problem naming file and tensor."""
    import hashlib

    register_artifact(
        "encoder",
        write_safetensors(tmp_path / "e.safetensors", 64),
        "1.0.0",
        repo=registry,
        **RELEASE_INPUTS,
    )
    folder = production_dir("encoder", "1.0.0")
    report = Report()
    check_folder(registry, folder, report)
    assert not report.problems and report.checked["safetensors headers checked"] == 1

    model = folder.path(registry) / "e.safetensors"
    damaged = safetensors_bytes({"weights": tensor_entry("U8", [64], 0, 64)}, b"\0" * 60)
    model.unlink()  # the work-tree file may share its bytes with the DVC cache
    model.write_bytes(damaged)
    manifest_path = folder.path(registry) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["e.safetensors"].update(
        sha256=hashlib.sha256(damaged).hexdigest(), size=len(damaged)
    )
    manifest_path.write_text(json.dumps(manifest))
    report = Report()
    check_folder(registry, folder, report)
    assert report.problems == [
        f"{folder.relpath}/e.safetensors: safetensors header: tensor 'weights' ends at byte 64 "
        "of the data, past the file's end (60 bytes of data after the header)"
    ]
