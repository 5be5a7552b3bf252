"""History and lineage from git alone: production ← validated ← raw ← training code commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg import gitrepo
from artreg.consume import resolve
from artreg.errors import NotFoundError
from artreg.index import iso
from artreg.layout import StageDir, raw_dir, validated_dir
from artreg.registry import RegistryState, load_state, message_fields
from artreg.tags import parse_spec


def _tag_for_folder(
    state: RegistryState, root: Path, folder: StageDir
) -> tuple[str, str, int, str] | None:
    """(tag, commit, time, tagger) of the tag that promoted `folder`, from the tag messages."""
    from artreg.index import folder_of

    artifact = state.artifacts.get(folder.name)
    for record in artifact.events if artifact else []:
        if (
            record.parsed.action.value in ("assign", "register")
            and folder_of(root, record) == folder
        ):
            return (
                record.tag,
                record.commit,
                record.timestamp,
                f"{record.tagger} {record.tagger_email}".strip(),
            )
    return None


def _step(root: Path, state: RegistryState, folder: StageDir) -> dict[str, Any]:
    tagged = _tag_for_folder(state, root, folder)
    rev = tagged[1] if tagged else "HEAD"
    manifest = gitrepo.json_at(root, rev, f"{folder.relpath}/manifest.json")
    if manifest is None:
        raise NotFoundError(f"{folder.relpath}: not found at {rev[:12]}", hint="check the spec")
    metadata = gitrepo.json_at(root, rev, f"{folder.relpath}/metadata.json") or {}
    return {
        "stage": folder.stage,
        "id": folder.entry,
        "folder": folder.relpath,
        "tag": tagged[0] if tagged else None,
        "commit": tagged[1] if tagged else None,
        "date": iso(tagged[2]) if tagged else manifest.get("created_at"),
        "by": manifest.get("created_by") or (tagged[3] if tagged else None),
        "approved_by": (metadata.get("approval") or {}).get("approved_by"),
        "gates": (metadata.get("gates") or {}).get("results", []),
        "files": manifest["files"],
        "source": metadata.get("source") or {},
        "training_code": (manifest.get("provenance") or {}).get("training_code"),
    }


def lineage(root: Path, spec: str) -> list[dict[str, Any]]:
    """The chain for `NAME@vX.Y.Z`, `NAME#STAGE` or a stage folder path, newest step first."""
    state = load_state(root)
    folder = StageDir.parse(spec.rstrip("/")) if spec.startswith("artifacts/") else None
    if folder is None:
        name, stage, version = parse_spec(spec)
        folder = resolve(root, name, stage=stage, version=version, state=state).folder
    chain = []
    seen = set()
    while folder is not None and folder.relpath not in seen:
        seen.add(folder.relpath)
        step = _step(root, state, folder)
        chain.append(step)
        source = step["source"]
        if source.get("stage") == "validated":
            folder = validated_dir(folder.name, source["id"])
        elif source.get("stage") == "raw":
            folder = raw_dir(folder.name, source["id"])
        else:
            folder = None
    code = chain[-1].get("training_code") if chain else None
    if code and code.get("commit"):
        chain.append(
            {
                "stage": "training code",
                "commit": code["commit"],
                "dirty": code.get("dirty"),
                "path": code.get("path"),
            }
        )
    return chain


__all__ = ["lineage", "message_fields"]
