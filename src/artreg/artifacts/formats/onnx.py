"""ONNX: the graph loaded and checked with the `onnx` package when it is installed, else the
protobuf structure of the ModelProto walked here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from artreg.artifacts.formats.base import refuse
from artreg.registry.formatnames import ONNX, FormatInfo

# ModelProto's fields (onnx.proto): ir_version = 1, opset_import = 8, graph = 7;
# OperatorSetIdProto: domain = 1, version = 2; GraphProto: node = 1.
_ONNX_IR_VERSION, _ONNX_GRAPH, _ONNX_OPSET = 1, 7, 8
_ONNX_FIX = (
    "export the model again (torch.onnx.export, or onnx.save of a checked model) and register "
    "the new file; a copy that was cut short or altered looks like this"
)


class _Truncated(Exception):
    """A protobuf field runs past its message's end."""


def _varint(fh: BinaryIO, end: int) -> int:
    value, shift = 0, 0
    while True:
        if fh.tell() >= end or shift > 63:
            raise _Truncated
        byte = fh.read(1)[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7


def _fields(fh: BinaryIO, end: int) -> Iterator[tuple[int, int, int]]:
    """(field number, wire type, value or payload length) of each field up to `end`; a
    length-delimited payload is left unread (the caller reads or skips it)."""
    while fh.tell() < end:
        tag = _varint(fh, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _Truncated
        if wire == 0:
            yield number, wire, _varint(fh, end)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if fh.tell() + width > end:
                raise _Truncated
            fh.seek(width, 1)
            yield number, wire, 0
        elif wire == 2:
            length = _varint(fh, end)
            start = fh.tell()
            if start + length > end:
                raise _Truncated
            yield number, wire, length
            fh.seek(start + length)
        else:  # groups (3, 4) are not in ONNX's schema; 6 and 7 do not exist
            raise _Truncated


@dataclass(frozen=True)
class ONNXHeader:
    ir_version: int
    opset: int | None  # the default domain's opset version
    nodes: int

    @property
    def detail(self) -> str:
        opset = f"opset {self.opset}" if self.opset is not None else "no default opset"
        return f"ONNX IR {self.ir_version}, {opset}, {self.nodes} nodes"


def onnx_header(path: Path) -> ONNXHeader:
    """Walk a file as a protobuf ModelProto (the standard library only): every field's bounds
    consistent with the file size, ir_version and graph present; InputError otherwise."""
    size = path.stat().st_size
    ir_version = opset = None
    nodes, graphs = 0, 0
    with path.open("rb") as fh:
        try:
            for number, wire, value in _fields(fh, size):
                if number == _ONNX_IR_VERSION and wire == 0:
                    ir_version = value
                elif number == _ONNX_GRAPH and wire == 2:
                    graphs += 1
                    end = fh.tell() + value
                    nodes += sum(n == 1 and w == 2 for n, w, _ in _fields(fh, end))
                elif number == _ONNX_OPSET and wire == 2:
                    end = fh.tell() + value
                    domain, version = "", None
                    for n, w, v in _fields(fh, end):
                        if n == 1 and w == 2:
                            domain = fh.read(v).decode("utf-8", "replace")
                        elif n == 2 and w == 0:
                            version = v
                    if domain in ("", "ai.onnx"):
                        opset = version
        except _Truncated:
            raise refuse(
                path,
                "not a whole ONNX model: its protobuf structure does not parse to the file's "
                f"end ({size:,} bytes)",
                _ONNX_FIX,
            ) from None
    if ir_version is None or graphs != 1:
        missing = "ir_version" if ir_version is None else "graph"
        raise refuse(
            path,
            f"not an ONNX model: the protobuf message has no {missing} field",
            _ONNX_FIX,
        )
    return ONNXHeader(ir_version, opset, nodes)


def _onnx_module() -> Any:
    try:
        import onnx
    except ImportError:
        return None
    return onnx


def check_onnx(path: Path, *, use_onnx: bool = True) -> FormatInfo:
    """An ONNX file checked by loading its graph with the `onnx` package (onnx.load and
    onnx.checker.check_model) when it is installed and `use_onnx`; else by its header only."""
    header = onnx_header(path)  # cheap, and a clear message for what is no protobuf at all
    onnx = _onnx_module() if use_onnx else None
    if onnx is None:
        return FormatInfo(ONNX, f"{header.detail} (protobuf structure checked, graph not loaded)")
    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises ValidationError, DecodeError, ... per failure
        raise refuse(
            path,
            f"ONNX graph does not pass onnx.checker ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'})",
            _ONNX_FIX,
        ) from exc
    opset = next(
        (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), header.opset
    )
    checked = ONNXHeader(int(model.ir_version), opset, len(model.graph.node))
    return FormatInfo(ONNX, f"{checked.detail} (graph checked with onnx {onnx.__version__})")
