"""The rights of issue 26 as a person sees them: the "Policy changes" section of the pull-request
summary, and the `signer` object of history, show and lineage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.adapters.git.history import default_base
from artreg.adapters.git.signatures import Verdict
from artreg.present.markdown import summary_markdown
from artreg.present.queries import lineage_json, lineage_text
from artreg.publishing import requests
from artreg.publishing.policy_changes import PolicyChange, policy_changes
from artreg.publishing.rights import signers_of

if TYPE_CHECKING:
    from artreg.services.queries import LineageStep, TrainingCode
    from artreg.services.review import PromotionSummary


def with_policy(root: Path, base: str | None, summaries: Sequence[PromotionSummary]) -> str:
    """`artreg summary`: the "Policy changes" of base..HEAD, then the promotions, then the
    stage moves requested (`assign`/`rollback --branch`)."""
    against = base or default_base(root)
    return (
        policy_markdown(*policy_changes(root, against), against)
        + summary_markdown(summaries)
        + requests_markdown(requests.added_since(root, against))
    )


def requests_markdown(found: Sequence[requests.Request]) -> str:
    """The "Requested stage moves" section; "" when the pull request requests none."""
    if not found:
        return ""
    lines = ["## Requested stage moves", ""]
    for request in found:
        what = (
            f"roll production back to v{request.version}"
            if request.kind == "rollback"
            else f"assign v{request.version} to {request.stage}"
        )
        approved = f", approved by {request.approved_by}" if request.approved_by else ""
        reason = f"; reason: {request.reason}" if request.reason else ""
        lines.append(f"- **{request.name}**: {what}, asked by {request.by}{approved}{reason}")
    lines += ["", "`artreg tag` makes the tags once this is merged.", "", ""]
    return "\n".join(lines)


def policy_markdown(changes: Sequence[PolicyChange], diff: str, base: str) -> str:
    """The "Policy changes" section (printed before the promotions); "" when nothing loosens."""
    if not changes:
        return ""
    lines = ["## Policy changes", ""]
    for change in changes:
        who = change.signer.principal or change.signer.fingerprint or "nobody"
        verdict = (
            f"signed by {who}, an allowed signer of {base}"
            if change.authorized
            else f"**not authorized**: not signed by an allowed signer of {base} ({who})"
        )
        lines.append(f"- `{change.commit[:12]}` {change.subject}: {verdict}")
        lines += [f"  - {item}" for item in change.loosened]
    lines += ["", "```diff", diff.rstrip("\n"), "```", "", ""]
    return "\n".join(lines)


def signer_json(verdict: Verdict | None) -> dict[str, Any] | None:
    """The `signer` object: principal, fingerprint, verified (None: no signature checked)."""
    return verdict.as_json() if verdict is not None and verdict.signed else None


def signer_text(verdict: Verdict | None) -> str:
    """One phrase for text output: `signed by alice@example.com (SHA256:..)` or ``."""
    if verdict is None or not verdict.signed:
        return ""
    if verdict.verified:
        return f"signed by {verdict.principal} ({verdict.fingerprint})"
    return f"signature NOT verified ({verdict.detail})"


def with_signers(
    rows: Sequence[dict[str, Any]], verdicts: Mapping[str, Verdict], key: str = "tag"
) -> None:
    """Add the `signer` object to each JSON row whose tag has a checked signature."""
    for row in rows:
        signer = signer_json(verdicts.get(str(row.get(key))))
        if signer is not None:
            row["signer"] = signer


def lineage_views(
    root: Path, chain: Sequence[LineageStep | TrainingCode]
) -> tuple[list[dict[str, Any]], str]:
    """`artreg lineage`'s JSON and text, with the verified signer of each signed tag."""
    tags = [str(getattr(step, "tag", None) or "") for step in chain]
    signed = {tag: v.as_json() for tag, v in signers_of(root, tags).items()}
    return lineage_json(chain, signed), lineage_text(chain, signed)
