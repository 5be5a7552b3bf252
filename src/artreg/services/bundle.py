"""`artreg bundle create` and `artreg bundle import`: releases carried to a registry that cannot
reach this one (an air-gapped site), with the history that makes them trustworthy.

The bundle (layout in `artreg.artifacts.bundlefile`) holds a git bundle of the releases'
history, so tags, commits, stage folders, lineage and signatures travel as git wrote them, and
exactly the DVC objects of the releases and of their requirement closure. Import checks
everything before it writes anything: each member against SHA256SUMS, the git bundle with `git
bundle verify` and a fetch into a private scratch repository, each DVC object against the
pointers and manifests committed at the bundled commits (md5 as DVC names objects, sha256 as
artreg's manifest records them), model signatures where a trust policy requires them. Only then
are the tags and commits fetched, the branch fast-forwarded, and the objects added to the DVC
cache and remote.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.dvc import repo as dvcrepo
from artreg.adapters.files import replacing
from artreg.adapters.git import history as githistory
from artreg.adapters.git import read as gitread
from artreg.adapters.git import remote as gitremote
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.adapters.hashing import FileDigest
from artreg.artifacts import bundlefile
from artreg.artifacts.bundlefile import HISTORY, INDEX, SUMS, Index, Member, Release
from artreg.artifacts.reachability import pointer_outs
from artreg.artifacts.signing.verify import check_folder, committed_signature
from artreg.artifacts.stagebytes import stage_file
from artreg.errors import ArtregError, InputError, IntegrityError, NotFoundError
from artreg.publishing.release_verify import check_tip
from artreg.reading import bundlecheck, outputs
from artreg.reading.resolve import Resolved
from artreg.registry import state
from artreg.registry.policy import trust_at
from artreg.registry.tags import parse_spec, parse_tag
from artreg.sources.clone_fetch import resolve, resolve_with_requirements

Progress = Callable[[int], None] | None
LOCAL_STORAGE = ".dvc-storage"  # the folder `artreg init` makes the local DVC remote in


@dataclass(frozen=True)
class _Object:
    """One DVC object to bundle: its bytes (a file, or a `.dir` listing) and what they must be."""

    oid: str
    sha256: str
    size: int
    where: str  # the release file (or listing) it holds, for messages
    path: Path | None = None
    data: bytes | None = None


@dataclass
class Created:
    """What `bundle create` wrote."""

    path: Path
    releases: list[str]
    tags: int
    objects: int
    bytes: int


@dataclass
class Imported:
    """What `bundle import` added to the receiving registry."""

    root: Path
    releases: list[str]
    tags_added: list[str] = field(default_factory=list)
    objects_added: int = 0
    branch: str | None = None
    moved: tuple[str, str] | None = None  # the branch fast-forwarded from, to
    notes: list[str] = field(default_factory=list)


# --- create ---------------------------------------------------------------------------------


def _resolve(root: Path, specs: Iterable[str]) -> dict[str, Resolved]:
    """Each NAME@vX.Y.Z and its requirement closure, by tag, from one registry state."""
    registry = state.load(root, folders="none")
    found: dict[str, Resolved] = {}
    for spec in specs:
        parsed = parse_spec(spec)
        if parsed.version is None:
            raise InputError(
                f"{spec!r}: a bundle carries released versions",
                hint="name each as NAME@vX.Y.Z, e.g. encoder@v1.2.0",
            )
        closure = resolve_with_requirements(
            root, parsed.name, version=parsed.version, registry=registry
        )
        for dep in closure.values():
            # Named by its version tag, however the closure reached it (a stage tag).
            key = f"{dep.name}@v{dep.version}"
            if key not in found:
                found[key] = (
                    dep
                    if dep.tag == key
                    else resolve(root, dep.name, version=dep.version, registry=registry)
                )
    return found


def _folder_outs(repo: Path, r: Resolved) -> list[tuple[str, str]]:
    """(object id, path relative to the folder) of each DVC output of a release's pointers,
    as committed at its tag's commit."""
    listing = gitrun.git(
        repo, "ls-tree", "-r", "-z", "--name-only", r.commit, "--", r.folder.relpath
    )
    pointers = [p for p in listing.split("\0") if p.endswith(".dvc")]
    blobs = gitread.read_blobs(repo, [f"{r.commit}:{p}" for p in pointers])
    outs = []
    for p in pointers:
        base = os.path.dirname(p)[len(r.folder.relpath) + 1 :]
        for oid, _, out in pointer_outs(blobs.get(f"{r.commit}:{p}") or b""):
            outs.append((oid, f"{base}/{out}" if base else out))
    return outs


def _expected(r: Resolved, rel: str) -> FileDigest:
    if rel not in r.files:
        raise IntegrityError(
            f"{r.folder.relpath}/{rel}: DVC tracks it, but its manifest does not list it",
            hint="the folder was altered after its promotion; run `artreg verify`",
        )
    return r.files[rel]


def _objects(root: Path, releases: Iterable[Resolved]) -> dict[str, _Object]:
    """Every DVC object the releases' pointers name: fetched into the cache when absent (the
    bytes are hashed once, while written into the bundle)."""
    found: dict[str, _Object] = {}
    cache = dvccache.cache_dir(root)
    for r in releases:
        for oid, rel in _folder_outs(root, r):
            where = f"{r.folder.relpath}/{rel}"
            if not oid.endswith(".dir"):
                digest = _expected(r, rel)
                path = stage_file(root, r.folder, rel, digest, dvc=True, check=False)
                found[oid] = _Object(oid, digest.sha256, digest.size, where, path=path)
                continue
            inner = {k: d for k, d in r.files.items() if k.startswith(rel + "/")}
            paths = {
                k: stage_file(root, r.folder, k, d, dvc=True, check=False) for k, d in inner.items()
            }
            data = dvccache.cached_bytes(cache, oid)
            if data is None:
                raise NotFoundError(f"{where}: DVC's listing {oid} is not in the cache")
            entries = dvccache.dir_entries(data, oid, where)
            sha = hashlib.sha256(data).hexdigest()
            found[oid] = _Object(oid, sha, len(data), where, data=data)
            for inner_rel, md5 in entries.items():
                key = f"{rel}/{inner_rel}"
                digest = _expected(r, key)
                found[md5] = _Object(
                    md5, digest.sha256, digest.size, f"{r.folder.relpath}/{key}", path=paths[key]
                )
    return found


def create_bundle(
    root: Path, specs: list[str], out: Path, progress: Progress = None, branch: str | None = None
) -> Created:
    """Write the bundle of `specs` (NAME@vX.Y.Z) and their requirement closure to `out`, as
    the default branch's history (or `branch`'s, when the releases are on it only)."""
    out = out.absolute()
    bundlecheck.check_output(out)
    outputs.check(out.parent, [out], root)  # not where `git add -A` would commit it
    releases = _resolve(root, specs)
    newest = bundlecheck.newest(root, (r.commit for r in releases.values()))
    default = githistory.default_branch(root) or gitrun.current_branch(root) or "main"
    branch, ref = bundlecheck.home_branch(root, newest, default, branch)
    tip = bundlecheck.index_tip(root, newest, gitrun.git(root, "rev-parse", ref).strip())
    names = bundlecheck.carried_names(root, tip, (r.name for r in releases.values()))
    refs = gitrun.git(
        root,
        "for-each-ref",
        "--merged",
        tip,
        "--format=%(refname:strip=2) %(objectname)",
        "refs/tags",
    )
    tags = {
        tag: oid
        for tag, _, oid in (line.partition(" ") for line in refs.splitlines())
        if (parsed := parse_tag(tag)) is not None and parsed.name in names
    }
    objects = _objects(root, releases.values())
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    history = tmp.with_suffix(".git-bundle")
    try:
        with replacing(out, tmp):
            gitrun.git(
                root,
                "bundle",
                "create",
                "--quiet",
                str(history),
                *(f"refs/tags/{t}" for t in sorted(tags)),
                tip,  # no ref: its commit travels in the pack (past the tags after a rollback)
            )
            with history.open("rb") as fh:
                history_sha = hashlib.file_digest(fh, "sha256").hexdigest()
            sizes = {HISTORY: history.stat().st_size}
            sums = {HISTORY: history_sha}
            for o in objects.values():
                sizes[bundlefile.object_member(o.oid)] = o.size
                sums[bundlefile.object_member(o.oid)] = o.sha256
            index = Index(
                releases=tuple(
                    Release(r.name, r.version or "", r.tag, r.commit) for r in releases.values()
                ),
                tip=tip,
                branch=branch,
                tags=tags,
                sizes=sizes,
                source=str(root),
                created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            index_data = (bundlefile.dumps(index.to_json())).encode()
            sums[INDEX] = hashlib.sha256(index_data).hexdigest()
            with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
                bundlefile.add_bytes(tar, SUMS, bundlefile.sums_text(sums).encode())
                bundlefile.add_bytes(tar, INDEX, index_data)
                with history.open("rb") as fh:
                    tar.addfile(bundlefile.member_info(HISTORY, sizes[HISTORY]), fh)
                for o in sorted(objects.values(), key=lambda o: o.oid):
                    name = bundlefile.object_member(o.oid)
                    if o.data is not None:
                        bundlefile.add_bytes(tar, name, o.data)
                        continue
                    assert o.path is not None
                    info = bundlefile.member_info(name, o.size)
                    with o.path.open("rb") as fh:
                        if os.fstat(fh.fileno()).st_size != o.size:
                            raise IntegrityError(
                                f"{o.where}: {o.path} is not the {o.size} bytes its manifest records",
                                hint="run `artreg verify` in the registry",
                            )
                        reader = bundlefile.HashingReader(fh, progress)
                        tar.addfile(info, reader)
                    if reader.sha.hexdigest() != o.sha256:
                        raise IntegrityError(
                            f"{o.where}: sha256 is {reader.sha.hexdigest()}, the manifest records "
                            f"{o.sha256}",
                            hint="the bytes were altered after the release; run `artreg verify`",
                        )
    finally:
        history.unlink(missing_ok=True)
    return Created(
        out,
        sorted(r.tag for r in releases.values()),
        len(tags),
        len(objects),
        out.stat().st_size,
    )


# --- import: everything checked in a private scratch repository first ------------------------

_REMAKE = "make the bundle again with `artreg bundle create`, and copy it whole"


def _scratch(tmp: Path, root: Path | None) -> Path:
    """A bare repository in `tmp` to unbundle into; it borrows the receiving repository's
    objects (read-only, through git's alternates), so history both share need not travel."""
    scratch = tmp / "scratch.git"
    gitrun.git(tmp, "init", "--quiet", "--bare", str(scratch))
    if root is not None:
        alternates = scratch / "objects" / "info" / "alternates"
        alternates.write_text(f"{gitrun.common_dir(root) / 'objects'}\n", encoding="utf-8")
    return scratch


def _check_history(scratch: Path, history: Path, index: Index) -> None:
    """git's own verdict on the git bundle, then its refs against the index: every tag the
    index names, on the same object, with its whole history (git fetch checks connectivity)."""
    try:
        gitrun.git(scratch, "bundle", "verify", str(history))
    except ArtregError as exc:
        detail = exc.message.split(": ", 1)[-1].strip().replace("error: ", "").replace("\n", " ")
        if "prerequisite" not in detail:
            raise InputError(
                f"bundle member {HISTORY}: not a git bundle ({detail})", hint=_REMAKE
            ) from None
        raise IntegrityError(
            f"bundle member {HISTORY}: the history of its tags is not all in it, nor here "
            f"({detail})",
            hint=_REMAKE,
        ) from None
    heads = gitrun.git(scratch, "bundle", "list-heads", str(history))
    refs = {ref: oid for oid, _, ref in (line.partition(" ") for line in heads.splitlines())}
    for tag, oid in sorted(index.tags.items()):
        if refs.get(f"refs/tags/{tag}") != oid:
            raise IntegrityError(
                f"tag {tag}: {INDEX} names it, but the git bundle does not contain it"
                + (" on that object" if f"refs/tags/{tag}" in refs else ""),
                hint=_REMAKE,
            )
    foreign = sorted(t for t in index.tags if parse_tag(t) is None)
    if foreign:
        raise InputError(f"{INDEX}: tag {foreign[0]!r} is not a registry tag", hint=_REMAKE)
    try:
        gitrun.git(scratch, "check-ref-format", "--branch", index.branch)
    except ArtregError:
        raise InputError(
            f"{INDEX}: /branch {index.branch!r} is no branch name", hint=_REMAKE
        ) from None
    extra = sorted(set(refs) - {f"refs/tags/{t}" for t in index.tags})
    if extra:
        raise InputError(f"bundle member {HISTORY}: holds {extra[0]}, not in {INDEX}", hint=_REMAKE)
    specs = [f"refs/tags/{t}:refs/tags/{t}" for t in sorted(index.tags)]
    try:  # git checks that every object the tags reach is there (or here already)
        gitrun.git(scratch, "fetch", "--quiet", "--no-tags", str(history), *specs)
    except ArtregError as exc:
        detail = exc.message.split(": ", 1)[-1].strip().splitlines()[0]
        raise IntegrityError(
            f"bundle member {HISTORY}: its tags' history is not all in it, nor here ({detail})",
            hint=_REMAKE,
        ) from None
    tip = gitrun.git(
        scratch, "rev-parse", "--verify", "--quiet", f"{index.tip}^{{commit}}", check=False
    )
    if tip.strip() != index.tip:
        raise IntegrityError(
            f"{INDEX}: its tip {index.tip[:12]} is not in the git bundle", hint=_REMAKE
        )
    gitrun.git(scratch, "update-ref", "HEAD", index.tip)  # policies are read at HEAD


def _check_file(members: dict[str, Member], r: Resolved, rel: str, oid: str) -> str:
    where = f"{r.folder.relpath}/{rel}"
    member = bundlefile.check_object(members, oid, where, _REMAKE)
    expected = _expected(r, rel)
    if member.sha256 != expected.sha256 or member.size != expected.size:
        raise IntegrityError(
            f"{where}: the bundle's object has sha256 {member.sha256}, the manifest at "
            f"{r.commit[:12]} records {expected.sha256}",
            hint=_REMAKE,
        )
    return bundlefile.object_member(oid)


def _check_releases(
    scratch: Path, index: Index, members: dict[str, Member]
) -> tuple[list[Resolved], set[str]]:
    """Each release as its tag resolves in the scratch repository, its requirement closure in
    the bundle, and every DVC object its committed pointers name, checked against the
    manifest; returns the releases and the object members they use."""
    registry = state.load(scratch, folders="none")
    carried = {(r.name, r.version) for r in index.releases}
    resolved: list[Resolved] = []
    used: set[str] = set()
    for release in index.releases:
        closure = resolve_with_requirements(
            scratch, release.name, version=release.version, registry=registry
        )
        r = closure[release.name]
        if r.tag != release.tag or r.commit != release.commit:
            raise IntegrityError(
                f"{release.tag}: {INDEX} says commit {release.commit[:12]}, the git bundle's "
                f"tag {r.tag} names {r.commit[:12]}",
                hint=_REMAKE,
            )
        for dep in closure.values():
            if (dep.name, dep.version) not in carried:
                raise IntegrityError(
                    f"{release.tag} requires {dep.name}@v{dep.version}, which the bundle does "
                    "not carry",
                    hint=f"bundle it too: artreg bundle create {release.name}@v{release.version} "
                    f"{dep.name}@v{dep.version} -o FILE",
                )
        resolved.append(r)
        for oid, rel in _folder_outs(scratch, r):
            if not oid.endswith(".dir"):
                used.add(_check_file(members, r, rel, oid))
                continue
            where = f"{r.folder.relpath}/{rel}"
            listing = bundlefile.check_object(members, oid, where, _REMAKE)
            used.add(bundlefile.object_member(oid))
            entries = dvccache.dir_entries(listing.path.read_bytes(), oid, where)
            for inner, md5 in entries.items():
                used.add(_check_file(members, r, f"{rel}/{inner}", md5))
    extra = sorted(set(members) - used - {HISTORY})
    if extra:
        raise InputError(
            f"bundle member {extra[0]}: no bundled release's pointers name it", hint=_REMAKE
        )
    return resolved, used


def _check_signatures(scratch: Path, root: Path | None, tip: str, releases: list[Resolved]) -> int:
    """Model signatures where the bundle's trust policy (at its tip) or the receiving
    registry's (at its HEAD) requires them for production; returns the number checked."""
    policies = [(scratch, trust_at(scratch, tip))]
    head = gitrun.head(root) if root is not None else None
    if root is not None and head is not None:
        policies.append((root, trust_at(root, head)))
    checked = 0
    for repo, policy in policies:
        if not policy.requires("production"):
            continue
        for r in releases:
            raw = committed_signature(scratch, r.commit, r.folder.relpath, r.files)
            check_folder(repo, policy, r.folder.relpath, "production", r.files, r.dvc_files, raw)
            checked += 1
    return checked


@dataclass
class _Plan:
    """What import will write to the receiving registry, decided before anything is written."""

    new_tags: list[str]
    move: bool  # check the tip out on the branch (fast-forward, or a new registry)
    note: str | None = None
    head: str | None = None  # the commit the branch was on
    side: tuple[str, str] | None = None  # the bundle's branch, not checked out here: was on


def _plan(root: Path, scratch: Path, index: Index) -> _Plan:
    """The tags to add (one already here on another object is a conflict), and whether the
    current branch fast-forwards to the bundle's tip (it must then have no local changes)."""
    here = gitremote.local_tag_objects(root)
    bundlecheck.check_same_tags(root, scratch, here, index.tags)
    new = [t for t in sorted(index.tags) if t not in here]
    head, branch = gitrun.head(root), gitrun.current_branch(root)
    if branch is not None and branch != index.branch:  # that branch moves, not this one
        old, note = bundlecheck.side_branch(root, scratch, index.tip, index.branch)
        return _Plan(new, False, note, side=None if old is None else (index.branch, old))
    if head is not None and (head == index.tip or gitread.is_ancestor(scratch, index.tip, head)):
        return _Plan(new, move=False)
    bundlecheck.check_attached(root, head, branch, index.tip, index.branch)
    if head is not None and not gitread.is_ancestor(scratch, head, index.tip):
        tip = index.tip[:12]
        why = f"{branch} does not lead to the bundle's tip {tip}; the tags are here, merge {tip}"
        return _Plan(new, move=False, note=f"{why} for the work tree to hold their folders")
    if gitrun.git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise InputError(
            f"{root}: the work tree has uncommitted changes, and the import fast-forwards "
            f"{branch} to {index.tip[:12]}",
            hint="commit or stash them (`git stash`), then import again",
        )
    return _Plan(new, move=True, head=head)


def _add_objects(root: Path, members: dict[str, Member], used: Iterable[str]) -> int:
    """Every bundled object into the DVC cache and the default remote (DVC's object databases,
    so modes, layout and existing objects are DVC's business); returns those new to the cache."""
    dvc = dvcrepo.RegistryDvc.open(root)
    objects = {bundlefile.member_object(m): members[m] for m in used if m != HISTORY}
    added = 0
    for oid, member in sorted((o, m) for o, m in objects.items() if o is not None):
        if not dvc.odb.exists(oid):
            dvc.odb.add(str(member.path), dvc.odb.fs, oid, hardlink=True)
            added += 1
    with dvcremote.open_remote(root) as remote:
        for oid in sorted(o for o in objects if o is not None):
            if not remote.odb.exists(oid):
                remote.odb.add(dvc.odb.oid_to_path(oid), dvc.odb.fs, oid)
    return added


def _write(target: Path, new: bool, history: Path, index: Index, plan: _Plan) -> Imported:
    """The tags and history into the registry (a new one: `git init`, the tip checked out on
    its branch, and its own local DVC remote in `.dvc/config.local`, since the committed
    `.dvc/config` names the source's and the history stays as it was, so that later bundles
    fast-forward it)."""
    storage = None
    if new:
        target.mkdir(parents=True, exist_ok=True)
        gitrun.git(target, "init", "--quiet", f"--initial-branch={index.branch}")
        storage = target.absolute() / LOCAL_STORAGE
    root = gitrun.toplevel(target)
    specs = [f"refs/tags/{t}:refs/tags/{t}" for t in plan.new_tags]
    if specs:
        gitrun.git(root, "fetch", "--quiet", "--no-tags", str(history), *specs)
    result = Imported(root, [r.tag for r in index.releases], plan.new_tags)
    result.notes += [plan.note] if plan.note else []
    result.branch = gitrun.current_branch(root) or index.branch
    if plan.side is not None:  # ("": git refuses if the branch appeared meanwhile)
        gitrun.git(root, "update-ref", f"refs/heads/{plan.side[0]}", index.tip, plan.side[1])
        result.branch, result.moved = plan.side[0], (plan.side[1], index.tip)
    if plan.move:
        before = gitrun.head(root)
        if before is None:
            gitrun.git(root, "checkout", "--quiet", "-B", index.branch, index.tip)
        else:
            gitrun.git(root, "merge", "--quiet", "--ff-only", index.tip)
        result.moved = (before or "", index.tip)
    if storage is not None:
        storage.mkdir(exist_ok=True)
        name = dvcremote.remote_name(root, None) or "local"
        (root / dvcrepo.DVC_DIR / "config.local").write_text(
            f"[core]\n    remote = {name}\n['remote \"{name}\"']\n    url = {storage}\n",
            encoding="utf-8",
        )
        with (gitrun.common_dir(root) / "info" / "exclude").open("a", encoding="utf-8") as fh:
            fh.write(f"/{LOCAL_STORAGE}/\n")
    return result


def _undo(target: Path, new: bool, plan: _Plan) -> None:
    """After a failure while writing: a new registry is removed; a clone loses the tags added
    and returns to the commit it was on (its work tree had no local changes)."""
    if new:
        shutil.rmtree(target, ignore_errors=True)
        return
    with contextlib.suppress(ArtregError):
        gitwrite.delete_tags(target, [t for t in plan.new_tags if gitread.tag_exists(target, t)])
        if plan.move and plan.head is not None:
            gitrun.git(target, "reset", "--quiet", "--keep", plan.head)
        if plan.side is not None:
            name, old = plan.side
            gitrun.git(
                target,
                "update-ref",
                *([f"refs/heads/{name}", old] if old else ["-d", f"refs/heads/{name}"]),
            )


def import_bundle(
    bundle: Path,
    root: Path | None = None,
    init: Path | None = None,
    progress: Progress = None,
    accept_policy: bool = False,
) -> Imported:
    """Check `bundle` whole, then add its tags, history and objects to the registry at `root`
    (a clone of the receiving registry) or to a new registry at `init`. Refused: nothing
    written (InputError: malformed input; IntegrityError: a check failed, or the tip's
    params.yaml loosens this registry's policy and not `accept_policy`)."""
    if (root is None) == (init is None):
        raise InputError("give a registry or --init DIR, not both", hint="see --help")
    if init is not None and init.exists() and (not init.is_dir() or any(init.iterdir())):
        raise InputError(f"--init {init}: exists and is not empty", hint="name a new folder")
    if not bundle.is_file():
        what = "not a bundle (not a regular file)" if bundle.exists() else "no such file"
        raise InputError(f"{bundle}: {what}", hint="pass the file `bundle create` wrote")
    if init is not None:
        bundlecheck.check_new_registry(init)
    # Extracted beside the DVC cache where it can be (.dvc/tmp, or beside the new registry),
    # so that each object is linked into the cache rather than copied a second time.
    near = root / dvcrepo.DVC_DIR / "tmp" if root else Path(os.path.abspath(str(init))).parent
    with tempfile.TemporaryDirectory(
        ".tmp", ".artreg-bundle-", near if near.is_dir() else None
    ) as tmp:
        index, members = bundlefile.read_members(bundle, Path(tmp) / "members", progress)
        if HISTORY not in members:
            raise InputError(f"bundle: no member {HISTORY}", hint=_REMAKE)
        history = members[HISTORY].path
        scratch = _scratch(Path(tmp), root)
        _check_history(scratch, history, index)
        releases, used = _check_releases(scratch, index, members)
        bundlecheck.check_carried(scratch, index.tip, [(r.name, r.commit) for r in releases])
        _check_signatures(scratch, root, index.tip, releases)
        check_tip(scratch, Path(tmp), index.tip, (r.folder.relpath for r in releases))
        if root is not None:
            plan = _plan(root, scratch, index)
            if plan.move and plan.head is not None:  # its params.yaml becomes HEAD's
                plan.note = bundlecheck.check_policy(scratch, plan.head, index.tip, accept_policy)
            bundlecheck.check_remote(root)
        else:
            plan = _Plan(sorted(index.tags), move=True)
        # Everything is checked: from here on, write (undone if writing fails half-way).
        target = init if init is not None else root
        assert target is not None
        try:
            result = _write(target, init is not None, history, index, plan)
            result.objects_added = _add_objects(result.root, members, used)
        except BaseException:
            _undo(target, init is not None, plan)
            raise
    return result
