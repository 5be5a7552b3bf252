"""The model formats a manifest records, by name: the four artreg recognises, the suffix each
is stored under, the formats older records derived from a file's suffix, and `FormatInfo`, what
a file was found to hold. Names only: the content checks are `artreg.artifacts.formats`."""

from __future__ import annotations

from dataclasses import dataclass

SAFETENSORS = "safetensors"
ONNX = "onnx"
GGUF = "gguf"
PYTORCH = "pytorch"
FORMATS = (SAFETENSORS, ONNX, GGUF, PYTORCH)
SUFFIXES = {SAFETENSORS: ".safetensors", ONNX: ".onnx", GGUF: ".gguf", PYTORCH: ".pt"}
# What `promote --format` can write a PyTorch model's weights as, by suffix.
WRITABLE = ("pt", "safetensors")

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
