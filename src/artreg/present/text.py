"""Rendering results for people and machines: the building blocks (JSON, plain tables, the
markdown gate table, a signature's line), and what the write commands print (register, promote,
tag, housekeeping, init) with verify and doctor. Pure functions over the core's typed results;
nothing here reads the registry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.publishing.gatetable import gate_table

if TYPE_CHECKING:
    from artreg.artifacts.integrity import Report
    from artreg.publishing.publish import Published
    from artreg.services.doctor import Check
    from artreg.services.housekeeping import Housekeeping
    from artreg.services.init import InitResult
    from artreg.services.review import Tagged


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


def plain(data: Any) -> Any:
    """A typed result as JSON-ready data (dataclasses become dicts)."""
    if is_dataclass(data) and not isinstance(data, type):
        return asdict(data)
    return data
