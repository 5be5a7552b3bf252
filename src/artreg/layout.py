"""Names, ids and stage folder paths of a registry repo, and their validation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from artreg.errors import InputError

STAGES = ("raw", "validated", "production")
ARTIFACTS_DIR = "artifacts"
REGISTRY_JSON = "artifacts/registry.json"
MAX_NAME_LENGTH = 100

# GTO's artifact-name rule without '/': artreg names are single path components.
NAME_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
# Session and validated ids become folder names: GTO's characters plus '.', never '..'.
ID_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$")
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def _shown(value: str) -> str:
    """A value as it may safely be echoed in a message: escaped and cut short."""
    text = value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 60 else text[:57] + "..."


def validate_name(name: str, field: str = "name") -> str:
    """Return `name` if it is a valid artifact name, else raise InputError."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise InputError(
            f"invalid artifact {field} {_shown(str(name))!r}",
            hint=(
                "use ASCII letters, digits, '-' and '_' (GTO's rule, without '/'), "
                f"starting and ending with a letter or digit, at most {MAX_NAME_LENGTH} characters"
            ),
        )
    return name


def validate_id(value: str, field: str) -> str:
    """Return `value` if it is a valid session or validated id, else raise InputError."""
    if (
        not isinstance(value, str)
        or not ID_RE.fullmatch(value)
        or ".." in value
        or len(value) > MAX_NAME_LENGTH
    ):
        raise InputError(
            f"invalid {field} {_shown(str(value))!r}",
            hint=(
                "use ASCII letters, digits, '-', '_' and '.', starting and ending with a "
                f"letter or digit, no '..', at most {MAX_NAME_LENGTH} characters"
            ),
        )
    return value


def validate_semver(version: str) -> str:
    """Return the version without a leading 'v' if it is semantic, else raise InputError."""
    bare = version[1:] if isinstance(version, str) and version.startswith("v") else version
    if not isinstance(bare, str) or not SEMVER_RE.fullmatch(bare):
        raise InputError(
            f"invalid version {_shown(str(version))!r}",
            hint="give a semantic version such as 1.2.0 (https://semver.org)",
        )
    return bare


def semver_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Sort key implementing semver precedence (a release sorts after its pre-releases)."""
    match = SEMVER_RE.fullmatch(version)
    if not match:
        raise ValueError(version)
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def validate_stage(stage: str) -> str:
    """Return `stage` if it is one of the lifecycle stages, else raise InputError."""
    if stage not in STAGES:
        raise InputError(
            f"unknown stage {_shown(str(stage))!r}", hint=f"use one of: {', '.join(STAGES)}"
        )
    return stage


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
        parts = Path(relpath).as_posix().strip("/").split("/")
        if len(parts) >= 4 and parts[0] == ARTIFACTS_DIR and parts[1] in STAGES:
            return cls(parts[1], parts[2], parts[3])
        return None


def raw_dir(name: str, session_id: str) -> StageDir:
    return StageDir("raw", name, session_id)


def validated_dir(name: str, validated_id: str) -> StageDir:
    return StageDir("validated", name, validated_id)


def production_dir(name: str, version: str) -> StageDir:
    return StageDir("production", name, f"v{version}")


def model_files(primary: str, files: Iterable[str]) -> list[str]:
    """The files that make up a folder's model: the primary file, or its whole top folder."""
    top = primary.split("/", 1)[0]
    return [
        rel for rel in files if rel == primary or ("/" in primary and rel.startswith(f"{top}/"))
    ]
