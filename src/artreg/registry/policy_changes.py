"""What a change of policy loosens: params.yaml's rights, gates (with per-model overrides),
trust and approval settings, and the allowed-signers file, compared between two commits.

The allowed-signers file is compared as bytes, line by line, never parsed: ssh-keygen's grammar
(quoted options, tabs, wildcards, cert-authority) is ssh-keygen's, and a second parser that reads
a line differently lets a change slip through. So every line added or changed, by any byte, and
any change of the file's path is a loosening; only whole removed lines tighten. Pure: reading
the commits and asking git about signatures is publishing/policy_changes.py's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from artreg.registry.policy import rules_for
from artreg.registry.rights import Rights, parse

SHOWN = 100  # characters of an added allowed-signers line a message shows
_WHEN = re.compile(rb'valid-(before|after)="?(\d{8})(\d{4})?(\d{2})?Z?"?', re.IGNORECASE)
_VALIDITY = re.compile(rb"valid-(?:before|after)", re.IGNORECASE)
# ssh-keygen reads a date without `Z` as local time: a day either side covers every zone.
_MARGIN = timedelta(days=1)


def _as_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data.encode("utf-8") if isinstance(data, str) else data


def signer_loosenings(
    old: Rights, new: Rights, old_signers: bytes | str = b"", new_signers: bytes | str = b""
) -> list[str]:
    """Each line of the new allowed-signers file that the old one has not byte for byte (its
    number and text), and a change of the file's path. [] when the old rights named no file:
    nothing was checked against one, so a first file loosens nothing."""
    if old.allowed_signers is None:
        return []
    found = []
    if new.allowed_signers != old.allowed_signers:
        found.append(
            f"rights.allowed_signers changed from {old.allowed_signers} to "
            f"{new.allowed_signers or 'nothing'}"
        )
    before = Counter(_as_bytes(old_signers).split(b"\n"))
    for number, line in enumerate(_as_bytes(new_signers).split(b"\n"), 1):
        if before[line] > 0:
            before[line] -= 1
            continue
        if not line:
            continue  # an empty line lets no one sign
        text = line.decode("utf-8", "backslashreplace")
        shown = text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
        found.append(
            f"allowed signer added: {shown} ({new.allowed_signers} line {number}, new or changed)"
        )
    return found


def rights_loosenings(
    old: Rights, new: Rights, old_signers: bytes | str, new_signers: bytes | str
) -> list[str]:
    """What the change makes weaker in `rights:` (as parsed) and the allowed-signers file."""
    found = [f"rights.signed no longer lists {s}" for s in old.signed if s not in new.signed]
    found += signer_loosenings(old, new, old_signers, new_signers)
    for stage, rules in old.stages.items():
        after = new.stage(stage)
        for role in ("promoters", "approvers"):
            before_list, after_list = getattr(rules, role), getattr(after, role)
            if before_list is None:
                continue
            if after_list is None:
                found.append(f"rights.{stage}.{role} removed (anyone may now)")
                continue
            found += [
                f"{role[:-1]} added to rights.{stage}: {w}"
                for w in after_list
                if w not in before_list
            ]
        if rules.four_eyes and not after.four_eyes:
            found.append(f"rights.{stage}.four_eyes turned off")
    return found


_LOOSER = {">=": -1, ">": -1, "<=": 1, "<": 1}  # the direction a threshold moves to loosen


def _gate_loosenings(old: Any, new: Any, where: str) -> list[str]:
    found: list[str] = []
    old, new = old or {}, new or {}
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return found
    for metric, rule in old.items():
        if not isinstance(rule, Mapping) or "op" not in rule:
            found += _gate_loosenings(rule, new.get(metric), f"{where}.{metric}")
            continue
        after = new.get(metric)
        if not isinstance(after, Mapping):
            found.append(
                f"gate {where}.{metric} removed (was {rule['op']} {rule.get('threshold')})"
            )
            continue
        before_t, after_t = rule.get("threshold"), after.get("threshold")
        if after.get("op") != rule["op"]:
            found.append(
                f"gate {where}.{metric} changed from {rule['op']} {before_t} "
                f"to {after.get('op')} {after_t}"
            )
        elif before_t != after_t:
            direction = _LOOSER.get(str(rule["op"]))
            tighter = (
                isinstance(before_t, (int, float))
                and isinstance(after_t, (int, float))
                and direction is not None
                and (after_t - before_t) * direction < 0
            )
            if not tighter:
                found.append(
                    f"gate {where}.{metric} lowered from {rule['op']} {before_t} to "
                    f"{after.get('op')} {after_t}"
                )
    return found


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def gate_loosenings(old_gates: Any, new_gates: Any) -> list[str]:
    """Gates made weaker: a stage's gate lowered, removed or its operator changed, and a model's
    gates as its `gates.overrides` make them (the rules it is checked against) weaker."""
    old, new = _mapping(old_gates), _mapping(new_gates)
    shared = {k: v for k, v in old.items() if k != "overrides"}
    found = _gate_loosenings(shared, {k: v for k, v in new.items() if k != "overrides"}, "gates")
    old_over, new_over = _mapping(old.get("overrides")), _mapping(new.get("overrides"))
    for model in sorted({*old_over, *new_over}, key=str):
        stages = {*shared, *_mapping(old_over.get(model)), *_mapping(new_over.get(model))}
        for stage in sorted(stages, key=str):
            found += [
                f"{line} (gates.overrides.{model})"
                for line in _gate_loosenings(
                    rules_for(dict(old), stage, model),
                    rules_for(dict(new), stage, model),
                    f"{stage} for {model}",
                )
            ]
    return found


def loosenings(
    old_sections: Mapping[str, Any],
    new_sections: Mapping[str, Any],
    old_signers: bytes | str = b"",
    new_signers: bytes | str = b"",
) -> list[str]:
    """Every rule the change from `old` to `new` (params.yaml sections, allowed-signers bytes)
    makes weaker, one line each; [] when it loosens nothing."""
    old_rights = parse(old_sections.get("rights"), "before")
    new_rights = parse(new_sections.get("rights"), "after")
    found = rights_loosenings(old_rights, new_rights, old_signers, new_signers)
    found += gate_loosenings(old_sections.get("gates"), new_sections.get("gates"))
    old_trust = _mapping(old_sections.get("trust"))
    new_trust = _mapping(new_sections.get("trust"))
    for stage in old_trust.get("require_signature") or []:
        if stage not in (new_trust.get("require_signature") or []):
            found.append(f"trust.require_signature no longer lists {stage} (model signatures)")
    for key in new_trust.get("keys") or []:
        if key not in (old_trust.get("keys") or []):
            found.append(f"trust.keys added: {key} (model signatures)")
    old_settings = _mapping(old_sections.get("artreg"))
    new_settings = _mapping(new_sections.get("artreg"))
    for flag, default in (("require_approval", True), ("require_security_review", False)):
        if old_settings.get(flag, default) and not new_settings.get(flag, default):
            found.append(f"artreg.{flag} turned off")
    return found


def _moment(match: re.Match[bytes]) -> datetime:
    day, hours, seconds = match[2], match[3] or b"0000", match[4] or b"00"
    return datetime.strptime((day + hours + seconds).decode(), "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def valid_now(signers: bytes, now: datetime) -> bytes:
    """The allowed-signers file without the lines whose keys are not valid at `now`: a
    `valid-before` passed or a `valid-after` to come. git checks a key against the date the
    signer wrote into the commit, which a retired key can backdate at will; a policy change is
    authorized only by a key valid at the check. Errs towards leaving a line out: one naming
    valid-before/after in a form this does not read, or within a day of `now`."""
    kept = []
    for line in signers.split(b"\n"):
        mentions = len(_VALIDITY.findall(line))
        if mentions:
            dates = list(_WHEN.finditer(line))
            try:
                ok = len(dates) == mentions and all(
                    _moment(d) - _MARGIN > now
                    if d[1].lower() == b"before"
                    else _moment(d) + _MARGIN < now
                    for d in dates
                )
            except ValueError:
                ok = False
            if not ok:
                continue
        kept.append(line)
    return b"\n".join(kept)
