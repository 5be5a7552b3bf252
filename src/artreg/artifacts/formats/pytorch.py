"""PyTorch checkpoints: torch.save's zip archive or legacy pickle, loaded with
weights_only=True to prove they hold only tensors and plain data; TorchScript archives refused."""

from __future__ import annotations

import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from artreg.artifacts.checkpoints import import_torch, load_checkpoint
from artreg.artifacts.formats.base import refuse
from artreg.registry.formatnames import PYTORCH, FormatInfo

PICKLE_FIX = (
    "save the weights with torch.save(model.state_dict(), path) or as safetensors; artreg "
    "never unpickles arbitrary objects"
)


# torch.save's legacy (non-zip) format starts with a pickle of its magic number
# 0x1950a86a20f9469cfc6c: PROTO 2, LONG1 of 10 bytes, the number little-endian.
LEGACY_TORCH = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def check_zip(path: Path) -> None:
    """Nothing for torch.save's archive; InputError for TorchScript and other archives."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise refuse(
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
        raise refuse(
            path,
            "a TorchScript archive (torch.jit.save: it holds code/ and constants.pkl), whose "
            "code would run when it is loaded",
            "register the weights instead: torch.save(model.state_dict(), path), safetensors, "
            "or an ONNX export (torch.onnx.export)",
        )
    if any(len(p) == 2 and p[1] == "data.pkl" for p in parts):
        return
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise refuse(
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
    checkpoint = load_checkpoint(path)
    torch = import_torch(f"reading {path}")
    tensors = list(_tensors(checkpoint, torch))
    if not tensors:
        raise refuse(
            path,
            f"a pickle without tensors (it holds a {type(checkpoint).__name__}), not a model",
            PICKLE_FIX,
        )
    return pytorch_info(tensors)


def pytorch_info(tensors: Collection[Any]) -> FormatInfo:
    """The record of a PyTorch file holding `tensors` (torch tensors), e.g. cleaned weights."""
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in tensors})
    return FormatInfo(PYTORCH, f"PyTorch checkpoint, {len(tensors)} tensors, {'/'.join(dtypes)}")
