"""A warm `get_artifact_path` across processes: the path the last full answer served, kept in the
consumer cache (`warm/`) with what proves it still stands, so a new process answers it with one
`git ls-remote` (a registry URL) or none (a clone) and a stat per file.

The proof is taken before the full answer runs, so it never vouches for a registry state the
answer did not see (a change in between only costs the next call the full way): for a URL, git's own listing of HEAD and the name's tags, compared as text; for a clone,
the stat of what git rewrites when a tag or HEAD moves (HEAD, packed-refs, the loose tag folder,
the branch's ref), kept only when none of them changed within a tick of the clock before it was
taken (git's "racily clean" rule, as for verification records). The consumer cache's own
documents the full answer read (trust records, the last answers, signature verdicts) are held
to their stat after it, and each file to its verification record (artreg.adapters.verified):
anything else, and every read with options this does not cover, goes the full way, which keeps
the answer again.

This module loads nothing the full way needs: no fold, no trust policy, no subprocess module.
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from pathlib import Path

from artreg.adapters import settings
from artreg.adapters.git import tagstream
from artreg.adapters.verified import recorded

TYPE_CHECKING = False  # not typing's: this module keeps a warm read's imports small
if TYPE_CHECKING:
    from collections.abc import Sequence

FORMAT = "artreg-warm-2"  # 2: a model folder's own folders are guards
FOLDER = "warm"
Stat = tuple[int, int, int, int] | None


class Look:
    """One warm read: its key, the memo's path, and (once taken) the proof of the registry's
    state it was looked up under."""

    def __init__(self, cache: str, key: list[str], kind: str, target: str) -> None:
        self.cache = cache
        self.key = key
        self.kind = kind  # "url" or "clone" (guessed as locate decides; checked when kept)
        self.target = target  # the URL as given, or the clone's root as git would find it
        raw = "\0".join(key).encode("utf-8", "surrogateescape")
        name = f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.memo"  # the key is inside, too
        self.memo = os.path.join(cache, FOLDER, name)
        self.proof: list[str] | None = None
        self.taken_ns = 0


def look(
    repo: str | os.PathLike[str] | None,
    name: str,
    stage: str | None,
    version: str | None,
    cache_dir: str | os.PathLike[str] | None,
    offline: bool | None = None,
) -> tuple[Path | None, Look | None]:
    """(the path, None) when the kept answer stands; else (None, a Look to `keep` the full
    answer with), or (None, None) when this read cannot be kept (offline, an unusual layout)."""
    if offline or (offline is None and settings.offline()):
        return None, None  # the cache alone answers (sources/offline.py)
    if not all(isinstance(v, str) for v in (name, stage or "", version or "")):
        return None, None  # the full way says what is wrong with it
    try:
        cache = (
            os.path.abspath(os.path.expanduser(cache_dir))
            if cache_dir
            else os.fspath(settings.cache_dir())
        )
    except Exception:  # no cache folder can be named: nothing is kept, as for records
        return None, None
    found = _locate(repo)
    if found is None:
        return None, None
    kind, target, given = found
    key = [FORMAT, kind, given, target, name, "" if version else (stage or ""), version or ""]
    memo = Look(cache, key, kind, target)
    memo.taken_ns = time.time_ns()
    memo.proof = _proof(kind, target, name)
    if memo.proof is None:
        return None, None
    kept = _read(memo.memo)
    if kept is None or kept[0] != key or kept[1] != memo.proof:
        return None, memo
    guards, files, answer = kept[2], kept[3], kept[4]
    if any(stat_of(path) != want for path, want in guards):
        return None, memo
    for path, sha256, size in files:
        try:
            st = os.stat(path)
        except OSError:
            return None, memo
        if st.st_size != size or recorded(cache, st) != sha256:
            return None, memo
    return Path(answer), None


def _locate(repo: str | os.PathLike[str] | None) -> tuple[str, str, str] | None:
    """(kind, target, the repo as given) as sources.locate would decide it, for the plain
    cases: a URL with a scheme, a bare repository's path, or a folder inside a clone whose
    repository is its `.git` folder (no GIT_DIR or GIT_WORK_TREE redirecting git)."""
    if os.environ.get("GIT_DIR") or os.environ.get("GIT_WORK_TREE"):
        return None
    text = None if repo is None else os.fspath(repo)
    if not isinstance(text, (str, type(None))) or (text or "").startswith("oci://"):
        return None  # bytes, or an OCI repository (sources/oci.py): the full way decides
    if text is not None and settings.url_ttl() not in ("", "0") and _bare_or_url(text):
        return None  # a URL asked again only after its TTL: the resident path (sources/url.py)
    if text is not None and "://" in text:
        return "url", text.rstrip("/"), text
    if text is not None:
        path = os.path.abspath(text)
        if _bare_or_url(path):
            return "url", os.path.realpath(os.path.expanduser(text)), path
        if not os.path.isdir(path):
            return None
    elif settings.repo():
        return None  # the registry settings.repo() names applies only outside a repository
    else:
        path = os.getcwd()
    here = os.path.realpath(path)
    while not os.path.isdir(os.path.join(here, ".git")):
        if os.path.lexists(os.path.join(here, ".git")):
            return None  # a linked work tree or a submodule: git says where its refs are
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    if os.path.exists(os.path.join(here, ".git", "reftable")):
        return None  # refs in git's reftable: no file's stat shows a tag move
    return "clone", here, path


def _bare_or_url(text: str) -> bool:
    """A URL with a scheme, or a bare repository's path (both read as a registry URL)."""
    if "://" in text:
        return True
    path = os.path.abspath(text)
    return os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(
        os.path.join(path, "objects")
    )


def _proof(kind: str, target: str, name: str) -> list[str] | None:
    if kind == "url":
        return _listing(target, name)
    return [show(stat_of(p)) for p in ref_files(target)]


def _listing(url: str, name: str) -> list[str] | None:
    """HEAD and the name's tags as the registry lists them now (one `git ls-remote`)."""
    patterns = [f"refs/tags/{name}{sep}*" for sep in "#@"]
    listing = tagstream.Listing(".", ["ls-remote", url, "HEAD", *patterns])
    try:
        text = listing.read_text()
    finally:
        listing.close()
    return text.splitlines() if listing.returncode == 0 else None


def ref_files(root: str) -> list[str]:
    """What git rewrites when a tag or HEAD moves: HEAD, packed-refs, the loose tag folder (a
    tag made, moved or deleted renames an entry in it) and the ref of HEAD's branch."""
    git_dir = os.path.join(root, ".git")
    paths = [
        os.path.join(git_dir, p) for p in ("HEAD", "packed-refs", os.path.join("refs", "tags"))
    ]
    try:
        with open(paths[0], encoding="utf-8") as fh:
            head = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return paths
    if head.startswith("ref: refs/"):
        paths.append(os.path.join(git_dir, *head.removeprefix("ref: ").split("/")))
    return paths


def stat_of(path: str) -> Stat:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def show(found: Stat) -> str:
    return "-" if found is None else " ".join(map(str, found))


# --- the memo file: one field per line, each hex-encoded (any path or name round-trips) ------


def _read(
    memo: str,
) -> tuple[list[str], list[str], list[tuple[str, Stat]], list[tuple[str, str, int]], str] | None:
    try:
        with open(memo, "rb") as fh:
            lines = fh.read().decode("ascii").split("\n")[:-1]  # each field ends its line
        fields = [bytes.fromhex(line).decode("utf-8", "surrogateescape") for line in lines]
        key_len, proof_len, guard_len, file_len = (int(f) for f in fields[1:5])
        at = 5
        key = fields[at : at + key_len]
        at += key_len
        proof = fields[at : at + proof_len]
        at += proof_len
        guards = [(fields[at + 2 * i], _parse(fields[at + 2 * i + 1])) for i in range(guard_len)]
        at += 2 * guard_len
        files = [
            (fields[at + 3 * i], fields[at + 3 * i + 1], int(fields[at + 3 * i + 2]))
            for i in range(file_len)
        ]
        at += 3 * file_len
        if fields[0] != FORMAT or len(fields) != at + 1:
            return None
        return key, proof, guards, files, fields[at]
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def _parse(text: str) -> Stat:
    if text == "-":
        return None
    ino, size, mtime, ctime = (int(v) for v in text.split(" "))
    return (ino, size, mtime, ctime)


def write(
    memo: Look,
    guards: Sequence[str],
    files: Sequence[tuple[str, str, int]],
    answer: str,
) -> None:
    """Write the memo (a temporary file renamed into place); an unwritable cache only costs
    the next call the full way."""
    assert memo.proof is not None
    fields = [FORMAT, str(len(memo.key)), str(len(memo.proof)), str(len(guards)), str(len(files))]
    fields += [*memo.key, *memo.proof]
    for path in guards:
        fields += [path, show(stat_of(path))]
    for path, sha256, size in files:
        fields += [path, sha256, str(size)]
    fields.append(answer)
    text = "".join(f"{f.encode('utf-8', 'surrogateescape').hex()}\n" for f in fields)
    folder = os.path.dirname(memo.memo)
    tmp = os.path.join(folder, f".{os.path.basename(memo.memo)}.{os.urandom(6).hex()}.tmp")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(text)
        os.replace(tmp, memo.memo)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
