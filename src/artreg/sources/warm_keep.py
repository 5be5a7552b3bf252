"""Keeping a full answer for the next process (sources/warm_memo.py reads it back): what the
answer is bound to, found where the full way left it. Loaded only after a full answer, whose
modules (the cache, the trust records) are loaded by then."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from artreg.adapters.hashing import racy
from artreg.reading import exact_folder
from artreg.reading.cache import Cache, registry_key
from artreg.reading.resolve import check_spec, selector
from artreg.reading.trust_ratchet import clone_record
from artreg.sources.base import Fetched, Local, RegistrySource, Served
from artreg.sources.warm_memo import Look, ref_files, show, stat_of, write


def keep(memo: Look, source: RegistrySource, served: Served) -> None:
    """Keep `served`, the full answer to `memo`'s read by `source`, bound to the proof taken
    before it ran and to the cache documents it read, as they are now. Nothing is kept when
    the source is not the one `warm_memo` guessed, or when a ref file of a clone changed too
    recently for its stat to prove it unchanged later."""
    name, stage, version = memo.key[4], memo.key[5] or None, memo.key[6] or None
    cache = Cache(Path(memo.cache))
    if isinstance(served, Fetched) and source.kind == memo.kind == "url":
        if source.label != memo.target:
            return
        registry = registry_key(source.label)
        snapshot, files = served.snapshot, served.pin.files
        chosen = [(snapshot / rel, files[rel]) for rel in served.pin.selected()]
        guards = [cache.trust_record(registry), cache.root / "versions" / registry / name]
    elif isinstance(served, Local) and source.kind == memo.kind == "clone":
        root = source.root
        if root is None or os.path.realpath(root) != memo.target or not _settled(memo):
            return
        registry = registry_key(str(root))
        folder = root / served.resolved.folder.relpath
        chosen = [(folder / rel, d) for rel, d in served.resolved.files.items()]
        guards = [clone_record(cache.root, root)]
    else:
        return
    name, stage, version = check_spec(name, stage, version)
    guards += [
        cache.resolution(registry, name, selector(stage, version)),
        cache.root / "signatures" / registry,
    ]
    # A model folder is served only while it holds exactly its files: every folder in it is
    # held to its stat (a file added, removed or renamed in one changes it).
    served_dir = str(served.path) if served.path.is_dir() else None
    inside = exact_folder.folders(served_dir) if served_dir else []
    started = time.time_ns()
    write(
        memo,
        [*map(str, guards), *inside],
        [(str(path), d.sha256, d.size) for path, d in chosen],
        str(served.path),
    )
    if served_dir and not _listing_held(served_dir, inside, {str(p) for p, _ in chosen}, started):
        with contextlib.suppress(OSError):
            os.unlink(memo.memo)


def _listing_held(folder: str, inside: list[str], chosen: set[str], started: int) -> bool:
    """True if `folder` holds only the `chosen` files now, after its folders' stats were
    kept, and no folder changed within a tick of the clock before (else a later change could
    leave the same stat)."""
    for path in inside:
        try:
            if racy(os.stat(path), started):
                return False
        except OSError:
            return False
    listed = {os.path.relpath(p, folder) for p in chosen if p.startswith(f"{folder}{os.sep}")}
    return not exact_folder.unlisted(folder, {Path(p).as_posix() for p in listed})


def _settled(memo: Look) -> bool:
    """True if the clone's ref files are as the proof saw them, and none had changed within a
    tick of the clock before it was taken (else a later change could leave the same stat)."""
    assert memo.proof is not None
    for path, seen in zip(ref_files(memo.target), memo.proof, strict=False):
        if show(stat_of(path)) != seen:
            return False
        try:
            st = os.stat(path)
        except OSError:
            continue
        if racy(st, memo.taken_ns):
            return False
    return len(ref_files(memo.target)) == len(memo.proof)
