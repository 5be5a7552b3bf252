"""Dependencies between artifacts, as pure functions of one registry state: whether what a
release requires is in production at a compatible version, which production artifacts a
requirement no longer holds for, and the transitive closure a consumer fetches.

A requirement is `name@vX.Y.Z` in a promotion's tag message (`requires:`) and metadata.json;
the compatibility rule is params.yaml's `requirements.compatibility` (policy.compatible). No
git here: every answer comes from the `Registry` that `state.load` built once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from artreg.errors import InputError, RequirementUnmet
from artreg.registry.documents import GateResult
from artreg.registry.policy import EXACT, compatible
from artreg.registry.records import Registry, Requirement, Version, requirements


@dataclass(frozen=True)
class Unmet:
    """One requirement that production does not satisfy, and why."""

    requirement: Requirement
    found: str | None  # the version production holds ("v2.0.0"), None when it holds none
    why: str

    def __str__(self) -> str:
        return f"{self.requirement}: {self.why}"

    def as_gate(self, rule: str) -> GateResult:
        """The refusal as a row of the gate table every refusal of a release prints."""
        return GateResult(
            f"requires {self.requirement.name}",
            rule,
            f"v{self.requirement.version}",
            self.found or "nothing in production",
            False,
            self.why,
        )


def declared(
    requires: Any,
    name: str,
    inherited: tuple[Requirement, ...] = (),
) -> tuple[Requirement, ...]:
    """What a promotion of `name` declares it needs: `requires=[...]` (`--requires`) parsed by
    the one grammar, or, when none are given, what its source recorded (`inherited`). An
    artifact cannot require itself (InputError, exit 2)."""
    parsed = requirements(requires) if requires is not None else inherited
    own = [r for r in parsed if r.name == name]
    if own:
        raise InputError(
            f"requires {own[0]}: {name} cannot require a version of itself",
            hint="name the other artifacts it needs (a base model, a teacher, a tokenizer)",
        )
    return parsed


def satisfying(registry: Registry, requirement: Requirement, rule: str) -> Version | Unmet:
    """The production version that satisfies `requirement` under `rule`, or why none does."""
    artifact = registry.artifacts.get(requirement.name)
    if artifact is None:
        return Unmet(requirement, None, f"the registry has no artifact {requirement.name}")
    if artifact.deprecated:
        return Unmet(requirement, None, f"{requirement.name} is deprecated")
    holder = artifact.stage("production")
    if holder is None:
        return Unmet(requirement, None, f"{requirement.name} has nothing in production")
    if not holder.registered:
        return Unmet(
            requirement, holder.commit[:12], "production holds an unregistered commit, no version"
        )
    if not compatible(requirement.version, holder.version, rule):
        return Unmet(
            requirement,
            f"v{holder.version}",
            f"production holds v{holder.version}, not compatible ({rule})",
        )
    return holder


def way_out(registry: Registry, requirement: Requirement, rule: str, dependant: str) -> str:
    """How to meet `dependant`'s unmet `requirement`, naming only releases that can be made: a
    version released once (even if deregistered since) is never released again, and a
    deprecated artifact takes no new release."""
    artifact = registry.artifacts.get(requirement.name)
    ways = []
    if artifact is None or not artifact.deprecated:
        released = artifact is not None and any(
            v.registered and v.version == requirement.version for v in artifact.versions
        )
        if not released:
            ways.append(f"release {requirement} to production")
        elif rule != EXACT:
            ways.append(
                f"release a newer {requirement.name} version compatible with "
                f"v{requirement.version} ({rule}) to production"
            )
    ways.append(f"release {dependant} without that requirement")
    return ", or ".join(ways)


def unmet(registry: Registry, requires: Iterable[Requirement], rule: str) -> list[Unmet]:
    """The requirements production does not satisfy (empty: every one is met)."""
    found = [satisfying(registry, r, rule) for r in requires]
    return [f for f in found if isinstance(f, Unmet)]


@dataclass(frozen=True)
class Status:
    """One requirement as production stands now: met or not, and what production holds."""

    requirement: Requirement
    met: bool
    detail: str  # "production holds v1.0.0", or why it is not met

    def __str__(self) -> str:
        return f"{self.requirement} ({'met' if self.met else 'NOT met'}: {self.detail})"


def statuses(registry: Registry, requires: Iterable[Requirement], rule: str) -> tuple[Status, ...]:
    """Each requirement with its state in production (for show, lineage, the PR summary)."""
    found = []
    for requirement in requires:
        held = satisfying(registry, requirement, rule)
        if isinstance(held, Unmet):
            found.append(Status(requirement, False, held.why))
        else:
            found.append(Status(requirement, True, f"production holds v{held.version}"))
    return tuple(found)


@dataclass(frozen=True)
class Broken:
    """A production artifact whose requirement production no longer satisfies."""

    name: str
    version: str  # the dependant's label in production ("v1.0.0")
    unmet: Unmet

    def __str__(self) -> str:
        return f"{self.name} {self.version} (production) requires {self.unmet}"


def broken(registry: Registry, rule: str) -> list[Broken]:
    """Every production artifact with a requirement that production does not satisfy."""
    found = []
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        holder = artifact.stage("production")
        if holder is None or artifact.deprecated:
            continue
        for miss in unmet(registry, holder.requires("production"), rule):
            found.append(Broken(name, holder.label, miss))
    return found


def newly_broken(before: Registry, after: Registry, rule: str) -> list[Broken]:
    """What a change (a deprecation, an unassignment) breaks: broken after, not before."""
    was = {(b.name, b.unmet.requirement) for b in broken(before, rule)}
    return [b for b in broken(after, rule) if (b.name, b.unmet.requirement) not in was]


def closure(
    registry: Registry, name: str, requires: Iterable[Requirement], rule: str
) -> dict[str, Version]:
    """Everything `name` needs, transitively: each required name with the production version
    that satisfies it. An unmet requirement or a cycle raises RequirementUnmet naming it."""
    found: dict[str, Version] = {}
    # Depth first, without recursion (a chain may be deeper than Python's stack): each entry is
    # the path to a version and the requirements of it still to visit.
    stack: list[tuple[list[str], Iterator[Requirement]]] = [([name], iter(requires))]
    while stack:
        path, pending = stack[-1]
        requirement = next(pending, None)
        if requirement is None:
            stack.pop()
            continue
        if requirement.name in path:
            start = path.index(requirement.name)
            chain = " → ".join([*path[start:], requirement.name])
            via = f" (reached from {' → '.join(path[:start])})" if start else ""
            raise RequirementUnmet(
                f"requirements form a cycle: {chain}{via}",
                hint="a cycle cannot be resolved in order; release a version of one of "
                "them that does not require the other",
            )
        held = satisfying(registry, requirement, rule)
        if isinstance(held, Unmet):
            raise RequirementUnmet(
                f"{path[-1]} requires {held}",
                hint=way_out(registry, requirement, rule, path[-1]),
            )
        if requirement.name in found:
            continue  # reached along another path: the same production version
        found[requirement.name] = held
        stack.append(([*path, requirement.name], iter(held.requires("production"))))
    return found
