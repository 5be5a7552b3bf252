"""The trust policy as a record: which public keys may sign models, and which stages' models
must be signed. policy.py reads it from params.yaml, signing.py applies it. It lives apart so a
consumer's warm call, which reads the record its cache kept, imports nothing else (policy.py
with its settings and gates costs that call more than the rest of its work)."""

from __future__ import annotations

from typing import NamedTuple

# Where a policy came from, for messages: a weaker policy is named by what changed.
IN_PARAMS = "params.yaml"
NO_SECTION = "params.yaml has no trust section"
NO_PARAMS = "params.yaml is gone"


class TrustPolicy(NamedTuple):
    """params.yaml `trust`: the public keys trusted to sign models, and the stages whose models
    must be signed by one of them (see artreg.signing)."""

    keys: tuple[str, ...] = ()
    require_signature: tuple[str, ...] = ()
    rev: str | None = None  # the commit the policy was read from
    origin: str = IN_PARAMS  # IN_PARAMS, NO_SECTION or NO_PARAMS

    def requires(self, stage: str) -> bool:
        return stage in self.require_signature
