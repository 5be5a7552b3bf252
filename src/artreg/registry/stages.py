"""Extra assignment stages: params.yaml's `stages:` section, parsed and checked, and the
lifecycle order it gives every stage.

The three built-in stages (raw, validated, production) are folders under `artifacts/`. A
stage declared under `stages:` (`staging: {after: validated}`) is a GTO assignment only:
`artreg assign NAME@vX.Y.Z staging` tags a released version's commit `NAME#staging#N`, and the
release folder stays the content. Each extra stage may have its own gates (`gates.<stage>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from artreg.errors import InputError
from artreg.registry.tags import NAME_RE, STAGES, shown

if TYPE_CHECKING:
    from artreg.registry.records import Registry

EXAMPLE = "stages:\n  staging: {after: validated}"
# Keys of `gates:` that are not stages.
GATE_KEYS = ("overrides",)


@dataclass(frozen=True)
class StageModel:
    """The registry's stages: the built-in folders and the extra stages params.yaml declares,
    each extra one placed after the stage named by its `after`."""

    extra: dict[str, str] = field(default_factory=dict)  # extra stage -> the stage it follows

    @property
    def order(self) -> tuple[str, ...]:
        """Every stage in lifecycle order: each extra stage right after the one it follows
        (siblings by name), so `staging: {after: validated}` sits between validated and
        production."""
        found: list[str] = []

        def place(stage: str) -> None:
            found.append(stage)
            for child in sorted(s for s, after in self.extra.items() if after == stage):
                place(child)

        for stage in STAGES:
            place(stage)
        return tuple(found)

    def declared(self, stage: str) -> bool:
        return stage in STAGES or stage in self.extra

    def check_assignable(self, stage: str, source: str) -> str:
        """`stage` if `artreg assign` may move a release into it (a declared extra stage), else
        InputError naming what to do instead."""
        if stage in ("raw", "validated"):
            raise InputError(
                f"stage {stage!r} is a folder stage: a release cannot be assigned to it",
                hint=f"promote into it with `artreg promote NAME ID --to {stage}`",
            )
        if stage == "production":
            raise InputError(
                "production is assigned by a release or a rollback, not by `artreg assign`",
                hint="release a version with `artreg promote ... --to production`, or move "
                "production back with `artreg rollback NAME --to vX.Y.Z --reason TEXT`",
            )
        if stage not in self.extra:
            declared = ", ".join(sorted(self.extra)) or "none yet"
            raise InputError(
                f"stage {shown(stage)!r} is not declared in {source} (extra stages: {declared})",
                hint=f"declare it in params.yaml and commit it, e.g.\n{EXAMPLE}",
            )
        return stage


def _fail(source: str, where: str, why: str, fix: str) -> InputError:
    return InputError(f"{source}: {where}: {why}", hint=fix)


def parse_stages(
    section: Any, source: str = "params.yaml", gates: Mapping[str, Any] | None = None
) -> StageModel:
    """The `stages:` section of params.yaml as a StageModel; InputError naming `source`, the
    field and the fix for anything else. With `gates`, also refuse gates of a stage that is
    neither built in nor declared (a misspelt stage would otherwise never be checked)."""
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        raise _fail(
            source,
            "stages",
            f"expected a mapping of stage name to {{after: STAGE}}, got {shown(str(section))}",
            f"write it as\n{EXAMPLE}",
        )
    extra: dict[str, str] = {}
    for name, entry in section.items():
        where = f"stages.{shown(str(name))}"
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise _fail(
                source,
                where,
                "not a valid stage name",
                "use ASCII letters, digits, '-' and '_', starting and ending with a letter or "
                "digit (GTO's rule), e.g. staging",
            )
        if name in STAGES:
            raise _fail(
                source,
                where,
                f"{name} is a built-in stage ({', '.join(STAGES)})",
                "declare only extra stages here; remove this entry",
            )
        if not isinstance(entry, Mapping) or set(entry) != {"after"}:
            raise _fail(
                source,
                where,
                f"expected {{after: STAGE}}, got {shown(str(entry))}",
                f"name the stage it follows, e.g.\n{EXAMPLE}",
            )
        extra[name] = entry["after"]
    for name, after in extra.items():
        if not isinstance(after, str) or (after not in STAGES and after not in extra):
            known = ", ".join([*STAGES, *sorted(s for s in extra if s != name)])
            raise _fail(
                source,
                f"stages.{name}.after",
                f"{shown(str(after))!r} is not a stage",
                f"use one of: {known}",
            )
        seen, stage = [name], after
        while stage in extra:
            if stage in seen:
                raise _fail(
                    source,
                    f"stages.{name}.after",
                    "the stages follow each other in a circle (" + " → ".join([*seen, stage]) + ")",
                    "make one of them follow a built-in stage (raw, validated or production)",
                )
            seen.append(stage)
            stage = extra[stage]
    model = StageModel(extra)
    if gates:
        _check_gate_stages(model, gates, source)
    return model


def _check_gate_stages(model: StageModel, gates: Mapping[str, Any], source: str) -> None:
    """Every stage `gates:` (and its per-model overrides) names is built in or declared."""
    named = [(f"gates.{k}", k) for k in gates if k not in GATE_KEYS]
    overrides = gates.get("overrides") or {}
    if isinstance(overrides, Mapping):
        for model_name, per_stage in overrides.items():
            if isinstance(per_stage, Mapping):
                named += [(f"gates.overrides.{model_name}.{k}", k) for k in per_stage]
    for where, stage in named:
        if not model.declared(stage):
            raise _fail(
                source,
                where,
                f"no stage named {shown(str(stage))!r} (stages: {', '.join(model.order)})",
                f"fix the name, or declare the stage under stages:, e.g.\n{EXAMPLE}",
            )


def undeclared(registry: Registry, model: StageModel, source: str) -> list[str]:
    """One line per stage that resolves today although `source` does not declare it (a stage
    taken out of params.yaml, or a tag gto wrote): `artreg verify` reports each."""
    found = []
    for name in sorted(registry.artifacts):
        for stage, event in registry.artifacts[name].current().items():
            if not model.declared(stage):
                found.append(
                    f"tag {event.tag}: {name}#{stage} resolves, but {source} declares no stage "
                    f"{stage!r}; declare it under stages: (e.g. {stage}: {{after: validated}}) "
                    "or unassign it"
                )
    return found
