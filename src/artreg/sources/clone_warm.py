"""A clone's last answer: what a URL's consumer has (one `git ls-remote`, the recorded answer,
the cached trust record), given to a clone. One `git for-each-ref` reads the name's tags and the
branch HEAD is on; while they are unchanged, the answer recorded under the clone's key in the
consumer cache stands, its trust policy is the one the clone's trust record holds for that HEAD
(no params.yaml parsed, no schema checked), and its files are checked by their verification
records. Anything else (no record, a moved tag or HEAD, a file absent or altered, a signature
without a verdict) goes the full way, which records the answer for the next call."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import compare_files
from artreg.reading import exact_folder
from artreg.reading import trust as trusting
from artreg.reading.cache import Cache, records_root, registry_key
from artreg.reading.resolve import Resolved, check_spec, selector
from artreg.reading.trust_ratchet import clone_record
from artreg.registry.layout import StageDir
from artreg.sources.base import Local, Pin, ServeOptions, load_pin
from artreg.sources.fingerprint import fingerprint_of

# %(HEAD) marks the branch HEAD is on: its commit comes in the same listing as the tags.
_FORMAT = "%(HEAD) %(objectname) %(refname)"

Stamp = tuple[tuple[int, int, int, int] | None, ...]
# Inside one process, a clone's listing is kept while the files git rewrites when a ref moves
# are unchanged (the resident path: a repeated read of an unchanged clone runs no git).
_GIT_DIRS: dict[Path, tuple[Path, Path]] = {}
_LISTINGS: dict[
    tuple[Path, str], tuple[Stamp, dict[str, tuple[str, str]], str | None, str | None]
] = {}


def _stamp(root: Path, branch: str | None) -> Stamp:
    """The stat of what git rewrites when a tag or HEAD moves: HEAD, packed-refs, the loose
    tag folder (a tag made, moved or deleted renames an entry in it) and the branch's ref."""
    dirs = _GIT_DIRS.get(root)
    if dirs is None:
        if (root / ".git").is_dir():  # a clone's own repository: no git asked
            dirs = (root / ".git", root / ".git")
        else:  # a linked work tree or a submodule: git says where its refs are
            out = gitrun.git(root, "rev-parse", "--absolute-git-dir", "--git-common-dir")
            lines = out.split("\n")
            dirs = (Path(lines[0]), (root / lines[1]).resolve())
        _GIT_DIRS[root] = dirs
    git_dir, common = dirs
    paths = [git_dir / "HEAD", common / "packed-refs", common / "refs" / "tags"]
    paths += [common / branch] if branch else []
    stamp: list[tuple[int, int, int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            stamp.append(None)
            continue
        stamp.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(stamp)


def _refs(root: Path, name: str) -> tuple[dict[str, tuple[str, str]], str | None]:
    """The name's tags (tag -> (object, "")) and HEAD's commit: one `git for-each-ref` (and,
    on a detached HEAD, one `git rev-parse`), or none while the clone's refs are unchanged."""
    known = _LISTINGS.get((root, name))
    if known is not None and _stamp(root, known[3]) == known[0]:
        return dict(known[1]), known[2]
    before = _stamp(root, None)
    listing = gitrun.git(
        root,
        "for-each-ref",
        f"--format={_FORMAT}",
        f"refs/tags/{name}#*",
        f"refs/tags/{name}@*",
        "refs/heads/",
    )
    tags: dict[str, tuple[str, str]] = {}
    head = branch = None
    for line in listing.splitlines():
        mark, (obj, _, ref) = line[:1], line[2:].partition(" ")  # %(HEAD) is "*" or " "
        if ref.startswith("refs/tags/"):
            tags[ref.removeprefix("refs/tags/")] = (obj, "")
        elif mark == "*":
            head, branch = obj, ref
    head = head or gitrun.head(root)  # a detached HEAD is on no branch
    after = _stamp(root, branch)
    if after[:3] == before:  # nothing moved while git listed
        if len(_LISTINGS) >= 64:
            _LISTINGS.clear()
        _LISTINGS[(root, name)] = (after, tags, head, branch)
    return dict(tags), head


def last_answer(
    root: Path,
    cache_dir: Path | str | None,
    name: str,
    stage: str | None,
    version: str | None,
    options: ServeOptions,
) -> LastAnswer | None:
    """The state a recorded answer is bound to, for a read that may use one: a verified
    read of one name as the tags are now, with a consumer cache to keep it in."""
    if options.as_of is not None or options.with_requirements or not options.check:
        return None
    cache_root = records_root(cache_dir)
    if cache_root is None:
        return None
    return LastAnswer(root, cache_root, name, stage, version)


class LastAnswer:
    """The state a clone's answer for one name at one stage or version is bound to."""

    def __init__(
        self, root: Path, cache_root: Path, name: str, stage: str | None, version: str | None
    ) -> None:
        self.root = root
        self.cache_root = cache_root  # also where the files' verification records are kept
        self.cache = Cache(cache_root)
        self.key = registry_key(str(root))
        self.name, self.stage, self.version = check_spec(name, stage, version)
        self.record = self.cache.resolution(self.key, self.name, selector(self.stage, self.version))
        tags, self.head = _refs(root, self.name)
        self.fingerprint = fingerprint_of({**tags, "HEAD": (self.head or "", "")})

    def served(self, records: Path | None, full: bool) -> Local | None:
        """The recorded answer, if it still stands and its files are intact; else None."""
        pin = load_pin(self.cache.read_json(self.record))
        if pin is None or pin.fingerprint != self.fingerprint or pin.registry != str(self.root):
            return None
        folder = StageDir.parse(pin.folder)
        if folder is None or not self._trusted(pin):
            return None
        compared = compare_files(folder.path(self.root), pin.files, None, records, full)
        if compared.missing or compared.mismatched:
            return None  # the full way says what is wrong, and fetches what is absent
        served = exact_folder.served_folder(folder.stage, pin.primary, pin.files)
        if served is not None and exact_folder.unlisted(
            folder.path(self.root) / served[0], served[1]
        ):
            return None  # a file no manifest vouches for: the full way refuses it
        resolved = Resolved(
            pin.name, pin.stage, pin.version, pin.tag, pin.commit, folder, pin.primary,
            pin.files, pin.dvc_files,
        )  # fmt: skip
        return Local(self.root, resolved)

    def _policy(self) -> tuple[Any, str] | None:
        """The trust policy the clone's record holds for HEAD, with its digest (None: the
        record is of another HEAD, or there is none)."""
        last = Cache.read_json(clone_record(self.cache.root, self.root))
        policy = trusting.policy_of_record(last, self.head)
        if policy is None or not self.head:
            return None
        digests = last.get("key_sha256") or {}
        digest = hashlib.sha256(
            json.dumps(
                {
                    "require_signature": sorted(policy.require_signature),
                    "keys": [[k, digests.get(k)] for k in policy.keys],
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()
        return policy, digest

    def _trusted(self, pin: Pin) -> bool:
        found = self._policy()
        if found is None:
            return False
        policy, digest = found
        if not policy.requires(pin.stage_folder):
            return True
        return trusting.verdict(self.cache, self.key, digest, pin.to_json()).is_file()

    def save(self, resolved: Resolved) -> None:
        """Record the answer just served in full (its signature, if required, just checked)."""
        pin = Pin.of(resolved, str(self.root), self.fingerprint)
        found = self._policy()
        if found is not None and found[0].requires(pin.stage_folder):
            verdict = trusting.verdict(self.cache, self.key, found[1], pin.to_json())
            self.cache.write_json(verdict, {"policy": found[1]})
        # "source": the files are the clone's, not the cache's (what offline says once it is gone)
        record = {**pin.to_json(), "fingerprint": self.fingerprint, "source": "clone"}
        self.cache.write_json(self.record, record)
