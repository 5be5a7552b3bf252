"""The registry's settings and gates, read from params.yaml (one place, reviewed in git)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import schemas
from artreg.documents import read_yaml
from artreg.errors import InputError

PARAMS_FILE = "params.yaml"

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


SECTIONS = ("artreg", "gates")  # artreg's part of params.yaml; other keys belong to the user


@dataclass(frozen=True)
class Settings:
    """artreg's settings and gates, as committed at `commit` (None: a repo without commits)."""

    default_name: str | None
    require_approval: bool
    require_security_review: bool
    gates: dict[str, Any]
    commit: str | None = None

    @property
    def source(self) -> str:
        """Where the gates came from, for messages: `params.yaml@<commit>`."""
        return f"{PARAMS_FILE}@{self.commit[:12]}" if self.commit else PARAMS_FILE


def _sections(data: Any, source: str) -> dict[str, Any]:
    """artreg's sections of a parsed params.yaml, validated against artreg's schema."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping at the top level", hint="see `artreg init`")
    mine = {k: data[k] for k in SECTIONS if k in data}
    schemas.validate(mine, "params", source)
    return mine


def committed_sections(root: Path, rev: str) -> dict[str, Any]:
    """artreg's sections of params.yaml as committed at `rev` ({} when it has none)."""
    from artreg import gitrepo
    from artreg.documents import parse_yaml

    blob = gitrepo.show_file(root, rev, PARAMS_FILE)
    if blob is None:
        return {}
    source = f"{PARAMS_FILE}@{rev[:12]}"
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text", hint="save params.yaml as UTF-8") from exc
    return _sections(parse_yaml(text, source), source)


def settings_from(sections: dict[str, Any], commit: str | None = None) -> Settings:
    """Settings from artreg's sections of params.yaml, with defaults where it is silent."""
    section = {**DEFAULT_PARAMS["artreg"], **(sections.get("artreg") or {})}
    gates = sections.get("gates")
    return Settings(
        default_name=section.get("default_name"),
        require_approval=bool(section.get("require_approval", True)),
        require_security_review=bool(section.get("require_security_review", False)),
        gates=gates if gates is not None else DEFAULT_PARAMS["gates"],
        commit=commit,
    )


def _differences(left: Any, right: Any, pointer: str = "") -> list[str]:
    """JSON pointers where two parsed documents differ (a whole subtree counts once)."""
    from artreg.values import pointer_join

    if isinstance(left, dict) and isinstance(right, dict):
        found: list[str] = []
        for key in sorted(set(left) | set(right), key=str):
            found += _differences(left.get(key), right.get(key), pointer_join(pointer, key))
        return found
    same = left == right and type(left) is type(right)
    return [] if same else [pointer or "/"]


def load_settings(root: Path) -> Settings:
    """artreg's settings and gates as committed at HEAD, never as edited in the work tree.

    Gates decide what may be promoted, so they must be the reviewed ones: when artreg's sections
    of params.yaml in the work tree differ from HEAD (edited, deleted, or new and untracked),
    refuse rather than promote against numbers nobody committed. Other keys are free to change.
    """
    from artreg import gitrepo

    commit = gitrepo.head(root)
    committed = committed_sections(root, commit) if commit else {}
    path = root / PARAMS_FILE
    working = _sections(read_yaml(path, "params file"), str(path)) if path.exists() else {}
    if working != committed:
        at = f"HEAD ({commit[:12]})" if commit else "HEAD (no commit yet)"
        tracked = commit is not None and gitrepo.show_file(root, commit, PARAMS_FILE) is not None
        undo = f"git checkout HEAD -- {PARAMS_FILE}"
        if not path.exists():
            what = f"were deleted from the work tree, but {at} commits them"
        elif not tracked:
            what, undo = f"are new and not committed ({at} has no {PARAMS_FILE})", "remove the file"
        else:
            what = f"are edited and not committed: they differ from {at}"
        fields = _differences(working, committed)
        shown = ", ".join(fields[:8]) + (f" and {len(fields) - 8} more" if len(fields) > 8 else "")
        raise InputError(
            f"{PARAMS_FILE}: artreg's settings and gates {what}; differing fields: {shown}",
            hint="commit params.yaml first, so the gates you promote against are reviewed "
            f"(git add {PARAMS_FILE} && git commit), or drop the change ({undo})",
        )
    return settings_from(committed, commit)


def resolve_name(root: Path, name: str | None) -> str:
    """The artifact name given, or the registry's committed default (params.yaml is checked)."""
    from artreg import gitrepo
    from artreg.layout import check_name_case, validate_name

    if name is not None:
        commit = gitrepo.head(root)
        if commit:
            committed_sections(root, commit)  # a broken committed params.yaml is reported early
        return check_name_case(root, validate_name(name))
    default = load_settings(root).default_name
    if not default:
        raise InputError(
            "no artifact name given and params.yaml sets no artreg.default_name",
            hint="pass name=... (or NAME on the command line), or set artreg.default_name "
            "in params.yaml and commit it (`artreg init --name NAME` records it)",
        )
    return check_name_case(root, validate_name(default, "default_name in params.yaml"))
