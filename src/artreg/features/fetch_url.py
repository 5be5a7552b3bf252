"""A registry named by URL, read without a clone, its models fetched into the consumer cache.

What crosses the network, and nothing else:

1. one `git ls-remote --tags URL` (the name's tags); when they are what this machine saw last
   time, the last resolution stands and steps 2-3 are skipped;
2. the tag objects that changed, with their commits (`--depth=1 --filter=tree:0`), into a bare
   cache repository; the state is then built by the same code as in a clone (registry.py);
3. for the one commit that matters, the trees along the paths read (`--filter=tree:0`, one
   fetch per level; the stage folder's own subtree with `--filter=blob:none`), then in one
   fetch the few blobs read: the folder's manifest and metadata, its `.dvc` pointers and
   `.dvc/config`;
4. from the DVC remote that `.dvc/config` names (or `remote=`), the model's objects only,
   streamed into the cache and verified against the manifest's sha256 as they arrive.

A warm call is one `ls-remote` and a stat per file (verification records); offline, or from a
lock file, it is the stat alone (a lock file's call asks the registry at most every few minutes
whether its pin was retracted since: pins.py). A version is held to the bytes this cache served
before, a folder gc retired is refused as retired (pins.py), and a file altered in the cache is
fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from artreg.adapters.git import remote as gitremote
from artreg.adapters.hashing import FileDigest, ProgressFn
from artreg.consumer_cache import Cache, registry_key
from artreg.errors import InputError, IntegrityError, NotFoundError
from artreg.location import normalize_url
from artreg.registry.layout import PARAMS_FILE, SIGNATURE_FILE, StageDir, model_files, model_target
from artreg.registry.tags import validate_name, validate_semver, validate_stage

if TYPE_CHECKING:
    from artreg.adapters.dvcrepo import RemoteReader
    from artreg.features.queries import ArtifactSummary
    from artreg.registry.records import Event, Registry
    from artreg.registry.trust import TrustPolicy

# git, DVC and the registry state are imported where they are used: a warm call that finds its
# answer in the cache imports none of them.

ENV_OFFLINE = "ARTREG_OFFLINE"
VERIFY_MODES = ("auto", "full")


def offline_mode(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def check_verify(verify: str) -> bool:
    """`verify="auto"` trusts unchanged files' records; `"full"` rehashes. Returns full."""
    if verify not in VERIFY_MODES:
        raise InputError(f"verify={verify!r} is not a mode", hint="use 'auto' or 'full'")
    return verify == "full"


def spec_of(name: str, stage: str | None, version: str | None) -> str:
    return f"{name}@v{version.removeprefix('v')}" if version else f"{name}#{stage or 'production'}"


# --- what a name resolved to -----------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One resolution of a name in a registry: the tag, commit, folder and every file's sha256.
    Stored as the last answer (offline mode) and as a lock-file entry."""

    registry: str
    name: str
    stage: str | None
    version: str | None
    tag: str
    commit: str
    folder: str
    primary: str
    files: dict[str, FileDigest]
    dvc_files: frozenset[str]
    fingerprint: str = ""  # the name's tags (ls-remote) when it was resolved

    @property
    def spec(self) -> str:
        return f"{self.name}#{self.stage}" if self.stage else spec_of(self.name, None, self.version)

    def selected(self) -> list[str]:
        """What a consumer gets: the model file(s) and the metadata, nothing else."""
        chosen = self.model_files()
        return chosen + (["metadata.json"] if "metadata.json" in self.files else [])

    def model_files(self) -> list[str]:
        return model_files(self.primary, self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "name": self.name,
            "stage": self.stage,
            "version": self.version,
            "tag": self.tag,
            "commit": self.commit,
            "folder": self.folder,
            "model": self.primary,
            "files": {
                rel: {
                    "sha256": d.sha256,
                    "size": d.size,
                    **({"dvc": True} if rel in self.dvc_files else {}),
                }
                for rel, d in sorted(self.files.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], fingerprint: str = "") -> Pin:
        files = data["files"]
        return cls(
            registry=str(data["registry"]),
            name=str(data["name"]),
            stage=data.get("stage"),
            version=data.get("version"),
            tag=str(data["tag"]),
            commit=str(data["commit"]),
            folder=str(data["folder"]),
            primary=str(data["model"]),
            files={rel: FileDigest(str(e["sha256"]), int(e["size"])) for rel, e in files.items()},
            dvc_files=frozenset(rel for rel, e in files.items() if e.get("dvc")),
            fingerprint=fingerprint,
        )


def _fingerprint(tags: Mapping[str, tuple[str, str]]) -> str:
    return hashlib.sha256(
        "".join(f"{t} {obj}\n" for t, (obj, _) in sorted(tags.items())).encode()
    ).hexdigest()


# --- the registry's git side -----------------------------------------------------------------


class RemoteRegistry:
    """A registry URL and its bare, shallow, partial repository in the cache."""

    def __init__(self, url: str | os.PathLike[str], cache: Cache) -> None:
        self.url = normalize_url(url)
        self.cache = cache
        self.key = registry_key(self.url)
        self.repo = cache.git_dir(self.key)

    def remote_tags(self, names: Sequence[str] | None) -> dict[str, tuple[str, str]]:

        return gitremote.ls_remote_tags(self.url, _tag_patterns(names or ()))

    def remote_refs(self, names: Sequence[str]) -> tuple[dict[str, tuple[str, str]], str]:
        """The names' tags and the commit of the registry's HEAD ("" when it has none), from
        one `git ls-remote`: HEAD's params.yaml is the trust policy, as HEAD's is in a clone."""

        tags, head = gitremote.ls_remote_head(self.url, _tag_patterns(names))
        return tags, head or ""

    def state(
        self, names: Sequence[str] | None, tags: Mapping[str, tuple[str, str]] | None = None
    ) -> Registry:
        """The read model (of `names`, or all), built from the tags the URL has now, by the same
        code as in a clone: changed tag objects fetched, vanished ones dropped, one for-each-ref.
        Folders are left unresolved (see `folders`)."""
        from artreg import state

        tags = self.remote_tags(names) if tags is None else tags
        with self.cache.lock("git", self.key):
            gitremote.init_cache_repo(self.repo, self.url)
            local = gitremote.local_tag_objects(self.repo, names)
            changed = sorted(t for t, (obj, _) in tags.items() if local.get(t) != obj)
            gone = sorted(t for t in local if t not in tags)
            gitremote.fetch_objects(
                self.repo,
                self.url,
                [f"+refs/tags/{t}:refs/tags/{t}" for t in changed],
                filter_spec="tree:0",
                depth=1,
            )
            gitremote.set_tags(self.repo, {}, gone)
        return state.load(self.repo, names, folders="none")

    def folders(self, events: Sequence[Event]) -> None:
        """Fill in the folders of `events` whose tags do not name one (gto, Studio wrote them):
        fetch dvc.yaml at their commits, all at once, then read it as a clone does."""
        from artreg import state

        pending = [e for e in events if e.needs_dvc_yaml]
        if pending:
            self.files_at_commits(sorted({e.commit for e in pending}), ["dvc.yaml"])
            state.resolve_folders(self.repo, pending)

    # --- reading files of a commit, fetching only what is read -----------------------------

    def _objects(
        self, oids: Sequence[str], filter_spec: str, depth: int | None = None
    ) -> dict[str, bytes]:
        """Objects by id, fetched first when the cache repo lacks them."""

        wanted = list(dict.fromkeys(oids))
        found = gitremote.read_objects(self.repo, wanted)
        missing = [o for o in wanted if o not in found]
        if missing:
            with self.cache.lock("git", self.key):
                gitremote.fetch_objects(
                    self.repo, self.url, missing, filter_spec=filter_spec, depth=depth
                )
            found.update(gitremote.read_objects(self.repo, missing))
        lost = [o for o in wanted if o not in found]
        if lost:
            raise NotFoundError(
                f"{self.url} did not send the objects {', '.join(o[:12] for o in lost)}",
                hint="the registry may have been rewritten; check the URL and run again",
            )
        return {o: found[o][1] for o in wanted}

    def files_at(
        self, commit: str, paths: Sequence[str], deep: Sequence[str] = ()
    ) -> dict[str, bytes]:
        """The bytes of those `paths` that exist at `commit` (see `files_at_commits`)."""
        return self.files_at_commits([commit], paths, deep)[commit]

    def files_at_commits(
        self, commits: Sequence[str], paths: Sequence[str], deep: Sequence[str] = ()
    ) -> dict[str, dict[str, bytes]]:
        """For each commit, the bytes of those `paths` that exist there (see `files_of`)."""
        return self.files_of({c: paths for c in commits}, deep)

    def files_of(
        self, wanted: Mapping[str, Sequence[str]], deep: Sequence[str] = ()
    ) -> dict[str, dict[str, bytes]]:
        """For each commit, the bytes of those of its `wanted` paths that exist there. Trees are
        fetched one level at a time along the paths, for every commit at once (folders in `deep`
        with their whole subtree), then every blob in one fetch."""

        commits = list(wanted)
        with self.cache.lock("git", self.key):
            gitremote.init_cache_repo(self.repo, self.url)
        heads = self._objects(commits, "tree:0", depth=1)
        # (commit, folder) -> tree id, and -> its entries: name -> (mode, id)
        trees = {
            (c, ""): heads[c].split(b"\n", 1)[0].removeprefix(b"tree ").decode() for c in commits
        }
        entries: dict[tuple[str, str], dict[str, tuple[bytes, str]]] = {}
        by_depth: dict[int, set[tuple[str, str]]] = {}
        for commit, paths in wanted.items():
            for path in paths:
                parts = path.split("/")[:-1]
                for i in range(len(parts) + 1):
                    by_depth.setdefault(i, set()).add((commit, "/".join(parts[:i])))
        for depth in sorted(by_depth):
            level = sorted(key for key in by_depth[depth] if key in trees)
            for whole in (False, True):
                group = [
                    key
                    for key in level
                    if whole == any(key[1] == x or key[1].startswith(f"{x}/") for x in deep)
                ]
                raw = self._objects([trees[k] for k in group], "blob:none" if whole else "tree:0")
                for commit, folder in group:
                    listing = entries[(commit, folder)] = _parse_tree(raw[trees[(commit, folder)]])
                    for child, (mode, oid) in listing.items():
                        if mode == b"40000":
                            trees[(commit, f"{folder}/{child}" if folder else child)] = oid
        blobs: dict[tuple[str, str], str] = {}
        for commit, paths in wanted.items():
            for path in paths:
                folder, _, base = path.rpartition("/")
                entry = entries.get((commit, folder), {}).get(base)
                if entry is not None and entry[0] != b"40000":
                    blobs[(commit, path)] = entry[1]
        data = self._objects(sorted(set(blobs.values())), "blob:none")
        found: dict[str, dict[str, bytes]] = {c: {} for c in commits}
        for (commit, path), oid in blobs.items():
            found[commit][path] = data[oid]
        return found

    # --- resolving a name ------------------------------------------------------------------

    def resolve(
        self,
        name: str,
        stage: str | None,
        version: str | None,
        registry: Registry,
        fingerprint: str,
        head: str | None = None,
    ) -> Pin:
        """What `name` resolves to (GTO's rules, by the code a clone uses), with its manifest;
        model.sig, and params.yaml at `head` when its trust policy is to be read, come in the
        same fetches (the signature check reads them next)."""
        from artreg.features import fetch

        event, _, _ = fetch._event_for(registry, name, stage if not version else None, version)
        self.folders([event])
        if event.folder is not None:
            folder = event.folder.relpath
            wanted = {event.commit: [f"{folder}/manifest.json", f"{folder}/{SIGNATURE_FILE}"]}
            if head and self.trust_record(head) is None:
                wanted.setdefault(head, []).append(PARAMS_FILE)
            self.files_of(wanted, deep=[folder])
        resolved = fetch.resolve(
            self.repo, name, stage=None if version else stage, version=version, registry=registry
        )
        return Pin(
            registry=self.url,
            name=resolved.name,
            stage=resolved.stage,
            version=resolved.version,
            tag=resolved.tag,
            commit=resolved.commit,
            folder=resolved.folder.relpath,
            primary=resolved.primary,
            files=dict(resolved.files),
            dvc_files=resolved.dvc_files,
            fingerprint=fingerprint,
        )

    # --- the trust policy: signatures checked before a path is handed out ------------------

    def trust(self, head: str | None, accept: bool = False) -> tuple[TrustPolicy, str]:
        """params.yaml's trust policy at the registry's HEAD (`head`; None: offline, the one
        read last), with a digest of it and of the trusted keys' bytes. Read from git only when
        HEAD moved; the policy and the keys are fetched as blobs, nothing else. A policy weaker
        than the one applied before is refused (trust_ratchet), unless `accept`."""
        from artreg.registry.trust import NO_PARAMS, TrustPolicy

        known = self.trust_record(head)
        if known is not None:
            return known
        if head is None:
            raise NotFoundError(
                f"offline: the trust policy of {self.url} was never read with the cache "
                f"{self.cache.root}",
                hint=f"run once online (unset {ENV_OFFLINE})",
            )
        policy, blobs = TrustPolicy(origin=NO_PARAMS), {}
        if head:
            from artreg.registry.policy import trust_at

            self.files_at(head, [PARAMS_FILE])
            policy = trust_at(self.repo, head)  # from the objects just fetched
            blobs = self.files_at(head, list(policy.keys)) if policy.keys else {}
        digest = hashlib.sha256(
            json.dumps(
                {
                    "require_signature": sorted(policy.require_signature),
                    "keys": [
                        [k, hashlib.sha256(blobs[k]).hexdigest() if k in blobs else None]
                        for k in policy.keys
                    ],
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()
        from artreg.registry.trust_ratchet import check_remote

        check_remote(self, policy, blobs, digest, accept)
        return policy, digest

    def trust_record(self, head: str | None) -> tuple[TrustPolicy, str] | None:
        """The policy read last, if it was read at `head` (None: whichever HEAD it was)."""
        from artreg.registry.trust import TrustPolicy

        last = self.cache.read_json(self.cache.trust_record(self.key))
        if not isinstance(last, dict) or (head is not None and last.get("head") != head):
            return None
        try:
            policy = TrustPolicy(
                keys=tuple(last["keys"]),
                require_signature=tuple(last["require_signature"]),
                rev=last["head"] or None,
            )
            return policy, str(last["digest"])
        except (KeyError, TypeError):
            return None  # an unreadable record: read the policy again (online) or refuse

    def check_signature(self, pin: Pin, head: str | None, fetch: bool = True) -> None:
        """Where the trust policy requires it for the pinned folder's stage, its committed
        model.sig must be made by a trusted key over the model its manifest records (as in a
        clone: `signing.check_folder`). A verdict is kept, bound to the policy's digest, the
        commit, the folder and every sha256 of its manifest (model.sig's included), so a warm
        call skips model_signing only for exactly what verified before. `head` None: the
        policy read last (offline, lock files); `fetch` False: nothing crosses the network.
        A pin the policy read last refuses is checked again under the policy at HEAD when
        online, so a refusal whose cause is a weakened policy names that change."""
        from artreg.errors import IntegrityError, PolicyWeakened

        try:
            self._check_signature(pin, head, fetch)
        except PolicyWeakened:
            raise
        except IntegrityError:
            if head is not None or not fetch:
                raise
            self._check_signature(pin, self.remote_refs([])[1], fetch)

    def _check_signature(self, pin: Pin, head: str | None, fetch: bool) -> None:
        stage = _stage_of(pin)
        policy, digest = self.trust(head)
        if not policy.requires(stage):
            return
        bound = hashlib.sha256(
            json.dumps(
                {"policy": digest, "pin": {**pin.to_json(), "registry": self.url}},
                sort_keys=True,
            ).encode()
        ).hexdigest()
        verdict = self.cache.signature_verdict(self.key, bound)
        if verdict.is_file():
            return
        from artreg.artifacts.signing import verify as signature

        if fetch:  # local reads when present; fetched when this cache lost them
            wanted = {pin.commit: [f"{pin.folder}/{SIGNATURE_FILE}"]}
            if policy.rev:
                wanted.setdefault(policy.rev, []).extend(policy.keys)
            self.files_of(wanted, deep=[pin.folder])
        raw = signature.committed_signature(self.repo, pin.commit, pin.folder, pin.files)
        signer = signature.check_folder(
            self.repo, policy, pin.folder, stage, pin.files, pin.dvc_files, raw
        )
        self.cache.write_json(verdict, {"policy": digest, **signer.as_dict()})

    def signature_status(self, pin: Pin, head: str) -> dict[str, Any] | None:
        """What `show` says of the pinned folder's model.sig under the policy at `head`, as in
        a clone (`signing.describe`: never raises for a bad signature)."""
        from artreg.artifacts.signing import verify as signature

        policy, _ = self.trust(head)
        if SIGNATURE_FILE in pin.files:
            self.files_at(pin.commit, [f"{pin.folder}/{SIGNATURE_FILE}"], deep=[pin.folder])
        return signature.describe(
            self.repo, pin.commit, pin.folder, _stage_of(pin), pin.files, pin.dvc_files, policy
        )

    # --- where each selected file's bytes come from ----------------------------------------

    def sources(
        self, pin: Pin, remote: str | None, remote_config: Mapping[str, str] | None = None
    ) -> Callable[[str], Callable[[], contextlib.AbstractContextManager[IO[bytes]]]]:
        """For each file a consumer gets, how to open its bytes: a git blob, or an object of the
        registry's DVC remote found through the folder's `.dvc` pointer."""
        from artreg.adapters import dvcrepo

        selected = pin.selected()
        pointer_paths = {
            rel: [
                f"{pin.folder}/{'/'.join(rel.split('/')[:d])}.dvc"
                for d in range(rel.count("/") + 1, 0, -1)
            ]
            for rel in selected
            if rel in pin.dvc_files
        }
        wanted = [".dvc/config"]
        wanted += [f"{pin.folder}/{rel}" for rel in selected if rel not in pin.dvc_files]
        wanted += dict.fromkeys(p for candidates in pointer_paths.values() for p in candidates)
        blobs = self.files_at(pin.commit, wanted, deep=[pin.folder])
        where = f"{self.url} at {pin.commit[:12]}"
        reader: RemoteReader | None = None
        if pointer_paths:
            config = blobs.get(".dvc/config")
            if config is None:
                raise NotFoundError(
                    f"{where}: no .dvc/config, so no DVC remote is named",
                    hint="pass the remote's URL: remote='s3://bucket/prefix' (--remote)",
                )
            store = dvcrepo.remote_store(
                config.decode("utf-8", "replace"), remote, f"{where}: .dvc/config", remote_config
            )
            reader = dvcrepo.RemoteReader(store)
        listings: dict[str, dict[str, str]] = {}  # each `.dir` read and parsed once
        outs: dict[str, str] = {}  # each pointer parsed once
        openers: dict[str, Callable[[], contextlib.AbstractContextManager[IO[bytes]]]] = {}
        for rel in selected:
            if rel not in pin.dvc_files:
                data = blobs.get(f"{pin.folder}/{rel}")
                if data is None:
                    raise NotFoundError(
                        f"{where}: {pin.folder}/{rel} is not in git",
                        hint="run `artreg verify` in the registry",
                    )
                openers[rel] = _bytes_opener(data)
                continue
            assert reader is not None
            md5 = self._object_of(pin, rel, pointer_paths[rel], blobs, reader, listings, outs)
            openers[rel] = _remote_opener(reader, md5)
        return lambda rel: openers[rel]

    def _object_of(
        self,
        pin: Pin,
        rel: str,
        candidates: list[str],
        blobs: Mapping[str, bytes],
        reader: RemoteReader,
        listings: dict[str, dict[str, str]],
        outs: dict[str, str] | None = None,
    ) -> str:
        """The md5 of the DVC object holding `rel`: its own pointer's, or its entry in the
        listing of the folder's pointer. `outs` (pointer -> md5) and `listings` (md5 -> its
        entries) carry what was parsed for earlier files: each pointer is parsed, and each
        listing read, hashed and parsed, once per fetch, however many files it covers."""
        from artreg.adapters import dvcrepo

        outs = {} if outs is None else outs
        for pointer in candidates:
            if pointer not in blobs:
                continue
            if pointer not in outs:
                outs[pointer] = self._pointer_md5(pin, pointer, blobs[pointer])
            md5 = outs[pointer]
            covered = pointer[len(pin.folder) + 1 : -len(".dvc")]
            if covered == rel:
                return md5
            if not md5.endswith(".dir"):
                break
            where = f"{self.url}: {pointer} at {pin.commit[:12]}"
            if md5 not in listings:
                with reader.open(md5) as fh:
                    listings[md5] = dvcrepo.dir_entries(fh.read(), md5, where)
            return dvcrepo.dir_entry(listings[md5], md5, rel[len(covered) + 1 :], where)
        raise NotFoundError(
            f"{self.url}: no .dvc pointer for {pin.folder}/{rel} at {pin.commit[:12]}",
            hint="the manifest says DVC holds it but no pointer names it; run `artreg verify` in the registry",
        )

    def _pointer_md5(self, pin: Pin, pointer: str, raw: bytes) -> str:
        """The md5 the committed `.dvc` file `pointer` names, checked to cover its own path."""
        from artreg.adapters import dvcrepo
        from artreg.adapters.files import parse_yaml

        where = f"{self.url}: {pointer} at {pin.commit[:12]}"
        out = dvcrepo.pointer_out(parse_yaml(raw.decode("utf-8", "replace"), where), where)
        covered = pointer[len(pin.folder) + 1 : -len(".dvc")]
        if f"{covered.rpartition('/')[0]}/{out['path']}".lstrip("/") != covered:
            raise InputError(
                f"{where}: /outs/0/path {out['path']!r} is not {covered.rpartition('/')[2]!r}",
                hint="restore the pointer in the registry",
            )
        md5 = str(out.get("md5", ""))
        if not re.fullmatch(r"[0-9a-f]{32}(\.dir)?", md5):
            raise InputError(
                f"{where}: /outs/0/md5 {md5!r} is not an md5",
                hint="restore the pointer in the registry",
            )
        return md5


def _tag_patterns(names: Sequence[str]) -> list[str]:
    """`git ls-remote` patterns of the names' tags (all of GTO's kinds: NAME#…, NAME@…)."""
    return [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"]


def _stage_of(pin: Pin) -> str:
    """The stage of the pinned folder (whose trust rule applies), not the stage asked for."""
    folder = StageDir.parse(pin.folder)
    return folder.stage if folder is not None else (pin.stage or "")


def _parse_tree(raw: bytes) -> dict[str, tuple[bytes, str]]:
    """Entries of a raw git tree object: name -> (mode, object id)."""
    entries: dict[str, tuple[bytes, str]] = {}
    pos = 0
    while pos < len(raw):
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        mode, name = raw[pos:space], raw[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries[name] = (mode, raw[nul + 1 : nul + 21].hex())
        pos = nul + 21
    return entries


def _bytes_opener(data: bytes) -> Callable[[], contextlib.AbstractContextManager[IO[bytes]]]:
    return lambda: contextlib.nullcontext(io.BytesIO(data))


def _remote_opener(
    reader: RemoteReader, md5: str
) -> Callable[[], contextlib.AbstractContextManager[IO[bytes]]]:
    return lambda: reader.open(md5)


# --- fetching into the cache -----------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    pin: Pin
    snapshot: Path
    downloaded: int  # files whose bytes came from a remote in this call

    @property
    def path(self) -> Path:
        folder = StageDir.parse(self.pin.folder)
        return self.snapshot / model_target(folder.stage if folder else "", self.pin.primary)


def materialize(
    reg: RemoteRegistry,
    pin: Pin,
    *,
    remote: str | None = None,
    remote_config: Mapping[str, str] | None = None,
    offline: bool = False,
    full: bool = False,
    progress: ProgressFn | None = None,
    pinned: bool = False,
) -> Fetched:
    """The files as a verified snapshot in the cache, fetched first if they are not (a lock's
    pin, `pinned`, even when retired: see pins.build_or_explain)."""
    cache = reg.cache
    files = {rel: pin.files[rel] for rel in pin.selected()}
    snap = _ready(cache, reg.key, pin, files, full, offline)
    if snap is not None:
        return Fetched(pin, snap, 0)
    if offline:
        raise NotFoundError(
            f"offline: {pin.spec} of {pin.registry} is {pin.folder} ({pin.tag}), but its files "
            f"are not in the cache {cache.root}",
            hint=f"run once online (unset {ENV_OFFLINE}) to fetch them",
        )
    with cache.building(), cache.lock("snapshot", f"{reg.key}/{pin.folder}"):
        snap = _ready(cache, reg.key, pin, files, full, offline)  # another process's work
        if snap is not None:
            return Fetched(pin, snap, 0)
        from artreg.features.pins import build_or_explain

        snap, downloaded = build_or_explain(
            reg, pin, files, pinned, (remote, remote_config), progress
        )
    return Fetched(pin, snap, downloaded)


def _ready(
    cache: Cache, key: str, pin: Pin, files: Mapping[str, FileDigest], full: bool, offline: bool
) -> Path | None:
    """The verified snapshot, or None to build it: a file altered in the cache is fetched
    again (once) when online; offline, the refusal stands."""
    try:
        return cache.snapshot_ready(key, pin.folder, files, full)
    except IntegrityError:
        if offline:
            raise
        return None


def fetch(
    url: str | os.PathLike[str],
    name: str,
    stage: str | None = None,
    version: str | None = None,
    *,
    remote: str | None = None,
    remote_config: Mapping[str, str] | None = None,
    cache_dir: Path | str | None = None,
    offline: bool | None = None,
    verify: str = "auto",
    progress: ProgressFn | None = None,
    accept_moved_tag: bool = False,
) -> Fetched:
    """Resolve `name` (a stage, default production, or a version) in the registry at `url` and
    return its verified snapshot in the cache, fetching only what is missing. A version that
    answers other bytes than this cache served before is refused unless `accept_moved_tag`."""
    full = check_verify(verify)
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    is_offline = offline_mode(offline)
    pin, save = _current_pin(reg, name, stage, version, is_offline, accept_moved_tag)
    fetched = materialize(
        reg,
        pin,
        remote=remote,
        remote_config=remote_config,
        offline=is_offline,
        full=full,
        progress=progress,
    )
    save()
    return fetched


def cached(
    url: str | os.PathLike[str],
    name: str,
    stage: str | None = None,
    version: str | None = None,
    *,
    cache_dir: Path | str | None = None,
    offline: bool | None = None,
) -> bool:
    """True if what `name` resolves to is in the cache, every byte rehashed and matching."""
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    pin, _ = _current_pin(reg, name, stage, version, offline_mode(offline))
    files = {rel: pin.files[rel] for rel in pin.selected()}
    return reg.cache.snapshot_ready(reg.key, pin.folder, files, full=True) is not None


def _current_pin(
    reg: RemoteRegistry,
    name: str,
    stage: str | None,
    version: str | None,
    offline: bool,
    accept_moved_tag: bool = False,
) -> tuple[Pin, Callable[[], None]]:
    """What `name` resolves to: the last answer when the name's tags are unchanged (or when
    offline), else resolved anew, its signature checked against the trust policy at the
    registry's HEAD, its version held to the bytes this cache served before (pins.py); with a
    function that records a new answer once it served."""
    from artreg.features.pins import hold_version

    name = validate_name(name)
    if stage is not None and version is not None:
        raise InputError(
            "give a stage or a version, not both", hint="e.g. NAME#production or NAME@v1.2.0"
        )
    if stage is not None:
        validate_stage(stage)
    if version is not None:
        version = validate_semver(version)
    selector = f"v{version.removeprefix('v')}" if version else (stage or "production")
    record = reg.cache.resolution(reg.key, name, selector)
    last = _load_pin(reg.cache.read_json(record))
    if offline:
        if last is None:
            raise NotFoundError(
                f"offline: {spec_of(name, stage, version)} of {reg.url} was never resolved with "
                f"the cache {reg.cache.root}",
                hint=f"run once online (unset {ENV_OFFLINE}), or pin it in a lock file "
                "(`artreg lock add`) and pass lock=",
            )
        reg.check_signature(last, None, fetch=False)
        return last, lambda: None
    tags, head = reg.remote_refs([name])
    fingerprint = _fingerprint(tags)
    if last is not None and last.fingerprint == fingerprint and last.registry == reg.url:
        reg.check_signature(last, head)
        return last, hold_version(reg, last, accept_moved_tag)
    pin = reg.resolve(name, stage, version, reg.state([name], tags), fingerprint, head)
    reg.check_signature(pin, head)
    hold = hold_version(reg, pin, accept_moved_tag)  # before any byte is fetched

    def save() -> None:
        reg.cache.write_json(record, {**pin.to_json(), "fingerprint": fingerprint})
        hold()

    return pin, save


def _load_pin(data: Any) -> Pin | None:
    try:
        return (
            Pin.from_json(data, str(data.get("fingerprint", "")))
            if isinstance(data, dict)
            else None
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def resolve_pin(
    url: str | os.PathLike[str],
    name: str,
    stage: str | None = None,
    version: str | None = None,
    cache_dir: Path | str | None = None,
) -> Pin:
    """What `name` resolves to in the registry at `url` now (tags and manifest, no model bytes),
    its signature checked against the trust policy at the registry's HEAD: a lock file pins
    only what a consumer may load."""
    name = validate_name(name)
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    tags, head = reg.remote_refs([name])
    pin = reg.resolve(name, stage, version, reg.state([name], tags), _fingerprint(tags), head)
    reg.check_signature(pin, head)
    return pin


def fetch_pin(
    pin: Pin,
    *,
    remote: str | None = None,
    remote_config: Mapping[str, str] | None = None,
    cache_dir: Path | str | None = None,
    offline: bool | None = None,
    verify: str = "auto",
    progress: ProgressFn | None = None,
) -> Fetched:
    """Exactly the pinned bytes (a lock-file entry), verified; no tag is read. The signature
    is checked against the trust policy this cache read last from the registry (its HEAD is
    asked only when it never was), so a warm call stays a stat; `lock check` and every call by
    name refresh that policy."""
    full = check_verify(verify)
    reg = RemoteRegistry(pin.registry, Cache.open(cache_dir))
    is_offline = offline_mode(offline)
    head = None
    if not is_offline and reg.trust_record(None) is None:
        head = reg.remote_refs([])[1]
    reg.check_signature(pin, head, fetch=not is_offline)
    return materialize(
        reg,
        pin,
        remote=remote,
        remote_config=remote_config,
        offline=is_offline,
        full=full,
        progress=progress,
        pinned=True,
    )


def overview(
    url: str | os.PathLike[str],
    names: list[str] | None = None,
    deprecated: bool = False,
    cache_dir: Path | str | None = None,
) -> dict[str, ArtifactSummary]:
    """`artreg list` of a registry URL: every name (or `names`), latest version and stages."""
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    names = [validate_name(n) for n in names] if names else None
    return _overview(reg, reg.state(names), names, deprecated)


def _overview(
    reg: RemoteRegistry, registry: Registry, names: list[str] | None, deprecated: bool
) -> dict[str, ArtifactSummary]:
    from artreg import state
    from artreg.features.queries import overview as clone_overview

    if names and not any(n in registry.artifacts for n in names):
        registry.get(names[0])  # the NotFoundError naming it
    reg.folders(state.current_events(registry))
    return clone_overview(reg.repo, registry=registry, deprecated=deprecated, names=names)


def show(
    url: str | os.PathLike[str], name: str, cache_dir: Path | str | None = None
) -> ArtifactSummary:
    """`artreg show NAME --repo URL`: every stage, each folder's signature as in a clone."""
    from artreg.features.queries import with_signatures

    name = validate_name(name)
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    tags, head = reg.remote_refs([name])
    registry = reg.state([name], tags)
    summary = _overview(reg, registry, [name], deprecated=True)[name]
    fingerprint = _fingerprint(tags)
    return with_signatures(
        summary,
        lambda stage: reg.signature_status(
            reg.resolve(name, stage, None, registry, fingerprint), head
        ),
    )


def show_entry(
    url: str | os.PathLike[str],
    name: str,
    stage: str | None,
    version: str | None,
    cache_dir: Path | str | None = None,
) -> tuple[Pin, dict[str, Any] | None]:
    """`artreg show NAME@vX.Y.Z|NAME#STAGE --repo URL`: the pin and its signature's status."""
    name = validate_name(name)
    reg = RemoteRegistry(url, Cache.open(cache_dir))
    tags, head = reg.remote_refs([name])
    pin = reg.resolve(name, stage, version, reg.state([name], tags), _fingerprint(tags), head)
    return pin, reg.signature_status(pin, head)


def get(
    url: str | os.PathLike[str],
    name: str,
    stage: str | None,
    version: str | None,
    out: Path,
    *,
    remote: str | None = None,
    remote_config: Mapping[str, str] | None = None,
    cache_dir: Path | str | None = None,
    offline: bool | None = None,
    progress: ProgressFn | None = None,
    accept_moved_tag: bool = False,
) -> tuple[Fetched, list[Path]]:
    """`artreg get URL NAME -o OUT`: the model file(s) copied out of the cache, verified (a
    model folder's files into OUT, as in a clone). The targets are checked before anything is
    fetched, so a refusal leaves nothing behind, and written as in a clone (outputs.py)."""
    from artreg.features.fetch import copy_verified, export_targets
    from artreg.outputs import local_work_tree

    reg = RemoteRegistry(url, Cache.open(cache_dir))
    is_offline = offline_mode(offline)
    pin, save = _current_pin(reg, name, stage, version, is_offline, accept_moved_tag)
    targets = export_targets(out, pin.primary, pin.files, work_tree=local_work_tree(url))
    fetched = materialize(
        reg, pin, remote=remote, remote_config=remote_config, offline=is_offline, progress=progress
    )
    save()
    return fetched, copy_verified(fetched.snapshot, targets, pin.files, progress, out=out)
