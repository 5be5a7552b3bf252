"""The rights of params.yaml applied: before a promotion writes anything, in `artreg verify` over
the whole history, in the pull-request check (`verify --base`, `summary`) and for readers.

Signatures are git's to judge (adapters/git/signatures.py): the allowed-signers file is the one
committed at HEAD, so a key removed from it no longer vouches for anything, while a key retired
with git's own `valid-before` keeps what it signed before that date. Who may promote into a
stage is the rule in force at the promotion's commit. Lives in publishing/ (not services/) as
every writer, `verify` and the readers share it, and services may not import each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import signatures
from artreg.adapters.git.signatures import Verdict
from artreg.errors import ArtregError, InputError, IntegrityError, ToolError
from artreg.publishing import signers_file
from artreg.registry.layout import PARAMS_FILE
from artreg.registry.policy import committed_sections, may_set, sections_of
from artreg.registry.records import Event, Registry
from artreg.registry.rights import Rights, parse, principal, recorded_approver
from artreg.registry.tags import Action


def rights_at(root: Path, rev: str | None) -> Rights:
    """params.yaml's rights as committed at `rev` (no rights without a commit)."""
    if rev is None:
        return Rights()
    sections = committed_sections(root, rev)
    return parse(sections.get("rights"), f"{PARAMS_FILE}@{rev[:12]}")


def rights_at_head(root: Path) -> tuple[str, Rights] | None:
    """HEAD and its rights, for readers: None, after one `git show` and no YAML, when
    params.yaml at HEAD has no rights section (the common case)."""
    blob = gitread.show_file(root, "HEAD", PARAMS_FILE)
    if not may_set(blob, "rights"):
        return None
    head = gitrun.head(root)
    assert head is not None
    return head, parse(sections_of(blob, head).get("rights"), f"{PARAMS_FILE}@{head[:12]}")


def signers_blob(root: Path, rev: str, rights: Rights) -> str | None:
    """The allowed-signers blob the rights at `rev` name; refuse one not committed."""
    if not rights.allowed_signers:
        return None
    blob = signatures.signers_blob(root, rev, rights.allowed_signers)
    if blob is None:
        raise InputError(
            f"{rights.source}: rights.allowed_signers names {rights.allowed_signers}, which is "
            f"not committed at {rev[:12]}",
            hint=f"commit {rights.allowed_signers} (git's allowed-signers format: "
            '`alice@example.com namespaces="git" ssh-ed25519 AAAA...`)',
        )
    try:
        signatures.materialize(root, blob)  # once per blob: a stat after the first time
    except (UnicodeDecodeError, ToolError):
        raise signers_file.unreadable(root, rev, rights, blob) from None
    return blob


def event_stage(event: Event) -> str | None:
    """The stage a promoting tag puts its folder in (a version tag: production's release)."""
    if event.parsed.action is Action.ASSIGN:
        return event.parsed.stage
    if event.parsed.action is Action.REGISTER:
        return "production"
    return None


def _committer(root: Path) -> str:
    ident = gitrun.git(root, "var", "GIT_COMMITTER_IDENT").strip()
    return principal(ident.rsplit(">", 1)[0] + ">")


def promoter(root: Path, rights: Rights, sign: bool) -> str:
    """Who is promoting: the principal of the key git signs with (refused when it is no allowed
    signer), or the committer's email for an unsigned promotion."""
    if not sign:
        return _committer(root)
    head = gitrun.head(root)
    assert head is not None
    verdict = signatures.probe_signer(root, signers_blob(root, head, rights))
    if not verdict.verified or verdict.principal is None:
        raise InputError(
            f"your git signing key ({verdict.fingerprint or 'unknown key'}) is not an allowed "
            f"signer of {rights.allowed_signers} at {head[:12]}: {verdict.detail}",
            hint=f"sign with a key {rights.allowed_signers} lists, or have a reviewed commit add "
            "yours to it",
        )
    return verdict.principal


def check_promotion(
    root: Path, stages: Iterable[str], *, sign: bool, approved_by: str | None = None
) -> str | None:
    """Refuse (exit 2) a promotion into `stages` that the rights at HEAD do not allow: unsigned
    into a signed stage, by someone not a promoter, an approver not listed, four-eyes broken.
    Returns the promoter (None: params.yaml sets no rights). Called before anything is written."""
    rights = rights_at(root, gitrun.head(root))
    stages = list(stages)
    if not rights.configured or not any(s in rights.signed or s in rights.stages for s in stages):
        return None
    for stage in stages:
        if rights.requires_signature(stage) and not sign:
            raise InputError(
                f"{stage}: {rights.source} rights.signed lists {stage}, so its promotion tags "
                "must be signed, and this promotion is not",
                hint="run it again with --sign (git signs with user.signingkey; gpg.format ssh "
                "for an SSH key)",
            )
    who = promoter(root, rights, sign)
    approver = recorded_approver(approved_by)
    for stage in stages:
        problem = rights.promoter_problem(stage, who) or rights.approver_problem(
            stage, approver, who
        )
        if problem:
            raise InputError(problem, hint="have someone with the right make (or approve) it")
    return who


# --- verification of the history ----------------------------------------------------------------


def _watched(rights: Rights, stage: str | None) -> bool:
    return stage is not None and (stage in rights.signed or stage in rights.stages)


def verdicts(root: Path, events: Sequence[Event], head: str | None = None) -> dict[str, Verdict]:
    """git's verdict on each annotated promoting tag of a stage the rights at HEAD watch
    (signed, or with promoters), against HEAD's allowed-signers file; {} without rights."""
    head = head or gitrun.head(root)
    rights = rights_at(root, head)
    if head is None or not rights.configured:
        return {}
    blob = signers_blob(root, head, rights)
    watched = [e.tag for e in events if e.promotes and _watched(rights, event_stage(e))]
    return signatures.verify_tags(root, watched, blob)


def signers_of(root: Path, tags: Sequence[str]) -> dict[str, Verdict]:
    """For history, show and lineage: git's verdict on each of `tags` that is signed, against
    HEAD's allowed-signers file ({} when params.yaml names none)."""
    found_rights = rights_at_head(root)
    if found_rights is None or not found_rights[1].allowed_signers:
        return {}
    head, rights = found_rights
    blob = signers_blob(root, head, rights)
    found = signatures.verify_tags(root, [t for t in dict.fromkeys(tags) if t], blob)
    return {tag: verdict for tag, verdict in found.items() if verdict.signed}


@dataclass
class Audit:
    """What `verify` found of the rights: problems, and how many tags were checked."""

    problems: list[str] = field(default_factory=list)
    checked: int = 0


ASSIGNMENTS = ("assign", "rollback")  # tag kinds of `artreg assign` and `artreg rollback`


def _assignment(event: Event) -> bool:
    """An `artreg assign`/`rollback` tag: its approver and policy commit are in its message."""
    return event.fields.get("kind") in ASSIGNMENTS


def _policy_commit(event: Event) -> str:
    """The commit whose rights a promotion answers to: its own, or for an assignment (a tag on
    the version's older commit) the HEAD it was made on, as its message records."""
    named = event.fields.get("policy", "") if _assignment(event) else ""
    return (
        named if len(named) == 40 and all(c in "0123456789abcdef" for c in named) else event.commit
    )


def _approvals(root: Path, events: Sequence[Event]) -> dict[str, str | None]:
    found: dict[str, str | None] = {
        e.tag: recorded_approver(e.fields.get("approved_by")) for e in events if _assignment(e)
    }
    specs = {
        e.tag: f"{e.commit}:{e.folder.relpath}/metadata.json"
        for e in events
        if e.folder is not None and e.tag not in found
    }
    blobs = gitread.read_blobs(root, sorted(set(specs.values())))
    for tag, spec in specs.items():
        try:
            data: Any = json.loads(blobs.get(spec) or b"{}")
        except ValueError:
            data = {}
        approval = data.get("approval") if isinstance(data, dict) else None
        found[tag] = recorded_approver((approval or {}).get("approved_by"))
    return found


def _rights_at_commits(root: Path, commits: Iterable[str]) -> dict[str, Rights | str]:
    """The rights at each commit (or why they cannot be read): one `git cat-file --batch` for
    every params.yaml, each distinct one parsed once."""
    commits = sorted(commits)
    blobs = gitread.read_blobs(root, [f"{c}:{PARAMS_FILE}" for c in commits])
    parsed: dict[bytes | None, Rights | str] = {}
    found: dict[str, Rights | str] = {}
    for commit in commits:
        blob = blobs.get(f"{commit}:{PARAMS_FILE}")
        if blob not in parsed:
            try:
                source = f"{PARAMS_FILE}@{commit[:12]}"
                parsed[blob] = parse(sections_of(blob, commit).get("rights"), source)
            except ArtregError as exc:
                parsed[blob] = exc.message
        rights = parsed[blob]
        source = f"{PARAMS_FILE}@{commit[:12]}"
        found[commit] = rights if isinstance(rights, str) else replace(rights, source=source)
    return found


def _foreign_policy_commits(root: Path, events: Sequence[Event], head: str | None) -> set[str]:
    """The policy commits assignment tags name that HEAD's history does not hold (a tag cannot
    pick the rights it answers to from a commit that never was the registry's)."""
    named = {_policy_commit(e) for e in events if _assignment(e)}
    if not named or head is None:
        return set()
    return named - set(gitrun.git(root, "rev-list", head).split())


def audit(root: Path, registry: Registry) -> Audit:
    """Every promotion in history against the rights: tags of signed stages signed by an
    allowed signer (HEAD's file), promoter and approver allowed by the rights at the tag's
    commit, four-eyes kept."""
    result = Audit()
    head = gitrun.head(root)
    try:
        rights = rights_at(root, head)
        if not rights.configured:
            return result
        events = [e for e in registry.tagged_events() if e.promotes]
        found = verdicts(root, events, head)
    except ArtregError as exc:
        result.problems.append(exc.message)
        return result
    approvals = _approvals(root, [e for e in events if event_stage(e) in rights.stages])
    watched = [e for e in events if _watched(rights, event_stage(e))]
    at_commit = _rights_at_commits(root, {_policy_commit(e) for e in watched})
    foreign = _foreign_policy_commits(root, watched, head)
    for event in events:
        stage = event_stage(event)
        if not _watched(rights, stage):
            continue
        assert stage is not None
        result.checked += 1
        verdict = found.get(event.tag, signatures.UNSIGNED)
        if stage in rights.signed and not verdict.verified:
            what = "is not signed" if not verdict.signed else f"is not verified: {verdict.detail}"
            signer = f" (key {verdict.fingerprint})" if verdict.fingerprint else ""
            result.problems.append(
                f"tag {event.tag}: {what}{signer}; {rights.source} rights.signed lists {stage}, "
                f"so it must be signed by a key of {rights.allowed_signers}"
            )
            continue
        who = verdict.principal if verdict.verified and verdict.principal else event.tagger_email
        if _policy_commit(event) in foreign:
            result.problems.append(
                f"tag {event.tag}: names policy commit {_policy_commit(event)[:12]}, which is not "
                "in the history of HEAD, so the rights it answers to cannot be known"
            )
            continue
        then = at_commit[_policy_commit(event)]
        if isinstance(then, str):
            result.problems.append(f"tag {event.tag}: {then}")
            continue
        problem = then.promoter_problem(stage, who)
        if problem is None and event.parsed.action is Action.ASSIGN:
            problem = then.approver_problem(stage, approvals.get(event.tag), who)
        if problem:
            result.problems.append(f"tag {event.tag}: {problem}")
    return result


class SignerRefused(IntegrityError):
    """A reader's refusal: the stage's promotion is not signed by an allowed signer."""


def promotion_signer_status(root: Path, event: Event) -> Verdict | None:
    """For readers: the verdict on the tag that put the stage's current version in place; None
    when params.yaml at HEAD does not require that stage signed. Raises SignerRefused (exit 1)
    naming the tag and why when it is required and not met: never an older version instead."""
    stage = event_stage(event)
    found_rights = rights_at_head(root) if stage is not None else None
    if found_rights is None:
        return None
    head, rights = found_rights
    if stage is None or not rights.requires_signature(stage):
        return None
    verdict = verdicts(root, [event], head).get(event.tag, signatures.UNSIGNED)
    if not verdict.verified:
        raise SignerRefused(
            f"tag {event.tag}: {'not signed' if not verdict.signed else verdict.detail}; "
            f"{rights.source} rights.signed lists {stage}, so it must be signed by an allowed "
            f"signer of {rights.allowed_signers}",
            hint="ask the registry's maintainers to re-promote it with a signed tag "
            "(`artreg verify` lists every such tag)",
        )
    return verdict


# --- `artreg verify`'s one call -------------------------------------------------------------------


def promoter_commit_problems(
    root: Path,
    rights: Rights,
    pending: Sequence[tuple[str, str, str, str]],
    fix: str,
    rights_of: Callable[[str], Rights] | None = None,
) -> list[str]:
    """Problems of commits that must be signed by a promoter of a signed stage: `pending` holds
    (where, what, stage, commit), `what` naming the commit in the message. Checked in one
    batch (`git verify-commit`) against the allowed signers at HEAD; the signer against
    `rights_of(commit)` (default: the rights as committed there). `fix` ends an unsigned one's
    message."""
    if not pending:
        return []
    head = gitrun.head(root)
    assert head is not None
    found = signatures.verify_objects(
        root, "commit", sorted({c for *_, c in pending}), signers_blob(root, head, rights)
    )
    problems = []
    for where, what, stage, commit in pending:
        verdict = found[commit]
        if not verdict.verified or verdict.principal is None:
            problems.append(
                f"{where}: {what} is not signed by an allowed signer ({verdict.detail}); "
                f"{rights.source} rights.signed lists {stage}{fix}"
            )
            continue
        rules = rights_of(commit) if rights_of else rights_at(root, commit)
        problem = rules.promoter_problem(stage, verdict.principal)
        if problem:
            problems.append(f"{where}: commit {commit[:12]}: {problem}")
    return problems
