"""What `artreg gc` must never delete: one reachability model, used by the plan and by `--apply`.

A DVC object is needed while anything still references it:

- a stage folder the retention policy keeps, and everything a kept folder needs: the folder it
  was promoted from (its lineage) and, across names, the production folder of every version it
  requires, transitively (`expand`);
- any DVC output outside the tagged stage folders at any commit a ref reaches (tags, branches,
  remote-tracking branches, the refs of every git remote as fetched at sweep time), in the
  index or in the work tree: `.dvc` pointers anywhere in the repository, and the outputs that
  `dvc.lock` files of pipelines record;
- an untagged promotion (a pull request's branch, or a merge that `artreg tag` has not tagged
  yet): its own objects, and its lineage and requirements as for a kept folder, until the branch
  is merged (then its tags say the same) or deleted.

`collect` gathers every reference with a few git calls; `expand` and the parsers are pure.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.files import parse_yaml
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, InputError, RemoteUnavailable, ToolError
from artreg.registry.layout import RETIRED_JSON, StageDir
from artreg.registry.records import Registry
from artreg.registry.retirements import Retired, parse_retired, read_retired
from artreg.registry.tags import STAGES, Action

_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
DVC_LOCK = "dvc.lock"
# What `git log` lists over the whole history, in one pass: pointers, pipelines' lock files
# (`*dvc.lock`: git's `*` crosses folders), and the metadata of validated and released folders
# (an untagged one's lineage and requirements).
HISTORY_PATTERNS = (
    "*.dvc",
    "*dvc.lock",
    "artifacts/validated/*/metadata.json",
    "artifacts/production/*/metadata.json",
)


@dataclass(frozen=True)
class FolderFacts:
    """One stage folder: when it was first promoted, where from, what it requires, its objects."""

    folder: StageDir
    promoted: int  # unix time of the first tag that promoted it (0: untagged)
    source: str | None = None  # relpath of the folder it was promoted from
    objects: Mapping[str, int] = field(default_factory=dict)  # object id -> bytes
    requires: tuple[str, ...] = ()  # relpaths of the production folders of its requirements


@dataclass(frozen=True)
class Inventory:
    """Every object reference the plan must respect, gathered once (see `collect`)."""

    folders: Mapping[str, FolderFacts]  # every folder a tag promoted, by relpath
    others: frozenset[str] = frozenset()  # objects of DVC outputs outside the tagged folders
    retired: Mapping[str, Retired] = field(default_factory=dict)
    unreadable: Mapping[str, list[str]] = field(default_factory=dict)  # folder -> .dir ids
    untagged: Mapping[str, FolderFacts] = field(default_factory=dict)  # open promotions


# --- the closure of what kept folders need (pure) --------------------------------------------


def expand(
    keep: MutableMapping[str, list[str]],
    folders: Mapping[str, FolderFacts],
    untagged: Mapping[str, FolderFacts] | None = None,
    expired: Mapping[str, str] | None = None,
) -> None:
    """Add to `keep` (folder -> reasons) everything kept folders and untagged promotions need,
    transitively: the folder each came from and the production folder of each version it
    requires. A kept folder's source that lost its protection (`expired`) stays dropped, as
    that folder's own lineage; a requirement is kept regardless: the dependant cannot run
    without it."""
    untagged = untagged or {}
    expired = expired or {}
    queue = [(rel, folders[rel], f"kept {rel}") for rel in sorted(keep) if rel in folders]
    queue += [
        (rel, f, f"untagged promotion {rel} (a branch not merged, or merged and not tagged)")
        for rel, f in sorted(untagged.items())
    ]
    while queue:
        rel, facts, what = queue.pop()
        needs = [(facts.source, f"source of {what}", rel in folders)]
        needs += [(r, f"required by {what}", False) for r in facts.requires]
        for need, why, lineage in needs:
            if need is None or need not in folders or (lineage and need in expired):
                continue
            reasons = keep.setdefault(need, [])
            if not reasons:
                queue.append((need, folders[need], f"kept {need}"))
            if why not in reasons:
                reasons.append(why)


# --- DVC outputs in pointers and lock files (pure) --------------------------------------------

_FIELD = re.compile(r"(- |  )(md5|size|nfiles|hash|path): ([^'\"#{}\[\]&*!|>%@`]*)")


def pointer_outs(data: bytes) -> list[tuple[str, int, str]]:
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
    doc = _yaml(text)
    parsed = doc.get("outs") if isinstance(doc, dict) else None
    return _outs([o for o in parsed if isinstance(o, dict)] if isinstance(parsed, list) else [])


def lock_outs(data: bytes) -> list[tuple[str, int, str]]:
    """(object id, size, path) of every stage output a `dvc.lock` records; unreadable: none.
    Paths are relative to the lock file's folder, as DVC resolves them."""
    doc = _yaml(data.decode("utf-8", "replace"))
    if not isinstance(doc, dict):
        return []
    stages = doc.get("stages") if "stages" in doc else doc  # DVC 1's lock files: no `stages:`
    found: list[tuple[str, int, str]] = []
    for stage in stages.values() if isinstance(stages, dict) else []:
        outs = stage.get("outs") if isinstance(stage, dict) else None
        if isinstance(outs, list):
            found += _outs(o for o in outs if isinstance(o, dict))
    return found


def _yaml(text: str) -> Any:
    try:
        return parse_yaml(text, "DVC file")
    except ArtregError:  # a broken file references nothing DVC could fetch either
        return None


def _outs(outs: Iterable[Mapping[str, Any]]) -> list[tuple[str, int, str]]:
    found = []
    for out in outs:
        md5, size = str(out.get("md5", "")), str(out.get("size") or 0)
        if _MD5.match(md5) and size.isdigit():
            found.append((md5, int(size), str(out.get("path", ""))))
    return found


# --- gathering the inventory (git, the DVC cache, the remote) ----------------------------------


@dataclass(frozen=True)
class _Tagged:
    folder: StageDir
    promoted: int  # time of its first promoting tag
    commit: str  # that tag's commit
    source: str | None  # the `source:` folder of the tag message, when it names one
    requires: tuple[str, ...]  # the production folders of the versions it requires


def _releases(registry: Registry) -> dict[tuple[str, str], str]:
    """(name, version) -> the production folder its registration tag promoted."""
    return {
        (e.name, e.version): e.folder.relpath
        for artifact in registry.artifacts.values()
        for e in artifact.events
        if e.action is Action.REGISTER and e.version and e.folder is not None
    }


def _tagged_folders(
    registry: Registry, releases: Mapping[tuple[str, str], str]
) -> dict[str, _Tagged]:
    """Every folder a tag promoted, with its first promotion."""
    found: dict[str, _Tagged] = {}
    for artifact in registry.artifacts.values():
        for e in artifact.events:  # oldest first
            if e.promotes and e.folder is not None and e.folder.relpath not in found:
                src = StageDir.parse(e.source) if e.source else None
                needs = tuple(
                    releases[(r.name, r.version)]
                    for r in e.requires
                    if (r.name, r.version) in releases
                )
                found[e.folder.relpath] = _Tagged(
                    e.folder, e.timestamp, e.commit, src.relpath if src else None, needs
                )
    return found


def _owner(path: str, tagged: Mapping[str, Any]) -> str | None:
    folder = StageDir.parse(path)
    return folder.relpath if folder is not None and folder.relpath in tagged else None


def _metadata_of(path: str) -> StageDir | None:
    """The stage folder whose own metadata.json `path` is, else None."""
    folder = StageDir.parse(path)
    return folder if folder is not None and path == f"{folder.relpath}/metadata.json" else None


def _needs(
    doc: Any, folder: StageDir, releases: Mapping[tuple[str, str], str]
) -> tuple[str | None, tuple[str, ...]]:
    """The source folder and required production folders a metadata.json names."""
    if not isinstance(doc, dict):
        return None, ()
    src = doc.get("source")
    source = None
    if isinstance(src, dict) and src.get("stage") in STAGES and src.get("id"):
        source = StageDir(str(src["stage"]), folder.name, str(src["id"])).relpath
    requires = doc.get("requires")
    needs = tuple(
        releases[key]
        for r in (requires if isinstance(requires, list) else [])
        if isinstance(r, dict) and (key := (str(r.get("name")), str(r.get("version")))) in releases
    )
    return source, needs


def collect(
    root: Path, registry: Registry, listing: Callable[[str], bytes | None] | None = None
) -> Inventory:
    """Every `.dvc` pointer and `dvc.lock` at any commit a ref reaches, in the index and in the
    work tree, with the `.dir` listings they name (cache first, else `listing`, usually the
    remote), and the lineage and requirements of untagged promotions.

    Two `git cat-file --batch` calls: the pointers, lock files and metadata (of untagged
    folders, and of folders whose tag does not name their source), then the manifests of
    folders with a `.dir` output (the sizes of the files it lists)."""
    releases = _releases(registry)
    tagged = _tagged_folders(registry, releases)
    pairs = gitread.pointer_blobs(root, HISTORY_PATTERNS)
    metas: dict[str, set[str]] = {}  # untagged folder -> its metadata.json blobs
    files: list[tuple[str, str]] = []
    for path, blob in pairs:
        folder = _metadata_of(path) if path.endswith("/metadata.json") else None
        if folder is not None:
            if folder.relpath not in tagged:
                metas.setdefault(folder.relpath, set()).add(blob)
        elif path.endswith(".dvc") or path.rsplit("/", 1)[-1] == DVC_LOCK:
            files.append((path, blob))
    meta_specs = {
        rel: f"{t.commit}:{rel}/metadata.json"
        for rel, t in tagged.items()
        if t.source is None and t.folder.stage != "raw"
    }
    wanted = {b for _, b in files} | {b for bs in metas.values() for b in bs}
    blobs = gitread.read_blobs(root, sorted(wanted) + sorted(meta_specs.values()))
    texts: list[tuple[str, bytes]] = [(path, blobs.get(blob) or b"") for path, blob in files]
    changed = gitread.changed_files(root, "*.dvc") + [
        p for p in gitread.changed_files(root, f"*{DVC_LOCK}") if p.rsplit("/", 1)[-1] == DVC_LOCK
    ]
    for rel in changed:
        try:
            texts.append((rel, (root / rel).read_bytes()))
        except OSError:
            continue  # deleted from the work tree: git's copy is in `pairs`
    sources = {rel: t.source for rel, t in tagged.items()}
    for rel, spec in meta_specs.items():
        sources[rel] = _needs(_json(blobs.get(spec)), tagged[rel].folder, releases)[0]
    untagged: dict[str, FolderFacts] = {}
    for rel, found in metas.items():
        folder = StageDir.parse(rel)
        assert folder is not None
        needs = [_needs(_json(blobs.get(b)), folder, releases) for b in sorted(found)]
        source = next((s for s, _ in needs if s is not None), None)
        requires = tuple(sorted({r for _, rs in needs for r in rs}))
        untagged[rel] = FolderFacts(folder, 0, source, {}, requires)

    parsed: dict[tuple[bool, bytes], list[tuple[str, int, str]]] = {}
    refs: list[tuple[str | None, str, str, int, str]] = []  # owner, path, oid, size, out path
    for path, text in texts:
        lock = not path.endswith(".dvc")
        outs = parsed.get((lock, text))
        if outs is None:
            outs = parsed[(lock, text)] = lock_outs(text) if lock else pointer_outs(text)
        # A pipeline's output is the pipeline's, wherever it is written: never a folder's own.
        owner = None if lock else _owner(path, tagged)
        refs += [(owner, path, oid, size, out) for oid, size, out in outs]
    with_dirs = sorted({o for o, _, oid, _, _ in refs if o is not None and oid.endswith(".dir")})
    manifests = gitread.read_blobs(
        root, [f"{tagged[rel].commit}:{rel}/manifest.json" for rel in with_dirs]
    )
    sizes: dict[str, dict[str, int]] = {}
    for rel in with_dirs:
        listed = (_json(manifests.get(f"{tagged[rel].commit}:{rel}/manifest.json")) or {}).get(
            "files"
        )
        sizes[rel] = {
            k: int(v.get("size", 0))
            for k, v in (listed if isinstance(listed, dict) else {}).items()
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
                cache.append(dvccache.cache_dir(root))
            data = dvccache.cached_bytes(cache[0], oid)
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
        rel: FolderFacts(t.folder, t.promoted, sources[rel], objects[rel], t.requires)
        for rel, t in tagged.items()
    }
    return Inventory(folders, frozenset(others), read_retired(root), unreadable, untagged)


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


# --- the refs of every git remote, at sweep time -----------------------------------------------

REMOTE_REFS = "refs/artreg/gc"  # a private mirror of each remote's refs, read by `git log --all`


def fetch_remote_refs(root: Path) -> list[str]:
    """Mirror every git remote's branches and tags under `refs/artreg/gc/<remote>/` (pruned, so
    a branch deleted there stops protecting anything): the sweep then sees every ref the
    remotes hold now, a release another clone pushed since the plan included. The user's own
    branches and tags are left alone. Returns the remotes read."""
    remotes = gitrun.git(root, "remote").split()
    for remote in remotes:
        mirror = f"{REMOTE_REFS}/{remote}"
        try:
            gitrun.git(
                root,
                "fetch",
                "--quiet",
                "--prune",
                "--no-tags",
                "--no-write-fetch-head",
                remote,
                f"+refs/heads/*:{mirror}/heads/*",
                f"+refs/tags/*:{mirror}/tags/*",
            )
        except ToolError as exc:
            found = gitrun.unreachable(remote, exc)
            if isinstance(found, RemoteUnavailable):
                raise found from exc
            raise InputError(
                f"git remote {remote}: cannot read its refs, so gc deleted nothing "
                f"({exc.message.splitlines()[-1]})",
                hint=f"fix its URL (`git remote -v`) or remove it (`git remote remove {remote}`)",
            ) from exc
    return remotes


def retired_on_remotes(root: Path) -> set[str]:
    """The folders `artifacts/retired.json` names at any branch head of the git remotes as
    last fetched (`fetch_remote_refs`): the tombstones other clones can read."""
    refs = gitrun.git(root, "for-each-ref", "--format=%(refname)", REMOTE_REFS).split()
    specs = [f"{ref}:{RETIRED_JSON}" for ref in refs if "/heads/" in ref]
    found: set[str] = set()
    for spec, data in gitread.read_blobs(root, specs).items():
        with contextlib.suppress(ArtregError):
            found.update(parse_retired(data, spec))
    return found


# --- what DVC itself is told to skip -------------------------------------------------------------

IGNORE_BEGIN = (
    "# artreg gc: stage folders retired under the retention policy (artifacts/retired.json)"
)
IGNORE_NOTE = "# Their DVC objects are deleted; DVC skips their pointers, so `dvc pull` works."
IGNORE_END = "# end of artreg gc's retired folders"


def dvcignore_with(text: str, folders: Iterable[str]) -> str:
    """`.dvcignore` text with artreg's block of retired folders replaced by `folders`; the
    user's own lines stay as they are."""
    lines = text.splitlines()
    if IGNORE_BEGIN in lines:
        start = lines.index(IGNORE_BEGIN)
        end = lines.index(IGNORE_END, start) if IGNORE_END in lines[start:] else len(lines) - 1
        lines = lines[:start] + lines[end + 1 :]
    while lines and not lines[-1].strip():
        lines.pop()
    block = [IGNORE_BEGIN, IGNORE_NOTE, *(f"/{rel}/" for rel in sorted(folders)), IGNORE_END]
    return "\n".join([*lines, *([""] if lines else []), *block]) + "\n"
