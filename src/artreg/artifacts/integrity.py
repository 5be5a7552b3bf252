"""A stage folder checked against its manifest and its history: schemas, every sha256 (the
one hash-and-compare), files no manifest vouches for, pointers, and changes since the commit
that created it. `artreg verify` runs this on every folder; `artreg tag` on those it tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from artreg.adapters import repair, schemas
from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.files import parse_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import compare_files
from artreg.artifacts.formats.safetensors import check_safetensors
from artreg.errors import ArtregError, InputError
from artreg.registry.documents import Manifest
from artreg.registry.formatnames import SAFETENSORS, from_suffix
from artreg.registry.layout import StageDir, stage_folders
from artreg.registry.records import Registry


@dataclass
class Report:
    """Problems found, and how much was checked."""

    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # not problems: e.g. folders gc retired

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n


def check_folder(root: Path, folder: StageDir, report: Report) -> None:
    base = folder.path(root)
    meta = None
    try:
        manifest = parse_json(
            (base / "manifest.json").read_text("utf-8"), f"{folder.relpath}/manifest.json"
        )
        schemas.validate(manifest, "manifest", f"{folder.relpath}/manifest.json")
        if (base / "metadata.json").is_file():
            meta = parse_json(
                (base / "metadata.json").read_text("utf-8"), f"{folder.relpath}/metadata.json"
            )
            schemas.validate(meta, "metadata", f"{folder.relpath}/metadata.json")
    except ArtregError as exc:
        report.problems.append(str(exc.message))
        return
    report.count("folders")
    if manifest["primary"] not in manifest["files"]:
        report.problems.append(
            f"{folder.relpath}/manifest.json: model file {manifest['primary']!r} is not listed in files"
        )
    listed = set(manifest["files"])
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = path.relative_to(base).as_posix()
        if (
            rel in listed
            or rel == "manifest.json"
            or rel.endswith(".dvc")
            or path.name == ".gitignore"
        ):
            continue
        report.problems.append(
            f"{folder.relpath}/{rel}: not listed in the manifest (no sha256 vouches for it)"
        )
    files = Manifest.from_json(manifest).files
    # what the metadata's model records say each model file holds (absent: its suffix says)
    formats = {
        f["path"]: f.get("content_format")
        for f in ((meta or {}).get("model") or {}).get("files", [])
    }
    compared = compare_files(base, files)
    for rel in compared.missing:
        if not files[rel].dvc:
            report.problems.append(
                f"{folder.relpath}/{rel}: listed in the manifest, missing from git"
            )
    report.count("files hashed", len(files) - len(compared.missing))
    for rel, got in compared.mismatched:
        report.problems.append(
            f"{folder.relpath}/{rel}: sha256 {got.sha256} does not match the manifest's {files[rel].sha256}"
            + _shared_object_note(root, folder, rel)
        )
    # Raw folders hold what training wrote, as it wrote it; the stages artreg vouches for are
    # validated and production.
    safetensors = [
        rel
        for rel in (files if folder.stage != "raw" else [])
        if (formats.get(rel) or from_suffix(rel)) == SAFETENSORS
        and rel not in compared.missing
        and rel not in {r for r, _ in compared.mismatched}
    ]
    for rel in safetensors:
        # Header only (8 bytes + the JSON): catches a file registered before artreg checked
        # headers; a failure is a verification problem (exit 1), not bad input.
        try:
            check_safetensors(base / rel)
        except InputError as exc:
            report.problems.append(exc.message.replace(str(base), folder.relpath, 1))
    if safetensors:
        report.count("safetensors headers checked", len(safetensors))
    for pointer in dvccache.pointer_files(root, base):
        try:
            dvccache.read_pointer(pointer)
        except ArtregError as exc:
            report.problems.append(exc.message)


def _shared_object_note(root: Path, folder: StageDir, rel: str) -> str:
    """For an altered file that is its DVC cache object (a hard link or symlink to it), what
    that means and which pull repairs it (a production version linked to the object), else ""."""
    obj = repair.shares_object(root, folder.path(root), rel)
    if obj is None:
        return ""
    linked = [
        StageDir.parse(p.relative_to(root).as_posix()) for p in repair.linked_files(root, obj)
    ]
    released = sorted(f"{d.name}@{d.entry}" for d in linked if d and d.stage == "production")
    if folder.stage == "production":
        released.append(f"{folder.name}@{folder.entry}")
    spec = released[-1] if released else f"{folder.name}@vX.Y.Z (a version holding these bytes)"
    return (
        f"; the DVC cache object {obj} is the same file, so it is altered too (as is every "
        f"folder linked to it): `artreg pull {spec} --force` repairs it"
    )


def check_immutability(
    root: Path, folders: list[StageDir], registry: Registry, report: Report, only_given: bool
) -> None:
    created = gitread.creation_commits(root)
    present = {f.relpath for f in stage_folders(root)}
    for folder in folders:
        commit = created.get(folder.relpath)
        if commit is None:
            continue  # not committed yet (a promotion in progress is reported by the journal)
        changed = gitrun.git(root, "diff", "--name-status", commit, "--", folder.relpath).strip()
        report.count("folders compared with their creation")
        if changed:
            report.problems.append(
                f"{folder.relpath}: changed since it was promoted in {commit[:12]} "
                f"(promoted folders are immutable): " + "; ".join(changed.splitlines()[:10])
            )
    if only_given:
        return
    for relpath, commit in created.items():
        if relpath not in present:
            report.problems.append(f"{relpath}: promoted in {commit[:12]} and since deleted")
    # Folders that a tag names must exist even if git never saw them created here (shallow, or
    # a tag made on another branch or a detached HEAD). The folder is the one the tag's commit
    # names; the problem says whether this checkout could hold it at all.
    head = gitrun.head(root)
    checkout = gitrun.current_branch(root)
    where = f"branch {checkout!r}" if checkout else "the detached HEAD"
    for record in registry.tagged_events():
        named = record.folder
        if named is None or named.relpath in present or named.relpath in created:
            continue
        if head is not None and gitread.is_ancestor(root, record.commit, head):
            report.problems.append(
                f"{named.relpath}: tag {record.tag} names it (commit {record.commit[:12]}), "
                f"but it is missing from the work tree; restore it with "
                f"`git checkout {record.commit[:12]} -- {named.relpath}`"
            )
        else:
            report.problems.append(
                f"{named.relpath}: tag {record.tag} names it, but the tag's commit "
                f"{record.commit[:12]} is not on {where}, so this checkout does not hold the "
                f"folder; merge {record.commit[:12]} into {where}, or verify from a checkout "
                "of that commit"
            )


def folder_problems(root: Path, folder: StageDir) -> list[str]:
    """What is wrong with one stage folder: schema, hashes, unlisted files, changes since creation."""
    report = Report()
    check_folder(root, folder, report)
    check_immutability(root, [folder], Registry(), report, only_given=True)
    return report.problems
