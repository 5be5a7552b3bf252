"""Building the read model (`registry.records.Registry`) once per command, from as few git calls
as exist; the fold itself (GTO's rules) is `artreg.registry.fold`.

GTO rebuilds its state by asking git for each tag separately; here every tag arrives in one
`git for-each-ref` call and the state is one pass over them in time order. Which folder a tag
promoted is in artreg's tag message; for tags another tool wrote (gto, Studio), it is
`artifacts.<name>.path` in `dvc.yaml` at the tag's commit, and every such file the command
needs is read in one `git cat-file --batch` process and parsed with libyaml.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from artreg.adapters.git import read as gitread
from artreg.adapters.git.tagstream import FOR_EACH_REF_FORMAT
from artreg.registry import dvcyaml
from artreg.registry.fold import current_events, fold
from artreg.registry.layout import StageDir
from artreg.registry.records import Event, Registry
from artreg.registry.tags import parse_tag

Folders = Literal["current", "all", "none"]


def parse_for_each_ref(output: str) -> list[Event]:
    """Turn `git for-each-ref --format=FOR_EACH_REF_FORMAT refs/tags` output into events.

    Tags outside the grammar are skipped; lightweight ones are kept but marked, because GTO
    counts them for the next counter while ignoring them for the registry state. Messages are
    read only for the events a command asks about (`Event.folder`).
    """
    events: list[Event] = []
    for chunk in output.split("\x1e"):
        fields = chunk.split("\x00")
        if len(fields) < 8:
            continue
        objecttype, refname, objectname, peeled, date, tagger, email, contents = fields[:8]
        parsed = parse_tag(refname)
        if parsed is None:
            continue
        annotated = objecttype == "tag"
        events.append(
            Event(
                refname,
                parsed,
                peeled if annotated else objectname,
                int(date or 0),
                tagger,
                email,
                contents.rstrip("\n"),
                annotated,
            )
        )
    return events


def resolve_folders(root: Path, events: Iterable[Event]) -> None:
    """Fill in the folders of tags another tool wrote: `dvc.yaml` at each of their commits,
    read in one `git cat-file --batch` and parsed once per distinct file."""
    pending = [e for e in events if e.needs_dvc_yaml]
    if not pending:
        return
    blobs = gitread.read_blobs(root, sorted({f"{e.commit}:{dvcyaml.DVC_YAML}" for e in pending}))
    parsed: dict[bytes, dict[str, str]] = {}
    for event in pending:
        data = blobs.get(f"{event.commit}:{dvcyaml.DVC_YAML}")
        if data is None:
            continue
        if data not in parsed:
            parsed[data] = dvcyaml.artifact_paths(data, f"dvc.yaml at {event.commit[:8]}")
        path = parsed[data].get(event.name)
        event.folder = StageDir.parse(path) if path else None


def load(root: Path, names: Sequence[str] | None = None, folders: Folders = "current") -> Registry:
    """The registry at `root` (of all names, or just `names`): one `git for-each-ref`, plus one
    `git cat-file --batch` when tags another tool wrote must say which folder they promoted.

    `folders` says whose folders are needed: the tags behind the current stages (what listing
    and resolving need), every promoting tag (verification, review, lineage), or none.
    """
    # Git prints nothing until it has read every tag: time to load the YAML parser, in case
    # the tags turn out to be another tool's.
    output = gitread.for_each_ref(root, FOR_EACH_REF_FORMAT, names, while_waiting=dvcyaml.prepare)
    events = parse_for_each_ref(output)
    registry = fold(events, partial=bool(names))
    complete(root, registry, folders)
    return registry


def complete(root: Path, registry: Registry, folders: Folders = "current") -> None:
    """Resolve the folders `folders` names (see `load`)."""
    if folders == "current":
        resolve_folders(root, current_events(registry))
    elif folders == "all":
        resolve_folders(root, registry.tagged_events())
