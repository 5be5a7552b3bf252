"""Model formats recognised by their content, never by their suffix.

`detect` reads a file's first bytes and decides what it holds: safetensors (header checked
here, with the standard library only), ONNX (graph loaded and checked with the `onnx` package
when it is installed, else the protobuf structure walked here), GGUF (header parsed here), or a
PyTorch checkpoint (torch.save's zip archive or a legacy pickle, loaded with weights_only=True to
prove it holds only tensors and plain data). TorchScript archives, arbitrary pickles and anything
else are refused with an InputError naming the file, what was found and the fix.

Every check here raises InputError (exit 2): the callers meet these files as input (register,
release, promote). `verify` re-checks safetensors headers of stored files and reports a failure
as one of its problems (exit 1), so this module needs no second error type.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from artreg.errors import InputError

SAFETENSORS = "safetensors"
ONNX = "onnx"
GGUF = "gguf"
PYTORCH = "pytorch"
FORMATS = (SAFETENSORS, ONNX, GGUF, PYTORCH)
SUFFIXES = {SAFETENSORS: ".safetensors", ONNX: ".onnx", GGUF: ".gguf", PYTORCH: ".pt"}

# The suffixes artreg used to take formats from; an old manifest's record without a detected
# format means "derived from the suffix" (see `from_suffix`).
_SUFFIX_FORMATS = {
    "pt": PYTORCH,
    "pth": PYTORCH,
    "ckpt": PYTORCH,
    "bin": PYTORCH,
    "onnx": ONNX,
    "safetensors": SAFETENSORS,
    "gguf": GGUF,
}


@dataclass(frozen=True)
class FormatInfo:
    """What a model file holds, as found in its bytes."""

    name: str  # one of FORMATS
    detail: str  # one line for the model card, e.g. "safetensors, 12 tensors, F16"


def from_suffix(path: str) -> str:
    """The format a file name's suffix suggests (for records written before formats were
    detected from content): one of FORMATS, or the suffix itself when artreg never knew it."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return _SUFFIX_FORMATS.get(suffix, suffix)


def _refuse(path: Path, found: str, hint: str) -> InputError:
    return InputError(f"{path}: {found}", hint=hint)


# --- safetensors ------------------------------------------------------------------------------

# safetensors' own limits and dtypes (the Rust crate's `Dtype` and its bit sizes).
SAFETENSORS_MAX_HEADER = 100_000_000
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
_SAFETENSORS_FIX = (
    "the file is damaged or was not written by a safetensors library: write it again with "
    "safetensors' save_file (or pick another copy) and register it anew"
)


@dataclass(frozen=True)
class SafetensorsTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int  # offsets into the byte buffer that follows the header
    end: int


@dataclass(frozen=True)
class SafetensorsHeader:
    """A safetensors file's header, checked against the file's size."""

    header_length: int  # N, the JSON header's length in bytes
    tensors: tuple[SafetensorsTensor, ...]  # in the order of their offsets
    metadata: dict[str, str]

    @property
    def data_start(self) -> int:
        return 8 + self.header_length

    @property
    def dtypes(self) -> list[str]:
        return sorted({t.dtype for t in self.tensors})

    @property
    def detail(self) -> str:
        dtypes = "/".join(self.dtypes) or "no dtype"
        return f"safetensors, {len(self.tensors)} tensors, {dtypes}"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


def _safetensors_length(head: bytes, size: int) -> int | None:
    """N from the first bytes, when they look like a safetensors file's start."""
    if len(head) < 9:
        return None
    (n,) = struct.unpack("<Q", head[:8])
    if 0 < n <= min(SAFETENSORS_MAX_HEADER, size - 8) and head[8:9] == b"{":
        return int(n)
    return None


def _tensor(path: Path, name: str, entry: Any) -> SafetensorsTensor:
    def bad(what: str) -> InputError:
        return _refuse(path, f"safetensors header: tensor {name!r}: {what}", _SAFETENSORS_FIX)

    # other keys are ignored, as safetensors itself ignores them
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise bad(f"expected dtype, shape and data_offsets, found {keys}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in SAFETENSORS_DTYPE_BITS:
        raise bad(f"unknown dtype {dtype!r} (known: {', '.join(SAFETENSORS_DTYPE_BITS)})")
    if not isinstance(shape, list) or not all(
        type(d) is int and d >= 0 for d in shape
    ):  # bool is an int subclass: `type(...) is int` keeps true/false out
        raise bad(f"shape {shape!r} is not a list of non-negative integers")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int and o >= 0 for o in offsets)
    ):
        raise bad(f"data_offsets {offsets!r} is not a pair of non-negative integers")
    begin, end = offsets
    if end < begin:
        raise bad(f"data_offsets [{begin}, {end}] end before they begin")
    bits = math.prod(shape) * SAFETENSORS_DTYPE_BITS[dtype]
    if bits % 8:
        raise bad(f"shape {shape} of {dtype} is {bits} bits, not a whole number of bytes")
    if bits // 8 != end - begin:
        raise bad(
            f"shape {shape} of {dtype} needs {bits // 8:,} bytes but data_offsets "
            f"[{begin}, {end}] hold {end - begin:,}"
        )
    return SafetensorsTensor(name, dtype, tuple(shape), begin, end)


def check_safetensors(path: Path) -> SafetensorsHeader:
    """Read and check a safetensors file's header (only the header is read): its length and
    every tensor's offsets consistent with the file size, dtypes and shapes matching the byte
    lengths, tensors neither overlapping nor leaving gaps (the format allows none); InputError
    naming the file and the tensor otherwise."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise _refuse(
                path,
                f"not a safetensors file: {size} bytes, shorter than the 8-byte header length",
                _SAFETENSORS_FIX,
            )
        (n,) = struct.unpack("<Q", prefix)
        if n > SAFETENSORS_MAX_HEADER or n > size - 8:
            raise _refuse(
                path,
                f"safetensors header length {n:,} bytes exceeds "
                + (
                    f"safetensors' limit of {SAFETENSORS_MAX_HEADER:,}"
                    if n > SAFETENSORS_MAX_HEADER
                    else f"the {size - 8:,} bytes the file has after it"
                ),
                _SAFETENSORS_FIX,
            )
        raw = fh.read(n)
    if not raw.startswith(b"{"):
        raise _refuse(path, "safetensors header does not start with '{'", _SAFETENSORS_FIX)
    try:
        # json allows the trailing spaces safetensors writers pad the header with
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(
            path, f"safetensors header is not valid JSON ({exc})", _SAFETENSORS_FIX
        ) from exc
    if not isinstance(header, dict):
        raise _refuse(path, "safetensors header is not a JSON object", _SAFETENSORS_FIX)
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _refuse(
            path, "safetensors header: __metadata__ is not a map of strings", _SAFETENSORS_FIX
        )
    tensors = sorted(
        (_tensor(path, name, entry) for name, entry in header.items()),
        key=lambda t: (t.begin, t.end),
    )
    buffer = size - 8 - n
    position, previous = 0, None
    for t in tensors:
        if t.begin != position:
            where = f"after tensor {previous.name!r}" if previous else "at the buffer's start"
            what = (
                f"overlaps tensor {previous.name!r} (which ends at {position:,})"
                if previous and t.begin < position
                else f"leaves a gap of {t.begin - position:,} bytes {where}"
            )
            raise _refuse(
                path,
                f"safetensors header: tensor {t.name!r} (data_offsets [{t.begin}, {t.end}]) "
                + what,
                _SAFETENSORS_FIX,
            )
        if t.end > buffer:
            raise _refuse(
                path,
                f"safetensors header: tensor {t.name!r} ends at byte {t.end:,} of the data, "
                f"past the file's end ({buffer:,} bytes of data after the header)",
                _SAFETENSORS_FIX + " (a truncated copy looks like this)",
            )
        position, previous = t.end, t
    if position != buffer:
        raise _refuse(
            path,
            f"safetensors: {buffer - position:,} bytes after the last tensor "
            f"({previous.name!r} ends at {position:,})"
            if previous
            else f"safetensors: no tensors, but {buffer:,} bytes of data",
            _SAFETENSORS_FIX,
        )
    return SafetensorsHeader(n, tuple(tensors), dict(metadata))


# --- GGUF -------------------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)  # v1 (32-bit counts) is no longer read by llama.cpp
GGUF_DEFAULT_ALIGNMENT = 32
GGUF_MAX_DIMS = 4
# metadata value types: fixed sizes of the scalar ones; 8 = string, 9 = array
_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
# (block size, bytes per block) of the ggml tensor types whose layout has been stable since
# GGUF v2 (gguf-py's GGML_QUANT_SIZES); a tensor of another type has only its start checked.
_GGML_SIZES = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 36),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    30: (1, 2),  # BF16
}
_GGUF_FIX = (
    "the file is damaged or truncated: convert the model to GGUF again (llama.cpp's "
    "convert script or the gguf package) or pick another copy"
)


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    tensor_count: int
    kv_count: int
    architecture: str | None


class _GGUFReader:
    """Bounded little-endian reads of a GGUF header; past the file's end is damage."""

    def __init__(self, path: Path, fh: BinaryIO, size: int) -> None:
        self.path, self.fh, self.size = path, fh, size

    def take(self, n: int, what: str) -> bytes:
        data = self.fh.read(n) if n <= self.size else b""
        if len(data) != n:
            raise _refuse(
                self.path,
                f"damaged GGUF header: {what} runs past the file's end ({self.size:,} bytes)",
                _GGUF_FIX,
            )
        return data

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])

    def u64(self, what: str) -> int:
        return int(struct.unpack("<Q", self.take(8, what))[0])

    def string(self, what: str) -> str:
        raw = self.take(self.u64(what), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse(
                self.path, f"damaged GGUF header: {what} is not UTF-8", _GGUF_FIX
            ) from None

    def value(self, kind: int, what: str) -> Any:
        if kind in _GGUF_SCALARS:
            data = self.take(_GGUF_SCALARS[kind], what)
            return int.from_bytes(data, "little") if kind in (4, 5) else data
        if kind == _GGUF_STRING:
            return self.string(what)
        if kind == _GGUF_ARRAY:
            item, count = self.u32(what), self.u64(what)
            if item in _GGUF_SCALARS:  # skip without reading item by item
                self.take(count * _GGUF_SCALARS[item], what)
            elif item == _GGUF_STRING:
                for _ in range(count):
                    self.string(what)
            else:
                raise _refuse(
                    self.path,
                    f"damaged GGUF header: {what} is an array of unknown type {item}",
                    _GGUF_FIX,
                )
            return None
        raise _refuse(
            self.path, f"damaged GGUF header: {what} has unknown value type {kind}", _GGUF_FIX
        )


def check_gguf(path: Path) -> GGUFHeader:
    """Parse a GGUF file's header (magic, version, tensor and metadata counts, every metadata
    entry and tensor record, and their offsets against the file size); InputError if damaged."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        r = _GGUFReader(path, fh, size)
        if r.take(4, "the magic") != GGUF_MAGIC:
            raise _refuse(path, "not a GGUF file (no GGUF magic)", _GGUF_FIX)
        version = r.u32("the version")
        if version not in GGUF_VERSIONS:
            raise _refuse(
                path,
                f"GGUF version {version} is not one artreg reads "
                f"({', '.join(map(str, GGUF_VERSIONS))})",
                "convert the model with a current llama.cpp, which writes GGUF v3",
            )
        tensors, kvs = r.u64("the tensor count"), r.u64("the metadata count")
        # each metadata entry and tensor record takes at least 12 and 24 bytes
        if kvs * 12 + tensors * 24 > size:
            raise _refuse(
                path,
                f"damaged GGUF header: {tensors:,} tensors and {kvs:,} metadata entries "
                f"cannot fit in {size:,} bytes",
                _GGUF_FIX,
            )
        alignment, architecture = GGUF_DEFAULT_ALIGNMENT, None
        for i in range(kvs):
            key = r.string(f"metadata entry {i}'s key")
            value = r.value(r.u32(f"metadata {key!r}'s type"), f"metadata {key!r}")
            if key == "general.alignment" and isinstance(value, int):
                alignment = value
            elif key == "general.architecture" and isinstance(value, str):
                architecture = value
        if alignment <= 0 or alignment % 8:
            raise _refuse(
                path, f"damaged GGUF header: general.alignment {alignment} is invalid", _GGUF_FIX
            )
        extents = []
        for i in range(tensors):
            name = r.string(f"tensor {i}'s name")
            dims = r.u32(f"tensor {name!r}'s dimension count")
            if dims > GGUF_MAX_DIMS:
                raise _refuse(
                    path,
                    f"damaged GGUF header: tensor {name!r} has {dims} dimensions "
                    f"(GGUF allows {GGUF_MAX_DIMS})",
                    _GGUF_FIX,
                )
            shape = struct.unpack(f"<{dims}Q", r.take(8 * dims, f"tensor {name!r}'s shape"))
            kind = r.u32(f"tensor {name!r}'s type")
            offset = r.u64(f"tensor {name!r}'s offset")
            if offset % alignment:
                raise _refuse(
                    path,
                    f"damaged GGUF header: tensor {name!r}'s offset {offset} is not a multiple "
                    f"of the alignment {alignment}",
                    _GGUF_FIX,
                )
            nbytes = 0
            if kind in _GGML_SIZES:
                block, block_bytes = _GGML_SIZES[kind]
                elements = math.prod(shape)
                if elements % block:
                    raise _refuse(
                        path,
                        f"damaged GGUF header: tensor {name!r} has {elements:,} elements, not "
                        f"a whole number of its type's blocks of {block}",
                        _GGUF_FIX,
                    )
                nbytes = elements // block * block_bytes
            extents.append((name, offset, nbytes))
        data_start = -(-fh.tell() // alignment) * alignment
    for name, offset, nbytes in extents:
        if data_start + offset + nbytes > size:
            raise _refuse(
                path,
                f"damaged GGUF header: tensor {name!r} (bytes {data_start + offset:,} to "
                f"{data_start + offset + nbytes:,}) runs past the file's end ({size:,} bytes)",
                _GGUF_FIX + " (a truncated copy looks like this)",
            )
    return GGUFHeader(version, tensors, kvs, architecture)


# --- ONNX (protobuf ModelProto) ---------------------------------------------------------------

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
            raise _refuse(
                path,
                "not a whole ONNX model: its protobuf structure does not parse to the file's "
                f"end ({size:,} bytes)",
                _ONNX_FIX,
            ) from None
    if ir_version is None or graphs != 1:
        missing = "ir_version" if ir_version is None else "graph"
        raise _refuse(
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
        raise _refuse(
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


# --- PyTorch (torch.save zip archive or legacy pickle), TorchScript ---------------------------

_PICKLE_FIX = (
    "save the weights with torch.save(model.state_dict(), path) or as safetensors; artreg "
    "never unpickles arbitrary objects"
)


# torch.save's legacy (non-zip) format starts with a pickle of its magic number
# 0x1950a86a20f9469cfc6c: PROTO 2, LONG1 of 10 bytes, the number little-endian.
_LEGACY_TORCH = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def _check_zip(path: Path) -> None:
    """Nothing for torch.save's archive; InputError for TorchScript and other archives."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(
            path,
            "refused to load: not a whole PyTorch checkpoint (it starts as torch.save's zip "
            f"archive, but that is cut short or damaged: {exc})",
            "check that the file was written completely by torch.save (compare it with the "
            "job's output), or pick another checkpoint",
        ) from exc
    parts = [n.split("/") for n in names]
    if any(len(p) > 2 and p[1] == "code" for p in parts) or any(
        p[-1] == "constants.pkl" for p in parts
    ):
        raise _refuse(
            path,
            "a TorchScript archive (torch.jit.save: it holds code/ and constants.pkl), whose "
            "code would run when it is loaded",
            "register the weights instead: torch.save(model.state_dict(), path), safetensors, "
            "or an ONNX export (torch.onnx.export)",
        )
    if any(len(p) == 2 and p[1] == "data.pkl" for p in parts):
        return
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise _refuse(
        path,
        f"a zip archive that is not a torch.save checkpoint (no data.pkl; holds {shown})",
        "register the model file itself (safetensors, ONNX, GGUF or a torch.save state dict)",
    )


def _tensors(value: Any, torch: Any, depth: int = 0) -> Iterator[Any]:
    if isinstance(value, torch.Tensor):
        yield value
    elif depth < 8 and isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item, torch, depth + 1)
    elif depth < 8 and isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, torch, depth + 1)


def check_pytorch(path: Path) -> FormatInfo:
    """A PyTorch checkpoint loaded with weights_only=True (proof that it holds only tensors and
    plain data; InputError naming what it holds otherwise), with its tensors counted."""
    from artreg.artifacts.checkpoints import import_torch, load_checkpoint

    checkpoint = load_checkpoint(path)
    torch = import_torch(f"reading {path}")
    tensors = list(_tensors(checkpoint, torch))
    if not tensors:
        raise _refuse(
            path,
            f"a pickle without tensors (it holds a {type(checkpoint).__name__}), not a model",
            _PICKLE_FIX,
        )
    return pytorch_info(tensors)


def pytorch_info(tensors: Collection[Any]) -> FormatInfo:
    """The record of a PyTorch file holding `tensors` (torch tensors), e.g. cleaned weights."""
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors})
    return FormatInfo(PYTORCH, f"PyTorch checkpoint, {len(tensors)} tensors, {'/'.join(dtypes)}")


# --- detection --------------------------------------------------------------------------------

# Formats artreg recognises only to name them in a refusal.
_FOREIGN = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5?)"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)


def detect(
    path: Path, *, use_onnx: bool = True, load_pytorch: bool = True, display: str | None = None
) -> FormatInfo:
    """The format `path` holds, from its content (its name plays no part), checked as far as
    the format allows without running anything; InputError naming the file, what was found and
    the fix for TorchScript archives, arbitrary pickles, unknown or damaged content.

    `load_pytorch=False` recognises a torch.save file without loading it, for a caller that
    loads it with weights_only=True next anyway (cleaning); `display` is the name messages give
    the file (a DVC cache object's path tells a user nothing)."""
    try:
        return _detect(path, use_onnx, load_pytorch)
    except InputError as exc:
        if display is None:
            raise
        raise InputError(exc.message.replace(str(path), display), hint=exc.hint) from exc


def _detect(path: Path, use_onnx: bool, load_pytorch: bool) -> FormatInfo:
    size = path.stat().st_size
    if size == 0:
        raise _refuse(
            path,
            "empty file (0 bytes), so there is no model in it",
            "it was probably saved by a job that stopped while writing; pick another checkpoint "
            "or file, or save it again",
        )
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(GGUF_MAGIC):
        gguf = check_gguf(path)
        arch = f", {gguf.architecture}" if gguf.architecture else ""
        return FormatInfo(
            GGUF, f"GGUF v{gguf.version}, {gguf.tensor_count} tensors, {gguf.kv_count} keys{arch}"
        )
    if head.startswith(b"PK\x03\x04"):
        _check_zip(path)
        return check_pytorch(path) if load_pytorch else FormatInfo(PYTORCH, "PyTorch checkpoint")
    if head.startswith(_LEGACY_TORCH):
        return check_pytorch(path) if load_pytorch else FormatInfo(PYTORCH, "PyTorch checkpoint")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle's PROTO opcode
        raise _refuse(
            path,
            "an arbitrary pickle (not a torch.save checkpoint: no torch magic number), which "
            "artreg does not unpickle",
            _PICKLE_FIX,
        )
    if _safetensors_length(head, size) is not None:
        return FormatInfo(SAFETENSORS, check_safetensors(path).detail)
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            raise _refuse(
                path,
                f"{what}, not a model format artreg recognises",
                "convert it to safetensors, ONNX or GGUF",
            )
    # ONNX has no magic: a ModelProto written by onnx (fields in number order) starts with
    # ir_version's tag (field 1, varint: 0x08); another order is accepted if it parses whole.
    if head[0] == 0x08:
        return check_onnx(path, use_onnx=use_onnx)
    try:
        onnx_header(path)
    except InputError:
        pass
    else:
        return check_onnx(path, use_onnx=use_onnx)
    raise _refuse(
        path,
        f"unknown content (first bytes {head[:8].hex(' ')}): not safetensors, ONNX, GGUF or a "
        "PyTorch checkpoint",
        "register a model in one of those formats; if it is one, the file is damaged: "
        "write it again",
    )
