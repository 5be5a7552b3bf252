"""The trust policy ratchets: a consumer remembers, per registry, the policy it applied, and
refuses a weaker one until its user accepts it.

Without it, whoever can push to a registry could switch signatures off under every consumer:
delete params.yaml (or drop a stage from `trust.require_signature`, or add a key of their own),
then release an unsigned or self-signed model. A stricter policy is adopted silently; a weaker
one raises PolicyWeakened, naming the registry, the change and the commit that made it.

The records live in the consumer cache (trust/<registry>.json), outside any repository, so
nothing a registry's history does (a pull, a checkout, a reset) can reach them. A registry URL's
record is the trust record its consumers already keep; its check (`check_remote`, which asks
the URL for the commit that weakened a policy) is the URL variant's, in sources/remote.py. A clone's record
is keyed by the clone's own path, not by its origin: a clone's HEAD is its user's choice (a
branch, a checkout that is behind), so it is compared with what this clone applied before, not
with what the URL consumers of the same origin saw; and a warm call needs no git call to learn
an origin. A warm call reads the small record and compares one commit id.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters.files import write_atomic
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, PolicyWeakened
from artreg.reading.cache import legacy_key, registry_key
from artreg.registry.layout import PARAMS_FILE
from artreg.registry.policy import load_trust, trust_of
from artreg.registry.trust import IN_PARAMS, TrustPolicy

# For each commit, the bytes of those of its paths that exist there (RemoteRegistry.files_of).
Reader = Callable[[Mapping[str, Sequence[str]]], dict[str, dict[str, bytes]]]

ACCEPT_COMMAND = "artreg trust accept"
ACCEPT_KEYWORD = "accept_policy_change=True"


@dataclass(frozen=True)
class Applied:
    """A trust policy as a consumer applied it: the stages whose models must be signed, and
    each trusted key with the sha256 of its bytes (None: not known, or absent there)."""

    require_signature: frozenset[str] = frozenset()
    keys: Mapping[str, str | None] = field(default_factory=dict)
    head: str = ""  # the commit it was read at
    origin: str = IN_PARAMS

    @classmethod
    def of(cls, policy: TrustPolicy, key_bytes: Mapping[str, bytes]) -> Applied:
        return cls(
            frozenset(policy.require_signature),
            {
                k: hashlib.sha256(key_bytes[k]).hexdigest() if k in key_bytes else None
                for k in policy.keys
            },
            policy.rev or "",
            policy.origin,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "keys": list(self.keys),
            "require_signature": sorted(self.require_signature),
            "key_sha256": dict(self.keys),
            "origin": self.origin,
        }

    @classmethod
    def from_json(cls, data: Any) -> Applied | None:
        """A record as written by `to_json` (or by an artreg that kept no key digests: then
        a key is known by its path alone); None for anything unreadable."""
        try:
            digests = data.get("key_sha256") or {}
            return cls(
                frozenset(str(s) for s in data["require_signature"]),
                {str(k): digests.get(k) for k in data["keys"]},
                str(data["head"] or ""),
                str(data.get("origin") or IN_PARAMS),
            )
        except (AttributeError, KeyError, TypeError):
            return None


def weakenings(old: Applied, new: Applied) -> list[str]:
    """How `new` accepts a model that `old` refused, one line per change ([]: `new` is as
    strict or stricter). For each stage, `old` accepts unsigned models if it does not require
    signatures, else models signed by its keys; `new` is weaker where it accepts more."""
    why = new.origin if new.origin != IN_PARAMS else "trust.require_signature no longer lists it"
    changes = [
        f"{stage} no longer requires a signature ({why})"
        for stage in sorted(old.require_signature - new.require_signature)
    ]
    still = sorted(old.require_signature & new.require_signature)
    if not still:
        return changes
    stages = ", ".join(still)
    for key, digest in new.keys.items():
        if key not in old.keys:
            changes.append(f"trust.keys adds {key}, trusted to sign {stages}")
        elif digest is not None and old.keys[key] is not None and digest != old.keys[key]:
            changes.append(
                f"trust.keys {key} was replaced (sha256 {old.keys[key]} → {digest}), "
                f"trusted to sign {stages}"
            )
    return changes


# --- the records -------------------------------------------------------------------------------


def read_record(path: Path) -> Applied | None:
    """The policy last applied, from its record (None: none, or unreadable)."""
    try:
        return Applied.from_json(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return None


def write_record(path: Path, applied: Applied, extra: Mapping[str, Any] | None = None) -> None:

    body = {**(extra or {}), **applied.to_json()}
    write_atomic(path, json.dumps(body, indent=2, sort_keys=True) + "\n")


def clone_record(cache_root: Path, root: Path) -> Path:
    """Where a clone's record lives in the consumer cache (see the module's docstring)."""
    return cache_root / "trust" / f"clone-{registry_key(str(root.resolve()))}.json"


def read_or_adopt(record: Path, legacy: Path) -> Applied | None:
    """The record, else the one an earlier artreg kept under the key of the URL as spelled
    (before one identity per registry): adopted, so a new key never restarts the ratchet for
    the spelling at hand. Records under other old spellings are not searched (their keys are
    hashes of URLs not known here): those restart from the policy applied next."""
    return read_record(record) or read_record(legacy)


def check_clone(root: Path, policy: TrustPolicy, cache_root: Path | None) -> None:
    """The ratchet for a clone: `policy` (at HEAD) against the policy this clone applied last;
    a stricter or equal one is recorded, a weaker one refused. No cache folder: nothing to
    remember, nothing checked."""
    if cache_root is None or not policy.rev:
        return
    record = clone_record(cache_root, root)
    previous = read_or_adopt(
        record, cache_root / "trust" / f"clone-{legacy_key(str(root.resolve()))}.json"
    )
    if previous is not None and previous.head == policy.rev:
        return  # HEAD has not moved since it was applied
    current = Applied.of(policy, _clone_keys(root, policy))
    if previous is not None and previous.head:
        changes = weakenings(previous, current)
        if changes:
            found = weakening_commit(root, previous, current, clone_reader(root))
            raise refusal(str(root), previous, current, changes, found, record)
    # A read-only cache cannot remember: the policy at HEAD applies, as without a cache.
    with contextlib.suppress(OSError):
        write_record(record, current, {"registry": str(root.resolve())})


@dataclass(frozen=True)
class Accepted:
    """What `artreg trust accept` recorded: the registry's policy at its HEAD, and how it is
    weaker than the one it replaced ([]: it was not)."""

    registry: str
    policy: Applied
    changes: list[str]


def accept_clone(root: Path, cache_root: Path) -> Accepted:
    """Record the trust policy at the HEAD of the clone `root` as the one applied to it."""
    record = clone_record(cache_root, root)
    previous = read_record(record)
    policy = load_trust(root)
    current = Applied.of(policy, _clone_keys(root, policy))
    write_record(record, current, {"registry": str(root.resolve())})
    return accepted(str(root), previous, current)


def accepted(name: str, previous: Applied | None, current: Applied | None) -> Accepted:
    """What was accepted for `name`: `current`, and how it is weaker than `previous`."""
    assert current is not None  # just written
    changes = weakenings(previous, current) if previous is not None else []
    return Accepted(name, current, changes)


def _clone_keys(root: Path, policy: TrustPolicy) -> dict[str, bytes]:
    if not policy.keys or not policy.rev:
        return {}
    return clone_reader(root)({policy.rev: policy.keys})[policy.rev]


def clone_reader(root: Path) -> Reader:
    """A Reader of a clone's own objects, through one `git cat-file --batch`."""

    def read(wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, bytes]]:
        blobs = gitread.read_blobs(root, [f"{c}:{p}" for c, paths in wanted.items() for p in paths])
        return {
            c: {p: b for p in paths if (b := blobs.get(f"{c}:{p}")) is not None}
            for c, paths in wanted.items()
        }

    return read


# --- the commit that made a policy weaker --------------------------------------------------


def views_at(commits: Sequence[str], read: Reader) -> dict[str, Applied]:
    """The policy at each commit; an unreadable params.yaml counts as requiring nothing."""
    params = read({c: [PARAMS_FILE] for c in commits})
    policies: dict[str, TrustPolicy] = {}
    for c in commits:
        try:
            policies[c] = trust_of(params[c].get(PARAMS_FILE), c)
        except ArtregError:
            policies[c] = TrustPolicy(rev=c, origin="params.yaml cannot be read")
    keys = read({c: p.keys for c, p in policies.items() if p.keys})
    return {c: Applied.of(p, keys.get(c, {})) for c, p in policies.items()}


def policy_commits(repo: Path, head: str, paths: Sequence[str], since: str = "") -> list[str]:
    """The commits of `head`'s first-parent history (after `since`) that change `paths`,
    newest first, each as "<commit> <subject>"."""

    args = ["--literal-pathspecs", "log", "--first-parent", "--format=%H %s", head]
    if since and gitread.is_ancestor(repo, since, head):
        args.append(f"^{since}")
    return gitrun.git(repo, *args, "--", *paths).splitlines()


def weakening_commit(repo: Path, old: Applied, new: Applied, read: Reader) -> str | None:
    """The commit that made `new` weaker than `old`, as "<commit> <subject>": the oldest of
    the newest commits changing the policy that are all weaker than `old` (None: not found)."""
    paths = sorted({PARAMS_FILE, *old.keys, *new.keys})
    lines = policy_commits(repo, new.head, paths, old.head)
    views = views_at([line.split(" ", 1)[0] for line in lines], read)
    found = None
    for line in lines:
        if not weakenings(old, views[line.split(" ", 1)[0]]):
            break
        found = line
    return found


def refusal(
    registry: str,
    old: Applied,
    new: Applied,
    changes: list[str],
    commit: str | None,
    record: Path,
    extra: Mapping[str, Any] | None = None,
) -> PolicyWeakened:
    """The error refusing `new`; its `accept()` records `new` as applied."""
    sha, _, subject = (commit or "").partition(" ")
    made = f"commit {sha[:12]}" + (f" ({subject})" if subject else "") if sha else ""
    message = (
        f"{registry}: its trust policy at {new.head[:12] or 'HEAD'} is weaker than the one "
        f"applied here before (at {old.head[:12]}): {'; '.join(changes)}"
        + (f"; changed by {made}" if made else "")
    )
    return PolicyWeakened(
        message,
        hint=f"if the registry's maintainers meant it, accept it: `{ACCEPT_COMMAND} {registry}` "
        f"(or get_artifact_path(..., {ACCEPT_KEYWORD})); until then nothing is served under "
        "the weaker policy",
        accept=lambda: write_record(record, new, extra),
    )


# --- artreg verify: commits that weakened the policy ----------------------------------------


def weakening_history(root: Path) -> list[tuple[str, list[str]]]:
    """Every commit of HEAD's first-parent history whose policy is weaker than the one before
    it, as ("<commit> <subject>", changes), oldest first."""

    head = gitrun.head(root)
    if not head:
        return []
    read = clone_reader(root)
    versions = policy_commits(root, head, [PARAMS_FILE])
    every = views_at([line.split(" ", 1)[0] for line in versions], read)
    keys = {k for view in every.values() for k in view.keys}
    lines = list(reversed(policy_commits(root, head, sorted({PARAMS_FILE, *keys}))))
    views = views_at([line.split(" ", 1)[0] for line in lines], read)
    found: list[tuple[str, list[str]]] = []
    before = Applied()
    for line in lines:
        now = views[line.split(" ", 1)[0]]
        changes = weakenings(before, now)
        if changes:
            found.append((line, changes))
        before = now
    return found
