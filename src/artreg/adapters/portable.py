"""Names every platform git runs on can check out: the rule for a file or folder name (no
character Windows forbids, no trailing dot or space, no device name) and for a folder's names
together (none equal after case folding or NFC normalisation). Artifact names and ids
(`registry.tags`) and every name inside a model folder (`hashing.regular_files`) obey it."""

from __future__ import annotations

import ntpath
import unicodedata
from collections.abc import Iterable
from pathlib import PureWindowsPath

FOLDER_RULE = (
    'no name in a model folder may hold a control character or any of < > : " \\ | ? *, end '
    "in a dot or a space, or be a Windows device name (CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9, "
    "in any letter case, with or without an extension), and no two names in one folder may be "
    "equal after case folding or Unicode NFC normalisation"
)


# What Windows refuses in a file or folder name besides control characters (and '/', which
# separates names everywhere): git for Windows cannot check out a path holding one.
WINDOWS_FORBIDDEN = frozenset('<>:"\\|?*')


def _windows_reserved(value: str) -> bool:
    """True if Windows reserves `value` as a file name (a device name, with any extension),
    by Python's own rule for Windows paths."""
    isreserved = getattr(ntpath, "isreserved", None)  # Python 3.13+
    if isreserved is not None:
        return bool(isreserved(value))
    return PureWindowsPath(value).is_reserved()


def portable_problem(name: str) -> tuple[str, str] | None:
    """Why one of the platforms git runs on cannot check out a file or folder called `name`
    (one path component), and a name that can be, or None when it can. The one rule for
    artifact names, ids and every name inside a model folder."""
    control = sorted({c for c in name if ord(c) < 32 or ord(c) == 127})
    forbidden = sorted(WINDOWS_FORBIDDEN.intersection(name))
    if control or forbidden:
        instead = "".join("_" if c in control or c in forbidden else c for c in name)
        if control:
            chars = ", ".join(repr(c) for c in control)
            return f"the name holds a control character ({chars})", instead
        if forbidden == ["\\"]:
            return "the name holds a backslash, a folder separator on Windows", instead
        chars = " ".join(forbidden)
        return f"the name holds {chars}, which Windows forbids in names", instead
    if name != name.rstrip(". "):
        return "it ends with a dot or a space, which Windows drops", name.rstrip(". ") or "run1"
    if _windows_reserved(name):
        stem, dot, rest = name.partition(".")
        return f"{stem.upper()} is a Windows device name", f"{stem}_1{dot}{rest}"
    return None


def portable_collision(names: Iterable[str]) -> tuple[str, str] | None:
    """Two of `names` (one folder's entries) that name one file where git checks out onto a
    case-insensitive or normalising file system (Windows, macOS): equal after Unicode NFC
    normalisation and case folding (`Config.json` and `config.json`, NFC and NFD `é.txt`)."""
    seen: dict[str, str] = {}
    for name in names:
        key = unicodedata.normalize("NFC", name).casefold()
        key = unicodedata.normalize("NFC", key)
        if key in seen:
            return seen[key], name
        seen[key] = name
    return None
