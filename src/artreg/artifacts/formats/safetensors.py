"""safetensors: the header checked with the standard library only (no `safetensors` import)."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.artifacts.formats.base import refuse
from artreg.errors import InputError

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


def safetensors_length(head: bytes, size: int) -> int | None:
    """N from the first bytes, when they look like a safetensors file's start."""
    if len(head) < 9:
        return None
    (n,) = struct.unpack("<Q", head[:8])
    if 0 < n <= min(SAFETENSORS_MAX_HEADER, size - 8) and head[8:9] == b"{":
        return int(n)
    return None


def _tensor(path: Path, name: str, entry: Any) -> SafetensorsTensor:
    def bad(what: str) -> InputError:
        return refuse(path, f"safetensors header: tensor {name!r}: {what}", _SAFETENSORS_FIX)

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
            raise refuse(
                path,
                f"not a safetensors file: {size} bytes, shorter than the 8-byte header length",
                _SAFETENSORS_FIX,
            )
        (n,) = struct.unpack("<Q", prefix)
        if n > SAFETENSORS_MAX_HEADER or n > size - 8:
            raise refuse(
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
        raise refuse(path, "safetensors header does not start with '{'", _SAFETENSORS_FIX)
    try:
        # json allows the trailing spaces safetensors writers pad the header with
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise refuse(
            path, f"safetensors header is not valid JSON ({exc})", _SAFETENSORS_FIX
        ) from exc
    if not isinstance(header, dict):
        raise refuse(path, "safetensors header is not a JSON object", _SAFETENSORS_FIX)
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise refuse(
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
            raise refuse(
                path,
                f"safetensors header: tensor {t.name!r} (data_offsets [{t.begin}, {t.end}]) "
                + what,
                _SAFETENSORS_FIX,
            )
        if t.end > buffer:
            raise refuse(
                path,
                f"safetensors header: tensor {t.name!r} ends at byte {t.end:,} of the data, "
                f"past the file's end ({buffer:,} bytes of data after the header)",
                _SAFETENSORS_FIX + " (a truncated copy looks like this)",
            )
        position, previous = t.end, t
    if position != buffer:
        raise refuse(
            path,
            f"safetensors: {buffer - position:,} bytes after the last tensor "
            f"({previous.name!r} ends at {position:,})"
            if previous
            else f"safetensors: no tensors, but {buffer:,} bytes of data",
            _SAFETENSORS_FIX,
        )
    return SafetensorsHeader(n, tuple(tensors), dict(metadata))
