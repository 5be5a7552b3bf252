"""`artreg gc`: retention by lifecycle stage, for the DVC cache and remote.

`params.yaml`'s `retention` section says what to keep per name and stage (policy.Retention).
`plan` is pure: from the read model (which tag promoted which folder, when, what is current,
what is deregistered or deprecated) and an `Inventory` of what references which DVC objects
(`reachability.collect`), it decides folder by folder what is kept and why, and which objects
may go: those of dropped folders that nothing needed references (`reachability`).

Deletion is two-phase, as git's `gc.pruneExpire`: `--apply` first *marks*, committing the
tombstones of newly dropped folders (`artifacts/retired.json`, and a `.dvcignore` block so DVC
skips their pointers) through the normal transaction; then it *sweeps*: with the refs of every
git remote fetched first, it deletes from the remote and the local cache (file objects before
`.dir` listings) only the objects still unreferenced and marked at least `retention.grace_hours`
ago. A release made concurrently with the mark is pushed long before the sweep and protects its
objects. A crash in between only leaves retired folders' objects behind; the next gc deletes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from artreg.adapters import interrupts
from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.faults import point
from artreg.adapters.files import dump_json, write_atomic
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.artifacts.reachability import (
    FolderFacts,
    Inventory,
    collect,
    dvcignore_with,
    expand,
    fetch_remote_refs,
    retired_on_remotes,
)
from artreg.errors import InputError, IntegrityError, RetryableError
from artreg.publishing.publish import actor
from artreg.publishing.transaction import repo_lock, transaction
from artreg.registry import state
from artreg.registry.jsonform import fields_json
from artreg.registry.layout import RETIRED_JSON, StageDir
from artreg.registry.policy import Retention, load_settings, retention_for
from artreg.registry.records import Registry, iso
from artreg.registry.retirements import Retired, default_ref, read_retired, surely_default
from artreg.registry.tags import STAGES, Action

__all__ = ["FolderFacts", "Inventory", "plan"]

DAY = 86400
HOUR = 3600
GRACE_HOURS = 24  # retention.grace_hours when params.yaml does not set it
MAX_GRACE_HOURS = 87_600  # 10 years, as params.schema.json bounds it: dates stay in range
DVCIGNORE = ".dvcignore"


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class Decision:
    """What gc does with one folder, and why."""

    folder: StageDir
    keep: bool
    reasons: list[str]
    objects: dict[str, int] = field(default_factory=dict)  # objects deleted with it -> bytes
    shared: list[str] = field(default_factory=list)  # its objects that stay: referenced elsewhere
    marked: str | None = None  # when its tombstone was committed (None: not marked yet)

    @property
    def bytes(self) -> int:
        return sum(self.objects.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder.relpath,
            "name": self.folder.name,
            "stage": self.folder.stage,
            "keep": self.keep,
            "reasons": self.reasons,
            "objects": sorted(self.objects),
            "bytes": self.bytes,
            "shared": self.shared,
            "marked": self.marked,
        }


@dataclass
class Plan:
    """Every tagged folder's fate, the objects whose deletion that implies, and which of them
    the sweep may delete now (marked at least `grace_hours` ago)."""

    decisions: list[Decision]
    drop: dict[str, int]  # object id -> bytes, deletable: no kept reference
    policy: dict[str, dict[str, Any]]  # name -> the rule applied (as params.yaml spells it)
    now: int
    policy_source: str = "params.yaml"
    warnings: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)  # kept folders with unreadable listings
    grace_hours: int = GRACE_HOURS
    sweep: dict[str, int] = field(default_factory=dict)  # of `drop`: past the grace period
    sweepable_from: int | None = None  # when every object still in its grace period may go

    @property
    def dropped(self) -> list[Decision]:
        return [d for d in self.decisions if not d.keep]

    @property
    def to_mark(self) -> list[Decision]:
        """Dropped folders without a tombstone yet: `--apply` marks them."""
        return [d for d in self.dropped if d.marked is None]

    @property
    def bytes(self) -> int:
        return sum(self.drop.values())

    @property
    def pending(self) -> dict[str, int]:
        """Objects of `drop` still in their grace period."""
        return {o: n for o, n in self.drop.items() if o not in self.sweep}

    def summary(self) -> list[dict[str, Any]]:
        """Per name and stage: folders kept and dropped, objects and bytes dropped."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for d in self.decisions:
            row = rows.setdefault(
                (d.folder.name, d.folder.stage),
                {
                    "name": d.folder.name,
                    "stage": d.folder.stage,
                    "kept": 0,
                    "dropped": 0,
                    "objects": 0,
                    "bytes": 0,
                },
            )
            row["kept" if d.keep else "dropped"] += 1
            row["objects"] += len(d.objects)
            row["bytes"] += d.bytes
        order = {s: i for i, s in enumerate(STAGES)}
        return [rows[k] for k in sorted(rows, key=lambda k: (k[0], order.get(k[1], 9)))]

    def as_dict(self) -> dict[str, Any]:
        pending = self.pending
        return {
            "policy_source": self.policy_source,
            "date": iso(self.now),
            "summary": self.summary(),
            "objects": len(self.drop),
            "bytes": self.bytes,
            "grace_hours": self.grace_hours,
            "mark": [d.folder.relpath for d in self.to_mark],
            "sweep": {"objects": len(self.sweep), "bytes": sum(self.sweep.values())},
            "pending": {
                "objects": len(pending),
                "bytes": sum(pending.values()),
                "sweepable_from": iso(self.sweepable_from) if self.sweepable_from else None,
            },
            "folders": [d.as_dict() for d in self.decisions],
            "warnings": self.warnings,
        }


def _age_days(now: int, then: int) -> float:
    return (now - then) / DAY


def grace_of(retention: Mapping[str, Any] | None) -> int:
    """`retention.grace_hours` (validated by the params schema), or the default."""
    value = (retention or {}).get("grace_hours")
    return GRACE_HOURS if value is None else int(value)


def _epoch(date: str, default: int) -> int:
    try:
        return int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return default  # an unreadable date counts as marked now: the grace period starts over


def plan(
    registry: Registry,
    retention: dict[str, Any] | None,
    inventory: Inventory,
    now: int | None = None,
    policy_source: str = "params.yaml",
    grace_hours: int | None = None,
) -> Plan:
    """Decide, folder by folder, what the retention policy keeps; pure over its inputs.

    Per name: production keeps every release (or the last N), validated and raw the last N
    by promotion time; the folder behind every current stage is kept; deregistered versions
    and deprecated names lose that protection `deprecated_after_days` after it happened;
    nothing promoted less than `min_age_days` ago goes; a folder retired before stays retired.
    Then everything a kept folder or an untagged promotion needs (`reachability.expand`).
    An object may be swept once every dropped folder holding it was marked `grace_hours` ago.
    """
    now = int(time.time()) if now is None else now
    grace = grace_of(retention) if grace_hours is None else grace_hours
    if not 0 <= grace <= MAX_GRACE_HOURS:
        raise InputError(
            f"grace_hours {grace}: out of range",
            hint=f"give a number of hours from 0 to {MAX_GRACE_HOURS} (10 years)",
        )
    facts = inventory.folders
    keep: dict[str, list[str]] = {}
    drop_reason: dict[str, list[str]] = {}
    expired: dict[str, str] = {}
    rules: dict[str, dict[str, Any]] = {}
    by_name: dict[str, list[FolderFacts]] = {}
    for f in facts.values():
        by_name.setdefault(f.folder.name, []).append(f)
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        rule = retention_for(retention, name)
        rules[name] = rule.describe()
        expired.update(_decide(artifact, rule, by_name.get(name, []), now, keep, drop_reason))
    expand(keep, facts, inventory.untagged, expired)
    decisions: list[Decision] = []
    protected = set(inventory.others)
    warnings: list[str] = []
    for rel in sorted(facts):
        f = facts[rel]
        tomb = inventory.retired.get(rel)
        if tomb is not None:
            reasons = [f"retired by gc on {tomb.date[:10]}"]
            if rel in keep:  # needed again since it was marked: what is left of it stays
                protected.update(f.objects)
                needs = "; ".join(keep[rel])
                reasons.append(f"still needed ({needs}), so gc deletes no more of its objects")
                warnings.append(
                    f"{rel}: retired, but {needs}: gc deletes no more of its objects, but those "
                    "already swept are gone; promote another version to that stage"
                )
            decisions.append(Decision(f.folder, False, reasons, marked=tomb.date))
        elif rel in keep:
            decisions.append(Decision(f.folder, True, keep[rel]))
        else:
            reasons = drop_reason.get(rel) or ["no rule of the retention policy keeps it"]
            decisions.append(Decision(f.folder, False, reasons))
    dropped = {d.folder.relpath for d in decisions if not d.keep}
    for rel, f in facts.items():
        if rel not in dropped:
            protected.update(f.objects)
    drop: dict[str, int] = {}
    marked_at: dict[str, int] = {}  # object -> the latest mark of a dropped folder holding it
    for d in decisions:
        if d.keep:
            continue
        mark = now if d.marked is None else _epoch(d.marked, now)
        for oid, size in facts[d.folder.relpath].objects.items():
            if oid in protected:
                d.shared.append(oid)
                continue
            marked_at[oid] = max(mark, marked_at.get(oid, mark))
            if oid not in drop:  # an object two dropped folders share counts once
                drop[oid] = d.objects[oid] = size
        d.shared.sort()
    sweep = {o: n for o, n in drop.items() if now - marked_at[o] >= grace * HOUR}
    waiting = [marked_at[o] + grace * HOUR for o in drop if o not in sweep]
    warnings += [
        f"{rel}: DVC directory listing {', '.join(oids)} is in neither the cache nor the "
        "remote, so the files it listed cannot be found and stay where they are"
        for rel, oids in sorted(inventory.unreadable.items())
        if rel not in inventory.retired  # swept by an earlier gc: its files went before it
    ]
    # A kept folder whose listing cannot be read may share files with a dropped one: unsafe.
    blocking = sorted(rel for rel in inventory.unreadable if rel not in dropped)
    if retention is None:
        warnings.insert(0, f"{policy_source} has no retention section: gc keeps every folder")
    return Plan(
        decisions, drop, rules, now, policy_source, warnings, blocking, grace, sweep,
        max(waiting, default=None),
    )  # fmt: skip


def _decide(
    artifact: Any,
    rule: Retention,
    mine: list[FolderFacts],
    now: int,
    keep: dict[str, list[str]],
    drop_reason: dict[str, list[str]],
) -> dict[str, str]:
    """Fill `keep` (folder -> reasons) and `drop_reason` for one name's folders by the policy
    alone (lineage and requirements: `reachability.expand`); returns the folders that lost
    their protection, and why."""
    after = rule.deprecated_after_days
    expired: dict[str, str] = {}  # folder -> why it lost its protection
    if artifact.deprecated and after is not None:
        event = artifact.events[-1]
        if _age_days(now, event.timestamp) >= after:
            why = f"{artifact.name} deprecated on {event.date[:10]}, over {after} days ago"
            expired.update({f.folder.relpath: why for f in mine})
    if after is not None:
        for version in artifact.versions:
            last = version.direct[-1] if version.direct else None
            if last is None or last.parsed.action is not Action.DEREGISTER:
                continue
            if _age_days(now, last.timestamp) < after:
                continue
            why = f"{version.label} deregistered on {last.date[:10]}, over {after} days ago"
            events = [*version.direct, *(e for es in version.stage_events.values() for e in es)]
            for e in events:
                if e.promotes and e.folder is not None:
                    expired.setdefault(e.folder.relpath, why)

    def add(rel: str, reason: str) -> None:
        if rel not in expired or reason.startswith("younger"):
            keep.setdefault(rel, []).append(reason)

    for stage, event in artifact.current().items():  # what consumers resolve today
        if event.folder is not None:
            add(event.folder.relpath, f"current {stage}")
    for f in mine:
        age = _age_days(now, f.promoted)
        if rule.min_age_days and age < rule.min_age_days:  # 0: no minimum (tag clocks run ahead)
            add(f.folder.relpath, f"younger than {rule.min_age_days} days (min_age_days)")
    for rel, why in expired.items():
        drop_reason.setdefault(rel, []).append(why)
    for stage in STAGES:
        folders = sorted(
            (f for f in mine if f.folder.stage == stage and f.folder.relpath not in expired),
            key=lambda f: (f.promoted, f.folder.entry),
            reverse=True,
        )
        n = rule.keep_last[stage]
        for i, f in enumerate(folders):
            rel = f.folder.relpath
            if n is None:
                add(rel, f"{stage}: keep all")
            elif i < n:
                add(rel, f"one of the last {n} {stage} ({stage}: keep_last {n})")
            else:
                drop_reason.setdefault(rel, []).append(
                    f"older than the last {n} {stage} ({stage}: keep_last {n})"
                )
    return expired


# --- the command --------------------------------------------------------------------------------


@dataclass
class Applied:
    """What `gc --apply` did: the folders it marked, and what the sweep deleted where."""

    plan: Plan
    commit: str | None  # the commit of the new tombstones (None: nothing new to retire)
    remote: str | None  # the remote objects were deleted from (None: the local cache only)
    remote_objects: int = 0
    remote_bytes: int = 0
    cache_objects: int = 0
    cache_bytes: int = 0
    marked: list[str] = field(default_factory=list)  # folders whose tombstones it committed
    git_remotes: list[str] = field(default_factory=list)  # whose refs the sweep respected

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.plan.as_dict(),
            "applied": fields_json(self, omit=["plan"]),
        }


def _plan_here(
    root: Path,
    stack: ExitStack,
    remote: str | None,
    now: int | None,
    to_delete: bool,
    grace_hours: int | None = None,
) -> tuple[Plan, Any]:
    """Load the model and settings, gather the inventory, plan. The remote is opened (on
    `stack`) only for a listing the cache lacks, or to delete from (`to_delete`); returns it
    with the plan (None when not opened or when the repo has no remote)."""
    settings = load_settings(root)
    registry = state.load(root, folders="all")
    opened: list[Any] = []

    def store() -> Any:
        if not opened:  # first need: a dry run whose listings are all cached never asks it
            configured = dvcremote.remote_name(root, remote) is not None
            opened.append(
                stack.enter_context(dvcremote.open_remote(root, remote)) if configured else None
            )
        return opened[0]

    def listing(oid: str) -> bytes | None:
        found = store()
        data = found.read(oid) if found is not None else None
        if data is None and found is not None and not found.odb.fs.exists(found.odb.path):
            raise RetryableError(
                f"DVC remote {found.name!r} ({found.odb.path}): not found or not reachable, so "
                "gc cannot read the listings it needs; nothing was deleted",
                hint="check the remote (`dvc remote list`) and its network or mount, then run "
                "gc again",
            )
        return data

    inventory = collect(root, registry, listing)
    planned = plan(registry, settings.retention, inventory, now, settings.source, grace_hours)
    return planned, store() if to_delete else (opened[0] if opened else None)


def gc(
    root: Path,
    apply: bool = False,
    remote: str | None = None,
    wait: float = 0.0,
    now: int | None = None,
    grace_hours: int | None = None,
) -> Plan | Applied:
    """`artreg gc`: the plan (dry run), or with `apply` mark and sweep under the lock, with
    every git remote's refs fetched first. `grace_hours` overrides `retention.grace_hours`."""
    result: Plan | Applied
    with ExitStack() as stack:
        if not apply:
            result = _plan_here(root, stack, remote, now, False, grace_hours)[0]
        else:
            _on_default_branch(root)
            who = actor(root)
            stack.enter_context(repo_lock(root, wait=wait))
            remotes = fetch_remote_refs(root)
            planned, store = _plan_here(root, stack, remote, now, True, grace_hours)
            result = _carry_out(root, planned, store, who, remotes)
    return result


def apply_plan(
    root: Path,
    expected: Plan,
    remote: str | None = None,
    wait: float = 0.0,
    grace_hours: int | None = None,
) -> Applied:
    """Carry out a plan made earlier, if the registry still plans the same deletions."""
    _on_default_branch(root)
    who = actor(root)
    with ExitStack() as stack:
        stack.enter_context(repo_lock(root, wait=wait))
        remotes = fetch_remote_refs(root)
        fresh, store = _plan_here(root, stack, remote, expected.now, True, grace_hours)
        if (
            fresh.drop != expected.drop
            or fresh.sweep != expected.sweep
            or [d.folder for d in fresh.dropped] != [d.folder for d in expected.dropped]
        ):
            raise RetryableError(
                "the registry changed since this gc was planned, so nothing was deleted",
                hint="plan again (`artreg gc`) and apply the new plan",
            )
        return _carry_out(root, fresh, store, who, remotes)


def _on_default_branch(root: Path) -> None:
    """Refuse `--apply` off the default branch: a tombstone committed on a side branch would
    delete objects every other branch still reads as live."""
    off = default_ref(root)
    here = gitrun.current_branch(root)
    if off is None and here and not surely_default(root, here):
        raise InputError(
            f"{root}: git names no default branch here (no origin HEAD, and init.defaultBranch "
            f"is not {here}), so gc cannot tell that {here} is the branch every other reads; "
            "nothing was changed",
            hint="`git remote set-head origin --auto`, or `git config init.defaultBranch "
            "BRANCH`, then run `artreg gc --apply` on that branch",
        )
    if off is not None:
        raise InputError(
            f"{root}: on {f'branch {here}' if here else 'a detached HEAD'}, not on the default "
            f"branch {off[0]}: `gc --apply` retires folders for every branch, so it runs only "
            f"on {off[0]}; nothing was changed",
            hint=f"switch to it (`git switch {off[0]}`) and run gc there; a dry run "
            "(`artreg gc`) works on any branch",
        )


def _carry_out(root: Path, planned: Plan, store: Any, who: str, remotes: list[str]) -> Applied:
    """Mark (the tombstones, committed), then sweep what is past its grace period: remote,
    then local cache."""
    if planned.blocking and planned.drop:
        raise IntegrityError(
            f"{', '.join(planned.blocking)}: kept, but a DVC directory listing of theirs is in "
            "neither the cache nor the remote, so gc cannot tell which files they share with "
            "the folders it would drop; nothing was deleted",
            hint="push the listing from a clone that has it (`dvc push`), then run gc again",
        )
    retired = read_retired(root)
    new = [d for d in planned.dropped if d.folder.relpath not in retired]
    commit = _commit_tombstones(root, planned, new, retired, who) if new else None
    done = Applied(planned, commit, store.name if store is not None else None)
    done.marked, done.git_remotes = [d.folder.relpath for d in new], remotes
    if commit is None:
        _sweep_marked(root, planned, store, done)
    else:  # from here an interrupt leaves the retirement committed: say so, not "nothing"
        with interrupts.made(
            f"gc committed the retirement {commit[:12]}", "run `artreg gc --apply` again to finish"
        ):
            _sweep_marked(root, planned, store, done)
    return done


def _sweep_marked(root: Path, planned: Plan, store: Any, done: Applied) -> None:
    """After the mark: warn about tombstones no git remote has, then sweep."""
    point("gc:tombstoned")
    commit, remotes = done.commit, done.git_remotes
    if remotes and planned.sweep:  # other clones read a folder as retired once they have this
        known = retired_on_remotes(root)
        swept = {d.folder.relpath for d in planned.dropped if d.objects.keys() & planned.sweep}
        planned.warnings += [
            f"{rel}: no git remote has its tombstone yet: push the commit that retired it "
            "(`git push`), or other clones read it as missing, not retired"
            for rel in sorted(swept - known)
        ]
    # File objects before `.dir` listings: while a listing exists, what it lists can be found.
    order = sorted(planned.sweep, key=lambda oid: (oid.endswith(".dir"), oid))
    if order:
        what = f"gc committed the retirement {commit[:12]} and " if commit else "gc "
        with interrupts.made(
            what + "was deleting the retired folders' objects (some may be gone already)",
            "run `artreg gc --apply` again to finish deleting them",
        ):
            _sweep(root, order, store, done)


def _sweep(root: Path, order: list[str], store: Any, done: Applied) -> None:
    """Delete the swept objects from the remote, then from the local cache."""
    if store is not None:
        for oid in order:
            point("gc:delete-remote")
            size = store.remove(oid)
            if size is not None:
                done.remote_objects += 1
                done.remote_bytes += size
    cache = dvccache.cache_dir(root) if order else None
    for oid in order:
        point("gc:delete-cache")
        assert cache is not None
        size = dvccache.remove_cached(cache, oid)
        if size is not None:
            done.cache_objects += 1
            done.cache_bytes += size


def _commit_tombstones(
    root: Path, planned: Plan, new: Iterable[Decision], retired: Mapping[str, Retired], who: str
) -> str:
    date = iso(planned.now)  # the mark: the sweep counts the grace period from here
    entries = dict(retired)
    added = []
    for d in new:
        rel = d.folder.relpath
        objects = sorted({*d.objects, *d.shared})
        entries[rel] = Retired(rel, objects, date, who, planned.policy.get(d.folder.name, {}))
        added.append(rel)
    doc = {
        "schema_version": 1,
        "description": "stage folders whose DVC objects `artreg gc` deletes under the retention "
        "policy (marked on `date`, swept after retention.grace_hours); their tags and files in "
        "git stay",
        "retired": [entries[k].to_json() for k in sorted(entries)],
    }
    ignore = root / DVCIGNORE
    old = ignore.read_text("utf-8") if ignore.is_file() else ""
    title = f"artreg: retire {len(added)} folder(s) under the retention policy"
    touched = [RETIRED_JSON, DVCIGNORE]
    with transaction(root, new_dirs=[], touched=touched, held=True) as txn:
        write_atomic(root / RETIRED_JSON, dump_json(doc))
        write_atomic(ignore, dvcignore_with(old, entries))
        gitwrite.add(root, touched)
        point("gc:tombstone-staged")
        txn.before_commit(title, [], "", 0, False)
        body = f"{title}\n\npolicy: {planned.policy_source}\n" + "\n".join(
            f"retired: {rel}" for rel in added
        )
        commit = gitwrite.commit(root, body, touched)
        txn.committed(commit)
    return commit
