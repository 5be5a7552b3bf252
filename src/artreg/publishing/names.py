"""Names that clash by letter case with what a registry already has: Windows and macOS see one
folder where git has two. Checked on the write side, before a byte is copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from artreg.adapters.git import run as gitrun
from artreg.errors import InputError
from artreg.registry import state
from artreg.registry.layout import ARTIFACTS_DIR
from artreg.registry.policy import committed_sections, load_settings
from artreg.registry.tags import STAGES, case_twin, validate_name


def _case_error(what: str, name: str, twin: str, where: str) -> InputError:
    return InputError(
        f"{what} {name!r} differs only by letter case from the existing {twin!r} ({where}): "
        "Windows and macOS see one folder where git has two, so a checkout there breaks",
        hint=f"use {twin!r} itself, or a name that differs by more than letter case",
    )


def check_name_case(root: Path, name: str) -> str:
    """Return `name` unless it differs only by case from an artifact the registry has (in its
    tags or its artifacts/ folders); then raise InputError."""
    tagged = {event.parsed.name for event in state.load(root, folders="none").events}
    twin = case_twin(name, tagged)
    if twin is not None:
        raise _case_error("artifact name", name, twin, "in the registry's tags")
    for stage in STAGES:
        folder = root / ARTIFACTS_DIR / stage
        twin = case_twin(name, (p.name for p in folder.iterdir()) if folder.is_dir() else ())
        if twin is not None:
            raise _case_error("artifact name", name, twin, f"{ARTIFACTS_DIR}/{stage}/{twin}")
    return name


def check_folder_case(root: Path, relpaths: Sequence[str]) -> None:
    """Refuse new folders one of whose path parts differs only by case from a folder beside it
    (a session id, validated id or version that clashes with an existing one)."""
    for rel in relpaths:
        parent = root
        for part in Path(rel).parts:
            if parent.is_dir():
                twin = case_twin(part, (p.name for p in parent.iterdir()))
                if twin is not None:
                    where = (parent / twin).relative_to(root).as_posix()
                    raise _case_error("new folder", part, twin, where)
            parent = parent / part


def resolve_name(root: Path, name: str | None) -> str:
    """The artifact name given, or the registry's committed default (params.yaml is checked)."""
    if name is not None:
        commit = gitrun.head(root)
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
