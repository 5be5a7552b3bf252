"""A DVC remote that is a folder on this machine, checked before DVC fetches from it.

Two things DVC does not tell apart, or does not leave alone, when the remote is a local folder:

- a remote folder that is gone (moved, unmounted) or unreadable reads to DVC as a remote
  lacking every object ("push it"); it is an unreachable remote (RemoteUnavailable, exit 4,
  naming the folder), which says nothing about the registry's data;
- DVC checks each object it is about to fetch by hashing it in the remote, and deletes one whose
  bytes do not hash to its name (dvc-data's `HashFileDB.check`): a read would erase the
  evidence of tampering and leave every later reader told "no object, push it". So each object
  the cache lacks is hashed here first, read-only, and an altered one is refused (exit 1, its
  md5) before DVC sees it; it stays in the remote. Asking a local remote which objects it
  holds (`verify --remote`) hashes them here, read-only, instead of through DVC's check.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from artreg.adapters.dvc.cache import read_pointer
from artreg.errors import IntegrityError, RemoteUnavailable

_CHUNK = 1 << 20


def local_root_problem(folder: Path) -> str | None:
    """Why the remote folder `folder` cannot be read, or None when it can."""
    if not folder.exists():
        return f"its folder {folder} does not exist (moved, deleted, or not mounted)"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"its folder {folder} cannot be read (permission denied)"
    return None


def unavailable(name: str, folder: Path, problem: str, outcome: str) -> RemoteUnavailable:
    """The error for a remote folder that cannot be read: the remote, the folder, the fix."""
    return RemoteUnavailable(
        f"DVC remote {name} cannot be read, so {outcome}: {problem}",
        hint=f"mount or restore {folder} (or point the remote elsewhere: `dvc remote list`), "
        "then run the command again",
    )


def before_fetch(repo: Any, root: Path, targets: Sequence[str], remote: str | None) -> None:
    """Check the remote DVC is about to fetch `targets` from, when it is a local folder: its
    folder readable, and every object of `targets` the cache lacks intact in it."""
    try:
        odb = repo.cloud.get_remote_odb(remote, "fetch")
    except Exception:  # no remote, a bad configuration: DVC's fetch says so in its words
        return
    if odb.fs.protocol != "local" or odb.hash_name != "md5":
        return
    name = remote or repo.config["core"].get("remote") or "(default)"
    base = Path(odb.path)
    folder = base.parent.parent if base.parts[-2:] == ("files", "md5") else base
    problem = local_root_problem(folder)
    if problem:
        raise unavailable(name, folder, problem, "nothing was fetched")
    cache = repo.cache.local
    for target in targets:
        for oid in _oids(root, target, [cache, odb]):
            if os.path.isfile(cache.oid_to_path(oid)):
                continue  # DVC fetches nothing the cache has
            path = Path(odb.oid_to_path(oid))
            got = _md5(path)
            if got is not None and got != oid.split(".", 1)[0]:
                what = (
                    f"the remote's directory object {oid} does not hash to its name"
                    if oid.endswith(".dir")
                    else f"the remote holds altered bytes for md5 {oid}"
                )
                raise IntegrityError(
                    f"{target}: {what} ({path} hashes to {got}); nothing was fetched, and the "
                    f"object was left in the DVC remote {name} as it is",
                    hint="keep a copy of it as evidence, then push the right bytes from a clone "
                    "that has them (`dvc push`), and report it",
                )


def present_in_local(odb: Any, oids: Sequence[str], name: str) -> set[str] | None:
    """Which of `oids` a local remote holds, each hashed (what DVC's `oids_exist` answers
    there, without its deleting an altered one); None for any other remote (ask DVC).
    IntegrityError naming every object whose bytes do not hash to its name."""
    if odb.fs.protocol != "local" or odb.hash_name != "md5":
        return None
    bad, present = [], set()
    for oid in oids:
        path = Path(odb.oid_to_path(oid))
        got = _md5(path)
        if got is not None and got != oid.split(".", 1)[0]:
            bad.append(f"{path} (md5 {got})")
        elif got is not None:
            present.add(oid)
    if bad:
        raise IntegrityError(
            f"the DVC remote {name} holds objects whose bytes were altered (they do not hash "
            f"to their names), left there as they are: {', '.join(bad)}",
            hint="keep copies of them as evidence, then push the right bytes from a clone that "
            "has them (`dvc push`), and report it",
        )
    return present


def _md5(path: Path) -> str | None:
    """md5 of a remote object's bytes (DVC's name for it), or None when it is not there."""
    digest = hashlib.md5()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _oids(root: Path, target: str, odbs: Sequence[Any]) -> list[str]:
    """The objects DVC fetches for `target` (a tracked file or folder, a file inside a tracked
    folder, or its `.dvc` pointer): the pointer's own, and those of its `.dir` listing under
    the target's path."""
    path = root / target
    if path.name.endswith(".dvc"):
        path = path.with_name(path.name.removesuffix(".dvc"))
    for out in (path, *path.parents):
        if out == root or root not in out.parents:
            return []
        pointer = out.with_name(f"{out.name}.dvc")
        if pointer.is_file():
            break
    else:
        return []
    md5 = str(read_pointer(pointer).get("md5") or "")
    if not md5:
        return []
    if not md5.endswith(".dir"):
        return [md5]
    inner = path.relative_to(out).parts
    return [md5, *_listed(odbs, md5, inner)]


def _listed(odbs: Sequence[Any], md5: str, inner: tuple[str, ...]) -> list[str]:
    """The objects a `.dir` listing names at or under the path `inner` inside its folder."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    for odb in odbs:
        try:
            tree = Tree.load(odb, HashInfo("md5", md5))
        except Exception:  # absent, or altered (its own md5 is checked as an object): next
            continue
        return [
            str(hi.value) for key, _, hi in tree if hi is not None and key[: len(inner)] == inner
        ]
    return []
