"""What every format check shares: the refusal, an InputError naming the file, what was found
in it and the fix."""

from __future__ import annotations

from pathlib import Path

from artreg.errors import InputError


def refuse(path: Path, found: str, hint: str) -> InputError:
    """The error to raise for a file whose content is refused: `found` says what it holds."""
    return InputError(f"{path}: {found}", hint=hint)
