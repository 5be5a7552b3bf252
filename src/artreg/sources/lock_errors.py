"""A failed read of a lock file's pin, said of the lock file: which file, which pin, which field,
and the fix (restore the lock, or pin anew), never a fault of the registry URL or the DVC remote."""

from __future__ import annotations

from pathlib import Path

from artreg.errors import ArtregError, InputError, IntegrityError
from artreg.sources.base import Pin

# What git servers answer when asked for a commit they do not hold (upload-pack, http-backend).
_NO_COMMIT = ("not our ref", "unadvertised object", "no such remote ref", "bad object")


def explained(path: Path, pin: Pin, exc: ArtregError) -> ArtregError:
    """`exc`, raised reading `pin` of the lock file at `path`, as the error to report."""
    text = exc.message.lower()
    anew = (
        f"`artreg lock remove {pin.spec} --file {path}` then "
        f"`artreg lock add {pin.registry} {pin.spec} --file {path}`"
    )
    if pin.commit in text and any(marker in text for marker in _NO_COMMIT):
        return InputError(
            f"{path}: the pin {pin.spec} names commit {pin.commit} (field `commit`), which "
            f"{pin.registry} does not hold: the lock file was edited, or the registry's history "
            "was rewritten; nothing was fetched",
            hint=f"restore {path} from git; if the registry was rewritten, pin it anew: {anew}",
        )
    if isinstance(exc, IntegrityError) and exc.message.startswith("the lock file pins"):
        exc.message = f"{path}: {exc.message}"
        exc.hint = f"restore {path} from git, or pin anew: {anew}"
    return exc
