"""The documents a stage folder holds, as plain typed records: the manifest (every file with its
sha256, and the gates evaluated) and the metadata (where the folder came from, its model files,
approvals, requirements). Each has one constructor (`Manifest(...)`/`Metadata(...)` to write one,
`from_json` to read one back) and one serialisation (`to_json`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from artreg.registry.formatnames import FormatInfo, from_suffix
from artreg.registry.jsonform import fields_json
from artreg.registry.layout import StageDir
from artreg.registry.records import Requirement


@dataclass(frozen=True)
class GateResult:
    """One promotion gate evaluated: the rule, the value found, and the verdict."""

    metric: str
    op: str
    threshold: Any
    value: Any
    passed: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["reason"]:
            del data["reason"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateResult:
        return cls(
            str(data.get("metric")),
            str(data.get("op")),
            data.get("threshold"),
            data.get("value"),
            bool(data.get("passed")),
            str(data.get("reason") or ""),
        )


@dataclass(frozen=True)
class ManifestFile:
    """One file of a stage folder as its manifest records it."""

    sha256: str
    size: int
    dvc: bool = False  # the bytes are in DVC, not in git

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, **({"dvc": True} if self.dvc else {})}


@dataclass(frozen=True)
class Manifest:
    """`manifest.json` of a stage folder: every file with its sha256 and size."""

    stage: str
    name: str
    id: str
    created_at: str
    created_by: str
    primary: str  # the model file (or the checkpoint), relative to the folder
    files: dict[str, ManifestFile]
    provenance: dict[str, Any]
    tool_version: str
    schema_version: int = 1

    @property
    def folder(self) -> StageDir:
        return StageDir(self.stage, self.name, self.id)

    @property
    def dvc_files(self) -> frozenset[str]:
        return frozenset(rel for rel, f in self.files.items() if f.dvc)

    @property
    def training_code(self) -> dict[str, Any]:
        code = self.provenance.get("training_code")
        return code if isinstance(code, dict) else {}

    def to_json(self) -> dict[str, Any]:
        return fields_json(
            self,
            omit=["tool_version"],
            files={rel: f.to_json() for rel, f in sorted(self.files.items())},
            tool={"name": "artreg", "version": self.tool_version},
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """A manifest from its (schema-valid) JSON document."""
        return cls(
            stage=data["stage"],
            name=data["name"],
            id=data["id"],
            created_at=data["created_at"],
            created_by=data.get("created_by") or "",
            primary=data["primary"],
            files={
                rel: ManifestFile(e["sha256"], e["size"], bool(e.get("dvc")))
                for rel, e in data["files"].items()
            },
            provenance=dict(data.get("provenance") or {}),
            tool_version=str((data.get("tool") or {}).get("version", "")),
            schema_version=data.get("schema_version", 1),
        )


@dataclass(frozen=True)
class Source:
    """Where a promoted folder came from."""

    stage: str  # raw, validated or external
    id: str
    path: str | None = None
    sha256: str | None = None
    checkpoint: str | None = None
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_none(asdict(self))


@dataclass(frozen=True)
class ModelFile:
    """One model file of a validated or production folder."""

    path: str
    format: str  # the file name's suffix ("pt", "onnx", "bin", ...), as artreg always wrote it
    sha256: str
    size: int
    # What formats.detect found in the bytes ("safetensors", "onnx", "gguf", "pytorch") and its
    # one-line detail; None in records written before formats were detected from content.
    content_format: str | None = None
    format_detail: str | None = None

    @classmethod
    def named(
        cls, path: str, sha256: str, size: int, detected: FormatInfo | None = None
    ) -> ModelFile:
        """The entry for `path`: its suffix, and the format found in its content."""
        return cls(
            path,
            path.rsplit(".", 1)[-1],
            sha256,
            size,
            detected.name if detected else None,
            detected.detail if detected else None,
        )

    @property
    def detected(self) -> str:
        """The file's format: as detected from its content, or (an old record) its suffix's."""
        return self.content_format or from_suffix(self.path)

    def to_json(self) -> dict[str, Any]:
        return _without_none(asdict(self))


@dataclass(frozen=True)
class ModelInfo:
    files: list[ModelFile]
    parameter_count: int | None = None
    optimization: str | None = None
    dropped_training_state: list[str] | None = None
    layout: dict[str, Any] | None = None  # a model folder's layout (hflayout.FolderLayout)

    @property
    def formats(self) -> list[str]:
        return [f.format for f in self.files]

    @property
    def primary(self) -> ModelFile:
        return self.files[0]


@dataclass(frozen=True)
class Approval:
    approved_by: str
    approved_at: str


@dataclass(frozen=True)
class Metadata:
    """`metadata.json` of a validated or production folder: the model card's data."""

    stage: str
    name: str
    id: str
    created_at: str
    created_by: str
    source: Source
    gates: list[GateResult]
    model: ModelInfo
    version: str | None = None
    approval: Approval | None = None
    security_review: dict[str, Any] | None = None
    notes: str | None = None
    deployment: dict[str, Any] | None = None
    training_curves: str | None = None  # repo-relative path of the raw session's chart
    params_commit: str | None = None  # the commit whose params.yaml the gates came from
    signature: dict[str, Any] | None = None  # model.sig: kind, key fingerprint, signed files
    requires: tuple[Requirement, ...] = ()  # other artifacts' versions this one needs
    # `--allow-non-monotonic`, recorded so that `artreg tag` (after a merge) and a rebased
    # `--push` honour it as the direct promotion did
    allow_non_monotonic: bool = False
    schema_version: int = 1

    @property
    def gates_passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_json(self) -> dict[str, Any]:
        """The document; optional fields that are unset are left out."""
        data: dict[str, Any] = {
            "schema_version": self.schema_version,
            "stage": self.stage,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "source": self.source.to_json(),
            "training_curves": self.training_curves,
            "gates": _without_none(
                {
                    "passed": self.gates_passed,
                    "results": [g.as_dict() for g in self.gates],
                    "params_commit": self.params_commit,
                }
            ),
            "model": _without_none(
                {
                    "files": [f.to_json() for f in self.model.files],
                    "parameter_count": self.model.parameter_count,
                    "formats": self.model.formats,
                    "optimization": self.model.optimization,
                    "dropped_training_state": self.model.dropped_training_state,
                    "layout": self.model.layout,
                }
            ),
            "approval": asdict(self.approval) if self.approval else None,
            "security_review": self.security_review,
            "notes": self.notes,
            "deployment": self.deployment,
            "signature": self.signature,
            "requires": [r.to_json() for r in self.requires] if self.requires else None,
            "allow_non_monotonic": True if self.allow_non_monotonic else None,
        }
        return _without_none(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metadata:
        """Metadata from its (schema-valid) JSON document."""
        source = data.get("source") or {}
        model = data.get("model") or {}
        approval = data.get("approval")
        return cls(
            stage=data["stage"],
            name=data["name"],
            id=data["id"],
            created_at=data["created_at"],
            created_by=data["created_by"],
            source=Source(
                stage=source.get("stage", ""),
                id=source.get("id", ""),
                path=source.get("path"),
                sha256=source.get("sha256"),
                checkpoint=source.get("checkpoint"),
                commit=source.get("commit"),
            ),
            gates=[GateResult.from_json(g) for g in (data.get("gates") or {}).get("results", [])],
            model=ModelInfo(
                files=[
                    ModelFile(
                        f["path"],
                        f["format"],
                        f["sha256"],
                        f["size"],
                        f.get("content_format"),
                        f.get("format_detail"),
                    )
                    for f in model.get("files", [])
                ],
                parameter_count=model.get("parameter_count"),
                optimization=model.get("optimization"),
                dropped_training_state=model.get("dropped_training_state"),
                layout=model.get("layout"),
            ),
            version=data.get("version"),
            approval=Approval(approval["approved_by"], approval["approved_at"])
            if isinstance(approval, dict)
            else None,
            security_review=data.get("security_review"),
            notes=data.get("notes"),
            deployment=data.get("deployment"),
            training_curves=data.get("training_curves"),
            params_commit=(data.get("gates") or {}).get("params_commit"),
            signature=data.get("signature"),
            requires=tuple(Requirement.from_json(r) for r in data.get("requires") or ()),
            allow_non_monotonic=data.get("allow_non_monotonic") is True,
            schema_version=data.get("schema_version", 1),
        )


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
