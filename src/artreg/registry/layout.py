"""Where things live in a registry repo: the stage folders and the generated files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from artreg.registry.tags import STAGES

ARTIFACTS_DIR = "artifacts"
REGISTRY_JSON = "artifacts/registry.json"
RETIRED_JSON = "artifacts/retired.json"  # folders whose DVC objects gc deleted (tombstones)
DVC_YAML = "dvc.yaml"
PARAMS_FILE = "params.yaml"
SIGNATURE_FILE = "model.sig"  # a stage folder's model-signing bundle (artreg.signing)
# The subject of the commit `artreg tag` makes on the default branch for each merged promotion
# (dvc.yaml and registry.json pointing at its folder); history looks through it to the merge.
GENERATED_COMMIT_SUBJECT = "artreg: point dvc.yaml and registry.json at "

# Names of model files, the only list, for one purpose: none of them belongs in git (`verify`
# says so). What a model file holds, and so how a promotion treats it (PyTorch checkpoints
# cleaned to their weights, the others copied as they are), comes from its content:
# artreg.formats, never from these suffixes.
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".onnx", ".safetensors", ".bin", ".gguf")
NOT_IN_GIT_SUFFIXES = (*MODEL_SUFFIXES, ".h5", ".pkl")
# A model that is a folder (sharded weights, config, tokenizer) sits in a validated or
# production folder as this subfolder, one DVC directory output; its manifest's primary file
# lies inside it.
MODEL_DIR = "model"


@dataclass(frozen=True)
class StageDir:
    """Where one stage entry of one artifact lives, relative to the repo root."""

    stage: str
    name: str
    entry: str  # session id, validated id, or "v<semver>"

    @property
    def relpath(self) -> str:
        return f"{ARTIFACTS_DIR}/{self.stage}/{self.name}/{self.entry}"

    def path(self, root: Path) -> Path:
        return root / self.relpath

    @classmethod
    def parse(cls, relpath: str) -> StageDir | None:
        """The stage entry a repo-relative path lies in, or None."""
        # pathlib's splitting (empty and "." parts dropped), without its cost: the read model
        # parses one of these per tag
        parts = [p for p in relpath.split("/") if p not in ("", ".")]
        if len(parts) >= 4 and parts[0] == ARTIFACTS_DIR and parts[1] in STAGES:
            return cls(parts[1], parts[2], parts[3])
        return None


def raw_dir(name: str, session_id: str) -> StageDir:
    return StageDir("raw", name, session_id)


def validated_dir(name: str, validated_id: str) -> StageDir:
    return StageDir("validated", name, validated_id)


def production_dir(name: str, version: str) -> StageDir:
    return StageDir("production", name, f"v{version}")


def stage_folders(root: Path) -> list[StageDir]:
    """Every stage folder in the work tree (those holding a manifest.json)."""
    found = []
    for stage in STAGES:
        for manifest in sorted((root / ARTIFACTS_DIR / stage).glob("*/*/manifest.json")):
            folder = StageDir.parse(str(manifest.parent.relative_to(root)))
            if folder is not None:
                found.append(folder)
    return found


def model_files(primary: str, files: Iterable[str]) -> list[str]:
    """The files that make up a folder's model: the primary file, or its whole top folder."""
    top = primary.split("/", 1)[0]
    return [
        rel for rel in files if rel == primary or ("/" in primary and rel.startswith(f"{top}/"))
    ]


def model_target(stage: str, primary: str) -> str:
    """What a consumer gets of a stage folder (relative to it): the model file, or the model
    folder when a validated or production model is one (its primary lies in `model/`)."""
    if stage != "raw" and primary.startswith(f"{MODEL_DIR}/"):
        return MODEL_DIR
    return primary
