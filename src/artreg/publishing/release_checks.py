"""The release policy, one copy for every path to production (`promote --to production`, a
ready model file, a merged release): the version check, the benchmarks and resource usage
against the production gates, the security review and approval params.yaml requires, and
every requirement in production at a compatible version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from artreg.adapters.files import read_json
from artreg.adapters.values import plain_input
from artreg.errors import ConflictError, GateFailed, InputError
from artreg.publishing.promotion import json_input
from artreg.publishing.publish import now_iso
from artreg.registry import state
from artreg.registry.documents import Approval, GateResult
from artreg.registry.layout import production_dir
from artreg.registry.policy import Settings, approver, evaluate, gate_failure
from artreg.registry.records import Registry, Requirement
from artreg.registry.requirements import closure, unmet, way_out
from artreg.registry.tags import is_semver, semver_key, validate_semver
from artreg.registry.versionorder import latest_above


def _benchmarks(
    benchmarks: Mapping[str, Any] | Path | str | None,
    resource_usage: Mapping[str, Any] | Path | str | None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """benchmarks.json and resource_usage.json; a folder given as benchmarks may hold both."""
    if isinstance(benchmarks, (str, Path)) and Path(benchmarks).is_dir():
        folder = Path(benchmarks)
        benchmarks = folder / "benchmarks.json"
        if resource_usage is None and (folder / "resource_usage.json").is_file():
            resource_usage = folder / "resource_usage.json"
    bench = (
        json_input(benchmarks, "benchmarks", "benchmarks", "benchmarks")
        if benchmarks is not None
        else None
    )
    usage = (
        json_input(resource_usage, "resource_usage", "resource usage", "resource_usage")
        if resource_usage is not None
        else None
    )
    return bench, usage


def _security_review(value: Mapping[str, Any] | Path | str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return plain_input(value, "security_review")
    data = read_json(Path(value), "security review")
    if not isinstance(data, dict):
        raise InputError(f"{value}: a security review must be a JSON object", hint="wrap it in {}")
    return data


def existing_releases(root: Path, name: str, registry: Registry | None = None) -> list[str]:
    """Versions of `name` released so far: production folders and version tags."""
    folder = root / "artifacts" / "production" / name
    versions = (
        {p.name[1:] for p in folder.iterdir() if p.is_dir() and p.name.startswith("v")}
        if folder.is_dir()
        else set()
    )
    registry = registry or state.load(root, folders="none")
    if name in registry.artifacts:
        versions |= {v.version for v in registry.artifacts[name].versions if v.registered}
    return sorted((v for v in versions if is_semver(v)), key=semver_key)


def check_new_version(
    root: Path,
    name: str,
    version: str,
    allow_non_monotonic: bool = False,
    registry: Registry | None = None,
) -> list[str]:
    """The one version check of every path to production: semantic, new, and (unless allowed)
    not below the latest release. Returns the versions released so far."""
    entry = production_dir(name, version)
    released = existing_releases(root, name, registry)
    if version in released or entry.path(root).exists():
        raise ConflictError(
            f"{name} v{version} is released already",
            hint="choose a new version; releases are immutable",
        )
    latest = latest_above(version, released)
    if latest and not allow_non_monotonic:
        raise InputError(
            f"version {version} is lower than the latest release v{latest} of {name}",
            hint="choose a higher version, or pass --allow-non-monotonic "
            "(allow_non_monotonic=True) for a patch of an old line",
        )
    return released


# --- the release policy: one copy for every path to production ------------------------------

KEYWORDS = {
    "approved_by": "approved_by='Name <email>' (--approved-by WHO; in CI, ARTREG_APPROVED_BY)",
    "security_review": "security_review=FILE_OR_DICT (--security-review FILE)",
    "benchmarks": "benchmarks=FILE_OR_DICT and/or resource_usage=FILE_OR_DICT "
    "(--benchmarks FILE, --resources FILE)",
}
SETTING = {
    "approved_by": "artreg.require_approval",
    "security_review": "artreg.require_security_review",
}


@dataclass(frozen=True)
class ReleaseChecks:
    """What the release policy established: the version, the inputs, gates and approval."""

    version: str
    released: list[str]
    benchmarks: dict[str, Any] | None
    resource_usage: dict[str, Any] | None
    security_review: dict[str, Any] | None
    gates: list[GateResult]
    params_commit: str | None
    approval: Approval
    requires: tuple[Requirement, ...] = ()
    allow_non_monotonic: bool = False  # recorded in metadata.json: `artreg tag` honours it


def _check_requirements(
    registry: Registry, settings: Settings, name: str, requires: tuple[Requirement, ...]
) -> None:
    """Each requirement in production at a compatible version (params.yaml's rule), and
    theirs in turn, with no cycle back to `name`: else exit 1 naming what is missing."""
    rule = settings.compatibility
    missing = unmet(registry, requires, rule)
    if missing:
        raise GateFailed(
            f"{name} requires what production does not hold: " + "; ".join(str(m) for m in missing),
            [m.as_gate(rule).as_dict() for m in missing],
            hint="; ".join(way_out(registry, m.requirement, rule, name) for m in missing)
            + (
                f", or require the version production holds ({settings.source} sets "
                f"requirements.compatibility: {rule})"
                if any(m.found for m in missing)
                else ""
            ),
        )
    # What they require in turn must hold too, and must not lead back to `name` (a cycle):
    # RequirementUnmet (exit 1) names the chain.
    closure(registry, name, requires, rule)


class ReleaseInputs(TypedDict, total=False):
    """What a release hands the release policy, as the caller gave it and as the release
    services take it, keyword by keyword (`**inputs: Unpack[ReleaseInputs]`): benchmarks and
    resource usage (a dict, a JSON file, or a folder holding both), the approver, the security
    review, and whether a version below the latest release is allowed (default: not)."""

    benchmarks: Mapping[str, Any] | Path | str | None
    resource_usage: Mapping[str, Any] | Path | str | None
    approved_by: str | None
    security_review: Mapping[str, Any] | Path | str | None
    allow_non_monotonic: bool


def check_release(
    root: Path,
    settings: Settings,
    name: str,
    version: str,
    inputs: ReleaseInputs,
    requires: tuple[Requirement, ...] = (),
) -> ReleaseChecks:
    """The release policy, shared by `promote --to production` and `register_artifact`.

    A new semver, not below the latest release; the production gates of the committed
    params.yaml met by the benchmarks and resource usage; the security review and approval
    that params.yaml requires; every requirement in production at a compatible version. A
    refusal names the keyword (and option) to add, or the requirement to release.
    """
    # Taken as `**inputs`: a keyword that is none of them stays the TypeError it always was.
    unknown = sorted(set(inputs) - ReleaseInputs.__optional_keys__)
    if unknown:
        raise TypeError(f"unexpected keyword argument {', '.join(map(repr, unknown))}")
    version = validate_semver(version)
    registry = state.load(root, folders="none")
    allow_lower = inputs.get("allow_non_monotonic", False)
    released = check_new_version(root, name, version, allow_lower, registry)
    bench, usage = _benchmarks(inputs.get("benchmarks"), inputs.get("resource_usage"))
    review = _security_review(inputs.get("security_review"))
    who = approver(inputs.get("approved_by"))
    missing = [
        keyword
        for keyword, lacking in (
            ("approved_by", settings.require_approval and who is None),
            ("security_review", settings.require_security_review and review is None),
        )
        if lacking
    ]
    results = evaluate(
        settings.gates, "production", name, {**(bench or {}), **(usage or {})}, settings.source
    )
    failure = gate_failure(settings, "production", name, results, f"pass {KEYWORDS['benchmarks']}")
    if failure is not None:
        if missing:  # say everything that is missing at once
            failure.hint = "; ".join(
                [
                    *([failure.hint] if failure.hint else []),
                    *(f"pass {KEYWORDS[k]}" for k in missing),
                ]
            )
        raise failure
    if missing:
        raise InputError(
            f"a production release of {name} needs "
            + " and ".join(
                {"approved_by": "an approval record", "security_review": "a security review"}[k]
                for k in missing
            )
            + f" ({settings.source} sets "
            + " and ".join(SETTING[k] for k in missing)
            + "), and none was given",
            hint="; ".join(f"pass {KEYWORDS[k]}" for k in missing),
        )
    _check_requirements(registry, settings, name, requires)
    return ReleaseChecks(
        version=version,
        released=released,
        benchmarks=bench,
        resource_usage=usage,
        security_review=review,
        gates=results,
        params_commit=settings.commit,
        approval=Approval(who or f"not required ({settings.source})", now_iso()),
        requires=requires,
        allow_non_monotonic=allow_lower,
    )
