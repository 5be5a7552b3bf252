"""Signature and trust checks, written once for every source: the digest that names a trust
policy, its record in the consumer cache, the verdict a signature check leaves there, and the
check itself (reading/signatures.py: model_signing loads only when a signature is checked)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from artreg.reading.cache import Cache
from artreg.registry.trust import IN_PARAMS, TrustPolicy


def policy_digest(policy: TrustPolicy, key_bytes: Mapping[str, bytes]) -> str:
    """A digest of the policy and of its trusted keys' bytes: a verdict bound to it is void
    when either changes."""
    return hashlib.sha256(
        json.dumps(
            {
                "require_signature": sorted(policy.require_signature),
                "keys": [
                    [k, hashlib.sha256(key_bytes[k]).hexdigest() if k in key_bytes else None]
                    for k in policy.keys
                ],
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()


def policy_of_record(last: Any, head: str | None) -> TrustPolicy | None:
    """The policy a trust record holds, if it was read at `head` (None: whichever HEAD it was);
    None for a record that is absent, of another HEAD or unreadable (then the policy is read
    again, or refused offline)."""
    if not isinstance(last, dict) or (head is not None and last.get("head") != head):
        return None
    try:
        return TrustPolicy(
            keys=tuple(last["keys"]),
            require_signature=tuple(last["require_signature"]),
            rev=last["head"] or None,
            origin=str(last.get("origin") or IN_PARAMS),
        )
    except (KeyError, TypeError):
        return None


def trust_record(cache: Cache, key: str, head: str | None) -> tuple[TrustPolicy, str] | None:
    """A registry URL's policy read last, with its digest, if it was read at `head`."""
    last = cache.read_json(cache.trust_record(key))
    policy = policy_of_record(last, head)
    if policy is None:
        return None
    try:
        return policy, str(last["digest"])
    except (KeyError, TypeError):
        return None


def verdict(cache: Cache, key: str, digest: str, pin: Mapping[str, Any]) -> Path:
    """Where a signature that verified is recorded: bound to the policy's digest and to the
    commit, folder and every sha256 of the manifest (model.sig's included) of `pin`."""
    bound = hashlib.sha256(
        json.dumps({"policy": digest, "pin": dict(pin)}, sort_keys=True).encode()
    ).hexdigest()
    return cache.signature_verdict(key, bound)
