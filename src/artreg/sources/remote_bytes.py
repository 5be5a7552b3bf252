"""Where a URL's model bytes come from: a
file git tracks is a blob of the cache repository; a DVC-tracked one is an object of the DVC
remote that `.dvc/config` names (or `remote=`), found through the folder's `.dvc` pointer (the
consumer cache streams them in, verified against the manifest's sha256 as they arrive)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING

from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.files import parse_yaml
from artreg.errors import InputError, NotFoundError
from artreg.sources.base import Pin

if TYPE_CHECKING:
    from artreg.adapters.dvc.remote import RemoteReader

Opener = Callable[[], AbstractContextManager[IO[bytes]]]
# The committed bytes of those paths that exist at a commit (RemoteRegistry.files_at).
FilesAt = Callable[[str, Sequence[str], Sequence[str]], dict[str, bytes]]


def openers(
    files_at: FilesAt,
    url: str,
    pin: Pin,
    remote: str | None,
    remote_config: Mapping[str, str] | None = None,
) -> Callable[[str], Opener]:
    """For each file a consumer gets, how to open its bytes: a git blob, or an object of the
    registry's DVC remote found through the folder's `.dvc` pointer."""
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
    blobs = files_at(pin.commit, wanted, [pin.folder])
    where = f"{url} at {pin.commit[:12]}"
    reader: RemoteReader | None = None
    if pointer_paths:
        config = blobs.get(".dvc/config")
        if config is None:
            raise NotFoundError(
                f"{where}: no .dvc/config, so no DVC remote is named",
                hint="pass the remote's URL: `--remote s3://bucket/prefix` on the command line, "
                "remote='s3://bucket/prefix' in Python",
            )
        store = dvcremote.remote_store(
            config.decode("utf-8", "replace"), remote, f"{where}: .dvc/config", remote_config
        )
        reader = dvcremote.RemoteReader(store)
    listings: dict[str, dict[str, str]] = {}  # each `.dir` read and parsed once
    outs: dict[str, str] = {}  # each pointer parsed once
    found: dict[str, Opener] = {}
    for rel in selected:
        if rel not in pin.dvc_files:
            data = blobs.get(f"{pin.folder}/{rel}")
            if data is None:
                raise NotFoundError(
                    f"{where}: {pin.folder}/{rel} is not in git",
                    hint="run `artreg verify` in the registry",
                )
            found[rel] = _bytes_opener(data)
            continue
        assert reader is not None
        md5 = _object_of(url, pin, rel, pointer_paths[rel], blobs, reader, listings, outs)
        found[rel] = _remote_opener(reader, md5)
    return lambda rel: found[rel]


def _object_of(
    url: str,
    pin: Pin,
    rel: str,
    candidates: list[str],
    blobs: Mapping[str, bytes],
    reader: RemoteReader,
    listings: dict[str, dict[str, str]],
    outs: dict[str, str],
) -> str:
    """The md5 of the DVC object holding `rel`: its own pointer's, or its entry in the listing
    of the folder's pointer. `outs` (pointer -> md5) and `listings` (md5 -> its entries) carry
    what was parsed for earlier files: each pointer is parsed, and each listing read, hashed
    and parsed, once per fetch, however many files it covers."""
    for pointer in candidates:
        if pointer not in blobs:
            continue
        if pointer not in outs:
            outs[pointer] = _pointer_md5(url, pin, pointer, blobs[pointer])
        md5 = outs[pointer]
        covered = pointer[len(pin.folder) + 1 : -len(".dvc")]
        if covered == rel:
            return md5
        if not md5.endswith(".dir"):
            break
        where = f"{url}: {pointer} at {pin.commit[:12]}"
        if md5 not in listings:
            with reader.open(md5) as fh:
                listings[md5] = dvccache.dir_entries(fh.read(), md5, where)
        return dvccache.dir_entry(listings[md5], md5, rel[len(covered) + 1 :], where)
    raise NotFoundError(
        f"{url}: no .dvc pointer for {pin.folder}/{rel} at {pin.commit[:12]}",
        hint="the manifest says DVC holds it but no pointer names it; run `artreg verify` in the registry",
    )


def _pointer_md5(url: str, pin: Pin, pointer: str, raw: bytes) -> str:
    """The md5 the committed `.dvc` file `pointer` names, checked to cover its own path."""
    where = f"{url}: {pointer} at {pin.commit[:12]}"
    out = dvccache.pointer_out(parse_yaml(raw.decode("utf-8", "replace"), where), where)
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


def _bytes_opener(data: bytes) -> Opener:
    return lambda: contextlib.nullcontext(io.BytesIO(data))


def _remote_opener(reader: RemoteReader, md5: str) -> Opener:
    return lambda: reader.open(md5)
