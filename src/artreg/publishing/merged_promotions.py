"""Pull-request promotions against the rights: the promotion commit a branch carries must be
signed by a promoter before `artreg tag` signs tags for it after the merge, and an approval
that `artreg tag` would refuse after the merge is refused when the branch is made and in the
pull-request check.

After the merge whoever runs `artreg tag` (CI, a promoter) signs the tags, so its four-eyes
check sees that runner as the promoter. Any promoter may run it; so where a stage sets
`four_eyes`, an approver who is also a promoter of that stage could be refused then, and is
refused up front instead: one rule, applied at the branch, in the check and by the tagger.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, InputError, VerificationFailed
from artreg.publishing.rights import promoter_commit_problems, rights_at
from artreg.registry.layout import StageDir, stage_folders
from artreg.registry.records import Registry
from artreg.registry.rights import Rights, recorded_approver


def approval_problem(rights: Rights, stage: str, approved_by: str | None) -> str | None:
    """Why a pull-request promotion into `stage` approved by `approved_by` would be refused by
    `artreg tag` after the merge, whoever of the promoters runs it (None: it would not)."""
    rules = rights.stage(stage)
    approver = recorded_approver(approved_by)
    if not rules.four_eyes or approver is None or not rules.promoters:
        return None
    if approver.casefold() not in {p.casefold() for p in rules.promoters}:
        return None
    return (
        f"{approver} may not approve a pull-request promotion into {stage}: {rights.source} "
        f"sets rights.{stage}.four_eyes and lists {approver} under rights.{stage}.promoters, "
        "and after the merge a promoter signs its tags with `artreg tag`, which refuses "
        "to tag a promotion its runner approved"
    )


def check_branch_approval(root: Path, stage: str, approved_by: str | None) -> None:
    """Refuse (exit 2, before anything is written) a `--branch` promotion whose approval
    `artreg tag` would refuse after the merge."""
    rights = rights_at(root, gitrun.head(root))
    problem = approval_problem(rights, stage, approved_by) if rights.configured else None
    if problem:
        raise InputError(problem, hint="have an approver who is not a promoter approve it")


def commit_problems(
    root: Path, pending: Sequence[tuple[StageDir, str]], approvals: dict[str, str | None]
) -> list[str]:
    """Problems of merged (untagged) promotions, given as (folder, the commit that added it),
    under the rights at HEAD: in a signed stage the commit must be signed by a promoter
    (`git verify-commit` against HEAD's allowed signers), and no approval (`approvals`, by
    folder) that `artreg tag` would refuse."""
    head = gitrun.head(root)
    rights = rights_at(root, head)
    if head is None or not rights.configured:
        return []
    problems = [
        f"{folder.relpath}: {problem}"
        for folder, _ in pending
        if (problem := approval_problem(rights, folder.stage, approvals.get(folder.relpath)))
    ]
    signed = [
        (f.relpath, f"its promotion commit {c[:12]}", f.stage, c)
        for f, c in pending
        if rights.requires_signature(f.stage)
    ]
    # The rights at HEAD, after the merge, judge each signer.
    fix = (
        ", so a promoter must sign it (promote with --sign --branch; a squash merge replaces "
        "the signed commit by an unsigned one: merge instead)"
    )
    return problems + promoter_commit_problems(root, rights, signed, fix, lambda _: rights)


def check_merged(
    root: Path, pending: Sequence[tuple[StageDir, str]], approvals: dict[str, str | None]
) -> None:
    """`artreg tag`'s refusal (exit 1, nothing written) of merged promotions nobody allowed."""
    problems = commit_problems(root, pending, approvals)
    if problems:
        raise VerificationFailed(
            f"refusing to tag {len(pending)} merged promotion(s): not every promotion commit "
            "is one the rights allow",
            problems,
        )


def author_of(root: Path, commit: str) -> str:
    """The author of `commit` as `Name <email>` (the promoter of record of a merged promotion)."""
    return gitrun.git(root, "show", "--no-patch", "--format=%an <%ae>", commit).strip()


def _approved_by(root: Path, folder: StageDir) -> str | None:
    try:
        data: Any = json.loads((folder.path(root) / "metadata.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None  # verify's folder checks report a missing or broken metadata.json
    approval = data.get("approval") if isinstance(data, dict) else None
    found = approval.get("approved_by") if isinstance(approval, dict) else None
    return found if isinstance(found, str) else None


def untagged_approval_problems(root: Path, registry: Registry) -> list[str]:
    """The pull-request check's share: each untagged (pull-request) promotion whose approval
    `artreg tag` would refuse after the merge."""
    tagged = registry.tagged_folders()
    untagged = [f for f in stage_folders(root) if f.relpath not in tagged]
    if not untagged:
        return []  # the default branch after `artreg tag`: no git asked
    try:
        rights = rights_at(root, gitrun.head(root))
    except ArtregError:
        return []  # verify's rights audit reports an unreadable params.yaml
    return [
        f"{folder.relpath}: {problem}"
        for folder in untagged
        if rights.stage(folder.stage).four_eyes
        if (problem := approval_problem(rights, folder.stage, _approved_by(root, folder)))
    ]
