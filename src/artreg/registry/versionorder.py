"""The version-order rule of every path to production: a release never goes below the latest
one unless its promotion said `--allow-non-monotonic` (recorded in its metadata.json).

A direct promotion is refused before anything is built (`release.check_new_version`); a racing
`--push` that lost and rebased onto a newer release is refused after the rebase; a promotion
merged from a pull request after a newer one is registered by `artreg tag`, but production is
not moved to it. Merging or racing is never a way around the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from artreg.registry.records import Registry
from artreg.registry.tags import is_semver, semver_key

# The metadata.json field that records `--allow-non-monotonic` (only ever true).
ALLOW_FIELD = "allow_non_monotonic"
FLAG = "--allow-non-monotonic"


def released(registry: Registry, name: str) -> list[str]:
    """Versions of `name` its tags registered (deregistered ones too: never reused), by semver."""
    artifact = registry.artifacts.get(name)
    found = {v.version for v in artifact.versions if v.registered} if artifact else set()
    return sorted((v for v in found if is_semver(v)), key=semver_key)


def latest_above(version: str, versions: Iterable[str]) -> str | None:
    """The latest of `versions` when `version` is below it (a non-monotonic release), else None."""
    ordered = sorted((v for v in versions if is_semver(v)), key=semver_key)
    if ordered and semver_key(version) < semver_key(ordered[-1]):
        return ordered[-1]
    return None


def allowed(metadata: Mapping[str, Any] | None) -> bool:
    """Whether a release's metadata.json records `--allow-non-monotonic`."""
    return metadata is not None and metadata.get(ALLOW_FIELD) is True
