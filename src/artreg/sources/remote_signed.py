"""params.yaml's `rights.signed` enforced for a registry URL and a lock file's pins
(reading/signed_tags.py decides; this module keeps what a warm read needs in the consumer cache).

- The rule is read at the registry's HEAD (params.yaml and the allowed-signers file fetched as
  blobs into the cache repository) only when HEAD moved, and recorded per registry
  (`rights/<registry>.json`): offline and a lock's warm call apply the rule read last.
- The tags are judged by `git verify-tag` in the cache repository, where their objects are. A
  promotion that passed is recorded under (allowed-signers blob id, stage, each tag's object
  id): while none moves, a warm call by URL is one stat more (the tag objects come in the
  `git ls-remote` it makes anyway); a lock's or an offline call reads them from the cache
  repository (one `git for-each-ref`), and only for a stage the rule requires signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from artreg.adapters.git import signatures
from artreg.errors import NotFoundError
from artreg.reading.signed_tags import (
    Prefetch,
    SignedRule,
    promoted_stage,
    promotion_tags,
    refusal,
    rule_at,
)
from artreg.sources.base import ENV_OFFLINE, Pin
from artreg.sources.remote import RemoteRegistry


def _record(reg: RemoteRegistry) -> Path:
    return reg.cache.root / "rights" / f"{reg.key}.json"


def known(reg: RemoteRegistry) -> bool:
    """True when this cache holds both policies a lock's warm call applies (trust and rights)."""
    return reg.trust_record(None) is not None and _record(reg).is_file()


def rule(reg: RemoteRegistry, head: str | None) -> SignedRule:
    """The rule at the registry's HEAD `head` (None: the one read last), read from git only
    when HEAD moved."""
    last = SignedRule.from_json(reg.cache.read_json(_record(reg)))
    if last is not None and (head is None or last.head == head):
        return last
    if head is None:
        raise NotFoundError(
            f"offline: the rights policy of {reg.url} was never read with the cache "
            f"{reg.cache.root}",
            hint=f"run once online (unset {ENV_OFFLINE})",
        )
    found = rule_at(reg.repo, head, _prefetch(reg)) if head else SignedRule(head)
    reg.cache.write_json(_record(reg), found.to_json())
    return found


def _prefetch(reg: RemoteRegistry) -> Prefetch:
    def prefetch(commit: str, paths: Sequence[str]) -> None:
        reg.files_at(commit, paths)

    return prefetch


def check(
    reg: RemoteRegistry,
    pin: Pin,
    head: str | None,
    tags: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Refuse (IntegrityError, exit 1) `pin` when the rule at `head` (None: read last) requires
    its stage signed and its promotion's tags are not signed by an allowed signer. `tags` (tag
    -> (object, commit), from `git ls-remote`) names the tag objects; None: the cache
    repository's tags, as last fetched (a lock's pin, offline)."""
    stage = promoted_stage(pin.tag)
    if stage is None:
        return
    found = rule(reg, head)
    if stage not in found.signed:
        return
    names = promotion_tags(pin.name, pin.tag, pin.version)
    if tags is None:
        objects = signatures.tag_objects(reg.repo, names)
    else:  # a lightweight tag peels to itself: no tag object, so no signature
        objects = {t: tags[t][0] for t in names if t in tags and tags[t][0] != tags[t][1]}
    passed = _passed(reg, found, stage, objects)
    if passed.is_file():
        return
    problem = refusal(reg.repo, found, stage, names, objects, pin.commit, _prefetch(reg))
    if problem is not None:
        raise problem
    reg.cache.write_json(passed, {"tags": objects, "stage": stage, "blob": found.blob})


def _passed(reg: RemoteRegistry, found: SignedRule, stage: str, objects: Mapping[str, str]) -> Path:
    """Where a promotion that passed is recorded: bound to the allowed-signers blob, the stage
    and each tag object (all name their content, so a record never goes stale)."""
    bound = hashlib.sha256(
        json.dumps(
            {"blob": found.blob, "stage": stage, "tags": dict(objects)}, sort_keys=True
        ).encode()
    ).hexdigest()
    return reg.cache.root / "signed-tags" / reg.key / f"{bound}.json"
