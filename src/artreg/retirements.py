"""Tombstones: the stage folders gc retired, as committed in artifacts/retired.json.

Every reader (verify, pull, a registry URL, a lock file, gc itself) reads a retirement from
here, so a retired folder reads as retired everywhere, not as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import gitrepo
from artreg.errors import IntegrityError
from artreg.fileio import parse_json
from artreg.layout import RETIRED_JSON


@dataclass(frozen=True)
class Retired:
    """One folder whose objects gc deleted: the tombstone in artifacts/retired.json."""

    folder: str
    objects: list[str]
    date: str
    by: str
    policy: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "objects": self.objects,
            "date": self.date,
            "by": self.by,
            "policy": self.policy,
        }

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
    head = gitrepo.head(root)
    blob = gitrepo.show_file(root, head, RETIRED_JSON) if head else None
    return parse_retired(blob, f"{RETIRED_JSON}@{(head or '')[:12]}")
