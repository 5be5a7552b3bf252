"""What gc, the consumers without a clone and the site print: gc's plan and what it deleted,
pins and fetched models, lock-file changes, the consumer cache, the site written and the trust
policy accepted. Pure functions over typed results; nothing here reads the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.present.text import signature_text, table
from artreg.registry.records import iso

if TYPE_CHECKING:
    from artreg.present.site.build import Built
    from artreg.reading.trust_ratchet import Accepted
    from artreg.services.retention import Applied, Plan
    from artreg.sources.base import Fetched, Pin
    from artreg.sources.lock import Change


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
    from artreg.services.retention import Applied

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
    from artreg.services.retention import Applied

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


def pin_json(pin: Pin, signature: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**pin.to_json(), **({"signature": signature} if signature is not None else {})}


# The lines of `show NAME@vX|NAME#STAGE`, in a clone's order (queries.resolved_with_files); a
# URL's answer has no `path` there: its bytes are not fetched to show it.
ENTRY_LINES = ("name", "stage", "version", "tag", "commit", "folder", "model", "sha256", "size",
               "retired")  # fmt: skip


def entry_text(info: dict[str, Any], signature: dict[str, Any] | None = None) -> str:
    """`show NAME@vX|NAME#STAGE` from a URL or a lock, laid out as a clone's answer."""
    requires = info.get("requires") or []
    return (
        "\n".join(f"{k}: {'-' if info[k] is None else info[k]}" for k in ENTRY_LINES if k in info)
        + (f"\nrequires: {', '.join(requires)}" if requires else "")
        + (f"\nsignature: {signature_text(signature)}" if signature is not None else "")
        + "\nfiles:\n"
        + "\n".join(
            f"  {rel}  {d['size']:,} B  {d['sha256']}" for rel, d in sorted(info["files"].items())
        )
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
