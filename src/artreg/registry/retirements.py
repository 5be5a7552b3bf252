"""Tombstones: the stage folders gc retired, as committed in artifacts/retired.json.

Every reader (verify, pull, a registry URL, a lock file, gc itself) reads a retirement from
here, so a retired folder reads as retired everywhere, not as missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.adapters.files import parse_json
from artreg.adapters.git import history as githistory
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import IntegrityError
from artreg.registry.jsonform import fields_json
from artreg.registry.layout import RETIRED_JSON
from artreg.registry.records import Registry


@dataclass(frozen=True)
class Retired:
    """One folder whose objects gc deleted: the tombstone in artifacts/retired.json."""

    folder: str
    objects: list[str]
    date: str
    by: str
    policy: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return fields_json(self)

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
    # HEAD's commit is asked only to name it in a message: most registries hold no tombstones,
    # and `list` reads them on every call.
    blob = gitread.show_file(root, "HEAD", RETIRED_JSON)
    if blob is None:
        return {}
    head = gitrun.head(root) or ""
    return parse_retired(blob, f"{RETIRED_JSON}@{head[:12]}")


def default_ref(root: Path) -> tuple[str, str] | None:
    """(branch, ref) of the repository's default branch as git knows it
    (gitrepo.default_branch), read on origin when origin has it; None when HEAD is on it."""
    branch = githistory.default_branch(root)
    if branch is None or branch == gitrun.current_branch(root):
        return None
    remote = f"origin/{branch}"
    return branch, remote if gitrun.ref_exists(root, f"refs/remotes/{remote}") else branch


def surely_default(root: Path, branch: str) -> bool:
    """Whether git itself names `branch` the default (origin's HEAD, else init.defaultBranch or
    git's own "master"), or it is the only local branch: gitrepo.default_branch falls back to
    the branch checked out, which is no answer where a wrong one retires other branches' data."""
    origin = gitrun.git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
    if origin.strip():
        return origin.strip() == f"refs/remotes/origin/{branch}"
    configured = gitrun.git(root, "config", "--get", "init.defaultBranch", check=False).strip()
    if branch == (configured or "master"):
        return True
    heads = gitrun.git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    return heads == [branch]


def retired_on_default(root: Path) -> tuple[str, dict[str, Retired]]:
    """The default branch's name and its tombstones, read through git (no network): a branch
    forked before a gc there lacks them, but their objects are gone all the same."""
    found = default_ref(root)
    if found is None:
        return "", {}
    branch, ref = found
    blob = gitread.show_file(root, ref, RETIRED_JSON)
    return branch, parse_retired(blob, f"{ref}:{RETIRED_JSON}")


def current_on_retired(registry: Registry, retired: Mapping[str, Retired]) -> list[str]:
    """One line per stage that resolves today to a retired folder, whose data consumers can
    no longer fetch, with the way out."""
    found = []
    for name in sorted(registry.artifacts):
        for stage, event in registry.artifacts[name].current().items():
            tomb = retired.get(event.folder.relpath) if event.folder is not None else None
            if tomb is not None:
                found.append(
                    f"{name}#{stage} resolves to {tomb.folder}, retired by gc on "
                    f"{tomb.date[:10]}: consumers cannot fetch it; promote another version "
                    f"to {stage} (or release this one again from its source)"
                )
    return found
