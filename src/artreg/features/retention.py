"""`artreg gc`: retention by lifecycle stage, for the DVC cache and remote.

`params.yaml`'s `retention` section says what to keep per name and stage (policy.Retention).
`plan` is pure: from the read model (which tag promoted which folder, when, what is current,
what is deregistered or deprecated) and an `Inventory` of the DVC objects each folder's
pointers reference, it decides folder by folder what is kept and why, and which objects may go.
An object stays when anything else references it: a kept folder, a pointer outside the tagged
folders at any commit reachable from a tag or branch, or one in the work tree.

`apply` deletes, under the registry lock: first it commits the tombstones
(`artifacts/retired.json`) through the normal transaction, then removes objects from the remote
and the local cache, file objects before `.dir` listings. A crash in between leaves a remote
missing only objects of retired folders, and running gc again deletes what is left.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg import gitrepo, state
from artreg.errors import IntegrityError, RetryableError
from artreg.faults import point
from artreg.fileio import dump_json, parse_json, write_atomic
from artreg.layout import RETIRED_JSON, StageDir
from artreg.model import Registry, iso
from artreg.policy import Retention, retention_for
from artreg.tags import STAGES, Action

DAY = 86400
_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


# --- tombstones ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retired:
    """One folder whose objects gc deleted: the tombstone in artifacts/retired.json."""

    folder: str
    objects: list[str]
    date: str
    by: str
    policy: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "objects": self.objects,
            "date": self.date,
            "by": self.by,
            "policy": self.policy,
        }

    @property
    def message(self) -> str:
        """What `verify`, `pull` and `get_artifact_path` say instead of "missing"."""
        return f"{self.folder}: retired by gc on {self.date[:10]} under the retention policy"


def parse_retired(data: bytes | None, source: str) -> dict[str, Retired]:
    """The tombstones of a retired.json document (absent: none)."""
    if data is None:
        return {}
    doc = parse_json(data.decode("utf-8"), source)
    entries = doc.get("retired") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise IntegrityError(
            f"{source}: expected an object with a list under 'retired'",
            hint=f"restore it with `git checkout HEAD -- {RETIRED_JSON}`",
        )
    found: dict[str, Retired] = {}
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("folder"), str):
            raise IntegrityError(f"{source}: an entry without a folder", hint="restore it with git")
        found[e["folder"]] = Retired(
            e["folder"],
            [str(o) for o in e.get("objects") or []],
            str(e.get("date", "")),
            str(e.get("by", "")),
            dict(e.get("policy") or {}),
        )
    return found


def read_retired(root: Path) -> dict[str, Retired]:
    """The tombstones committed at HEAD (a retirement is final once committed)."""
    head = gitrepo.head(root)
    blob = gitrepo.show_file(root, head, RETIRED_JSON) if head else None
    return parse_retired(blob, f"{RETIRED_JSON}@{(head or '')[:12]}")


# --- what the repository references ----------------------------------------------------------


@dataclass(frozen=True)
class FolderFacts:
    """One tagged stage folder: when it was first promoted, where from, and its DVC objects."""

    folder: StageDir
    promoted: int  # unix time of the first tag that promoted it
    source: str | None = None  # relpath of the folder it was promoted from
    objects: Mapping[str, int] = field(default_factory=dict)  # object id -> bytes


@dataclass(frozen=True)
class Inventory:
    """Every object reference the plan must respect, gathered once (see `collect`)."""

    folders: Mapping[str, FolderFacts]  # every folder a tag promoted, by relpath
    others: frozenset[str] = frozenset()  # objects of pointers outside the tagged folders
    retired: Mapping[str, Retired] = field(default_factory=dict)
    unreadable: Mapping[str, list[str]] = field(default_factory=dict)  # folder -> .dir ids


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class Decision:
    """What gc does with one folder, and why."""

    folder: StageDir
    keep: bool
    reasons: list[str]
    objects: dict[str, int] = field(default_factory=dict)  # objects deleted with it -> bytes
    shared: list[str] = field(default_factory=list)  # its objects that stay: referenced elsewhere

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
        }


@dataclass
class Plan:
    """Every tagged folder's fate, and the objects whose deletion that implies."""

    decisions: list[Decision]
    drop: dict[str, int]  # object id -> bytes, deletable: no kept reference
    policy: dict[str, dict[str, Any]]  # name -> the rule applied (as params.yaml spells it)
    now: int
    policy_source: str = "params.yaml"
    warnings: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)  # kept folders with unreadable listings

    @property
    def dropped(self) -> list[Decision]:
        return [d for d in self.decisions if not d.keep]

    @property
    def bytes(self) -> int:
        return sum(self.drop.values())

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
        return {
            "policy_source": self.policy_source,
            "date": iso(self.now),
            "summary": self.summary(),
            "objects": len(self.drop),
            "bytes": self.bytes,
            "folders": [d.as_dict() for d in self.decisions],
            "warnings": self.warnings,
        }


def _age_days(now: int, then: int) -> float:
    return (now - then) / DAY


def plan(
    registry: Registry,
    retention: dict[str, Any] | None,
    inventory: Inventory,
    now: int | None = None,
    policy_source: str = "params.yaml",
) -> Plan:
    """Decide, folder by folder, what the retention policy keeps; pure over its inputs.

    Per name: production keeps every release (or the last N), validated and raw the last N
    by promotion time, each stage also every folder a kept folder of the next stage came from;
    the folder behind every current stage is kept; deregistered versions and deprecated names
    lose that protection `deprecated_after_days` after it happened; nothing promoted less than
    `min_age_days` ago goes; a folder retired before stays retired.
    """
    now = int(time.time()) if now is None else now
    facts = inventory.folders
    keep: dict[str, list[str]] = {}
    drop_reason: dict[str, list[str]] = {}
    rules: dict[str, dict[str, Any]] = {}
    by_name: dict[str, list[FolderFacts]] = {}
    for f in facts.values():
        by_name.setdefault(f.folder.name, []).append(f)
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        rule = retention_for(retention, name)
        rules[name] = rule.describe()
        _decide(artifact, rule, by_name.get(name, []), facts, now, keep, drop_reason)
    decisions: list[Decision] = []
    for rel in sorted(facts):
        f = facts[rel]
        tomb = inventory.retired.get(rel)
        if tomb is not None:
            decisions.append(Decision(f.folder, False, [f"retired by gc on {tomb.date[:10]}"]))
        elif rel in keep:
            decisions.append(Decision(f.folder, True, keep[rel]))
        else:
            reasons = drop_reason.get(rel) or ["no rule of the retention policy keeps it"]
            decisions.append(Decision(f.folder, False, reasons))
    dropped = {d.folder.relpath for d in decisions if not d.keep}
    protected = set(inventory.others)
    for rel, f in facts.items():
        if rel not in dropped:
            protected.update(f.objects)
    drop: dict[str, int] = {}
    for d in decisions:
        if d.keep:
            continue
        for oid, size in facts[d.folder.relpath].objects.items():
            if oid in protected:
                d.shared.append(oid)
            elif oid not in drop:  # an object two dropped folders share counts once
                drop[oid] = d.objects[oid] = size
        d.shared.sort()
    warnings = [
        f"{rel}: DVC directory listing {', '.join(oids)} is in neither the cache nor the "
        "remote, so the files it listed cannot be found and stay where they are"
        for rel, oids in sorted(inventory.unreadable.items())
    ]
    # A kept folder whose listing cannot be read may share files with a dropped one: unsafe.
    blocking = sorted(rel for rel in inventory.unreadable if rel not in dropped)
    if retention is None:
        warnings.insert(0, f"{policy_source} has no retention section: gc keeps every folder")
    return Plan(decisions, drop, rules, now, policy_source, warnings, blocking)


def _decide(
    artifact: Any,
    rule: Retention,
    mine: list[FolderFacts],
    facts: Mapping[str, FolderFacts],
    now: int,
    keep: dict[str, list[str]],
    drop_reason: dict[str, list[str]],
) -> None:
    """Fill `keep` (folder -> reasons) and `drop_reason` for one name's folders."""
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
    # Stages from the end of the lifecycle back, so a kept folder keeps the one it came from.
    for stage in reversed(STAGES):
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
        for f in mine:
            kept = f.folder.stage == stage and f.folder.relpath in keep
            if kept and f.source is not None and f.source in facts:
                add(f.source, f"source of kept {f.folder.relpath}")


# --- gathering the inventory (git, the DVC cache, the remote) ----------------------------------


_FIELD = re.compile(r"(- |  )(md5|size|nfiles|hash|path): ([^'\"#{}\[\]&*!|>%@`]*)")


def _pointer_outs(data: bytes) -> list[tuple[str, int, str]]:
    """(object id, size, path) of each output of a `.dvc` file; unreadable: none.

    The `outs:` list as `dvc add` and artreg write it is read line by line (a registry has one
    pointer per folder, thousands of them); any other shape goes through the YAML parser."""
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if lines[:1] == ["outs:"]:
        outs: list[dict[str, str]] = []
        for line in lines[1:]:
            m = _FIELD.fullmatch(line)
            if m is None or (m.group(1) == "  " and not outs):
                break
            if m.group(1) == "- ":
                outs.append({})
            outs[-1][m.group(2)] = m.group(3).strip()
        else:
            return _outs(outs)
    from artreg.fileio import parse_yaml

    try:
        doc = parse_yaml(text, ".dvc pointer")
    except Exception:  # a broken pointer references nothing DVC could fetch either
        return []
    parsed = doc.get("outs") if isinstance(doc, dict) else None
    return _outs([o for o in parsed if isinstance(o, dict)] if isinstance(parsed, list) else [])


def _outs(outs: Iterable[Mapping[str, Any]]) -> list[tuple[str, int, str]]:
    found = []
    for out in outs:
        md5, size = str(out.get("md5", "")), str(out.get("size") or 0)
        if _MD5.match(md5) and size.isdigit():
            found.append((md5, int(size), str(out.get("path", ""))))
    return found


@dataclass(frozen=True)
class _Tagged:
    folder: StageDir
    promoted: int  # time of its first promoting tag
    commit: str  # that tag's commit
    source: str | None  # the `source:` folder of the tag message, when it names one


def _tagged_folders(registry: Registry) -> dict[str, _Tagged]:
    """Every folder a tag promoted, with its first promotion."""
    found: dict[str, _Tagged] = {}
    for artifact in registry.artifacts.values():
        for e in artifact.events:  # oldest first
            if e.promotes and e.folder is not None and e.folder.relpath not in found:
                src = StageDir.parse(e.source) if e.source else None
                found[e.folder.relpath] = _Tagged(
                    e.folder, e.timestamp, e.commit, src.relpath if src else None
                )
    return found


def _owner(path: str, tagged: Mapping[str, Any]) -> str | None:
    folder = StageDir.parse(path)
    return folder.relpath if folder is not None and folder.relpath in tagged else None


def collect(
    root: Path, registry: Registry, listing: Callable[[str], bytes | None] | None = None
) -> Inventory:
    """Every `.dvc` pointer at any commit a ref reaches, in the index and in the work tree,
    with the `.dir` listings they name (cache first, else `listing`, usually the remote).

    Two `git cat-file --batch` calls: the pointers (and `metadata.json` of folders whose tag
    does not name their source), then the manifests of folders with a `.dir` output (the
    sizes of the files it lists)."""
    from artreg import dvcrepo

    tagged = _tagged_folders(registry)
    pairs = gitrepo.pointer_blobs(root)
    meta_specs = {
        rel: f"{t.commit}:{rel}/metadata.json"
        for rel, t in tagged.items()
        if t.source is None and t.folder.stage != "raw"
    }
    blobs = gitrepo.read_blobs(root, sorted({b for _, b in pairs}) + sorted(meta_specs.values()))
    texts: list[tuple[str, bytes]] = [(path, blobs.get(blob) or b"") for path, blob in pairs]
    for rel in gitrepo.changed_files(root, "*.dvc"):
        try:
            texts.append((rel, (root / rel).read_bytes()))
        except OSError:
            continue  # deleted from the work tree: git's copy is in `pairs`
    sources = {rel: t.source for rel, t in tagged.items()}
    for rel, spec in meta_specs.items():
        src = (_json(blobs.get(spec)) or {}).get("source")
        if isinstance(src, dict) and src.get("stage") in STAGES and src.get("id"):
            folder = tagged[rel].folder
            sources[rel] = StageDir(str(src["stage"]), folder.name, str(src["id"])).relpath

    parsed: dict[bytes, list[tuple[str, int, str]]] = {}
    refs: list[tuple[str | None, str, str, int, str]] = []  # owner, path, oid, size, out path
    for path, text in texts:
        outs = parsed.get(text)
        if outs is None:
            outs = parsed[text] = _pointer_outs(text)
        owner = _owner(path, tagged)
        refs += [(owner, path, oid, size, out) for oid, size, out in outs]
    with_dirs = sorted({o for o, _, oid, _, _ in refs if o is not None and oid.endswith(".dir")})
    manifests = gitrepo.read_blobs(
        root, [f"{tagged[rel].commit}:{rel}/manifest.json" for rel in with_dirs]
    )
    sizes: dict[str, dict[str, int]] = {}
    for rel in with_dirs:
        files = (_json(manifests.get(f"{tagged[rel].commit}:{rel}/manifest.json")) or {}).get(
            "files"
        )
        sizes[rel] = {
            k: int(v.get("size", 0))
            for k, v in (files if isinstance(files, dict) else {}).items()
            if isinstance(v, dict)
        }

    objects: dict[str, dict[str, int]] = {rel: {} for rel in tagged}
    others: set[str] = set()
    unreadable: dict[str, list[str]] = {}
    listings: dict[str, bytes | None] = {}
    cache: list[Path] = []  # DVC's cache folder, asked of DVC once, when a listing is needed
    for owner, path, oid, size, out_path in refs:
        target = objects[owner] if owner is not None else None
        if not oid.endswith(".dir"):
            _add(target, others, oid, size)
            continue
        if oid not in listings:
            if not cache:
                cache.append(dvcrepo.cache_dir(root))
            data = dvcrepo.cached_bytes(cache[0], oid)
            listings[oid] = data if data is not None or listing is None else listing(oid)
        data = listings[oid]
        if data is None:
            _add(target, others, oid, 0)
            if oid not in unreadable.setdefault(owner or path, []):
                unreadable[owner or path].append(oid)
            continue
        _add(target, others, oid, len(data))
        base = path.rsplit("/", 1)[0] if "/" in path else ""
        rel_out = f"{base}/{out_path}" if base else out_path
        inner_rel = rel_out[len(owner) + 1 :] if owner is not None else rel_out
        for entry in _json(data) or []:
            if isinstance(entry, dict) and _MD5.match(str(entry.get("md5", ""))):
                inner = f"{inner_rel}/{entry.get('relpath', '')}"
                _add(target, others, str(entry["md5"]), sizes.get(owner or "", {}).get(inner, 0))
    folders = {
        rel: FolderFacts(t.folder, t.promoted, sources[rel], objects[rel])
        for rel, t in tagged.items()
    }
    return Inventory(folders, frozenset(others), read_retired(root), unreadable)


def _add(target: dict[str, int] | None, others: set[str], oid: str, size: int) -> None:
    if target is None:
        others.add(oid)
    else:
        target[oid] = max(size, target.get(oid, 0))


def _json(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


# --- the command --------------------------------------------------------------------------------


@dataclass
class Applied:
    """What `gc --apply` did: the plan carried out, and what was deleted where."""

    plan: Plan
    commit: str | None  # the commit of the new tombstones (None: nothing new to retire)
    remote: str | None  # the remote objects were deleted from (None: the local cache only)
    remote_objects: int = 0
    remote_bytes: int = 0
    cache_objects: int = 0
    cache_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.plan.as_dict(),
            "applied": {
                "commit": self.commit,
                "remote": self.remote,
                "remote_objects": self.remote_objects,
                "remote_bytes": self.remote_bytes,
                "cache_objects": self.cache_objects,
                "cache_bytes": self.cache_bytes,
            },
        }


def _plan_here(
    root: Path, stack: ExitStack, remote: str | None, now: int | None, to_delete: bool
) -> tuple[Plan, Any]:
    """Load the model and settings, gather the inventory, plan. The remote is opened (on
    `stack`) only for a listing the cache lacks, or to delete from (`to_delete`); returns it
    with the plan (None when not opened or when the repo has no remote)."""
    from artreg import dvcrepo
    from artreg.policy import load_settings

    settings = load_settings(root)
    registry = state.load(root, folders="all")
    opened: list[Any] = []

    def store() -> Any:
        if not opened:  # first need: a dry run whose listings are all cached never asks it
            configured = dvcrepo.remote_name(root, remote) is not None
            opened.append(
                stack.enter_context(dvcrepo.open_remote(root, remote)) if configured else None
            )
        return opened[0]

    def listing(oid: str) -> bytes | None:
        found = store()
        return found.read(oid) if found is not None else None

    inventory = collect(root, registry, listing)
    planned = plan(registry, settings.retention, inventory, now, settings.source)
    return planned, store() if to_delete else (opened[0] if opened else None)


def gc(
    root: Path,
    apply: bool = False,
    remote: str | None = None,
    wait: float = 0.0,
    now: int | None = None,
) -> Plan | Applied:
    """`artreg gc`: the plan (dry run), or with `apply` the plan carried out under the lock."""
    from artreg.publish import actor
    from artreg.transaction import repo_lock

    result: Plan | Applied
    with ExitStack() as stack:
        if not apply:
            result = _plan_here(root, stack, remote, now, to_delete=False)[0]
        else:
            who = actor(root)
            stack.enter_context(repo_lock(root, wait=wait))
            planned, store = _plan_here(root, stack, remote, now, to_delete=True)
            result = _carry_out(root, planned, store, who)
    return result


def apply_plan(root: Path, expected: Plan, remote: str | None = None, wait: float = 0.0) -> Applied:
    """Carry out a plan made earlier, if the registry still plans the same deletions."""
    from artreg.publish import actor
    from artreg.transaction import repo_lock

    who = actor(root)
    with ExitStack() as stack:
        stack.enter_context(repo_lock(root, wait=wait))
        fresh, store = _plan_here(root, stack, remote, expected.now, to_delete=True)
        if fresh.drop != expected.drop or [d.folder for d in fresh.dropped] != [
            d.folder for d in expected.dropped
        ]:
            raise RetryableError(
                "the registry changed since this gc was planned, so nothing was deleted",
                hint="plan again (`artreg gc`) and apply the new plan",
            )
        return _carry_out(root, fresh, store, who)


def _carry_out(root: Path, planned: Plan, store: Any, who: str) -> Applied:
    """Tombstones first (committed), then the deletions: remote, then local cache."""
    from artreg import dvcrepo

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
    point("gc:tombstoned")
    done = Applied(planned, commit, store.name if store is not None else None)
    # File objects before `.dir` listings: while a listing exists, what it lists can be found.
    order = sorted(planned.drop, key=lambda oid: (oid.endswith(".dir"), oid))
    if store is not None:
        for oid in order:
            point("gc:delete-remote")
            size = store.remove(oid)
            if size is not None:
                done.remote_objects += 1
                done.remote_bytes += size
    cache = dvcrepo.cache_dir(root) if order else None
    for oid in order:
        point("gc:delete-cache")
        assert cache is not None
        size = dvcrepo.remove_cached(cache, oid)
        if size is not None:
            done.cache_objects += 1
            done.cache_bytes += size
    return done


def _commit_tombstones(
    root: Path, planned: Plan, new: Iterable[Decision], retired: Mapping[str, Retired], who: str
) -> str:
    from artreg.publish import now_iso
    from artreg.transaction import transaction

    date = now_iso()
    entries = dict(retired)
    added = []
    for d in new:
        rel = d.folder.relpath
        objects = sorted({*d.objects, *d.shared})
        entries[rel] = Retired(rel, objects, date, who, planned.policy.get(d.folder.name, {}))
        added.append(rel)
    doc = {
        "schema_version": 1,
        "description": "stage folders whose DVC objects `artreg gc` deleted under the retention "
        "policy; their tags and files in git stay",
        "retired": [entries[k].to_json() for k in sorted(entries)],
    }
    title = f"artreg: retire {len(added)} folder(s) under the retention policy"
    with transaction(root, new_dirs=[], touched=[RETIRED_JSON], held=True) as txn:
        write_atomic(root / RETIRED_JSON, dump_json(doc))
        gitrepo.add(root, [RETIRED_JSON])
        point("gc:tombstone-staged")
        txn.before_commit(title, [], "", 0, False)
        body = f"{title}\n\npolicy: {planned.policy_source}\n" + "\n".join(
            f"retired: {rel}" for rel in added
        )
        commit = gitrepo.commit(root, body, [RETIRED_JSON])
        txn.committed(commit)
    return commit
