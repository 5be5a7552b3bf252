"""GGUF: the header parsed and bounded against the file (magic, version, metadata, tensors)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from artreg.artifacts.formats.base import refuse

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
            raise refuse(
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
            raise refuse(
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
                raise refuse(
                    self.path,
                    f"damaged GGUF header: {what} is an array of unknown type {item}",
                    _GGUF_FIX,
                )
            return None
        raise refuse(
            self.path, f"damaged GGUF header: {what} has unknown value type {kind}", _GGUF_FIX
        )


def check_gguf(path: Path) -> GGUFHeader:
    """Parse a GGUF file's header (magic, version, tensor and metadata counts, every metadata
    entry and tensor record, and their offsets against the file size); InputError if damaged."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        r = _GGUFReader(path, fh, size)
        if r.take(4, "the magic") != GGUF_MAGIC:
            raise refuse(path, "not a GGUF file (no GGUF magic)", _GGUF_FIX)
        version = r.u32("the version")
        if version not in GGUF_VERSIONS:
            raise refuse(
                path,
                f"GGUF version {version} is not one artreg reads "
                f"({', '.join(map(str, GGUF_VERSIONS))})",
                "convert the model with a current llama.cpp, which writes GGUF v3",
            )
        tensors, kvs = r.u64("the tensor count"), r.u64("the metadata count")
        # each metadata entry and tensor record takes at least 12 and 24 bytes
        if kvs * 12 + tensors * 24 > size:
            raise refuse(
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
            raise refuse(
                path, f"damaged GGUF header: general.alignment {alignment} is invalid", _GGUF_FIX
            )
        extents = []
        for i in range(tensors):
            name = r.string(f"tensor {i}'s name")
            dims = r.u32(f"tensor {name!r}'s dimension count")
            if dims > GGUF_MAX_DIMS:
                raise refuse(
                    path,
                    f"damaged GGUF header: tensor {name!r} has {dims} dimensions "
                    f"(GGUF allows {GGUF_MAX_DIMS})",
                    _GGUF_FIX,
                )
            shape = struct.unpack(f"<{dims}Q", r.take(8 * dims, f"tensor {name!r}'s shape"))
            kind = r.u32(f"tensor {name!r}'s type")
            offset = r.u64(f"tensor {name!r}'s offset")
            if offset % alignment:
                raise refuse(
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
                    raise refuse(
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
            raise refuse(
                path,
                f"damaged GGUF header: tensor {name!r} (bytes {data_start + offset:,} to "
                f"{data_start + offset + nbytes:,}) runs past the file's end ({size:,} bytes)",
                _GGUF_FIX + " (a truncated copy looks like this)",
            )
    return GGUFHeader(version, tensors, kvs, architecture)
