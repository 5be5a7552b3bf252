"""Readers enforce params.yaml's `rights.signed` (issue 26), the same way for every source: the
promotion a read resolves to (the tag it resolved through and its version tag) must be signed by
an allowed signer of the allowed-signers file committed at the registry's HEAD, as
`git verify-tag` judges it; otherwise the read is refused (IntegrityError, exit 1) naming each
tag and why, and no older version is served instead.

A clone reads the rule and the tag objects from its own repository; a URL or a lock file from
the consumer cache's repository of the registry, where `prefetch` fetches what it lacks
(sources/remote_signed.py keeps the rule and the verdicts there). git's verdicts are cached by
(tag object id, allowed-signers blob id) in adapters/git/signatures.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import signatures
from artreg.errors import ArtregError, IntegrityError
from artreg.registry.layout import PARAMS_FILE
from artreg.registry.policy import may_set, sections_of
from artreg.registry.rights import parse
from artreg.registry.tags import Action, format_tag, parse_tag

# Makes sure a repository holds those paths' objects at a commit (a URL's cache repository
# fetches them; a clone has them).
Prefetch = Callable[[str, Sequence[str]], object]

REASK = (
    "ask the registry's maintainers to promote it again with signed tags (`artreg verify` "
    "lists every such tag); no older version is served instead"
)


class SignedTagRefused(IntegrityError):
    """A read refused: the promotion's tags are not signed by an allowed signer (exit 1)."""


@dataclass(frozen=True)
class SignedRule:
    """What a reader needs of params.yaml's rights at the registry's HEAD: the stages whose
    promotion tags must be signed, and the allowed-signers file (its blob id at HEAD) that
    judges them."""

    head: str
    signed: tuple[str, ...] = ()
    allowed_signers: str | None = None
    blob: str | None = None  # None: the file is not committed at HEAD
    source: str = PARAMS_FILE

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "signed": list(self.signed),
            "allowed_signers": self.allowed_signers,
            "blob": self.blob,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedRule | None:
        """A record as `to_json` wrote it; None for one absent or unreadable (read again)."""
        if not isinstance(data, dict):
            return None
        try:
            signed = data["signed"]
            if not isinstance(signed, list) or not all(isinstance(s, str) for s in signed):
                return None
            return cls(
                str(data["head"]),
                tuple(signed),
                data.get("allowed_signers"),
                data.get("blob"),
                str(data.get("source") or PARAMS_FILE),
            )
        except (KeyError, TypeError):
            return None


def rule_at(repo: Path, head: str, prefetch: Prefetch | None = None) -> SignedRule:
    """The rule params.yaml sets at `head` (no YAML is parsed when it has no rights section)."""
    source = f"{PARAMS_FILE}@{head[:12]}"
    if prefetch is not None:
        prefetch(head, [PARAMS_FILE])
    blob = gitread.show_file(repo, head, PARAMS_FILE)
    if not may_set(blob, "rights"):
        return SignedRule(head, source=source)
    rights = parse(sections_of(blob, head).get("rights"), source)
    if not rights.signed or not rights.allowed_signers:
        return SignedRule(head, source=source)
    if prefetch is not None:
        prefetch(head, [rights.allowed_signers])
    oid = signatures.signers_blob(repo, head, rights.allowed_signers)
    return SignedRule(head, rights.signed, rights.allowed_signers, oid, source)


def clone_rule(root: Path) -> SignedRule | None:
    """A clone's rule at its HEAD; None, after one `git show` and no YAML, when params.yaml
    there sets no rights (the common case). A URL's cache repository (bare, its HEAD not the
    registry's) is left to sources/remote_signed.py, which reads the rule at the registry's."""
    if not (root / ".git").exists():
        return None
    blob = gitread.show_file(root, "HEAD", PARAMS_FILE)
    if not may_set(blob, "rights"):
        return None
    head = gitrun.head(root)
    return None if head is None else rule_at(root, head)


def promoted_stage(tag: str) -> str | None:
    """The stage the tag a read resolved through promotes into (a version tag: production's
    release, as `verify` counts it); None for any other tag."""
    parsed = parse_tag(tag)
    if parsed is None:
        return None
    if parsed.action is Action.ASSIGN:
        return parsed.stage
    return "production" if parsed.action is Action.REGISTER else None


def promotion_tags(name: str, tag: str, version: str | None) -> tuple[str, ...]:
    """The tags of the promotion a read resolved through: that tag and, for a released
    version, its version tag (both are made, and signed, by a promotion)."""
    version_tag = format_tag(Action.REGISTER, name, version=version) if version else None
    return tuple(dict.fromkeys(t for t in (tag, version_tag) if t))


def refusal(
    repo: Path,
    rule: SignedRule,
    stage: str,
    tags: Sequence[str],
    objects: Mapping[str, str],
    commit: str,
    prefetch: Prefetch | None = None,
) -> SignedTagRefused | None:
    """Why the promotion into `stage` made by `tags` (annotated ones in `objects`: tag -> tag
    object id) breaks `rule`, as the refusal to raise; None when every tag is signed by an
    allowed signer, or the rule does not require `stage` signed."""
    if stage not in rule.signed:
        return None
    if rule.blob is None:
        return SignedTagRefused(
            f"{rule.source}: rights.signed lists {stage}, but rights.allowed_signers names "
            f"{rule.allowed_signers}, which is not committed there: no promotion into {stage} "
            "can be verified",
            hint=f"ask the registry's maintainers to commit {rule.allowed_signers}",
        )
    found = signatures.verify_objects(
        repo, "tag", [objects[t] for t in tags if t in objects], rule.blob
    )
    problems = []
    for tag in tags:
        oid = objects.get(tag)
        verdict = found.get(oid) if oid is not None else None
        if verdict is None:
            problems.append(f"tag {tag}: not signed (not an annotated tag in the registry)")
        elif not verdict.signed:
            problems.append(f"tag {tag}: not signed")
        elif not verdict.verified:
            problems.append(f"tag {tag}: {_why(repo, rule, oid or '', verdict, commit, prefetch)}")
    if not problems:
        return None
    return SignedTagRefused(
        f"{'; '.join(problems)}; {rule.source} rights.signed lists {stage}, so its promotion "
        f"tags must be signed by an allowed signer of {rule.allowed_signers}",
        hint=REASK,
    )


def _why(
    repo: Path,
    rule: SignedRule,
    oid: str,
    verdict: signatures.Verdict,
    commit: str,
    prefetch: Prefetch | None,
) -> str:
    """What is wrong with a signed tag git does not accept: its key removed from the file since
    the promotion (the file at the promotion's commit accepts it), an unknown signer, or what
    git said (a key retired with valid-before before the tag was made)."""
    key = f" (key {verdict.fingerprint})" if verdict.fingerprint else ""
    if verdict.detail != "its key is not an allowed signer":
        return f"{verdict.detail}{key}"
    assert rule.allowed_signers is not None
    try:
        if prefetch is not None:
            prefetch(commit, [rule.allowed_signers])
        then = signatures.signers_blob(repo, commit, rule.allowed_signers)
    except ArtregError:  # offline, or the registry cannot be asked: the refusal stands as is
        then = None
    if then is not None and then != rule.blob:
        earlier = signatures.verify_objects(repo, "tag", [oid], then)[oid]
        if earlier.verified:
            return (
                f"its key is not an allowed signer: {earlier.principal}'s key{key} was removed "
                f"from {rule.allowed_signers} after the promotion ({commit[:12]})"
            )
    return f"its key is not an allowed signer: an unknown signer{key}"


def check_clone(root: Path, tag: str, name: str, version: str | None, commit: str) -> None:
    """In a clone: refuse (IntegrityError) the promotion a read resolved through `tag` when the
    rule at HEAD requires its stage signed and its tags are not (see `refusal`)."""
    stage = promoted_stage(tag)
    rule = clone_rule(root) if stage is not None else None
    if rule is None or stage is None or stage not in rule.signed:
        return
    tags = promotion_tags(name, tag, version)
    problem = refusal(root, rule, stage, tags, signatures.tag_objects(root, tags), commit)
    if problem is not None:
        raise problem
