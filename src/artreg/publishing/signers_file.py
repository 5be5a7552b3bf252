"""Why a committed allowed-signers file cannot be used: params.yaml's rights.allowed_signers names
a folder, or the file is not UTF-8 text. Bad input (exit 2) naming the field, the commit and the
line, where git would otherwise fail somewhere deeper with a message naming neither."""

from __future__ import annotations

from pathlib import Path

from artreg.adapters.git import run as gitrun
from artreg.errors import InputError
from artreg.registry.rights import Rights


def unreadable(root: Path, rev: str, rights: Rights, blob: str) -> InputError:
    """Why the allowed-signers object `blob` the rights at `rev` name cannot be used: a
    folder, or not UTF-8 text (exit 2, naming params.yaml's field and the line)."""
    where = f"{rights.source}: rights.allowed_signers names {rights.allowed_signers}"
    kind = gitrun.git(root, "cat-file", "-t", blob, check=False).strip()
    if kind != "blob":
        return InputError(
            f"{where}, which is a {'folder' if kind == 'tree' else kind or 'missing object'} "
            f"at {rev[:12]}, not a file",
            hint="name the allowed-signers file itself in rights.allowed_signers",
        )
    data = gitrun.run_bytes_in(root, "cat-file", "blob", blob).stdout
    try:
        data.decode("utf-8")
        number = 0
    except UnicodeDecodeError as exc:  # where decoding stopped: no UTF-8 sequence spans a newline
        number = data.count(b"\n", 0, exc.start) + 1
    return InputError(
        f"{where}, whose line {number} at {rev[:12]} is not UTF-8 text",
        hint=f"save {rights.allowed_signers} as UTF-8 (or remove that line) in a reviewed commit",
    )
