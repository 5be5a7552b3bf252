"""A registry URL's git side: its tags by `git ls-remote`, and the few objects a read needs
fetched into a bare, shallow, partial repository in the consumer cache (`git/<key>.git`); the
trust policy at its HEAD, recorded per HEAD, with its ratchet (`check_remote`, `accept_remote`:
a weaker policy is refused, naming the commit that made it), and the signature check over those
objects.

What crosses the network, and nothing else: one `git ls-remote` (the name's tags and HEAD);
the tag objects that changed, with their commits (`--depth=1 --filter=tree:0`); for the one
commit that matters, the trees along the paths read (one fetch per level; the stage folder's
own subtree with `--filter=blob:none`), then in one fetch the few blobs read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from artreg.adapters.git import remote as gitremote
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, IntegrityError, NotFoundError, PolicyWeakened
from artreg.reading import signatures, trust_ratchet
from artreg.reading import trust as trusting
from artreg.reading.cache import Cache, legacy_key, registry_key
from artreg.registry import state
from artreg.registry.layout import PARAMS_FILE, SIGNATURE_FILE
from artreg.registry.policy import trust_at
from artreg.registry.trust import NO_PARAMS, TrustPolicy
from artreg.sources import git_locks, remote_bytes
from artreg.sources.base import ENV_OFFLINE, Pin, tag_patterns
from artreg.sources.location import normalize_url

if TYPE_CHECKING:
    from artreg.registry.records import Event, Registry


class RemoteRegistry:
    """A registry URL and its bare, shallow, partial repository in the cache."""

    def __init__(self, url: str | os.PathLike[str], cache: Cache) -> None:
        self.url = normalize_url(url)
        self.cache = cache
        self.key = registry_key(self.url)
        self.repo = cache.git_dir(self.key)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The cache's lock on this registry's repository, held while git writes in it (lock
        files a killed git left there are removed: git_locks)."""
        with self.cache.lock("git", self.key), git_locks.owned(self.repo):
            yield

    def remote_tags(self, names: Sequence[str] | None) -> dict[str, tuple[str, str]]:
        return gitremote.ls_remote_tags(self.url, tag_patterns(names or ()))

    def remote_refs(self, names: Sequence[str]) -> tuple[dict[str, tuple[str, str]], str]:
        """The names' tags and the commit of the registry's HEAD ("" when it has none), from
        one `git ls-remote`: HEAD's params.yaml is the trust policy, as HEAD's is in a clone."""
        tags, head = gitremote.ls_remote_head(self.url, tag_patterns(names))
        return tags, head or ""

    def state(
        self, names: Sequence[str] | None, tags: Mapping[str, tuple[str, str]] | None = None
    ) -> Registry:
        """The read model (of `names`, or all), built from the tags the URL has now, by the same
        code as in a clone: changed tag objects fetched, vanished ones dropped, one for-each-ref.
        Folders are left unresolved (see `folders`)."""
        tags = self.remote_tags(names) if tags is None else tags
        with self._locked():
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
        pending = [e for e in events if e.needs_dvc_yaml]
        if pending:
            self.files_at_commits(sorted({e.commit for e in pending}), ["dvc.yaml"])
            state.resolve_folders(self.repo, pending)

    def fetch_history(self, name: str | None, files: bool = False) -> None:
        """Fetch `name`'s tags (None: every name's) and the registry's history into the cache
        repository, its HEAD on the registry's: `history`, `log` (commits only), `lineage`
        and `diff` (`files`: the committed files too, none of DVC's data) then read it as they
        read a clone."""
        self.state(None if name is None else [name])
        branch = gitrun.git(self.repo, "symbolic-ref", "HEAD").strip()
        wants = [f"+HEAD:{branch}"]
        with self._locked():
            # git's "no depth limit": a shallow cache repository is deepened to the whole history
            gitremote.fetch_objects(
                self.repo, self.url, wants, filter_spec="tree:0", depth=2147483647
            )
            if files:  # the commits fetched so far came without their files; a registry's
                # committed files are small (verify refuses one over 2 MiB in git)
                gitremote.fetch_objects(
                    self.repo, self.url, wants, filter_spec="blob:limit=2m", refetch=True
                )

    # --- reading files of a commit, fetching only what is read -----------------------------

    def _objects(
        self, oids: Sequence[str], filter_spec: str, depth: int | None = None
    ) -> dict[str, bytes]:
        """Objects by id, fetched first when the cache repo lacks them."""
        wanted = list(dict.fromkeys(oids))
        found = gitremote.read_objects(self.repo, wanted)
        missing = [o for o in wanted if o not in found]
        if missing:
            with self._locked():
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
        with self._locked():
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

    # --- the trust policy: signatures checked before a path is handed out ------------------

    def trust(self, head: str | None, accept: bool = False) -> tuple[TrustPolicy, str]:
        """params.yaml's trust policy at the registry's HEAD (`head`; None: offline, the one
        read last), with a digest of it and of the trusted keys' bytes. Read from git only when
        HEAD moved; the policy and the keys are fetched as blobs, nothing else. A policy weaker
        than the one applied before is refused (trust_ratchet), unless `accept`."""
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
            self.files_at(head, [PARAMS_FILE])
            policy = trust_at(self.repo, head)  # from the objects just fetched
            blobs = self.files_at(head, list(policy.keys)) if policy.keys else {}
        digest = trusting.policy_digest(policy, blobs)
        check_remote(self, policy, blobs, digest, accept)
        return policy, digest

    def trust_record(self, head: str | None) -> tuple[TrustPolicy, str] | None:
        """The policy read last, if it was read at `head` (None: whichever HEAD it was)."""
        return trusting.trust_record(self.cache, self.key, head)

    def check_signature(self, pin: Pin, head: str | None, fetch: bool = True) -> None:
        """Where the trust policy requires it for the pinned folder's stage, its committed
        model.sig must be made by a trusted key over the model its manifest records (as in a
        clone). A verdict is kept (reading.trust.verdict), so a warm call skips model_signing
        only for exactly what verified before. `head` None: the policy read last (offline,
        lock files); `fetch` False: nothing crosses the network. A pin the policy read last
        refuses is checked again under the policy at HEAD when online, so a refusal whose
        cause is a weakened policy names that change."""
        try:
            self._check_signature(pin, head, fetch)
        except PolicyWeakened:
            raise
        except IntegrityError:
            if head is not None or not fetch:
                raise
            self._check_signature(pin, self.remote_refs([])[1], fetch)

    def _check_signature(self, pin: Pin, head: str | None, fetch: bool) -> None:
        stage = pin.stage_folder
        policy, digest = self.trust(head)
        if not policy.requires(stage):
            return
        verdict = trusting.verdict(
            self.cache, self.key, digest, {**pin.to_json(), "registry": self.url}
        )
        if verdict.is_file():
            return
        if fetch:  # local reads when present; fetched when this cache lost them
            wanted = {pin.commit: [f"{pin.folder}/{SIGNATURE_FILE}"]}
            if policy.rev:
                wanted.setdefault(policy.rev, []).extend(policy.keys)
            self.files_of(wanted, deep=[pin.folder])
        signer = signatures.check_signed(
            self.repo, policy, pin.commit, pin.folder, stage, pin.files, pin.dvc_files
        )
        self.cache.write_json(verdict, {"policy": digest, **signer})

    def signature_status(self, pin: Pin, head: str) -> dict[str, Any] | None:
        """What `show` says of the pinned folder's model.sig under the policy at `head`, as in
        a clone (`signing.describe`: never raises for a bad signature)."""
        policy, _ = self.trust(head)
        if SIGNATURE_FILE in pin.files:
            self.files_at(pin.commit, [f"{pin.folder}/{SIGNATURE_FILE}"], deep=[pin.folder])
        return signatures.describe(self.repo, pin.commit, pin.folder, pin, policy)

    def sources(
        self, pin: Pin, remote: str | None, remote_config: Mapping[str, str] | None = None
    ) -> Callable[[str], Callable[[], AbstractContextManager[IO[bytes]]]]:
        """For each file a consumer gets, how to open its bytes (see remote_bytes.openers)."""
        return remote_bytes.openers(self.files_at, self.url, pin, remote, remote_config)


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


# --- the trust ratchet of a registry URL (reading/trust_ratchet.py: the records, the rule) ----


def check_remote(
    reg: RemoteRegistry,
    policy: TrustPolicy,
    blobs: Mapping[str, bytes],
    digest: str,
    accept: bool = False,
) -> None:
    """The ratchet for a registry URL: `policy` (at its HEAD, its keys' bytes in `blobs`) is
    recorded as applied in the URL's trust record (with `digest`, see RemoteRegistry.trust),
    unless it is weaker than the one recorded: that is refused, unless `accept`."""
    record = reg.cache.trust_record(reg.key)
    current = trust_ratchet.Applied.of(policy, blobs)
    previous = trust_ratchet.read_or_adopt(record, reg.cache.trust_record(legacy_key(reg.url)))
    if not accept and previous is not None and previous.head:
        changes = trust_ratchet.weakenings(previous, current)
        if changes:
            found = _remote_weakening_commit(reg, previous, current)
            raise trust_ratchet.refusal(
                reg.url, previous, current, changes, found, record, {"digest": digest}
            )
    trust_ratchet.write_record(record, current, {"digest": digest})


def _remote_weakening_commit(
    reg: RemoteRegistry, old: trust_ratchet.Applied, new: trust_ratchet.Applied
) -> str | None:
    """`trust_ratchet.weakening_commit` for a registry URL: its history (commits and trees, no
    blobs but the policy's) fetched into a scratch repository, then removed, so the cache's own
    repository stays shallow. None when the server will not send it: the refusal stands
    without it."""
    import shutil
    import tempfile

    scratch_root = reg.cache.root / "tmp"
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = type(reg)(reg.url, Cache(Path(tempfile.mkdtemp(dir=scratch_root))))
    try:
        gitremote.init_cache_repo(scratch.repo, reg.url)
        gitremote.fetch_objects(scratch.repo, reg.url, [new.head], filter_spec="blob:none")
        return trust_ratchet.weakening_commit(scratch.repo, old, new, scratch.files_of)
    except ArtregError:
        return None
    finally:
        shutil.rmtree(scratch.cache.root, ignore_errors=True)


def accept_remote(reg: RemoteRegistry) -> trust_ratchet.Accepted:
    """Record the trust policy at the HEAD of the registry URL `reg` as the one its consumers
    on this machine apply, weaker or not."""
    record = reg.cache.trust_record(reg.key)
    previous = trust_ratchet.read_record(record)
    reg.trust(reg.remote_refs([])[1], accept=True)
    return trust_ratchet.accepted(reg.url, previous, trust_ratchet.read_record(record))
