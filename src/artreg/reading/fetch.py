"""Export, written once for every source: where each model file goes in the output folder
(checked before anything is fetched or written) and the verified copy into it, all files or
none (outputs.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from artreg.adapters.hashing import FileDigest, ProgressFn
from artreg.reading import outputs


def export_targets(
    out: Path, primary: str, files: Iterable[str], *, work_tree: Path | None = None
) -> dict[str, Path]:
    """Where each model file goes in `out` (a model folder's files into `out` itself), checked
    before anything is fetched or written, so a refusal leaves no partial copy behind; a path
    in the registry's `work_tree` that git would track is refused."""
    targets = outputs.targets(out, primary, files)
    expected = {t: files[rel] for rel, t in targets.items()} if isinstance(files, Mapping) else {}
    outputs.check(out, targets.values(), work_tree, expected)
    return targets


def copy_verified(
    folder: Path,
    targets: dict[str, Path],
    files: Mapping[str, FileDigest],
    progress: ProgressFn | None = None,
    *,
    out: Path | None = None,
) -> list[Path]:
    """Copy `folder/rel` to each target, hashing the copy, through a staging folder in `out`
    (default: the targets' common folder): all files verified and then renamed, or none left."""
    base = out or Path(os.path.commonpath([t.parent for t in targets.values()]))
    copies = [(folder / rel, target, files[rel]) for rel, target in targets.items()]
    return outputs.write_verified(base, copies, progress)
