"""What the read commands print: the overview (`list`), one artifact (`show`), a resolution
(`resolve`), events (`log`), lineage, diff and the intervals of `history`, as text and JSON.
Pure functions over the results of the queries; nothing here reads the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from artreg.present.text import number, signature_text, table
from artreg.registry.records import Event, iso

if TYPE_CHECKING:
    from artreg.reading.resolve import Resolved
    from artreg.registry.documents import ManifestFile, Source
    from artreg.registry.history import Interval
    from artreg.services.queries import Diff, LineageStep, TrainingCode
    from artreg.sources.listing import ArtifactSummary

STAGE_COLUMNS = ("raw", "validated", "production")


def _files_json(files: dict[str, ManifestFile]) -> dict[str, Any]:
    return {rel: f.to_json() for rel, f in files.items()}


def overview_json(data: dict[str, ArtifactSummary]) -> dict[str, Any]:
    return {
        name: {
            "latest": s.latest,
            "deprecated": s.deprecated,
            "stages": {
                stage: {
                    **e.as_json(),
                    **({"signature": s.signatures[stage]} if stage in s.signatures else {}),
                    **({"signer": s.signers[stage]} if stage in s.signers else {}),
                }
                for stage, e in s.stages.items()
            },
        }
        for name, s in data.items()
    }


def overview_text(data: dict[str, ArtifactSummary]) -> str:
    stages = list(STAGE_COLUMNS)
    stages += sorted({s for v in data.values() for s in v.stages} - set(stages))
    rows = [
        [name + (" (deprecated)" if info.deprecated else ""), info.latest or "-"]
        + [
            (e.version or e.id or e.commit[:7]) + (" (retired)" if e.retired else "")
            if (e := info.stages.get(s))
            else "-"
            for s in stages
        ]
        for name, info in data.items()
    ]
    if not rows:
        return "the registry is empty"
    return table(["name", "latest", *[f"#{s}" for s in stages]], rows)


def artifact_text(data: ArtifactSummary) -> str:
    needs = any(e.requires for e in data.stages.values())
    rows = [
        [s, (e.version or "-") + (" (retired)" if e.retired else ""), e.id or "-", e.tag]
        + [e.commit[:12]]
        + ([", ".join(e.requires) or "-"] if needs else [])
        for s, e in data.stages.items()
    ]
    return (
        f"{data.name}: latest {data.latest or '-'}{' (deprecated)' if data.deprecated else ''}\n"
        + table(["stage", "version", "id", "tag", "commit", *(["requires"] if needs else [])], rows)
        + "".join(
            f"\nsignature of {stage}: {signature_text(info)}"
            for stage, info in data.signatures.items()
        )
        + "".join(f"\n{_stage_signer(stage, info)}" for stage, info in data.signers.items())
    )


def _stage_signer(stage: str, signer: Mapping[str, Any]) -> str:
    """`show NAME`'s line on who signed a stage's promotion tag (or why readers refuse it)."""
    if "refused" in signer:
        return f"signer of {stage}: readers refuse it: {signer['refused']}"
    if signer["verified"]:
        return f"signer of {stage}: {signer['principal']} ({signer['fingerprint']}), verified"
    return f"signer of {stage}: NOT verified ({signer['fingerprint'] or 'unknown key'})"


def resolved_json(root: Path, resolved: Resolved) -> dict[str, Any]:
    return {
        "name": resolved.name,
        "stage": resolved.stage,
        "version": resolved.version,
        "tag": resolved.tag,
        "commit": resolved.commit,
        "folder": resolved.folder.relpath,
        "model": resolved.model,
        "path": str(root / resolved.model),
        "sha256": resolved.files[resolved.primary].sha256,
        "size": resolved.files[resolved.primary].size,
    }


def resolved_with_files(
    root: Path,
    resolved: Resolved,
    signature: dict[str, Any] | None = None,
    retired: str = "",
    signer: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """`show NAME@vX|NAME#STAGE` in a clone; `signer`: git's verdict on its tag's signature."""
    info = resolved_json(root, resolved) | ({"retired": retired} if retired else {})
    if signer is not None:
        info["signer"] = signer
    info["files"] = {rel: {"sha256": d.sha256, "size": d.size} for rel, d in resolved.files.items()}
    info["requires"] = [str(r) for r in resolved.requires]
    if signature is not None:
        info["signature"] = signature
    text = (
        "\n".join(
            f"{k}: {'-' if v is None else v}"
            for k, v in info.items()
            if k not in ("files", "signature", "requires", "signer")
        )
        + (f"\nsigner: {_signed(signer).removeprefix(', ')}" if signer else "")
        + (f"\nrequires: {', '.join(info['requires'])}" if resolved.requires else "")
        + (f"\nsignature: {signature_text(signature)}" if signature else "")
        + "\nfiles:\n"
        + "\n".join(f"  {rel}  {d.size:,} B  {d.sha256}" for rel, d in resolved.files.items())
    )
    return info, text


def history_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [
        {
            "tag": e.tag,
            "action": e.action.value,
            "stage": e.stage,
            "version": e.version,
            "commit": e.commit,
            "date": e.date,
            "by": e.tagger_line,
            "folder": e.folder.relpath if e.folder else None,
        }
        for e in events
    ]


def history_text(events: Sequence[Event]) -> str:
    rows = [
        [
            e.date,
            e.action.value,
            e.tag,
            e.commit[:10],
            e.tagger_line,
            e.folder.relpath if e.folder else "-",
        ]
        for e in events
    ]
    return table(["date", "action", "tag", "commit", "by", "folder"], rows)


def _source_json(source: Source | None) -> dict[str, Any]:
    return source.to_json() if source else {}


def lineage_json(
    chain: Sequence[LineageStep | TrainingCode], signers: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """`signers`: the `signer` object of each signed tag (params.yaml rights), by tag."""
    signers = signers or {}
    out: list[dict[str, Any]] = []
    for step in chain:
        if step.stage == "training code":
            code = cast("TrainingCode", step)
            out.append(
                {"stage": code.stage, "commit": code.commit, "dirty": code.dirty, "path": code.path}
            )
            continue
        step = cast("LineageStep", step)
        out.append(
            {
                "stage": step.stage,
                "id": step.id,
                "folder": step.folder,
                "tag": step.tag,
                "commit": step.commit,
                "date": step.date,
                "by": step.by,
                "approved_by": step.approved_by,
                "gates": [g.as_dict() for g in step.gates],
                "files": _files_json(step.files),
                "source": _source_json(step.source),
                "training_code": step.training_code,
                "requires": [str(r) for r in step.requires],
            }
        )
        if step.tag and step.tag in signers:
            out[-1]["signer"] = signers[step.tag]
    return out


def lineage_text(
    chain: Sequence[LineageStep | TrainingCode], signers: Mapping[str, dict[str, Any]] | None = None
) -> str:
    signers = signers or {}
    lines = []
    for i, step in enumerate(chain):
        arrow = "" if i == 0 else "  ← "
        if step.stage == "training code":
            code = cast("TrainingCode", step)
            lines.append(
                f"{arrow}training code commit {code.commit}{' (dirty)' if code.dirty else ''}"
            )
            continue
        step = cast("LineageStep", step)
        lines.append(f"{arrow}{step.stage} {step.id}  ({step.folder})")
        lines.append(
            f"      tag {step.tag or '(untagged)'} on {str(step.commit or '-')[:12]}, {step.date}, by {step.by}"
            + _signed(signers.get(step.tag or ""))
        )
        if step.approved_by:
            lines.append(f"      approved by {step.approved_by}")
        if step.requires:
            lines.append(f"      requires {', '.join(str(r) for r in step.requires)}")
        for gate in step.gates:
            lines.append(
                f"      gate {gate.metric} = {gate.value} ({gate.op} {gate.threshold}): {'pass' if gate.passed else 'FAIL'}"
            )
        primary = [(rel, f) for rel, f in step.files.items() if f.dvc][:3]
        for rel, f in primary:
            lines.append(f"      {rel}  sha256 {f.sha256}")
    return "\n".join(lines)


def diff_json(data: Diff) -> dict[str, Any]:
    def side(s: Any) -> dict[str, Any]:
        return {
            "spec": s.spec,
            "folder": s.folder,
            "tag": s.tag,
            "source": s.source.to_json() if s.source else None,
            "model_sha256": s.model_sha256,
            "parameter_count": s.parameter_count,
        }

    return {
        "a": side(data.a),
        "b": side(data.b),
        "same_model": data.same_model,
        "metrics": [
            {"metric": m.metric, "a": m.a, "b": m.b, "delta": m.delta} for m in data.metrics
        ],
        "files": [asdict(f) for f in data.files],
    }


def diff_text(data: Diff) -> str:
    rows = [
        [m.metric, number(m.a), number(m.b), number(m.delta, signed=True)] for m in data.metrics
    ]
    return "\n".join(
        [
            f"A: {data.a.folder} ({data.a.tag})",
            f"B: {data.b.folder} ({data.b.tag})",
            "same model bytes"
            if data.same_model
            else f"model sha256: {data.a.model_sha256[:16]}… → {data.b.model_sha256[:16]}…",
            "",
            table(["metric", "A", "B", "delta"], rows) if rows else "no numeric metrics to compare",
        ]
    )


def _signed(signer: dict[str, Any] | None) -> str:
    """`, signed by alice@example.com` (or that the signature is not verified), for text."""
    if signer is None:
        return ""
    if signer["verified"]:
        return f", signed by {signer['principal']}"
    return f", signature NOT verified ({signer['fingerprint'] or 'unknown key'})"


def intervals_json(spans: Sequence[Interval]) -> list[dict[str, Any]]:
    return [span.as_dict() for span in spans]


def intervals_text(name: str, spans: Sequence[Interval], stage: str | None = None) -> str:
    """`artreg history`: one line per interval, by stage, oldest first."""
    if not spans:
        return f"{name} has never held {stage or 'a stage'}"
    rows = [
        [
            s.stage,
            s.label,
            iso(s.start),
            iso(s.end) if s.end is not None else "now",
            s.by + (f" ({s.note})" if s.note else "") + _signed(s.signer),
            s.commit[:12],
            f"#{s.pull_request}" if s.pull_request else "-",
            s.ended or "-",
        ]
        for s in spans
    ]
    return table(["stage", "version", "from", "until", "by", "commit", "PR", "ended"], rows)
