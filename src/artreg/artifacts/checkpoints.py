"""PyTorch checkpoints: loaded with weights_only=True only, cleaned down to the model's weights.

torch is imported inside the functions, so nothing else in artreg pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.errors import InputError

TORCH_EXTRA_HINT = 'install the PyTorch extra: pip install "artreg[torch]"'


def import_torch(purpose: str) -> Any:
    """torch, or an InputError saying which extra to install for `purpose`."""
    try:
        import torch
    except ImportError as exc:
        raise InputError(
            f"{purpose} needs PyTorch, which is not installed", hint=TORCH_EXTRA_HINT
        ) from exc
    return torch


def import_safetensors_torch(purpose: str) -> Any:
    """safetensors.torch, or an InputError saying which extra to install for `purpose`."""
    import_torch(purpose)
    try:
        import safetensors.torch
    except ImportError as exc:
        raise InputError(
            f"{purpose} needs safetensors, which is not installed", hint=TORCH_EXTRA_HINT
        ) from exc
    return safetensors.torch


# Keys under which training scripts commonly keep the model's weights, in order of preference.
STATE_DICT_KEYS = ("model_state_dict", "state_dict", "model", "module", "weights", "ema_state_dict")
TRAINING_STATE_KEYS = (
    "optimizer",
    "optimizer_state_dict",
    "scheduler",
    "lr_scheduler",
    "scaler",
    "amp",
)


@dataclass(frozen=True)
class CleanedWeights:
    state_dict: dict[str, Any]
    parameter_count: int
    dropped_keys: list[str]


def load_checkpoint(path: Path) -> Any:
    """torch.load with weights_only=True: a pickle asking for arbitrary code is refused.

    Each refusal names its real cause: an empty file, a file that is not (or no longer) a whole
    torch.save archive, or objects that only full pickle could rebuild.
    """
    import pickle
    import zipfile

    torch = import_torch(f"loading the checkpoint {path}")

    size = path.stat().st_size
    if size == 0:
        raise InputError(
            f"{path}: empty file (0 bytes), so there is no checkpoint in it",
            hint="it was probably saved by a job that stopped while writing; pick another "
            "checkpoint, or save this one again and register the session anew",
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        AttributeError,
        ValueError,
        EOFError,
        OSError,
    ) as exc:
        needs = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if needs:  # the weights-only unpickler met a class or function it will not call
            raise InputError(
                f"{path}: refused to load the checkpoint with weights_only=True: it holds "
                f"{needs[1]}, a class or function that only full pickle would import and run",
                hint="save checkpoints with tensors, numbers, strings, lists and dicts only "
                "(no custom classes, no code); artreg never unpickles arbitrary objects",
            ) from exc
        what = (
            "a damaged torch.save archive"
            if zipfile.is_zipfile(path)
            else "not a whole PyTorch checkpoint (neither torch.save's zip archive nor a "
            "readable legacy file: truncated, or another format)"
        )
        raise InputError(
            f"{path}: refused to load: {what} ({size:,} bytes; {type(exc).__name__})",
            hint="check that the file was written completely by torch.save (compare it with "
            "the training job's output), or pick another checkpoint",
        ) from exc


def _is_tensor_dict(value: Any) -> bool:
    torch = import_torch("reading a checkpoint")

    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def extract_state_dict(checkpoint: Any, source: str) -> CleanedWeights:
    """The model's state dict out of a training checkpoint; optimizer and other state dropped."""
    if _is_tensor_dict(checkpoint):
        state, dropped = dict(checkpoint), []
    elif isinstance(checkpoint, Mapping):
        key = next((k for k in STATE_DICT_KEYS if _is_tensor_dict(checkpoint.get(k))), None)
        if key is None:
            raise InputError(
                f"{source}: no model state dict found in the checkpoint "
                f"(keys: {sorted(map(str, checkpoint))[:12]})",
                hint=f"save the weights under one of {', '.join(STATE_DICT_KEYS)}",
            )
        state = dict(checkpoint[key])
        dropped = sorted(str(k) for k in checkpoint if k != key)
    else:
        raise InputError(
            f"{source}: checkpoint holds a {type(checkpoint).__name__}, not a dict of tensors",
            hint="save `{'model_state_dict': model.state_dict(), ...}`",
        )
    count = sum(int(t.numel()) for t in state.values() if t.is_floating_point() or t.is_complex())
    return CleanedWeights(state, count, dropped)


def to_fp16(state: dict[str, Any]) -> dict[str, Any]:
    """Cast floating tensors to float16 (integer buffers, e.g. counters, are kept)."""
    return {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}


def clean_checkpoint_bytes(
    path: Path, fmt: str = "pt", fp16: bool = False
) -> tuple[bytes, CleanedWeights]:
    """Load a raw checkpoint safely and return the bytes of its clean weights file."""
    import io

    cleaned = extract_state_dict(load_checkpoint(path), str(path))
    state = to_fp16(cleaned.state_dict) if fp16 else cleaned.state_dict
    if fmt == "safetensors":
        save = import_safetensors_torch(f"writing safetensors from {path}").save
        data = save({k: v.detach().clone().contiguous() for k, v in state.items()})
    else:
        torch = import_torch(f"cleaning {path}")
        buffer = io.BytesIO()
        torch.save({k: v.detach().clone().contiguous() for k, v in state.items()}, buffer)
        data = buffer.getvalue()
    return data, CleanedWeights(state, cleaned.parameter_count, cleaned.dropped_keys)
