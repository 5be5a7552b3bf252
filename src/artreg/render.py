"""Rendering results for people and machines: tables, markdown (pull-request summaries, gate
tables) and JSON. Pure functions over the typed results of the core; nothing here reads the
registry, and nothing else formats output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from artreg.model import Event, GateResult, ManifestFile, Source, iso

if TYPE_CHECKING:
    from artreg.features.doctor import Check
    from artreg.features.fetch import Resolved
    from artreg.features.history import Interval
    from artreg.features.housekeeping import Housekeeping
    from artreg.features.init import InitResult
    from artreg.features.queries import (
        ArtifactSummary,
        Diff,
        LineageStep,
        TrainingCode,
    )
    from artreg.features.retention import Applied, Plan
    from artreg.features.review import PromotionSummary, Tagged
    from artreg.integrity import Report
    from artreg.present.site.build import Built
    from artreg.publish import Published
    from artreg.sources.base import Fetched, Pin
    from artreg.sources.lock import Change
    from artreg.trust_ratchet import Accepted

STAGE_COLUMNS = ("raw", "validated", "production")


# --- building blocks ------------------------------------------------------------------------------


def written(root: Path, data: Any, text: str) -> tuple[Any, str]:
    """Every write names the registry it changed: a `registry` field in JSON, a first line in text."""
    if isinstance(data, dict):
        data = {"registry": str(root), **data}
    return data, f"registry: {root}\n{text}"


def to_json(data: Any) -> str:
    """The JSON artreg prints: sorted keys, two-space indent."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with a dashed rule under the header."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def gate_table(results: Sequence[GateResult]) -> str:
    """A markdown table of gate results, pass/fail marked, for terminals, cards and PRs."""
    lines = ["| gate | value | threshold | result |", "| --- | --- | --- | --- |"]
    for r in results:
        threshold = (
            f"{r.op} {r.threshold}"
            if r.op != "in range"
            else f"in [{r.threshold[0]}, {r.threshold[1]}]"
        )
        verdict = "✅ pass" if r.passed else f"❌ FAIL{f' ({r.reason})' if r.reason else ''}"
        value = "—" if r.value is None else r.value
        lines.append(f"| {r.metric} | {value} | {threshold} | {verdict} |")
    return "\n".join(lines)


def _files_json(files: dict[str, ManifestFile]) -> dict[str, Any]:
    return {rel: f.to_json() for rel, f in files.items()}


# --- writes -----------------------------------------------------------------------------------


def _tags_text(result: Published) -> str:
    if result.branch:
        return f"on branch {result.branch} (tags after the merge: `artreg tag`)"
    return f"tags {', '.join(result.tags)}"


def tagged(result: Tagged) -> str:
    """`artreg tag`: the tags made, then each merged release production was not moved to."""
    lines = result.created or ["every promotion is tagged already"]
    return "\n".join([*lines, *(f"note: {h.text}" for h in result.held_back)])


def registered(result: Published) -> str:
    return (
        f"registered {result.name} session {result.id} in {result.folder}\n"
        f"commit {result.commit[:12]}, {_tags_text(result)}\n"
        f"{len(result.files)} files recorded in {result.folder}/manifest.json"
        + (
            f"\nleft out, as DVC ignores them: {', '.join(result.ignored_by_dvc)}"
            if result.ignored_by_dvc
            else ""
        )
    )


def promoted(result: Published) -> str:
    signed = result.signature
    return (
        f"promoted {result.name} to {result.stage}: {result.folder}\n"
        f"commit {result.commit[:12]}, {_tags_text(result)}\n"
        + (
            f"model signed: {result.folder}/{signed['file']} over {', '.join(signed['files'])}, "
            f"key {signed['fingerprint'] or '(not verified: no trusted key)'}\n"
            if signed
            else ""
        )
        + f"\n{gate_table(result.gates or [])}"
    )


def signature_text(info: dict[str, Any]) -> str:
    """One line on a model signature: who signed, with which key, as the trust policy sees it."""
    if info.get("status") != "verified":
        return f"{info['file']}: {info['status']}"
    who = f"{info['subject']}, " if info.get("subject") else ""
    return (
        f"{info['file']}: verified, signed by {who}key {info['fingerprint']} "
        f"(trusted key {info['key']}) over {', '.join(info['files'])}"
    )


def housekeeping(done: Housekeeping) -> str:
    return f"tag {done.tag} on {done.target[:12]}; registry.json refreshed in {done.commit[:12]}"


def init_text(result: InitResult) -> str:
    created = sorted(set(result.created))
    return (
        f"registry at {result.root}\n"
        + (
            f"created: {', '.join(created)}\ncommit: {result.commit}\n"
            if created
            else "already a registry; nothing to do\n"
        )
        + f"remote: {result.remote}\ndefault name: {result.default_name}"
    )


def init_json(result: InitResult) -> dict[str, Any]:
    return {
        "root": str(result.root),
        "created": sorted(set(result.created)),
        "commit": result.commit,
        "remote": result.remote,
        "default_name": result.default_name,
    }


# --- reads ------------------------------------------------------------------------------------


def overview_json(data: dict[str, ArtifactSummary]) -> dict[str, Any]:
    return {
        name: {
            "latest": s.latest,
            "deprecated": s.deprecated,
            "stages": {
                stage: {
                    **e.as_json(),
                    **({"signature": s.signatures[stage]} if stage in s.signatures else {}),
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
    )


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
    root: Path, resolved: Resolved, signature: dict[str, Any] | None = None, retired: str = ""
) -> tuple[dict[str, Any], str]:
    info = resolved_json(root, resolved) | ({"retired": retired} if retired else {})
    info["files"] = {rel: {"sha256": d.sha256, "size": d.size} for rel, d in resolved.files.items()}
    info["requires"] = [str(r) for r in resolved.requires]
    if signature is not None:
        info["signature"] = signature
    text = (
        "\n".join(
            f"{k}: {'-' if v is None else v}"
            for k, v in info.items()
            if k not in ("files", "signature", "requires")
        )
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


def lineage_json(chain: Sequence[LineageStep | TrainingCode]) -> list[dict[str, Any]]:
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
    return out


def lineage_text(chain: Sequence[LineageStep | TrainingCode]) -> str:
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


def verify_json(report: Report) -> dict[str, Any]:
    data = {"ok": not report.problems, "problems": report.problems, "checked": report.checked}
    return {**data, "notes": report.notes} if report.notes else data


def verified_text(report: Report) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in report.checked.items())
    return "\n".join([f"registry verified: {counts}", *report.notes])


def doctor_json(checks: Sequence[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]


def doctor_text(checks: Sequence[Check]) -> str:
    return "\n".join(
        f"{'ok ' if c.ok else 'XX '} {c.name}: {c.detail}"
        + (f"\n      fix: {c.fix}" if not c.ok and c.fix else "")
        for c in checks
    )


# --- the reviewer's summary -------------------------------------------------------------------


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


def plain(data: Any) -> Any:
    """A typed result as JSON-ready data (dataclasses become dicts)."""
    if is_dataclass(data) and not isinstance(data, type):
        return asdict(data)
    return data


# --- gc -------------------------------------------------------------------------------------------


def _size(n: int) -> str:
    """Bytes for people: exact below 1 KiB, else one decimal in KiB, MiB, GiB."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def gc_json(result: Plan | Applied) -> dict[str, Any]:
    """`artreg gc --json`: the plan (and what --apply deleted)."""
    return result.as_dict()


def gc_text(result: Plan | Applied) -> str:
    """Per name and stage what gc drops (folders, objects, bytes) and every folder's reason."""
    from artreg.features.retention import Applied

    plan = result.plan if isinstance(result, Applied) else result
    lines = [f"retention policy: {plan.policy_source}", ""]
    table = [("NAME", "STAGE", "KEPT", "DROPPED", "OBJECTS", "BYTES")]
    table += [
        (
            r["name"],
            r["stage"],
            str(r["kept"]),
            str(r["dropped"]),
            str(r["objects"]),
            str(r["bytes"]),
        )
        for r in plan.summary()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    lines.append("")
    for d in plan.decisions:
        verb = "keep" if d.keep else "drop"
        extra = "" if d.keep else f" ({len(d.objects)} objects, {d.bytes} bytes)"
        lines.append(f"{verb} {d.folder.relpath}{extra}: {'; '.join(d.reasons)}")
        if d.shared:
            lines.append(
                f"     {len(d.shared)} object(s) stay: a kept folder or another ref uses them"
            )
    lines.append("")
    lines += _gc_phases(result)
    lines += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(lines)


def _gc_phases(result: Plan | Applied) -> list[str]:
    """Mark and sweep: what was (or would be) marked, swept, and what waits for its grace."""
    from artreg.features.retention import Applied
    from artreg.model import iso

    plan = result.plan if isinstance(result, Applied) else result
    sweep = sum(plan.sweep.values())
    pending = plan.pending
    marks = len(plan.to_mark)
    grace = f"grace period {plan.grace_hours} h (retention.grace_hours)"
    if isinstance(result, Applied):
        where = f"remote {result.remote}" if result.remote else "no remote"
        refs = ", ".join(result.git_remotes) or "none"
        lines = [
            f"marked {len(result.marked)} folder(s) retired"
            + (f" in {result.commit[:12]}" if result.commit else ""),
            f"swept (git remotes read first: {refs}): deleted {result.remote_objects} objects, "
            f"{result.remote_bytes} bytes from {where}; {result.cache_objects} objects, "
            f"{result.cache_bytes} bytes from the local cache",
        ]
    else:
        lines = [
            f"would mark {marks} folder(s) retired (tombstones in artifacts/retired.json)",
            f"would sweep {len(plan.sweep)} objects, {sweep} bytes ({_size(sweep)}): marked at "
            f"least {plan.grace_hours} h ago (dry run: pass --apply to mark and sweep)",
        ]
    if pending:
        when = iso(plan.sweepable_from) if plan.sweepable_from else "later"
        lines.append(
            f"{len(pending)} objects, {sum(pending.values())} bytes wait for the {grace}: "
            f"`artreg gc --apply` sweeps them from {when}"
        )
    return lines


# --- consumers without a clone ---------------------------------------------------------------


def pin_json(pin: Pin, signature: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**pin.to_json(), **({"signature": signature} if signature is not None else {})}


def pin_text(pin: Pin, signature: dict[str, Any] | None = None) -> str:
    info = pin.to_json()
    return (
        "\n".join(f"{k}: {v}" for k, v in info.items() if k != "files")
        + (f"\nsignature: {signature_text(signature)}" if signature is not None else "")
        + "\nfiles:\n"
        + "\n".join(f"  {rel}  {d.size:,} B  {d.sha256}" for rel, d in sorted(pin.files.items()))
    )


def pinned_text(lock: Path, pin: Pin) -> str:
    return f"{lock}: {pin.spec} pinned to {pin.folder} ({pin.tag}, {pin.commit[:12]})"


def fetched_json(fetched: Fetched, written: Sequence[Path] | None = None) -> dict[str, Any]:
    return {
        **fetched.pin.to_json(),
        "path": str(fetched.path),
        "snapshot": str(fetched.snapshot),
        "downloaded": fetched.downloaded,
        **({"written": [str(p) for p in written]} if written is not None else {}),
    }


def lock_changes_json(changes: Sequence[Change]) -> list[dict[str, Any]]:
    return [
        {
            "spec": c.spec,
            "reason": c.reason,
            "pinned": {"tag": c.pinned.tag, "folder": c.pinned.folder},
            "current": {"tag": c.current.tag, "folder": c.current.folder} if c.current else None,
        }
        for c in changes
    ]


def cache_text(root: Path, snapshots: Sequence[dict[str, Any]]) -> str:
    from artreg.model import iso

    rows = [
        [
            s["name"] or "-",
            s["entry"] or "-",
            s["stage"] or "-",
            f"{s['size']:,}",
            iso(s["last_used"]),
            s["registry"] or "-",
        ]
        for s in snapshots
    ]
    body = (
        table(["name", "version", "stage", "bytes", "last used", "registry"], rows)
        if rows
        else "nothing cached"
    )
    return f"cache {root}\n{body}"


def pruned_text(done: dict[str, Any]) -> str:
    return "\n".join(
        [f"removed {r}" for r in done["removed"]]
        + [
            f"removed the corrupted repository git/{r}"
            for r in done.get("repositories_removed", [])
        ]
    ) + (f"\n{done['blobs_removed']} blobs removed, {done['bytes_freed']:,} bytes freed")


# --- history and the site -----------------------------------------------------------------------


def intervals_json(spans: Sequence[Interval]) -> list[dict[str, Any]]:
    return [span.as_dict() for span in spans]


def intervals_text(name: str, spans: Sequence[Interval]) -> str:
    """`artreg history`: one line per interval, by stage, oldest first."""
    if not spans:
        return f"{name} has never held a stage"
    rows = [
        [
            s.stage,
            s.label,
            iso(s.start),
            iso(s.end) if s.end is not None else "now",
            s.by + (f" ({s.began})" if s.began != "assigned" else ""),
            s.commit[:12],
            f"#{s.pull_request}" if s.pull_request else "-",
            s.ended or "-",
        ]
        for s in spans
    ]
    return table(["stage", "version", "from", "until", "by", "commit", "PR", "ended"], rows)


def site_json(built: Built) -> dict[str, Any]:
    return built.as_dict()


def site_text(built: Built) -> str:
    return (
        f"wrote {built.pages} pages for {built.names} names into {built.out} "
        f"(open {built.out / 'index.html'})"
    )


def accepted_json(accepted: Accepted) -> dict[str, Any]:
    """`artreg trust accept --json`: the registry, the policy now applied and what it relaxed."""
    return {
        "registry": accepted.registry,
        **accepted.policy.to_json(),
        "weakened": accepted.changes,
    }


def accepted_text(accepted: Accepted) -> str:
    policy = accepted.policy
    required = ", ".join(sorted(policy.require_signature)) or "no stage"
    head = f"its policy at {policy.head[:12]}" if policy.head else "its policy"
    lines = [f"{accepted.registry}: {head} is now the one applied here ({required} signed)"]
    lines += [f"  accepted: {change}" for change in accepted.changes]
    return "\n".join(lines)
