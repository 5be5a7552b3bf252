"""A served model folder holds exactly its manifest's files: a loader reads whatever a folder
holds (a stray shard, a custom-code `.py`), so a file no sha256 vouches for is refused, by
every source (a clone's work tree, a URL's cache snapshot), warm or cold.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from artreg.errors import IntegrityError
from artreg.registry.layout import model_target


def served_folder(stage: str, primary: str, files: Iterable[str]) -> tuple[str, set[str]] | None:
    """(the model folder, relative to the stage folder; the files it must hold, relative to
    it) when a consumer is served a folder; None when it is served one file."""
    target = model_target(stage, primary)
    if target == primary:
        return None
    prefix = f"{target}/"
    return target, {rel.removeprefix(prefix) for rel in files if rel.startswith(prefix)}


def unlisted(folder: Path | str, listed: set[str]) -> list[str]:
    """Entries under `folder` (relative, sorted) that are not in `listed`: files, links
    (a link to a folder is one entry, never followed), anything but a plain folder."""
    found = []
    for here, dirs, names in os.walk(folder):
        rel_here = os.path.relpath(here, folder)
        base = "" if rel_here == "." else f"{Path(rel_here).as_posix()}/"
        names += [d for d in dirs if os.path.islink(os.path.join(here, d))]
        found += [f"{base}{n}" for n in names if f"{base}{n}" not in listed]
    return sorted(found)


def folders(folder: Path | str) -> list[str]:
    """`folder` and every folder below it (no link followed): what a file added, removed or
    renamed anywhere in it changes the stat of."""
    return [here for here, _, _ in os.walk(folder)]


def check(folder: Path, listed: set[str], label: str, hint: str) -> None:
    """Raise IntegrityError naming each entry of `folder` the manifest does not list
    (`label` is the folder as the user knows it), in `artreg verify`'s words."""
    extra = unlisted(folder, listed)
    if extra:
        raise IntegrityError(
            "; ".join(
                f"{label}/{rel}: not listed in the manifest (no sha256 vouches for it)"
                for rel in extra[:5]
            )
            + (f"; and {len(extra) - 5} more" if len(extra) > 5 else ""),
            hint=hint,
        )
