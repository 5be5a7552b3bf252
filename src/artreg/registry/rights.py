"""Who may move a model: params.yaml's `rights` section as a record, and the rules it sets.

    rights:
      allowed_signers: .artreg/allowed_signers   # git's gpg.ssh.allowedSignersFile format
      signed: [production]                       # stages whose promotion tags must be signed
      production:
        promoters: [alice@example.com]           # principals of the allowed-signers file
        approvers: [carol@example.com]
        four_eyes: true                          # the approver may not be the promoter

Pure: parsing and the rules (what a change loosens is registry/policy_changes.py's). Reading the
committed file and asking git about signatures is publishing/rights.py's and
adapters/git/signatures.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from artreg.errors import InputError

FILE_KEYS = ("allowed_signers", "signed")
STAGE_KEYS = ("promoters", "approvers", "four_eyes")
_STAGE = re.compile(r"^[a-z][a-z0-9_-]*$")
_EMAIL = re.compile(r"<([^<>]+)>\s*$")


@dataclass(frozen=True)
class StageRights:
    """`rights.<stage>`: who may promote into the stage and approve it (None: anyone)."""

    promoters: tuple[str, ...] | None = None
    approvers: tuple[str, ...] | None = None
    four_eyes: bool = False


@dataclass(frozen=True)
class Rights:
    """params.yaml's `rights` at one commit (`source` names it, e.g. params.yaml@1a2b3c4d5e6f)."""

    allowed_signers: str | None = None
    signed: tuple[str, ...] = ()
    stages: Mapping[str, StageRights] = field(default_factory=dict)
    source: str = "params.yaml"

    @property
    def configured(self) -> bool:
        """False when params.yaml has no rights section: every promotion is as before."""
        return bool(self.allowed_signers or self.signed or self.stages)

    def requires_signature(self, stage: str) -> bool:
        return stage in self.signed

    def stage(self, stage: str) -> StageRights:
        return self.stages.get(stage) or StageRights()

    def promoter_problem(self, stage: str, promoter: str) -> str | None:
        """Why `promoter` may not promote into `stage` (None: allowed)."""
        allowed = self.stage(stage).promoters
        if allowed is None or promoter in allowed:
            return None
        return (
            f"{promoter} may not promote into {stage}: {self.source} rights.{stage}.promoters "
            f"lists {_listing(allowed)}"
        )

    def approver_problem(self, stage: str, approver: str | None, promoter: str) -> str | None:
        """Why the approval of a promotion into `stage` breaks the rules (None: it does not)."""
        rules = self.stage(stage)
        if rules.approvers is not None:
            if approver is None:
                return (
                    f"a promotion into {stage} needs an approver: {self.source} "
                    f"rights.{stage}.approvers lists {_listing(rules.approvers)}"
                )
            if approver not in rules.approvers:
                return (
                    f"{approver} may not approve a promotion into {stage}: {self.source} "
                    f"rights.{stage}.approvers lists {_listing(rules.approvers)}"
                )
        # Case folded: mail providers treat Alice@Example.com and alice@example.com alike.
        if rules.four_eyes and approver is not None and approver.casefold() == promoter.casefold():
            return (
                f"{promoter} may not approve their own promotion into {stage}: {self.source} "
                f"sets rights.{stage}.four_eyes"
            )
        return None


def _listing(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "nobody"


def principal(who: str) -> str:
    """The principal in an identity: `Carol <carol@example.com>` → carol@example.com."""
    found = _EMAIL.search(who)
    return (found[1] if found else who).strip()


def recorded_approver(approved_by: Any) -> str | None:
    """The approver's principal as metadata.json records it (None: none, or "not required")."""
    if not isinstance(approved_by, str) or not approved_by.strip():
        return None
    return None if approved_by.startswith("not required") else principal(approved_by)


def _bad(source: str, field_name: str, problem: str, fix: str) -> InputError:
    return InputError(f"{source}: rights.{field_name} {problem}", hint=f"{fix} in params.yaml")


def _names(value: Any, source: str, field_name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(
            source,
            field_name,
            f"must be a list of principals, not {value!r}",
            f"write {field_name.rpartition('.')[2]}: [alice@example.com]",
        )
    return tuple(v.strip() for v in value)


def parse(section: Any, source: str = "params.yaml") -> Rights:
    """The `rights` section (None or absent: no rights), with errors naming file, field, fix."""
    if section is None:
        return Rights(source=source)
    if not isinstance(section, Mapping):
        raise InputError(
            f"{source}: rights must be a mapping, not {section!r}",
            hint="see the README's rights example",
        )
    signers = section.get("allowed_signers")
    if signers is not None and (
        not isinstance(signers, str)
        or not signers.strip()
        or signers.startswith("/")
        or ".." in signers.split("/")
    ):
        raise _bad(
            source,
            "allowed_signers",
            f"must be a path inside the registry, not {signers!r}",
            "write allowed_signers: .artreg/allowed_signers",
        )
    signed = _names(section.get("signed") or [], source, "signed")
    stages: dict[str, StageRights] = {}
    for key, value in section.items():
        if key in FILE_KEYS:
            continue
        if not isinstance(key, str) or not _STAGE.match(key):
            raise _bad(source, str(key), "is not a stage name", "name a stage, e.g. production")
        if not isinstance(value, Mapping):
            raise _bad(
                source,
                key,
                f"must be a mapping, not {value!r}",
                f"write {key}: {{promoters: [..]}}",
            )
        unknown = [k for k in value if k not in STAGE_KEYS]
        if unknown:
            raise _bad(
                source,
                f"{key}.{unknown[0]}",
                "is not a rights key",
                f"use one of {', '.join(STAGE_KEYS)}",
            )
        four_eyes = value.get("four_eyes", False)
        if not isinstance(four_eyes, bool):
            raise _bad(
                source, f"{key}.four_eyes", f"must be true or false, not {four_eyes!r}", "fix it"
            )
        stages[key] = StageRights(
            None
            if "promoters" not in value
            else _names(value["promoters"], source, f"{key}.promoters"),
            None
            if "approvers" not in value
            else _names(value["approvers"], source, f"{key}.approvers"),
            four_eyes,
        )
    if (signed or any(s.promoters is not None for s in stages.values())) and not signers:
        raise _bad(
            source,
            "allowed_signers",
            "is missing, and signatures and promoters are checked against it",
            "write allowed_signers: .artreg/allowed_signers (git's allowed-signers format)",
        )
    return Rights(signers.strip() if signers else None, signed, stages, source)
