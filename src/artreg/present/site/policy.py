"""The site's "Policy changes" section: what `artreg summary` prints before the promotions
(every commit between the base and HEAD that loosens params.yaml's rules or the allowed
signers, whether an allowed signer of the base signed it, and the diff), as template data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg.adapters.git.history import default_base
from artreg.errors import ArtregError, InputError
from artreg.publishing.policy_changes import policy_changes


def policy_section(root: Path, base: str | None = None) -> dict[str, Any] | None:
    """The section's data against `base` (default: the default branch, as `artreg summary`);
    None when nothing loosens, or when no base can be told (a site built without a default
    branch has no pull request to compare)."""
    try:
        against = base or default_base(root)
    except InputError:
        if base is not None:
            raise
        return None
    try:
        changes, diff = policy_changes(root, against)
    except ArtregError:
        if base is not None:
            raise
        return None  # e.g. a base with no commit in common: `verify --base` reports it
    if not changes:
        return None
    return {
        "base": against,
        "diff": diff.rstrip("\n"),
        "changes": [
            {
                "commit": change.commit[:12],
                "subject": change.subject,
                "authorized": change.authorized,
                "who": change.signer.principal or change.signer.fingerprint or "nobody",
                "loosened": change.loosened,
            }
            for change in changes
        ],
    }
