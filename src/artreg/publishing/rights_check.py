"""verify's rights checks over the whole registry (publishing/rights.py's audit, and the
promotions and assignment requests no tag names yet). Apart from rights.py, whose rules the
readers share, so that a read command does not load the assignment requests' write side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError
from artreg.publishing import requests
from artreg.publishing.rights import audit, promoter_commit_problems, rights_at
from artreg.registry.layout import stage_folders
from artreg.registry.records import Registry
from artreg.registry.rights import Rights


def _untagged_commits(root: Path, registry: Registry, rights: Rights) -> list[str]:
    """Problems of promotions no tag names yet (a pull request's): each must be committed by a
    commit a promoter of its stage signed (`git verify-commit`), where the stage is signed."""
    tagged = registry.tagged_folders()
    pending = [
        f for f in stage_folders(root) if f.relpath not in tagged and f.stage in rights.signed
    ]
    created = gitread.creation_commits(root) if pending else {}
    found = [
        (f.relpath, f"its promotion commit {c[:12]}", f.stage, c)
        for f in pending
        if (c := created.get(f.relpath))  # not committed: the other checks say so
    ]
    return promoter_commit_problems(root, rights, found, ": promote again with --sign")


def _request_commits(root: Path, registry: Registry, rights: Rights) -> list[str]:
    """Problems of assignment requests no tag names yet (a pull request's `assign --branch` or
    `rollback --branch`): each into a signed stage must be committed by a commit a promoter of
    that stage signed (`git verify-commit`)."""
    found = [
        (
            request.path,
            f"the commit {commit[:12]} that requests {request.name} v{request.version} in "
            f"{request.stage}",
            request.stage,
            commit,
        )
        for request, commit in requests.pending(root, registry)
        if request.stage in rights.signed and commit
    ]
    return promoter_commit_problems(root, rights, found, ": request it again with --sign")


def check_registry(root: Path, registry: Registry, report: Any) -> None:
    """verify's rights checks, into its report: every promotion in history against the rights,
    and untagged promotions' commits signed by promoters (changes of the policy itself:
    publishing/policy_changes.py)."""
    result = audit(root, registry)
    if result.checked:
        report.count("promotion tags checked against rights", result.checked)
    report.problems += result.problems
    try:
        rights = rights_at(root, gitrun.head(root))
        if rights.signed:
            report.problems += _untagged_commits(root, registry, rights)
            report.problems += _request_commits(root, registry, rights)
    except ArtregError as exc:
        report.problems.append(exc.message)
