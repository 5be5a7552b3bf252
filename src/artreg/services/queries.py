"""`log`, `lineage` and `diff`: a name's events, the chain release ← validated ← raw ←
training code commit, and what differs between two entries, from git alone (a clone's
repository, or a registry URL's cache repository with its history fetched). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.adapters.files import parse_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import NotFoundError
from artreg.registry import state
from artreg.registry.documents import GateResult, Manifest, ManifestFile, Metadata, Source
from artreg.registry.layout import StageDir, raw_dir, validated_dir
from artreg.registry.records import Event, Registry, Requirement, iso
from artreg.registry.tags import parse_spec, validate_name
from artreg.sources.clone_fetch import resolve

if TYPE_CHECKING:
    from artreg.reading.resolve import Resolved


def history(root: Path, name: str, registry: Registry | None = None) -> list[Event]:
    """Every tag event of `name`, newest first, each with the folder it promoted."""
    name = validate_name(name)
    registry = registry or state.load(root, [name], folders="all")
    return list(reversed(registry.get(name).events))


@dataclass(frozen=True)
class LineageStep:
    """One folder of a lineage: where it came from, who promoted it, against which gates."""

    stage: str
    id: str
    folder: str
    tag: str | None
    commit: str | None
    date: str | None
    by: str | None
    approved_by: str | None
    gates: list[GateResult]
    files: dict[str, ManifestFile]
    source: Source | None
    training_code: dict[str, Any] | None
    requires: tuple[Requirement, ...] = ()  # the artifact versions this folder needs


@dataclass(frozen=True)
class TrainingCode:
    """The end of a lineage: the training code's commit, as registration recorded it."""

    commit: str
    dirty: bool | None
    path: str | None
    stage: str = field(default="training code", init=False)


def _step(root: Path, registry: Registry, folder: StageDir) -> LineageStep:
    promotions = registry.promotions(folder)
    tagged = promotions[0] if promotions else None
    rev = tagged.commit if tagged else "HEAD"
    manifest_json = gitread.json_at(root, rev, f"{folder.relpath}/manifest.json")
    if manifest_json is None:
        raise NotFoundError(f"{folder.relpath}: not found at {rev[:12]}", hint="check the spec")
    manifest = Manifest.from_json(manifest_json)
    meta_json = gitread.json_at(root, rev, f"{folder.relpath}/metadata.json")
    metadata = Metadata.from_json(meta_json) if meta_json else None
    return LineageStep(
        stage=folder.stage,
        id=folder.entry,
        folder=folder.relpath,
        tag=tagged.tag if tagged else None,
        commit=tagged.commit if tagged else None,
        date=iso(tagged.timestamp) if tagged else manifest_json.get("created_at"),
        by=manifest_json.get("created_by") or (tagged.tagger_line if tagged else None),
        approved_by=metadata.approval.approved_by if metadata and metadata.approval else None,
        gates=metadata.gates if metadata else [],
        files=manifest.files,
        source=metadata.source if metadata else None,
        training_code=manifest.provenance.get("training_code"),
        requires=metadata.requires if metadata else (),
    )


def lineage(root: Path, spec: str) -> list[LineageStep | TrainingCode]:
    """The chain for `NAME@vX.Y.Z`, `NAME#STAGE` or a stage folder path, newest step first."""
    registry = state.load(root, folders="all")
    folder = StageDir.parse(spec.rstrip("/")) if spec.startswith("artifacts/") else None
    if folder is None:
        name, stage, version = parse_spec(spec)
        folder = resolve(
            root, name, stage=stage, version=version, registry=registry, history=True
        ).folder
    chain: list[LineageStep | TrainingCode] = []
    seen = set()
    step: LineageStep | None = None
    next_folder: StageDir | None = folder
    while next_folder is not None and next_folder.relpath not in seen:
        seen.add(next_folder.relpath)
        step = _step(root, registry, next_folder)
        chain.append(step)
        source = step.source
        if source is not None and source.stage == "validated":
            next_folder = validated_dir(next_folder.name, source.id)
        elif source is not None and source.stage == "raw":
            next_folder = raw_dir(next_folder.name, source.id)
        else:
            next_folder = None
    code = step.training_code if step else None
    if code and code.get("commit"):
        chain.append(TrainingCode(code["commit"], code.get("dirty"), code.get("path")))
    return chain


@dataclass(frozen=True)
class DiffSide:
    spec: str
    folder: str
    tag: str
    source: Source | None
    model_sha256: str
    parameter_count: int | None


@dataclass(frozen=True)
class MetricDelta:
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return self.b - self.a if self.a is not None and self.b is not None else None


@dataclass(frozen=True)
class FileChange:
    file: str
    a: str | None  # sha256 in A
    b: str | None


@dataclass(frozen=True)
class Diff:
    """`artreg diff A B`: what changed between two artifacts."""

    a: DiffSide
    b: DiffSide
    metrics: list[MetricDelta]
    files: list[FileChange]

    @property
    def same_model(self) -> bool:
        return self.a.model_sha256 == self.b.model_sha256


def _numbers(root: Path, rev: str, folder: StageDir) -> dict[str, float]:
    found: dict[str, float] = {}
    listing = gitrun.git(
        root, "ls-tree", "-r", "--name-only", rev, folder.relpath + "/", check=False
    )
    for path in listing.split():
        if not path.endswith(".json") or path.endswith(("manifest.json", "metadata.json")):
            continue
        data = gitread.show_file(root, rev, path)
        try:
            parsed = parse_json(data.decode("utf-8"), path) if data else {}
        except Exception:  # a results file that is not JSON is simply not compared
            continue
        if isinstance(parsed, dict):
            for key, value in parsed.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found[key] = float(value)
    return found


def _side(root: Path, spec: str, r: Resolved) -> DiffSide:
    data = gitread.json_at(root, r.commit, f"{r.folder.relpath}/metadata.json")
    meta = Metadata.from_json(data) if data else None
    return DiffSide(
        spec,
        r.folder.relpath,
        r.tag,
        meta.source if meta else None,
        r.files[r.primary].sha256,
        meta.model.parameter_count if meta else None,
    )


def diff(root: Path, a: str, b: str) -> Diff:
    """Metric deltas, gate values, model hashes and sources of two artifacts, side by side."""
    registry = state.load(root, folders="none")
    ra, rb = (resolve(root, *_spec(s), registry=registry, history=True) for s in (a, b))
    ma, mb = _numbers(root, ra.commit, ra.folder), _numbers(root, rb.commit, rb.folder)
    metrics = [MetricDelta(k, ma.get(k), mb.get(k)) for k in sorted(set(ma) | set(mb))]
    files = [
        FileChange(
            rel,
            ra.files[rel].sha256 if rel in ra.files else None,
            rb.files[rel].sha256 if rel in rb.files else None,
        )
        for rel in sorted(set(ra.files) | set(rb.files))
        if (ra.files.get(rel) or None) != (rb.files.get(rel) or None)
    ]
    return Diff(_side(root, a, ra), _side(root, b, rb), metrics, files)


def _spec(spec: str) -> tuple[str, str | None, str | None]:
    name, stage, version = parse_spec(spec)
    return name, stage, version
