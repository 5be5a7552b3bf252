"""The fingerprint a last answer is bound to: a digest of a name's tags. Apart from base.py so
that a read that records no answer (`list`) loads no hashlib."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def fingerprint_of(tags: Mapping[str, tuple[str, str]]) -> str:
    """A digest of a name's tags (tag -> (object, commit)): while it is unchanged, the last
    answer for that name stands."""
    return hashlib.sha256(
        "".join(f"{t} {obj}\n" for t, (obj, _) in sorted(tags.items())).encode()
    ).hexdigest()
