"""The rights of issue 26 as a person sees them: the "Policy changes" section of the pull-request
summary, and the `signer` object of history, show and lineage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from artreg.adapters.git.signatures import Verdict
from artreg.publishing.rights import PolicyChange


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
