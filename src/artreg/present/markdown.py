"""The reviewer's summary of promotions as markdown (the pull-request description of
`artreg summary`): source, gates, metric deltas, lineage, requirements, signature, files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from artreg.publishing.gatetable import gate_table

if TYPE_CHECKING:
    from artreg.services.review import PromotionSummary


def summary_markdown(summaries: Sequence[PromotionSummary]) -> str:
    """The pull-request description of promotions: source, gates, deltas, lineage, files."""
    parts = []
    for s in summaries:
        folder = s.folder
        lines = [f"## {folder.name}: {folder.stage} `{folder.entry}`", ""]
        source = s.source
        if folder.stage == "raw":
            lines.append(
                f"Registers training session `{folder.entry}` (training code commit `{s.training_commit}`)."
            )
        else:
            lines.append(
                f"Promotes {source.stage if source else None} `{source.id if source else None}` → "
                f"{folder.stage} `{folder.entry}`"
                + (f", approved by {s.approved_by}" if s.approved_by else "")
                + "."
            )
            lines += [
                "",
                "### Gates",
                "",
                gate_table(s.gates) if s.gates else "No gates for this stage.",
            ]
            if s.baseline and s.metrics:
                label, old = s.baseline
                rows = [
                    f"| {k} | {old[k]} | {v} | {v - old[k]:+.6g} |"
                    for k, v in sorted(s.metrics.items())
                    if k in old
                ]
                if rows:
                    lines += [
                        "",
                        f"### Metric deltas against production {label}",
                        "",
                        "| metric | production | this | delta |",
                        "| --- | ---: | ---: | ---: |",
                        *rows,
                    ]
            chain = [f"{folder.stage} `{folder.entry}`"]
            if source and source.id:
                chain.append(f"{source.stage} `{source.id}`")
            if source and source.checkpoint:
                chain.append(f"checkpoint `{source.checkpoint}`")
            if source and source.commit:
                chain.append(f"training code `{str(source.commit)[:12]}`")
            lines += ["", "### Lineage", "", " ← ".join(chain)]
            if s.requires:
                lines += [
                    "",
                    "### Requires",
                    "",
                    "| requirement | in production |",
                    "| --- | --- |",
                ]
                lines += [
                    f"| `{r.requirement}` | {'✅' if r.met else '❌'} {r.detail} |"
                    for r in s.requires
                ]
            if s.signature:
                lines += ["", "### Signature", "", _signature_markdown(s.signature)]
            if s.training_curves:
                lines += ["", f"![training curves]({s.training_curves})"]
        lines += [
            "",
            "### Files",
            "",
            "| file | bytes | sha256 | stored in |",
            "| --- | ---: | --- | --- |",
        ]
        lines += [
            f"| `{rel}` | {f.size:,} | `{f.sha256}` | {'DVC' if f.dvc else 'git'} |"
            for rel, f in s.files.items()
        ]
        parts.append("\n".join(lines))
    return (
        "# artreg promotion summary\n\n" + "\n\n".join(parts) + "\n"
        if parts
        else "No promotions.\n"
    )


def _signature_markdown(info: dict[str, Any]) -> str:
    if info.get("status") != "verified":
        return f"**`{info['file']}`: {info['status']}**"
    who = f"{info['subject']}, " if info.get("subject") else ""
    return (
        f"`{info['file']}` signs {', '.join(f'`{f}`' for f in info['files'])}: signed by "
        f"{who}key `{info['fingerprint']}`, trusted key `{info['key']}` "
        f"(params.yaml at `{str(info['trusted_keys_at'])[:12]}`)."
    )
