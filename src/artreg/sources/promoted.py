"""A clone serves a stage folder only as it was promoted: promoted folders are immutable, so a
tag whose commit holds the folder with other files than the commit that added its manifest
(a version tag, or a stage tag, forced onto a rewrite) is refused, as `artreg verify` reports it.
A URL's cache has no history to compare with; it holds each version to its first-served bytes
instead (pins.py)."""

from __future__ import annotations

from pathlib import Path

from artreg.adapters.git import read as gitread
from artreg.adapters.git.run import git
from artreg.errors import IntegrityError
from artreg.reading.resolve import Resolved


def check_as_promoted(root: Path, resolved: Resolved) -> None:
    """Refuse `resolved` when its folder at the tag's commit differs from the commit that
    promoted it (the one in the tag's history that added its manifest.json)."""
    folder = resolved.folder.relpath
    created = gitread.creation_commits(root, f"{folder}/manifest.json", rev=resolved.commit)
    promoted = created.get(folder)
    if promoted is None or promoted == resolved.commit:
        return
    changed = git(root, "diff", "--name-status", promoted, resolved.commit, "--", folder).strip()
    if changed:
        raise IntegrityError(
            f"{folder}: changed since it was promoted in {promoted[:12]} (promoted folders are "
            f"immutable): tag {resolved.tag} names commit {resolved.commit[:12]}, which "
            + "; ".join(changed.splitlines()[:10]),
            hint="the registry's tags were moved onto rewritten files; ask its maintainers, and "
            "use another version meanwhile",
        )
