"""`artreg bundle import`'s last check before it writes: the bundle's tip, checked out from the
private scratch repository, must pass what `artreg verify` checks of release folders, tags,
dvc.yaml and registry.json, so that a re-summed bundle carrying a forged release (or one whose
tip the far side would find out of date) is refused rather than imported into a registry that
then fails `artreg verify`. The checks are `services.verify`'s own, not a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from artreg.adapters.git import run as gitrun
from artreg.errors import IntegrityError
from artreg.registry.layout import StageDir
from artreg.services.verify import release_problems

_REMAKE = "make the bundle again with `artreg bundle create` in the registry that released it"


def check_tip(scratch: Path, tmp: Path, tip: str, folders: Iterable[str]) -> None:
    """Check `tip` out of the bare `scratch` repository into `tmp` and refuse (IntegrityError,
    exit 1) naming each problem `artreg verify` would report there about the carried release
    `folders` (paths relative to the registry root), the tags, dvc.yaml and registry.json."""
    tree = tmp / "tip"
    gitrun.git(scratch, "worktree", "add", "--quiet", "--detach", str(tree), tip)
    parsed = [StageDir.parse(f) for f in sorted(set(folders))]
    problems = release_problems(tree, [f for f in parsed if f is not None])
    if problems:
        raise IntegrityError(
            f"the bundle's tip {tip[:12]} fails `artreg verify`: " + "; ".join(problems),
            hint=_REMAKE,
        )
