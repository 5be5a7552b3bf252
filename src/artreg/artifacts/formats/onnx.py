"""ONNX: the model loaded and its graph checked by the `onnx` package (onnx.load and
onnx.checker.check_model), the `[onnx]` extra; without it an ONNX file is refused, naming the
extra, rather than accepted unchecked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg.artifacts.formats.base import refuse
from artreg.errors import InputError
from artreg.registry.formatnames import ONNX, FormatInfo

ONNX_EXTRA_HINT = 'install the ONNX extra: pip install "artreg[onnx]"'
_ONNX_FIX = (
    "export the model again (torch.onnx.export, or onnx.save of a checked model) and register "
    "the new file; a copy that was cut short or altered looks like this"
)


def _import_onnx(path: Path) -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise InputError(
            f"{path}: an ONNX model, and checking one needs the onnx package, which is not "
            "installed",
            hint=ONNX_EXTRA_HINT,
        ) from exc
    return onnx


def check_onnx(path: Path) -> FormatInfo:
    """An ONNX file checked by loading it and its graph with the `onnx` package; InputError
    naming the file and what is wrong (or the extra to install)."""
    onnx = _import_onnx(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # google.protobuf's DecodeError, without importing protobuf
        raise refuse(
            path,
            f"not a whole ONNX model: its protobuf structure does not parse to the file's end "
            f"({path.stat().st_size:,} bytes; {_first_line(exc)})",
            _ONNX_FIX,
        ) from exc
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises ValidationError and others per failure
        raise refuse(
            path, f"ONNX graph does not pass onnx.checker ({_first_line(exc)})", _ONNX_FIX
        ) from exc
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    opsets = f"opset {opset}" if opset is not None else "no default opset"
    return FormatInfo(
        ONNX,
        f"ONNX IR {model.ir_version}, {opsets}, {len(model.graph.node)} nodes "
        f"(graph checked with onnx {onnx.__version__})",
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no detail'}"
