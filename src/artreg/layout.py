"""Where things live in a registry repo: the stage folders and the generated files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from artreg.tags import STAGES

ARTIFACTS_DIR = "artifacts"
REGISTRY_JSON = "artifacts/registry.json"
DVC_YAML = "dvc.yaml"
PARAMS_FILE = "params.yaml"

# Model file suffixes, the only list: PyTorch checkpoints are cleaned down to their weights on
# promotion; the others are copied as they are. None of them belongs in git.
PYTORCH_SUFFIXES = (".pt", ".pth", ".ckpt")
AS_IS_SUFFIXES = (".onnx", ".safetensors", ".bin")
MODEL_SUFFIXES = PYTORCH_SUFFIXES + AS_IS_SUFFIXES
NOT_IN_GIT_SUFFIXES = (*MODEL_SUFFIXES, ".h5", ".pkl")


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
