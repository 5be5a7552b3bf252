"""The registry's settings and gates, read from params.yaml (one place, reviewed in git)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import schemas
from artreg.documents import read_yaml

PARAMS_FILE = "params.yaml"
SECTIONS = ("artreg", "gates", "trust")  # the parts of params.yaml that artreg's schema checks

DEFAULT_PARAMS: dict[str, Any] = {
    "artreg": {
        "default_name": None,
        "require_approval": True,
        "require_security_review": False,
    },
    "gates": {
        "validated": {
            "coverage": {
                "op": ">=",
                "threshold": 0.95,
                "description": "share of test cases covered",
            },
            "generalization_tests_passed": {"op": "==", "threshold": True},
            "entropy_utilization": {"op": "in range", "threshold": [0.5, 1.0]},
            "posterior_collapse_detected": {"op": "==", "threshold": False},
        },
        "production": {
            "latency_p95_ms": {"op": "<=", "threshold": 100},
            "throughput_rps": {"op": ">=", "threshold": 50},
            "peak_memory_mb": {"op": "<=", "threshold": 4096},
        },
        "overrides": {},
    },
}


@dataclass(frozen=True)
class Settings:
    default_name: str | None
    require_approval: bool
    require_security_review: bool
    gates: dict[str, Any]


def read_params(root: Path) -> dict[str, Any]:
    """params.yaml, validated against artreg's schema for its sections (other keys are free)."""
    path = root / PARAMS_FILE
    if not path.exists():
        return {}
    data = read_yaml(path, "params file") or {}
    if not isinstance(data, dict):
        from artreg.errors import InputError

        raise InputError(f"{path}: expected a mapping at the top level", hint="see `artreg init`")
    mine = {k: data[k] for k in SECTIONS if k in data}
    schemas.validate(mine, "params", str(path))
    return data


def load_settings(root: Path) -> Settings:
    """Settings with defaults filled in where params.yaml is silent."""
    params = read_params(root)
    section = {**DEFAULT_PARAMS["artreg"], **(params.get("artreg") or {})}
    gates = params.get("gates")
    return Settings(
        default_name=section.get("default_name"),
        require_approval=bool(section.get("require_approval", True)),
        require_security_review=bool(section.get("require_security_review", False)),
        gates=gates if gates is not None else DEFAULT_PARAMS["gates"],
    )


def resolve_name(root: Path, name: str | None) -> str:
    """The artifact name given, or the registry's configured default (params.yaml is checked)."""
    from artreg.errors import InputError
    from artreg.layout import validate_name

    default = load_settings(root).default_name
    if name is not None:
        return validate_name(name)
    if not default:
        raise InputError(
            "no artifact name given and params.yaml sets no artreg.default_name",
            hint="pass name=... (or NAME on the command line), or set artreg.default_name",
        )
    return validate_name(default, "default_name in params.yaml")


@dataclass(frozen=True)
class TrustPolicy:
    """params.yaml `trust`: the public keys trusted to sign models, and the stages that must be
    signed by one of them."""

    keys: tuple[str, ...] = ()
    require_signature: tuple[str, ...] = ()
    rev: str | None = None  # the commit the policy was read from

    def requires(self, stage: str) -> bool:
        return stage in self.require_signature


def load_trust(root: Path, rev: str = "HEAD") -> TrustPolicy:
    """The trust policy as committed at `rev`, never the work tree's: an uncommitted edit of
    params.yaml must not be able to relax what a consumer checks."""
    from artreg import gitrepo
    from artreg.documents import parse_yaml
    from artreg.errors import InputError

    commit = gitrepo.git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    commit = commit.strip()
    raw = gitrepo.show_file(root, commit, PARAMS_FILE) if commit else None
    if raw is None:
        return TrustPolicy(rev=commit or None)
    source = f"{PARAMS_FILE}@{commit[:12]}"
    data = parse_yaml(raw.decode("utf-8"), source) or {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping at the top level", hint="see `artreg init`")
    schemas.validate({k: data[k] for k in SECTIONS if k in data}, "params", source)
    trust = data.get("trust") or {}
    return TrustPolicy(
        keys=tuple(trust.get("keys") or ()),
        require_signature=tuple(trust.get("require_signature") or ()),
        rev=commit,
    )
