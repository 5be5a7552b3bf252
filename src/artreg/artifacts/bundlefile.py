"""The air-gapped bundle file (`artreg bundle create/import`): its tar member layout, its index
and sha256 list, and the member checks that make reading one from a stranger safe.

One uncompressed tar, members in this order:

    SHA256SUMS                        sha256 of every other member, as `sha256sum -c` reads it
    bundle.json                       the index: releases, tags, the tip commit, member sizes
    history.bundle                    a git bundle (git's own format) of the releases' history
    objects/files/md5/xx/yyyy…        each DVC object, in DVC 3's cache layout

Nothing here runs git or DVC; reading a tar never writes outside the folder it is given, and
refuses before writing what it cannot trust (see `read_members`).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from artreg.errors import InputError, IntegrityError

SUMS = "SHA256SUMS"
INDEX = "bundle.json"
HISTORY = "history.bundle"
OBJECTS = "objects/files/md5"
FORMAT = "artreg-bundle/1"
HEAD_LIMIT = 16 << 20  # SHA256SUMS and bundle.json: text, never this large in a real bundle
CHUNK = 1 << 20

_OID = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
_SUM_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")
_FIX = "make the bundle again with `artreg bundle create`, and copy it whole"


def object_member(oid: str) -> str:
    """The member name of DVC object `oid` (`<md5>` or `<md5>.dir`): DVC's cache layout."""
    return f"{OBJECTS}/{oid[:2]}/{oid[2:]}"


def member_object(name: str) -> str | None:
    """The DVC object id a member name holds, or None when it is not an object member."""
    prefix = OBJECTS + "/"
    if not name.startswith(prefix):
        return None
    head, _, tail = name[len(prefix) :].partition("/")
    oid = head + tail
    return oid if len(head) == 2 and "/" not in tail and _OID.match(oid) else None


def sums_text(sums: Mapping[str, str]) -> str:
    """SHA256SUMS: one `sha256  path` line per member, sorted, as `sha256sum -c` reads it."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(sums.items()))


def parse_sums(data: bytes) -> dict[str, str]:
    """member -> sha256 from SHA256SUMS; a malformed line, unsafe path or repeat is bad input."""
    found: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"bundle member {SUMS}: not UTF-8 text", hint=_FIX) from None
    for n, line in enumerate(text.splitlines(), 1):
        m = _SUM_LINE.match(line)
        if m is None:
            raise InputError(f"bundle member {SUMS} line {n}: not `SHA256  PATH`", hint=_FIX)
        name = m.group(2)
        problem = name_problem(name)
        if problem or name == SUMS or name in found:
            why = problem or ("listed twice" if name in found else "lists itself")
            raise InputError(f"bundle member {SUMS} line {n}: {name!r}: {why}", hint=_FIX)
        found[name] = m.group(1)
    return found


def name_problem(name: str) -> str | None:
    """Why a member name could write outside the folder it is extracted to, or None."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return "an absolute or malformed path"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a path leaving or not naming a place under the bundle's root (.., ., //)"
    if len(name) > 4096:
        return "a path too long"
    return None


def check_member(member: tarfile.TarInfo, seen: set[str]) -> None:
    """Refuse a member that is not a regular file at a safe, new path (InputError, exit 2):
    links, devices and folders, `..` or absolute paths, a name already read."""
    where = f"bundle member {member.name!r}"
    problem = name_problem(member.name)
    if problem:
        raise InputError(f"{where}: {problem}; refusing the bundle", hint=_FIX)
    if not member.isreg():
        kind = "a link" if member.issym() or member.islnk() else "not a regular file"
        raise InputError(f"{where}: {kind}; a bundle holds regular files only", hint=_FIX)
    if member.name in seen:
        raise InputError(f"{where}: appears twice in the tar; refusing the bundle", hint=_FIX)
    seen.add(member.name)


@dataclass(frozen=True)
class Release:
    """One release the bundle carries: its version tag and that tag's commit."""

    name: str
    version: str
    tag: str
    commit: str


@dataclass(frozen=True)
class Index:
    """bundle.json: what the bundle holds, and the size of every member after the index."""

    releases: tuple[Release, ...]
    tip: str  # the commit every bundled release commit is an ancestor of
    branch: str  # the branch the tip was on where the bundle was made
    tags: Mapping[str, str]  # tag -> object id (the tag object), every tag of the git bundle
    sizes: Mapping[str, int]  # member -> bytes (history.bundle and the objects)
    source: str = ""
    created: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created": self.created,
            "source": self.source,
            "branch": self.branch,
            "tip": self.tip,
            "releases": [
                {"name": r.name, "version": r.version, "tag": r.tag, "commit": r.commit}
                for r in self.releases
            ],
            "tags": dict(sorted(self.tags.items())),
            "members": dict(sorted(self.sizes.items())),
        }


def _text(doc: Mapping[str, Any], key: str, pattern: str = r".+") -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise InputError(f"bundle member {INDEX}: field /{key} is missing or malformed", hint=_FIX)
    return value


def parse_index(data: bytes) -> Index:
    """The index from bundle.json's bytes; anything malformed is bad input (exit 2)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"bundle member {INDEX}: not JSON ({exc})", hint=_FIX) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(
            f"bundle member {INDEX}: field /format is not {FORMAT!r}",
            hint="make the bundle with this version of artreg",
        )
    sha = r"[0-9a-f]{40}([0-9a-f]{24})?"
    releases, tags, sizes = doc.get("releases"), doc.get("tags"), doc.get("members")
    if (
        not isinstance(releases, list)
        or not releases
        or not all(isinstance(r, dict) for r in releases)
    ):
        raise InputError(f"bundle member {INDEX}: field /releases lists no release", hint=_FIX)
    if not isinstance(tags, dict) or not all(
        isinstance(v, str) and re.fullmatch(sha, v) for v in tags.values()
    ):
        raise InputError(f"bundle member {INDEX}: field /tags is malformed", hint=_FIX)
    if not isinstance(sizes, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes.values()
    ):
        raise InputError(f"bundle member {INDEX}: field /members is malformed", hint=_FIX)
    for name in sizes:
        problem = name_problem(name)
        if problem:
            raise InputError(f"bundle member {INDEX}: /members {name!r}: {problem}", hint=_FIX)
    return Index(
        releases=tuple(
            Release(_text(r, "name"), _text(r, "version"), _text(r, "tag"), _text(r, "commit", sha))
            for r in releases
        ),
        tip=_text(doc, "tip", sha),
        branch=_text(doc, "branch", r"[^\s~^:?*\[\\-][^\s~^:?*\[\\]*"),
        tags={str(k): str(v) for k, v in tags.items()},
        sizes={str(k): int(v) for k, v in sizes.items()},
        source=str(doc.get("source") or ""),
        created=str(doc.get("created") or ""),
    )


@dataclass(frozen=True)
class Member:
    """One member as read: where it was written, its sha256, and its md5 (DVC's object id)."""

    path: Path
    sha256: str
    md5: str
    size: int


def _small(tar: tarfile.TarFile, member: tarfile.TarInfo | None, want: str) -> bytes:
    if member is None or member.name != want:
        got = "nothing" if member is None else repr(member.name)
        raise InputError(f"bundle: member {want} must come next, found {got}", hint=_FIX)
    check_member(member, set())
    if member.size > HEAD_LIMIT:
        raise InputError(f"bundle member {want}: {member.size} bytes, too large", hint=_FIX)
    fh = tar.extractfile(member)
    assert fh is not None  # a regular file
    return fh.read()


def _copy(src: IO[bytes], dst: Path, size: int, progress: Callable[[int], None] | None) -> Member:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    dst.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    with dst.open("xb") as out:
        while done < size:
            block = src.read(min(CHUNK, size - done))
            if not block:
                break
            sha.update(block)
            md5.update(block)
            out.write(block)
            done += len(block)
            if progress:
                progress(len(block))
    return Member(dst, sha.hexdigest(), md5.hexdigest(), done)


def _free(dest: Path) -> int:
    folder = dest
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def read_members(
    bundle: Path, dest: Path, progress: Callable[[int], None] | None = None
) -> tuple[Index, dict[str, Member]]:
    """Extract `bundle` into `dest` (a new, private folder), checking as it reads: SHA256SUMS and
    bundle.json first, then only members they list, each a regular file at a safe path, read
    once, of the size the index declares (a larger header is refused before reading it), whose
    sha256 matches its line. Malformed input raises InputError (exit 2); a member whose bytes
    differ or that is missing raises IntegrityError (exit 1)."""
    try:
        tar = tarfile.open(bundle, mode="r|")  # noqa: SIM115  # a stream, closed below
    except (OSError, tarfile.TarError) as exc:
        raise InputError(f"{bundle}: not a readable tar file ({exc})", hint=_FIX) from None
    found: dict[str, Member] = {}
    with tar:
        try:
            members = iter(tar)
            sums_data = _small(tar, next(members, None), SUMS)
            sums = parse_sums(sums_data)
            index_data = _small(tar, next(members, None), INDEX)
            index_sha = hashlib.sha256(index_data).hexdigest()
            if sums.get(INDEX) != index_sha:
                raise IntegrityError(
                    f"bundle member {INDEX}: sha256 is {index_sha}, {SUMS} records "
                    f"{sums.get(INDEX)}: its bytes were altered",
                    hint=_FIX,
                )
            index = parse_index(index_data)
            unlisted = sorted(set(index.sizes) ^ (set(sums) - {INDEX}))
            if unlisted:
                raise InputError(
                    f"bundle: {SUMS} and {INDEX} disagree on the members ({unlisted[0]})",
                    hint=_FIX,
                )
            need, free = sum(index.sizes.values()), _free(dest)
            if need > free:
                raise InputError(
                    f"{bundle}: its members need {need} bytes, the disk of {dest} has {free} free",
                    hint="free space there, or point TMPDIR at a larger disk",
                )
            seen = {SUMS, INDEX}
            for member in members:
                check_member(member, seen)
                where = f"bundle member {member.name!r}"
                if member.name not in sums:
                    raise InputError(f"{where}: not listed in {SUMS}", hint=_FIX)
                if member.size != index.sizes[member.name]:
                    raise InputError(
                        f"{where}: the tar header says {member.size} bytes, {INDEX} "
                        f"{index.sizes[member.name]}; refusing it unread",
                        hint=_FIX,
                    )
                fh = tar.extractfile(member)
                assert fh is not None
                got = _copy(fh, dest / member.name, member.size, progress)
                if got.size != member.size:
                    raise InputError(f"{where}: the tar ends inside it (truncated)", hint=_FIX)
                if got.sha256 != sums[member.name]:
                    raise IntegrityError(
                        f"{where}: sha256 is {got.sha256}, {SUMS} records "
                        f"{sums[member.name]}: its bytes were altered",
                        hint=_FIX,
                    )
                found[member.name] = got
        except tarfile.TarError as exc:
            raise InputError(f"{bundle}: not a readable tar file ({exc})", hint=_FIX) from None
    missing = sorted(set(sums) - set(found) - {INDEX})
    if missing:
        raise IntegrityError(
            f"bundle: member {missing[0]} is listed in {SUMS} but not in the tar"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            hint=_FIX,
        )
    return index, found


# --- writing ---------------------------------------------------------------------------------


class HashingReader(io.RawIOBase):
    """A file read into the tar, hashed (sha256) and counted on the way: one read per byte."""

    def __init__(self, fh: io.BufferedReader, progress: Callable[[int], None] | None) -> None:
        self.fh, self.sha, self.progress = fh, hashlib.sha256(), progress

    def read(self, size: int = -1) -> bytes:
        block = self.fh.read(size)
        self.sha.update(block)
        if self.progress and block:
            self.progress(len(block))
        return block


def member_info(name: str, size: int) -> tarfile.TarInfo:
    """A member header that says nothing of the machine that made it (no owner, no time)."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o444
    return info


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """A member of `data`, written whole."""
    tar.addfile(member_info(name, len(data)), io.BytesIO(data))


def dumps(doc: Mapping[str, Any]) -> str:
    """bundle.json's text: stable, readable JSON."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def check_object(members: Mapping[str, Member], oid: str, where: str, hint: str) -> Member:
    """The member holding DVC object `oid`, refused when missing or when its md5 is not `oid`."""
    member = members.get(object_member(oid))
    if member is None:
        raise IntegrityError(f"{where}: its DVC object {oid} is missing from the bundle", hint=hint)
    if member.md5 != oid.removesuffix(".dir"):
        raise IntegrityError(
            f"{where}: the bundle's DVC object {oid} has md5 {member.md5}: its bytes were altered",
            hint=hint,
        )
    return member
