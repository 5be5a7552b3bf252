"""GTO's grammar, the only copy: names, ids, semantic versions, tag kinds, tag messages, and
the clock and counter every new tag takes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from enum import Enum
from typing import NamedTuple, Protocol

from artreg.adapters.portable import portable_problem
from artreg.errors import InputError

STAGES = ("raw", "validated", "production")
MAX_NAME_LENGTH = 100

# GTO's artifact-name rule (gto.constants) without '/': artreg names are single path components.
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
NAME_RE = re.compile(rf"^{_NAME}$")
# Session and validated ids become folder names: GTO's characters plus '.', never '..'.
ID_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$")
SEMVER_RE = re.compile(rf"^{_SEMVER}$")
TAG_RE = re.compile(
    rf"^(?P<name>{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@v(?P<version>{_SEMVER}))(?P<cancel>!?)"
    r"|@(?P<deprecated>deprecated)|@(?P<created>created))"
    r"(?:#(?P<counter>[0-9]+))?$"
)


# --- names, ids, versions, stages ------------------------------------------------------------


def shown(value: str) -> str:
    """A value as it may safely be echoed in a message: escaped and cut short."""
    text = value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 60 else text[:57] + "..."


PORTABLE_RULE = (
    "a name becomes a folder, and Windows cannot check out one named CON, PRN, AUX, NUL, "
    "COM1-COM9 or LPT1-LPT9 (in any letter case, with or without an extension), one ending "
    'in a dot or a space, or one holding a control character or any of < > : " \\ | ? *'
)


def _check_portable(value: str, what: str) -> None:
    """Refuse a name that one of the platforms git runs on cannot check out."""
    found = portable_problem(value)
    if found is not None:
        why, instead = found
        raise InputError(
            f"invalid {what} {shown(value)!r}: {why}, so its folder cannot be checked out there",
            hint=f"{PORTABLE_RULE}; use {shown(instead)!r} instead",
        )


def case_twin(name: str, existing: Iterable[str]) -> str | None:
    """The existing name that differs from `name` only by letter case, if any."""
    folded = name.casefold()
    return next((e for e in existing if e != name and e.casefold() == folded), None)


def validate_name(name: str, field: str = "name") -> str:
    """Return `name` if it is a valid, portable artifact name, else raise InputError."""
    if isinstance(name, str):
        _check_portable(name, f"artifact {field}")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise InputError(
            f"invalid artifact {field} {shown(str(name))!r}",
            hint=(
                "use ASCII letters, digits, '-' and '_' (GTO's rule, without '/'), "
                f"starting and ending with a letter or digit, at most {MAX_NAME_LENGTH} characters"
            ),
        )
    return name


def validate_id(value: str, field: str) -> str:
    """Return `value` if it is a valid, portable session or validated id, else raise InputError."""
    if isinstance(value, str):
        _check_portable(value, field)
    if (
        not isinstance(value, str)
        or not ID_RE.fullmatch(value)
        or ".." in value
        or len(value) > MAX_NAME_LENGTH
    ):
        raise InputError(
            f"invalid {field} {shown(str(value))!r}",
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
            f"invalid version {shown(str(version))!r}",
            hint="give a semantic version such as 1.2.0 (https://semver.org)",
        )
    return bare


def is_semver(version: str) -> bool:
    return SEMVER_RE.fullmatch(version) is not None


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
            f"unknown stage {shown(str(stage))!r}", hint=f"use one of: {', '.join(STAGES)}"
        )
    return stage


# --- tag names --------------------------------------------------------------------------------


class Action(str, Enum):
    REGISTER = "register"  # name@vX.Y.Z
    DEREGISTER = "deregister"  # name@vX.Y.Z!
    ASSIGN = "assign"  # name#stage#N
    UNASSIGN = "unassign"  # name#stage!#N
    DEPRECATE = "deprecate"  # name@deprecated
    CREATE = "create"  # name@created


# Python 3.11 looks an enum member up through a descriptor (85 ns, against 5 ns for a module
# name), and the read model asks a tag's action some 30,000 times at 10,000 tags: its hot paths
# use these sets and names.
VERSION_ACTIONS = frozenset({Action.REGISTER, Action.DEREGISTER})
STAGE_ACTIONS = frozenset({Action.ASSIGN, Action.UNASSIGN})
ASSIGN, UNASSIGN, REGISTER, DEREGISTER = (
    Action.ASSIGN,
    Action.UNASSIGN,
    Action.REGISTER,
    Action.DEREGISTER,
)


class TagName(NamedTuple):
    """A parsed registry tag name (a named tuple: the read model parses one per tag, and a
    tuple is built in half the time of a frozen dataclass)."""

    name: str
    action: Action
    stage: str | None = None
    version: str | None = None  # without the leading "v"
    counter: int | None = None

    def format(self) -> str:
        return format_tag(self.action, self.name, self.stage, self.version, self.counter)


def format_tag(
    action: Action,
    name: str,
    stage: str | None = None,
    version: str | None = None,
    counter: int | None = None,
) -> str:
    """The GTO tag for an action, e.g. `model#production#3` or `model@v1.2.0`."""
    if action in (Action.ASSIGN, Action.UNASSIGN):
        base = f"{name}#{stage}{'!' if action is Action.UNASSIGN else ''}"
    elif action in (Action.REGISTER, Action.DEREGISTER):
        base = f"{name}@v{version}{'!' if action is Action.DEREGISTER else ''}"
    elif action is Action.DEPRECATE:
        base = f"{name}@deprecated"
    else:
        base = f"{name}@created"
    return base if counter is None else f"{base}#{counter}"


def parse_tag(tag: str) -> TagName | None:
    """Parse a tag name in GTO's grammar; None for anything else."""
    m = TAG_RE.fullmatch(tag)
    if not m:
        return None
    name, stage, version, cancel, deprecated, counter = m.group(
        "name", "stage", "version", "cancel", "deprecated", "counter"
    )
    number = int(counter) if counter is not None else None
    if stage:
        return TagName(name, UNASSIGN if cancel else ASSIGN, stage, None, number)
    if version:
        return TagName(name, DEREGISTER if cancel else REGISTER, None, version, number)
    if deprecated:
        return TagName(name, Action.DEPRECATE, None, None, number)
    return TagName(name, Action.CREATE, None, None, number)


class Spec(NamedTuple):
    """What a command-line spec names: an artifact, one of its versions, or one of its stages."""

    name: str
    stage: str | None
    version: str | None  # without the leading "v"


SPEC_FORMS = (
    "NAME for the whole artifact, NAME@vX.Y.Z for one version (e.g. encoder@v1.2.0), "
    "or NAME#STAGE for a stage (e.g. encoder#production)"
)


def _bad(text: str, why: str, what: str = "spec", forms: str = SPEC_FORMS) -> InputError:
    return InputError(f"malformed {what} {shown(text)!r}: {why}", hint=f"write {forms}")


def parse_spec(spec: str, *, any_stage: bool = False) -> Spec:
    """`NAME`, `NAME@vX.Y.Z` (the `v` may be left out) or `NAME#STAGE`; anything else is an
    InputError, so that a spec with a part missing never acts on more than was asked.
    `any_stage`: a reader's spec, whose stage may be an extra one (`stages:` in params.yaml;
    GTO's stage-name rule), resolved as GTO does: by the tags."""
    return _parse_spec(spec, "spec", SPEC_FORMS, any_stage)


def validate_any_stage(stage: str) -> str:
    """`stage` if it is a built-in stage or may name an extra one (GTO's rule), else
    InputError: a reader resolves it by the tags, which say whether anything is in it."""
    if stage not in STAGES and not NAME_RE.fullmatch(stage):
        raise InputError(
            f"{shown(str(stage))!r} is not a stage name",
            hint=f"use one of: {', '.join(STAGES)}, or an extra stage params.yaml declares",
        )
    return stage


def _parse_spec(spec: str, what: str, forms: str, any_stage: bool = False) -> Spec:
    if not spec:
        raise _bad(spec, "it is empty", what, forms)
    marks = [c for c in spec if c in "@#"]
    if len(marks) > 1:
        raise _bad(
            spec,
            "a spec holds one '@' or one '#'; tag names such as NAME#STAGE#N are not specs",
            what,
            forms,
        )
    if not marks:
        return Spec(validate_name(spec), None, None)
    name, mark, rest = spec.partition(marks[0])
    if not name:
        raise _bad(spec, f"no artifact name before {mark!r}", what, forms)
    validate_name(name)
    if mark == "@":
        if not rest:
            raise _bad(spec, "no version after '@'", what, forms)
        bare = rest.removeprefix("v")
        if not SEMVER_RE.fullmatch(bare):
            raise _bad(spec, f"{rest!r} is not a semantic version such as v1.2.0", what, forms)
        return Spec(name, None, bare)
    if not rest:
        raise _bad(spec, "no stage after '#'", what, forms)
    if rest not in STAGES and not (any_stage and NAME_RE.fullmatch(rest)):
        raise _bad(spec, f"unknown stage {rest!r}; the stages are {', '.join(STAGES)}", what, forms)
    return Spec(name, rest, None)


REQUIREMENT_FORM = "NAME@vX.Y.Z, e.g. encoder@v1.2.0 (the artifact and the version it needs)"


def parse_requirement(text: str) -> tuple[str, str]:
    """`NAME@vX.Y.Z` (the `v` may be left out): what a release needs of another artifact, as
    (name, version without the `v`). A stage, a bare name or anything else is an InputError."""
    if not isinstance(text, str):
        raise InputError(
            f"requirement {shown(str(text))!r} is not text", hint=f"write {REQUIREMENT_FORM}"
        )
    spec = _parse_spec(text, "requirement", REQUIREMENT_FORM)
    if spec.version is None:
        raise _bad(
            text,
            "it names no version; a requirement pins the version it was made with",
            "requirement",
            REQUIREMENT_FORM,
        )
    return spec.name, spec.version


# --- counters and the tag clock -----------------------------------------------------------------


class _Tagged(Protocol):
    @property
    def parsed(self) -> TagName: ...

    @property
    def timestamp(self) -> int: ...


def next_counter(events: Iterable[_Tagged], name: str) -> int:
    """1 + the highest counter on any tag of `name`, across all actions (as GTO counts)."""
    return 1 + max((e.parsed.counter or 0 for e in events if e.parsed.name == name), default=0)


def next_tag_time(events: Iterable[_Tagged]) -> int:
    """The date for the next tag: now, or one second after the newest tag, so that tag order
    (which GTO resolves by date) is never a tie and never goes backwards."""
    return max(int(time.time()), max((e.timestamp for e in events), default=0) + 1)


# --- tag messages: readable by people, parsable by artreg ----------------------------------

# reason: a rollback's; approved_by, policy (the commit whose rights applied) and request (a
# merged pull request's .artreg/requests folder): an assignment's
MESSAGE_KEYS = (
    *("folder", "source", "by", "kind", "requires", "reason"),
    *("approved_by", "policy", "request"),
)


def _one_line(value: str) -> str:
    """A value that cannot break out of its line (a path with a newline would forge a field)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in value)


def tag_message(title: str, **fields: str) -> str:
    """A tag message: a title line, a blank line, then `key: value` lines artreg parses back."""
    body = "\n".join(f"{k}: {_one_line(v)}" for k, v in fields.items() if v)
    return f"{_one_line(title)}\n\n{body}\n"


def message_fields(message: str) -> dict[str, str]:
    """The `key: value` fields of an artreg tag message; the first occurrence of a key counts."""
    fields: dict[str, str] = {}
    for line in message.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep and key in MESSAGE_KEYS and key not in fields:
            fields[key] = value.strip()
    return fields
