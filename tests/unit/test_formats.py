"""Formats by content: safetensors headers checked with the standard library (hostile headers
refused naming the tensor; the safetensors library as the oracle), GGUF headers parsed, ONNX
loaded and checked with the onnx package (refused without it), PyTorch files loaded only
with weights_only=True, TorchScript and arbitrary pickles refused, names never consulted."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from artreg.artifacts.formats import detect
from artreg.artifacts.formats.gguf import check_gguf
from artreg.artifacts.formats.onnx import check_onnx
from artreg.artifacts.formats.safetensors import SAFETENSORS_DTYPE_BITS, check_safetensors
from artreg.errors import InputError
from artreg.registry.formatnames import from_suffix

from helpers.modelfiles import (
    gguf_bytes,
    gguf_string,
    onnx_model_bytes,
    runs_code,
    safetensors_bytes,
    tensor_entry,
    write_code_pickle,
    write_onnx,
    write_torchscript,
)

# --- safetensors ------------------------------------------------------------------------------


def _write(tmp_path: Path, data: bytes, name: str = "model.safetensors") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _two_tensors() -> dict[str, Any]:
    return {
        "__metadata__": {"format": "pt"},
        "b.bias": tensor_entry("F16", [2], 24, 28),
        "a.weight": tensor_entry("F32", [2, 3], 0, 24),
    }


def test_a_valid_header_is_read_in_offset_order(tmp_path: Path) -> None:
    path = _write(tmp_path, safetensors_bytes(_two_tensors(), b"\0" * 28, pad=5))
    header = check_safetensors(path)
    assert [(t.name, t.begin, t.end) for t in header.tensors] == [
        ("a.weight", 0, 24),
        ("b.bias", 24, 28),
    ]
    assert header.metadata == {"format": "pt"}
    assert header.detail == "safetensors, 2 tensors, F16/F32"
    assert detect(path).name == "safetensors"


def _header_with(**changes: Any) -> dict[str, Any]:
    header = _two_tensors()
    for name, entry in changes.items():
        if entry is None:
            del header[name]
        else:
            header[name] = entry
    return header


@pytest.mark.parametrize(
    ("header", "data_len", "expected"),
    [
        # offsets past the end of the file (a truncated copy)
        (_header_with(), 27, "'b.bias' ends at byte 28 of the data, past the file's end"),
        # two tensors sharing bytes
        (
            _header_with(**{"b.bias": tensor_entry("F16", [2], 20, 24)}),
            28,
            "'b.bias' (data_offsets [20, 24]) overlaps tensor 'a.weight'",
        ),
        # bytes between tensors that no tensor owns
        (
            _header_with(**{"b.bias": tensor_entry("F16", [2], 26, 30)}),
            30,
            "'b.bias' (data_offsets [26, 30]) leaves a gap of 2 bytes after tensor 'a.weight'",
        ),
        (
            {"a.weight": tensor_entry("F32", [2, 3], 4, 28)},
            28,
            "'a.weight' (data_offsets [4, 28]) leaves a gap of 4 bytes at the buffer's start",
        ),
        # bytes after the last tensor
        (_header_with(), 40, "12 bytes after the last tensor ('b.bias' ends at 28)"),
        # shape and dtype disagreeing with the byte length
        (
            _header_with(**{"b.bias": tensor_entry("F32", [2], 24, 28)}),
            28,
            "tensor 'b.bias': shape [2] of F32 needs 8 bytes but data_offsets [24, 28] hold 4",
        ),
        (
            _header_with(**{"b.bias": tensor_entry("F4", [3], 24, 26)}),
            26,
            "shape [3] of F4 is 12 bits, not a whole number of bytes",
        ),
        (
            _header_with(**{"b.bias": tensor_entry("F17", [2], 24, 28)}),
            28,
            "tensor 'b.bias': unknown dtype 'F17'",
        ),
        (
            _header_with(**{"b.bias": tensor_entry("F16", [-2], 24, 28)}),
            28,
            "shape [-2] is not a list of non-negative integers",
        ),
        (
            _header_with(**{"b.bias": tensor_entry("F16", [True, 2], 24, 28)}),
            28,
            "shape [True, 2] is not a list",
        ),
        (
            _header_with(**{"b.bias": {"dtype": "F16", "shape": [2], "data_offsets": [24]}}),
            28,
            "data_offsets [24] is not a pair",
        ),
        (
            _header_with(**{"b.bias": tensor_entry("F16", [0], 28, 24)}),
            28,
            "data_offsets [28, 24] end before they begin",
        ),
        (
            _header_with(**{"b.bias": {"dtype": "F16", "shape": [2]}}),
            28,
            "tensor 'b.bias': expected dtype, shape and data_offsets",
        ),
        (_header_with(__metadata__=["x"]), 28, "__metadata__ is not a map of strings"),
        (_header_with(__metadata__={"n": 1}), 28, "__metadata__ is not a map of strings"),
        (b'{"a": 1, "a": 2}', 0, "duplicate key 'a'"),
        (b'{"a": ', 0, "not valid JSON"),
        (b"[]", 0, "does not start with '{'"),
        (b'{"a": "\xff"}', 0, "not valid JSON"),
    ],
)
def test_hostile_headers_are_refused_naming_file_and_tensor(
    tmp_path: Path, header: dict[str, Any] | bytes, data_len: int, expected: str
) -> None:
    path = _write(tmp_path, safetensors_bytes(header, b"\0" * data_len))
    with pytest.raises(InputError) as err:
        check_safetensors(path)
    assert str(path) in err.value.message and expected in err.value.message, err.value.message
    assert err.value.hint and err.value.exit_code == 2


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x05\0\0", "shorter than the 8-byte header length"),
        (struct.pack("<Q", 1000) + b"{}", "header length 1,000 bytes exceeds the 2 bytes"),
        (struct.pack("<Q", 2**62) + b"{}", "exceeds safetensors' limit of 100,000,000"),
    ],
)
def test_impossible_header_lengths_are_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    with pytest.raises(InputError, match=re.escape(expected)):
        check_safetensors(_write(tmp_path, data))


def test_only_the_header_is_read(tmp_path: Path) -> None:
    """A 64 MiB tensor is checked from its header: the data is never read (a sparse file)."""
    size = 64 << 20
    path = _write(tmp_path, safetensors_bytes({"w": tensor_entry("U8", [size], 0, size)}, b""))
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size + size)
    assert check_safetensors(path).tensors[0].end == size


# The library's own reader decides the same way as ours on random, mostly hostile headers.
_dtypes = st.sampled_from(sorted(SAFETENSORS_DTYPE_BITS))
_entries = st.fixed_dictionaries(
    {
        "dtype": st.one_of(_dtypes, st.just("F7")),
        "shape": st.lists(st.integers(0, 6), max_size=3),
        "data_offsets": st.tuples(st.integers(0, 120), st.integers(0, 120)).map(list),
    }
)


@st.composite
def _plausible(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """Mostly valid layouts (contiguous tensors sized by their shapes), then one nudge."""
    header: dict[str, Any] = {}
    position = 0
    for i in range(draw(st.integers(0, 4))):
        dtype = draw(_dtypes)
        shape = draw(st.lists(st.integers(0, 5), max_size=3))
        nbytes = SAFETENSORS_DTYPE_BITS[dtype]
        for dim in shape:
            nbytes *= dim
        nbytes = -(-nbytes // 8)
        header[f"t{i}"] = tensor_entry(dtype, shape, position, position + nbytes)
        position += nbytes
    data_len = position + draw(st.sampled_from([0, 0, 0, 1, -1]))
    if header and draw(st.booleans()):
        victim = draw(st.sampled_from(sorted(header)))
        header[victim] = draw(_entries)
    return header, max(data_len, 0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_plausible())
def test_header_check_agrees_with_the_safetensors_library(case: tuple[dict[str, Any], int]) -> None:
    import safetensors

    header, data_len = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.safetensors"
        path.write_bytes(safetensors_bytes(header, b"\0" * data_len))
        try:
            with safetensors.safe_open(str(path), "numpy"):
                library_accepts = True
        except Exception:
            library_accepts = False
        try:
            check_safetensors(path)
            ours = True
        except InputError:
            ours = False
    event(f"accepted: {ours}")
    assert ours == library_accepts, (json.dumps(header), data_len)


# --- GGUF -------------------------------------------------------------------------------------


def test_a_gguf_header_is_recognised(tmp_path: Path) -> None:
    path = _write(tmp_path, gguf_bytes([("a", (4, 2)), ("b", (3,))]), "model.bin")
    header = check_gguf(path)
    assert (header.version, header.tensor_count, header.kv_count) == (3, 2, 3)
    assert header.architecture == "llama"
    info = detect(path)
    assert info.name == "gguf" and info.detail == "GGUF v3, 2 tensors, 3 keys, llama"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (gguf_bytes()[:100], "runs past the file's end"),
        (gguf_bytes(version=1), "GGUF version 1 is not one artreg reads"),
        (gguf_bytes(version=7), "GGUF version 7"),
        (
            gguf_bytes()[:8] + struct.pack("<QQ", 10**9, 1) + gguf_bytes()[24:],
            "1,000,000,000 tensors and 1 metadata entries cannot fit",
        ),
        (
            gguf_bytes(extra_kv=gguf_string("x") + struct.pack("<I", 77), extra_kv_count=1),
            "metadata 'x' has unknown value type 77",
        ),
        (
            gguf_bytes(extra_kv=gguf_string(b"\xff\xfe") + struct.pack("<I", 4), extra_kv_count=1),
            "metadata entry 3's key is not UTF-8",
        ),
        (gguf_bytes(alignment=12), "general.alignment 12 is invalid"),
        (
            gguf_bytes([("big", (1024, 1024))])[:300],
            "tensor 'big' (bytes 192 to 4,194,496) runs past",
        ),
    ],
    ids=["truncated", "v1", "v7", "counts", "value-type", "utf8", "alignment", "data-cut"],
)
def test_a_damaged_gguf_header_is_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    path = _write(tmp_path, data, "model.gguf")
    with pytest.raises(InputError, match=re.escape(expected)) as err:
        detect(path)
    assert str(path) in err.value.message


def test_gguf_dimensions_beyond_ggml_max_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, gguf_bytes([("t", (1, 1, 1, 1, 2))]), "model.gguf")
    with pytest.raises(InputError, match="tensor 't' has 5 dimensions"):
        check_gguf(path)


# --- ONNX -------------------------------------------------------------------------------------


def _onnx_model(tmp_path: Path, name: str = "student.onnx", valid: bool = True) -> Path:
    return write_onnx(tmp_path / name, valid=valid)


def test_an_onnx_model_is_recognised_by_its_content_and_its_graph_checked(tmp_path: Path) -> None:
    info = detect(_onnx_model(tmp_path, "model.bin"))
    assert info.name == "onnx"
    assert info.detail.startswith("ONNX IR 9, opset 17, 1 nodes (graph checked with onnx ")


def test_a_graph_the_checker_refuses_is_refused(tmp_path: Path) -> None:
    path = _onnx_model(tmp_path, valid=False)
    with pytest.raises(InputError, match=r"ONNX graph does not pass onnx\.checker") as err:
        detect(path)
    assert str(path) in err.value.message
    with pytest.raises(InputError, match=r"ONNX graph does not pass onnx\.checker"):
        check_onnx(path)


def test_without_the_onnx_extra_an_onnx_file_is_refused_naming_it(tmp_path: Path) -> None:
    """Without the onnx package (made unimportable here) nothing checks an ONNX graph, so the
    file is refused, with the extra to install, rather than accepted unchecked."""
    path = _onnx_model(tmp_path)
    code = (
        "import sys\n"
        "sys.modules['onnx'] = None  # what an environment without the extra has: no onnx\n"
        "from pathlib import Path\n"
        "from artreg.artifacts.formats import detect\n"
        "from artreg.errors import InputError\n"
        "try:\n"
        f"    detect(Path({str(path)!r}))\n"
        "except InputError as exc:\n"
        "    print(exc.message, '|', exc.hint, '|', exc.exit_code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert f"{path}: an ONNX model, and checking one needs the onnx package" in out
    assert 'pip install "artreg[onnx]" | 2' in out


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (onnx_model_bytes()[:-3], "not a whole ONNX model"),
        (onnx_model_bytes() + b"\x08", "not a whole ONNX model"),
        (onnx_model_bytes(graph=False), "ONNX graph does not pass onnx.checker"),
        (onnx_model_bytes(ir_version=None), "unknown content"),
    ],
    ids=["cut", "trailing-tag", "no-graph", "no-ir-version"],
)
def test_a_damaged_onnx_file_is_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    path = _write(tmp_path, data, "m.onnx")
    with pytest.raises(InputError, match=re.escape(expected)) as err:
        detect(path)
    assert str(path) in err.value.message


def test_a_real_model_cut_short_is_refused_by_its_structure(tmp_path: Path) -> None:
    path = _onnx_model(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputError, match="not a whole ONNX model"):
        detect(path)


# --- PyTorch, TorchScript, pickles ------------------------------------------------------------


def test_a_torch_pickle_named_bin_is_pytorch_and_safetensors_named_bin_is_safetensors(
    tmp_path: Path,
) -> None:
    import safetensors.torch
    import torch

    state = torch.nn.Linear(3, 2).state_dict()
    torch.save(state, tmp_path / "pytorch_model.bin")
    torch.save(state, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    safetensors.torch.save_file(state, tmp_path / "weights.bin")
    for name in ("pytorch_model.bin", "legacy.bin"):
        info = detect(tmp_path / name)
        assert (info.name, info.detail) == ("pytorch", "PyTorch checkpoint, 2 tensors, float32")
    assert detect(tmp_path / "weights.bin").detail == "safetensors, 2 tensors, F32"


@pytest.mark.parametrize("name", ["model.pt", "model.onnx", "model.safetensors"])
def test_torchscript_and_pickles_are_refused_whatever_their_name(tmp_path: Path, name: str) -> None:
    write_torchscript(tmp_path / name)
    with pytest.raises(InputError, match="a TorchScript archive") as err:
        detect(tmp_path / name)
    assert "torch.onnx.export" in str(err.value.hint)

    write_code_pickle(tmp_path / name)
    with pytest.raises(InputError, match="an arbitrary pickle"):
        detect(tmp_path / name)


def test_a_torch_save_of_code_is_refused_by_weights_only(tmp_path: Path) -> None:
    import torch

    torch.save({"w": torch.zeros(2), "step": runs_code()}, tmp_path / "model.pt")
    with pytest.raises(InputError, match="refused to load the checkpoint with weights_only=True"):
        detect(tmp_path / "model.pt")


def test_a_torch_save_without_tensors_is_no_model(tmp_path: Path) -> None:
    import torch

    torch.save({"epoch": 3}, tmp_path / "model.pt")
    with pytest.raises(InputError, match="a pickle without tensors"):
        detect(tmp_path / "model.pt")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "an HDF5 file"),
        (b"PK\x03\x04garbage", "not a whole PyTorch checkpoint (it starts as torch.save's zip"),
        (b"\0" * 64, "unknown content (first bytes 00 00"),
    ],
    ids=["empty", "hdf5", "zip", "zeros"],
)
def test_unknown_and_damaged_content_is_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    with pytest.raises(InputError, match=re.escape(expected)):
        detect(_write(tmp_path, data, "model.safetensors"))


def test_a_zip_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "model.pt", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(InputError, match=r"a zip archive that is not a torch\.save checkpoint"):
        detect(tmp_path / "model.pt")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("m.pt", "pytorch"), ("m.BIN", "pytorch"), ("m.onnx", "onnx"), ("x.h5", "h5"), ("x", "")],
)
def test_old_records_derive_their_format_from_the_suffix(name: str, expected: str) -> None:
    assert from_suffix(name) == expected
