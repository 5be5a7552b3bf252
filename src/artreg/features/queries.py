"""Reading the registry: list, show, log, lineage and diff. Nothing here writes.

History and lineage come from git alone: production ← validated ← raw ← training code commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.adapters.files import parse_json
from artreg.adapters.git import history as githistory
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, NotFoundError
from artreg.publishing.rights import promotion_signer_status, signers_of
from artreg.registry.documents import GateResult, Manifest, ManifestFile, Metadata, Source
from artreg.registry.layout import SIGNATURE_FILE, StageDir, raw_dir, validated_dir
from artreg.registry.records import Artifact, Event, Registry, Requirement, iso
from artreg.registry.retirements import Retired, read_retired
from artreg.registry.tags import STAGES, parse_spec, validate_name
from artreg.sources import state

if TYPE_CHECKING:
    from types import ModuleType

    from artreg.reading.resolve import Resolved

# --- list and show ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageEntry:
    """What one stage of an artifact holds now."""

    version: str | None  # "v1.2.0", or None for an unregistered commit
    id: str | None
    folder: str | None
    commit: str
    tag: str
    requires: tuple[str, ...] = ()  # NAME@vX.Y.Z this stage's version needs (its tag says)
    retired: str | None = None  # the date gc retired its folder (artifacts/retired.json)

    def as_json(self) -> dict[str, Any]:
        """One stage of `list`/`show --json`; `requires` and `retired` only where they apply."""
        data = asdict(self)
        for key in ("requires", "retired"):
            if not data[key]:
                del data[key]
            elif key == "requires":
                data[key] = list(self.requires)
        return data


@dataclass(frozen=True)
class ArtifactSummary:
    """One line of `artreg list`: the latest version and every stage (like `gto show`)."""

    name: str
    latest: str | None
    deprecated: bool
    stages: dict[str, StageEntry]
    # `show NAME` only: each stage folder's model.sig as the trust policy sees it (signer, key
    # fingerprint, status), for the stages that have one or require one
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # `show NAME` in a clone: each stage's promotion signer (the `signer` object of history),
    # with `refused` saying why where params.yaml's rights.signed is not met
    signers: dict[str, dict[str, Any]] = field(default_factory=dict)


def overview(
    root: Path,
    registry: Registry | None = None,
    deprecated: bool = False,
    names: list[str] | None = None,
) -> dict[str, ArtifactSummary]:
    """Every name (or `names`) with its latest version and what each stage holds (gto show)."""
    registry = registry or state.load(root, names)
    result: dict[str, ArtifactSummary] = {}
    tombs: dict[str, Retired] | None = None
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        if artifact.deprecated and not deprecated:
            continue
        latest = artifact.latest()
        stages = {}
        tombs = tombs if tombs is not None else read_retired(root)
        for stage, holder in artifact.stages().items():
            event = holder.assignment(stage)
            assert event is not None
            folder = event.folder
            stages[stage] = StageEntry(
                version=f"v{holder.version}" if holder.registered else None,
                id=folder.entry if folder else None,
                folder=folder.relpath if folder else None,
                commit=holder.commit,
                tag=event.tag,
                requires=tuple(str(r) for r in event.requires),
                retired=tombs[folder.relpath].date[:10]
                if folder and folder.relpath in tombs
                else None,
            )
        result[name] = ArtifactSummary(
            name, f"v{latest.version}" if latest else None, artifact.deprecated, stages
        )
    return result


def incomplete_clone(root: Path, empty: bool) -> tuple[str, str] | None:
    """(what this clone lacks, the git command that fetches it) when a listing may be missing
    artifacts: a shallow clone, or (for an empty listing) a clone without tags."""
    return githistory.missing_history(root, check_tags=empty)


def show_entry(
    root: Path, name: str, stage: str | None, version: str | None
) -> tuple[Resolved, dict[str, Any] | None, str | None]:
    """`artreg show NAME@vX` or `NAME#STAGE`: what it resolves to (a version with the stage it
    holds now, if any), its signature status, and the date gc retired its folder (or None)."""
    registry = state.load(root, [validate_name(name)], folders="none")
    fetch = _fetch()
    resolved = fetch.resolve(root, name, stage=stage, version=version, registry=registry)
    if version is not None:
        held = [
            s
            for s, v in registry.get(name).stages().items()
            if v.registered and v.version == resolved.version
        ]
        resolved = replace(resolved, stage=held[-1] if held else None)
    tomb = read_retired(root).get(resolved.folder.relpath)
    return resolved, fetch.signature_status(root, resolved), tomb.date[:10] if tomb else None


def _fetch() -> ModuleType:
    from artreg.features import fetch  # not at module level: `list` needs none of it

    return fetch


def show_artifact(root: Path, name: str) -> ArtifactSummary:
    """`artreg show NAME`: every stage of one artifact (deprecated ones too), with who signed
    each stage's model and with which key, and who signed each stage's promotion tag."""
    fetch = _fetch()
    registry = state.load(root, [validate_name(name)])
    found = overview(root, registry=registry, deprecated=True, names=[name]).get(name)
    if found is None:
        state.load(root, folders="none").get(name)  # raises the NotFoundError naming the known
        raise AssertionError(name)

    def model_signature(stage: str | None, version: str | None) -> dict[str, Any] | None:
        resolved = fetch.resolve(root, name, stage, version, registry, signer=False)
        status: dict[str, Any] | None = fetch.signature_status(root, resolved)
        return status

    shown = with_signatures(found, model_signature)
    return replace(shown, signers=stage_signers(root, registry.get(name)))


def stage_signers(root: Path, artifact: Artifact) -> dict[str, dict[str, Any]]:
    """Each stage's promotion signer, as readers judge it: git's verdict on the tag that put
    the stage's version there, and `refused` (why) where params.yaml's rights.signed at HEAD
    requires a signature the tag lacks (a reader would refuse that stage)."""
    events = {s: v.assignment(s) for s, v in artifact.stages().items()}
    verdicts = signers_of(root, [e.tag for e in events.values() if e is not None])
    found: dict[str, dict[str, Any]] = {}
    for stage, event in events.items():
        if event is None:
            continue
        verdict = verdicts.get(event.tag)
        signer = verdict.as_json() if verdict is not None else None
        try:
            promotion_signer_status(root, event)
        except ArtregError as exc:
            empty = {"principal": None, "fingerprint": None, "verified": False}
            signer = {**(signer or empty), "refused": exc.message}
        if signer is not None:
            found[stage] = signer
    return found


def with_signatures(
    summary: ArtifactSummary, status_of: Callable[[str | None, str | None], dict[str, Any] | None]
) -> ArtifactSummary:
    """`summary` with each stage folder's signature status (`status_of(stage, version)`:
    signing.describe of the folder a built-in stage, or for an extra stage the release it
    holds, resolves to), in a clone or from a registry URL. A deprecated name resolves to
    nothing, so nothing is checked."""
    if summary.deprecated:
        return summary
    signatures = {}
    for stage, entry in summary.stages.items():
        if entry.folder is None or (stage not in STAGES and entry.version is None):
            continue
        # An extra stage holds a release: its folder is that version's.
        at = (stage, None) if stage in STAGES else (None, (entry.version or "").removeprefix("v"))
        try:
            status = status_of(*at)
        except ArtregError as exc:  # show reports; `get` and `verify` refuse
            status = {"file": SIGNATURE_FILE, "status": f"not checked: {exc.message}"}
        if status is not None:
            signatures[stage] = status
    return replace(summary, signatures=signatures)


def history(root: Path, name: str, registry: Registry | None = None) -> list[Event]:
    """Every tag event of `name`, newest first, each with the folder it promoted."""
    name = validate_name(name)
    registry = registry or state.load(root, [name], folders="all")
    return list(reversed(registry.get(name).events))


# --- lineage ------------------------------------------------------------------------------------


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
        from artreg.features.fetch import resolve  # not at module level: `list` needs none of it

        name, stage, version = parse_spec(spec)
        folder = resolve(root, name, stage=stage, version=version, registry=registry).folder
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


# --- diff -----------------------------------------------------------------------------------------


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
    from artreg.features.fetch import resolve

    registry = state.load(root, folders="none")
    ra, rb = (resolve(root, *_spec(s), registry=registry) for s in (a, b))
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
