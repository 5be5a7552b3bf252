"""Model files written byte by byte from their specifications, so a test can make exactly the
valid or damaged file it needs: safetensors (8-byte length + JSON header + data), GGUF (the
llama.cpp/ggml header) and ONNX's protobuf ModelProto (a minimal varint writer)."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# --- safetensors ------------------------------------------------------------------------------


def safetensors_bytes(header: dict[str, Any] | bytes, data: bytes, *, pad: int = 0) -> bytes:
    """A safetensors file: header (a dict dumped as JSON, or raw bytes) padded with `pad`
    spaces, then `data`."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    raw += b" " * pad
    return struct.pack("<Q", len(raw)) + raw + data


def tensor_entry(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# --- GGUF -------------------------------------------------------------------------------------

GGUF_UINT32, GGUF_FLOAT32, GGUF_STRING, GGUF_ARRAY = 4, 6, 8, 9
GGML_F32 = 0


def gguf_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def gguf_bytes(
    tensors: Sequence[tuple[str, Sequence[int]]] = (("token_embd.weight", (4, 2)),),
    *,
    architecture: str = "llama",
    version: int = 3,
    alignment: int = 32,
    extra_kv: bytes = b"",
    extra_kv_count: int = 0,
) -> bytes:
    """A GGUF file per the spec (llama.cpp's docs/gguf.md): magic, version, tensor count,
    metadata count, the metadata (general.architecture, general.alignment, a float array and
    `extra_kv`), the tensor records (F32), padding to the alignment, the tensors' data."""
    kv = (
        gguf_string("general.architecture")
        + struct.pack("<I", GGUF_STRING)
        + gguf_string(architecture)
        + gguf_string("general.alignment")
        + struct.pack("<II", GGUF_UINT32, alignment)
        + gguf_string("test.scores")
        + struct.pack("<IIQ", GGUF_ARRAY, GGUF_FLOAT32, 3)
        + struct.pack("<fff", 0.5, 1.5, 2.5)
        + extra_kv
    )
    infos, data = b"", b""
    for name, shape in tensors:
        size = 4
        for dim in shape:
            size *= dim
        offset = len(data)
        infos += gguf_string(name) + struct.pack("<I", len(shape))
        infos += b"".join(struct.pack("<Q", d) for d in shape)
        infos += struct.pack("<IQ", GGML_F32, offset)
        data += b"\x01" * size + b"\x00" * (-size % alignment)
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), 3 + extra_kv_count) + kv + infos
    return head + b"\x00" * (-len(head) % alignment) + data


# --- ONNX's protobuf --------------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_varint(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def pb_bytes(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def onnx_model_bytes(
    *, ir_version: int | None = 9, opset: int = 17, nodes: int = 2, graph: bool = True
) -> bytes:
    """A ModelProto by hand: ir_version (1), producer_name (2), graph (7) with `nodes` Identity
    nodes (GraphProto.node = 1; NodeProto.op_type = 4), opset_import (8)."""
    node = pb_bytes(1, b"x") + pb_bytes(2, b"y") + pb_bytes(4, b"Identity")
    body = b"" if ir_version is None else pb_varint(1, ir_version)
    body += pb_bytes(2, b"artreg-test")
    if graph:
        body += pb_bytes(7, b"".join(pb_bytes(1, node) for _ in range(nodes)) + pb_bytes(2, b"g"))
    return body + pb_bytes(8, pb_bytes(1, b"") + pb_varint(2, opset))


# --- real files for tests that need "a model file" --------------------------------------------


def write_safetensors(path: Path, nbytes: int = 4096, *, fill: bytes | None = None) -> Path:
    """A valid safetensors file holding one U8 tensor of `nbytes` random bytes (or `fill`
    repeated), for tests that need a ready model file of some size."""
    header = {"weights": tensor_entry("U8", [nbytes], 0, nbytes)}
    with path.open("wb") as fh:
        fh.write(safetensors_bytes(header, b""))
        left = nbytes
        while left:
            chunk = min(left, 1 << 20)
            fh.write((fill * chunk)[:chunk] if fill else os.urandom(chunk))
            left -= chunk
    return path


def write_onnx(path: Path, *, width: int = 4, valid: bool = True) -> Path:
    """A real ONNX model made with onnx.helper: y = x + x (an unknown op if not `valid`)."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Add" if valid else "NoSuchOp", ["x", "x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


class _RunsCode:
    """Pickled, this asks the unpickler to call print: what only full pickle would do."""

    def __reduce__(self) -> tuple[object, ...]:
        return (print, ("this would run",))


def write_code_pickle(path: Path) -> Path:
    """An arbitrary pickle (not torch.save's format) whose loading would run code."""
    import pickle

    path.write_bytes(pickle.dumps({"w": _RunsCode()}))
    return path


def runs_code() -> object:
    """An object a weights_only load refuses (to put in a torch.save checkpoint)."""
    return _RunsCode()


def write_torchscript(path: Path) -> Path:
    """A TorchScript archive (torch.jit.script(...).save) of a tiny linear layer."""
    import torch

    torch.jit.script(torch.nn.Linear(4, 2)).save(str(path))
    return path
