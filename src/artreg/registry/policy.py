"""The promotion policy, read from params.yaml (one place, reviewed in git): the registry's
settings, the gates per stage (metric, operator, threshold) and their evaluation, and the
checks every promotion applies."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.adapters import schemas
from artreg.adapters import settings as environment
from artreg.adapters.files import parse_yaml, read_yaml
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.values import check_line, pointer_join
from artreg.errors import ArtregError, GateFailed, InputError
from artreg.registry.documents import GateResult
from artreg.registry.layout import PARAMS_FILE
from artreg.registry.stages import parse_stages
from artreg.registry.tags import semver_key
from artreg.registry.trust import IN_PARAMS, NO_PARAMS, NO_SECTION, TrustPolicy

if TYPE_CHECKING:
    from artreg.registry.documents import GateResult
    from artreg.registry.layout import StageDir

OPERATORS = (">=", ">", "<=", "<", "==", "!=", "in range")
MISSING = "metric missing from the results"


def rules_for(gates: dict[str, Any], stage: str, name: str) -> dict[str, dict[str, Any]]:
    """The stage's gates, with the model's overrides replacing or adding per metric."""
    rules = dict((gates or {}).get(stage) or {})
    override = (((gates or {}).get("overrides") or {}).get(name) or {}).get(stage) or {}
    rules.update(override)
    return rules


def lookup(metrics: dict[str, Any], metric: str) -> tuple[bool, Any]:
    """Find a metric by name or dotted path (`coverage_report.coverage`)."""
    if metric in metrics:
        return True, metrics[metric]
    node: Any = metrics
    for part in metric.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def evaluate_one(
    metric: str, rule: dict[str, Any], metrics: dict[str, Any], source: str
) -> GateResult:
    op, threshold = rule.get("op"), rule.get("threshold")
    if op not in OPERATORS:
        raise InputError(
            f"{source}: gate {metric!r} has unknown operator {op!r}",
            hint=f"use one of: {', '.join(OPERATORS)}",
        )
    found, value = lookup(metrics, metric)
    if not found:
        return GateResult(metric, op, threshold, None, False, MISSING)
    if op == "in range":
        if not (
            isinstance(threshold, list) and len(threshold) == 2 and all(map(_is_number, threshold))
        ):
            raise InputError(
                f"{source}: gate {metric!r} uses 'in range' with threshold {threshold!r}",
                hint="give the range as [low, high]",
            )
        if not _is_number(value):
            return GateResult(metric, op, threshold, value, False, "value is not a number")
        return GateResult(metric, op, threshold, value, threshold[0] <= value <= threshold[1])
    if op in ("==", "!="):
        same = (value == threshold and type(value) is type(threshold)) or (
            _is_number(value) and _is_number(threshold) and value == threshold
        )
        return GateResult(metric, op, threshold, value, same if op == "==" else not same)
    if not _is_number(threshold):
        raise InputError(
            f"{source}: gate {metric!r} compares with {op} against {threshold!r}",
            hint="give a number as threshold",
        )
    if not _is_number(value):
        return GateResult(metric, op, threshold, value, False, "value is not a number")
    passed = {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
    }[op]
    return GateResult(metric, op, threshold, value, passed)


def evaluate(
    gates: dict[str, Any],
    stage: str,
    name: str,
    metrics: dict[str, Any],
    source: str = "params.yaml",
) -> list[GateResult]:
    """Evaluate every gate of `stage` for model `name` against `metrics`."""
    return [
        evaluate_one(metric, rule, metrics, source)
        for metric, rule in rules_for(gates, stage, name).items()
    ]


def gate_failure(
    settings: Settings, stage: str, name: str, results: list[GateResult], supply: str
) -> GateFailed | None:
    """GateFailed for the failed gates (None if all passed); its hint says what to pass when
    metrics are missing (`supply`) and that a failing number needs a reviewed gate change."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return None
    absent = [r.metric for r in failed if r.reason == MISSING]
    hints = [f"{', '.join(absent)} missing: {supply}"] if absent else []
    if len(absent) < len(failed):
        hints.append(
            f"the {'other ' if absent else ''}values fail the gates committed in "
            f"{settings.source}; a gate changes only through a reviewed commit of {PARAMS_FILE}"
        )
    return GateFailed(
        f"{len(failed)} of {len(results)} {stage} gates of {settings.source} failed for {name}: "
        + ", ".join(f"{r.metric}={r.value!r} (needs {r.op} {r.threshold!r})" for r in failed),
        [r.as_dict() for r in results],
        hint="; ".join(hints) or None,
    )


def check_gates(
    settings: Settings, stage: str, name: str, metrics: dict[str, Any], supply: str
) -> list[GateResult]:
    """Evaluate the stage's gates of the committed params.yaml; raise GateFailed (exit 1) with
    every result if one fails (`supply` says how to pass a missing metric)."""
    results = evaluate(settings.gates, stage, name, metrics, settings.source)
    failure = gate_failure(settings, stage, name, results, supply)
    if failure is not None:
        raise failure
    return results


# --- settings -----------------------------------------------------------------------------------

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


SECTIONS = (
    "artreg",
    "gates",
    "retention",
    "trust",
    "requirements",
    "rights",
    "stages",
)  # artreg's part of params.yaml; the rest is the user's


@dataclass(frozen=True)
class Settings:
    """artreg's settings and gates, as committed at `commit` (None: a repo without commits)."""

    default_name: str | None
    require_approval: bool
    require_security_review: bool
    gates: dict[str, Any]
    commit: str | None = None
    retention: dict[str, Any] | None = None  # None: no retention policy, gc keeps everything
    compatibility: str = "exact"  # params.yaml requirements.compatibility (see `compatible`)

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
    parse_stages(mine.get("stages"), source, mine.get("gates"))  # gates of undeclared stages
    return mine


def committed_sections(root: Path, rev: str) -> dict[str, Any]:
    """artreg's sections of params.yaml as committed at `rev` ({} when it has none)."""
    return sections_of(gitread.show_file(root, rev, PARAMS_FILE), rev)


def may_set(blob: bytes | None, key: str) -> bool:
    """False only when params.yaml's bytes cannot set the top-level `key`, so a reader may skip
    parsing them: the key's name is nowhere in them, spelled plainly (`key:`, `"key":`, a flow
    mapping, an anchor), escaped (a backslash) or in a UTF-16/32 encoding (NUL bytes)."""
    if blob is None:
        return False
    return key.encode() in blob or b"\\" in blob or b"\0" in blob


def sections_of(blob: bytes | None, rev: str) -> dict[str, Any]:
    """artreg's sections of params.yaml's bytes at `rev` ({} for None: no params.yaml)."""
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
        retention=sections.get("retention"),
        compatibility=(sections.get("requirements") or {}).get("compatibility") or EXACT,
    )


def _differences(left: Any, right: Any, pointer: str = "") -> list[str]:
    """JSON pointers where two parsed documents differ (a whole subtree counts once)."""
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
    commit = gitrun.head(root)
    committed = committed_sections(root, commit) if commit else {}
    path = root / PARAMS_FILE
    working = _sections(read_yaml(path, "params file"), str(path)) if path.exists() else {}
    if working != committed:
        at = f"HEAD ({commit[:12]})" if commit else "HEAD (no commit yet)"
        tracked = commit is not None and gitread.show_file(root, commit, PARAMS_FILE) is not None
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


# --- requirements between artifacts -----------------------------------------------------------

# Exact is the default: an adapter or a student is bound to the very weights it was trained
# against, and a model's semver promises nothing about its weights, so a base model's new
# minor release can silently break its adapters. `same-major` is the opt-in for registries
# whose majors mark such changes.
EXACT, SAME_MAJOR = "exact", "same-major"
COMPATIBILITY = (EXACT, SAME_MAJOR)


def compatible(required: str, found: str, rule: str) -> bool:
    """True if version `found` in production satisfies a requirement of version `required`:
    `exact`, the same version; `same-major`, the same major and not below the required one
    (semver precedence; a pre-release satisfies only a pre-release requirement of its own
    version, as with caret ranges)."""
    if rule == EXACT:
        return found == required
    want, have = semver_key(required), semver_key(found)
    if want[0] != have[0] or have < want:
        return False
    return have[3] == 1 or have[:3] == want[:3]


def load_compatibility(root: Path) -> str:
    """params.yaml's `requirements.compatibility` as committed at HEAD (`exact` when unset):
    for the checks outside a release (verify, the warnings of deprecate and unassign)."""
    commit = gitrun.head(root)
    return settings_from(committed_sections(root, commit) if commit else {}, commit).compatibility


# --- retention -------------------------------------------------------------------------------

RETENTION_KEYS = ("raw", "validated", "production", "deprecated_after_days", "min_age_days")


@dataclass(frozen=True)
class Retention:
    """What `artreg gc` keeps of one artifact name; `None` keeps every folder of that stage."""

    keep_last: dict[str, int | None]  # per stage
    deprecated_after_days: int | None  # None: deregistered or deprecated folders are kept
    min_age_days: int

    def describe(self) -> dict[str, Any]:
        """The rule as params.yaml spells it (recorded in retired.json with each folder)."""
        return {
            **{
                stage: {"keep": "all"} if n is None else {"keep_last": n}
                for stage, n in self.keep_last.items()
            },
            "deprecated_after_days": self.deprecated_after_days,
            "min_age_days": self.min_age_days,
        }


def retention_for(retention: dict[str, Any] | None, name: str) -> Retention:
    """The retention rule of `name`: the policy, with its `overrides.<name>` replacing per key.

    Without a `retention` section every folder is kept: deleting needs a reviewed policy."""
    merged = {k: v for k, v in (retention or {}).items() if k in RETENTION_KEYS}
    merged.update(((retention or {}).get("overrides") or {}).get(name) or {})
    keep: dict[str, int | None] = {}
    for stage in ("raw", "validated", "production"):
        rule = merged.get(stage) or {}
        keep[stage] = None if "keep_last" not in rule else int(rule["keep_last"])
    after = merged.get("deprecated_after_days")
    return Retention(
        keep, None if after is None else int(after), int(merged.get("min_age_days") or 0)
    )


def approver(approved_by: str | None) -> str | None:
    """Who approved a release: given, or $ARTREG_APPROVED_BY (CI); None when nobody did."""
    field = "approved_by" if approved_by is not None else "ARTREG_APPROVED_BY"
    who = approved_by if approved_by is not None else environment.approved_by()
    if who is not None and not isinstance(who, str):
        raise InputError(
            f"approved_by={who!r}: expected text naming who approved",
            hint="pass approved_by='Name <email>'",
        )
    if who:  # one line of the model card, CHANGELOG and PR summary: never a forged second one
        check_line(who, field, f"set {field} to one line of UTF-8 text: 'Name <email>'")
    return who.strip() or None if who else None


# --- re-checking recorded gates (artreg verify) ---------------------------------------------


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _rule_text(op: Any, threshold: Any) -> str:
    return f"{op} {threshold!r}"


def recheck(
    recorded: dict[str, Any], rules: dict[str, dict[str, Any]], where: str, source: str
) -> list[str]:
    """What is wrong with a folder's recorded gates (`metadata.json` → gates) measured against
    the committed `rules`: a gate not evaluated, a different operator or threshold (promoted
    against uncommitted gates), or a recorded value that fails the committed rule."""
    problems: list[str] = []
    results = recorded.get("results")
    by_metric = {
        r.get("metric"): r
        for r in (results if isinstance(results, list) else [])
        if isinstance(r, dict)
    }
    for metric, rule in rules.items():
        record = by_metric.get(metric)
        committed = _rule_text(rule.get("op"), rule.get("threshold"))
        if record is None:
            problems.append(
                f"{where}: gate {metric} ({committed} in {source}) was not evaluated when it was promoted"
            )
            continue
        if not (
            _same(record.get("op"), rule.get("op"))
            and _same(record.get("threshold"), rule.get("threshold"))
        ):
            problems.append(
                f"{where}: gate {metric} is recorded as "
                f"{_rule_text(record.get('op'), record.get('threshold'))}, but {source} says "
                f"{committed}: it was promoted against gates nobody committed"
            )
            continue
        value = record.get("value")
        try:
            result = evaluate_one(metric, rule, {} if value is None else {metric: value}, source)
        except InputError as exc:
            problems.append(f"{where}: gate {metric} cannot be re-checked: {exc.message}")
            continue
        if not result.passed:
            problems.append(f"{where}: {metric}={value!r} fails the gate {committed} of {source}")
    if recorded.get("passed") is not True:
        problems.append(f"{where}: records gates.passed = {recorded.get('passed')!r}")
    return problems


def recheck_folders(
    root: Path, folders: Iterable[StageDir], created: Mapping[str, str]
) -> list[str]:
    """Problems of promoted folders whose recorded gates are not the gates of params.yaml as
    committed when they were promoted, or whose recorded values fail those gates.

    The gates are read at the commit recorded in the metadata (`gates.params_commit`) when that
    commit is in the history of the promotion, else at the commit that created the folder."""
    problems: list[str] = []
    for folder in folders:
        commit = created.get(folder.relpath)
        if folder.stage == "raw" or not commit:
            continue
        where = f"{folder.relpath}/metadata.json"
        try:
            metadata = gitread.json_at(root, commit, where)
        except ArtregError:
            continue  # the schema check reports a broken metadata.json
        if not isinstance(metadata, dict) or not isinstance(metadata.get("gates"), dict):
            continue
        rev = metadata["gates"].get("params_commit")
        if not (
            isinstance(rev, str)
            and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", rev)
            and gitread.is_ancestor(root, rev, commit)
        ):
            rev = commit
        try:
            settings = settings_from(committed_sections(root, rev), rev)
        except ArtregError as exc:
            problems.append(f"{where}: its gates cannot be re-checked: {exc.message}")
            continue
        rules = rules_for(settings.gates, folder.stage, folder.name)
        problems += recheck(metadata["gates"], rules, where, settings.source)
    return problems


# --- trust: who may sign models -----------------------------------------------------------------


def load_trust(root: Path) -> TrustPolicy:
    """The trust policy as committed at HEAD, never the work tree's: an uncommitted edit of
    params.yaml must not be able to relax what a consumer checks."""
    commit = gitrun.head(root)
    return trust_at(root, commit) if commit else TrustPolicy()


def trust_at(root: Path, commit: str) -> TrustPolicy:
    """The trust policy of params.yaml as committed at `commit` (a registry URL's consumer
    reads it at the registry's HEAD, in its cache repository)."""
    return trust_of(gitread.show_file(root, commit, PARAMS_FILE), commit)


def trust_of(blob: bytes | None, commit: str) -> TrustPolicy:
    """The trust policy of params.yaml's bytes at `commit` (None: no params.yaml there)."""
    if blob is None:
        return TrustPolicy(rev=commit, origin=NO_PARAMS)
    sections = sections_of(blob, commit)
    trust = sections.get("trust") or {}
    return TrustPolicy(
        keys=tuple(trust.get("keys") or ()),
        require_signature=tuple(trust.get("require_signature") or ()),
        rev=commit,
        origin=IN_PARAMS if "trust" in sections else NO_SECTION,
    )
