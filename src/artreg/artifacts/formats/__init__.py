"""Model formats recognised by their content, never by their suffix.

`detect` reads a file's first bytes and decides what it holds: safetensors (header checked
here, with the standard library only), ONNX (loaded and its graph checked with the `onnx`
package, the `[onnx]` extra: without it an ONNX file is refused), GGUF (header parsed here), or a
PyTorch checkpoint (torch.save's zip archive or a legacy pickle, loaded with weights_only=True to
prove it holds only tensors and plain data). TorchScript archives, arbitrary pickles and anything
else are refused with an InputError naming the file, what was found and the fix.

Every check here raises InputError (exit 2): the callers meet these files as input (register,
release, promote). `verify` re-checks safetensors headers of stored files and reports a failure
as one of its problems (exit 1), so this module needs no second error type.

This package module is the dispatcher; one module per format does the checking (`safetensors`,
`onnx`, `gguf`, `pytorch`), and the format names are the registry's (`registry.formatnames`).
"""

from __future__ import annotations

from pathlib import Path

from artreg.artifacts.formats.base import refuse
from artreg.artifacts.formats.gguf import GGUF_MAGIC, check_gguf
from artreg.artifacts.formats.onnx import check_onnx
from artreg.artifacts.formats.pytorch import LEGACY_TORCH, PICKLE_FIX, check_pytorch, check_zip
from artreg.artifacts.formats.safetensors import check_safetensors, safetensors_length
from artreg.errors import InputError
from artreg.registry.formatnames import GGUF, PYTORCH, SAFETENSORS, FormatInfo

# Formats artreg recognises only to name them in a refusal.
_FOREIGN = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5?)"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)


def detect(path: Path, *, load_pytorch: bool = True, display: str | None = None) -> FormatInfo:
    """The format `path` holds, from its content (its name plays no part), checked as far as
    the format allows without running anything; InputError naming the file, what was found and
    the fix for TorchScript archives, arbitrary pickles, unknown or damaged content.

    `load_pytorch=False` recognises a torch.save file without loading it, for a caller that
    loads it with weights_only=True next anyway (cleaning); `display` is the name messages give
    the file (a DVC cache object's path tells a user nothing)."""
    try:
        return _detect(path, load_pytorch)
    except InputError as exc:
        if display is None:
            raise
        raise InputError(exc.message.replace(str(path), display), hint=exc.hint) from exc


def _detect(path: Path, load_pytorch: bool) -> FormatInfo:
    size = path.stat().st_size
    if size == 0:
        raise refuse(
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
        check_zip(path)
        return check_pytorch(path) if load_pytorch else FormatInfo(PYTORCH, "PyTorch checkpoint")
    if head.startswith(LEGACY_TORCH):
        return check_pytorch(path) if load_pytorch else FormatInfo(PYTORCH, "PyTorch checkpoint")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle's PROTO opcode
        raise refuse(
            path,
            "an arbitrary pickle (not a torch.save checkpoint: no torch magic number), which "
            "artreg does not unpickle",
            PICKLE_FIX,
        )
    if safetensors_length(head, size) is not None:
        return FormatInfo(SAFETENSORS, check_safetensors(path).detail)
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            raise refuse(
                path,
                f"{what}, not a model format artreg recognises",
                "convert it to safetensors, ONNX or GGUF",
            )
    # ONNX has no magic: a ModelProto written by onnx (fields in number order, as onnx.save and
    # torch.onnx.export write them) starts with ir_version's tag (field 1, varint: 0x08).
    if head[0] == 0x08:
        return check_onnx(path)
    raise refuse(
        path,
        f"unknown content (first bytes {head[:8].hex(' ')}): not safetensors, ONNX, GGUF or a "
        "PyTorch checkpoint",
        "register a model in one of those formats; if it is one, the file is damaged: "
        "write it again",
    )
