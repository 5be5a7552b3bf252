"""A pinned model exported (`get -o`/`export` from a registry URL or a lock file): each pin's
files copied out of its verified snapshot. Apart from base.py so that a read that exports
nothing (`list`) loads no copying or hashing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from artreg.reading.fetch import copy_verified, export_targets
from artreg.sources.base import Exported, Fetched, Pin, ServeOptions


def export_pins(
    every: Mapping[str, Pin],
    out: Path,
    fetch: Callable[[Pin], Fetched],
    options: ServeOptions,
    work_tree: Path | None = None,
) -> Exported:
    """Each pin's model file(s) copied out of its verified snapshot (`fetch`) into `out` (with
    requirements, each into OUT/NAME/); every target is checked before anything is fetched,
    so a refusal leaves nothing behind (outputs.py)."""
    into = {n: out / n if options.with_requirements else out for n in every}
    targets = {
        n: export_targets(into[n], pin.primary, pin.files, work_tree=work_tree)
        for n, pin in every.items()
    }
    exported: Exported = []
    for n, pin in every.items():
        fetched = fetch(pin)
        written = copy_verified(
            fetched.snapshot, targets[n], pin.files, options.progress, out=into[n]
        )
        exported.append((fetched, written))
    return exported
