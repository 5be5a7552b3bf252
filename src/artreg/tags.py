"""GTO's tag grammar (format and parse) and the one-call listing of every tag of a repo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from artreg.errors import InputError
from artreg.layout import STAGES, validate_name

# Same grammar as gto.constants.tag_re, restricted to artreg's names (no '/', no dirname).
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-(?:(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)
TAG_RE = re.compile(
    rf"^(?P<name>{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@v(?P<version>{_SEMVER}))(?P<cancel>!?)"
    r"|@(?P<deprecated>deprecated)|@(?P<created>created))"
    r"(?:#(?P<counter>[0-9]+))?$"
)


class Action(str, Enum):
    REGISTER = "register"  # name@vX.Y.Z
    DEREGISTER = "deregister"  # name@vX.Y.Z!
    ASSIGN = "assign"  # name#stage#N
    UNASSIGN = "unassign"  # name#stage!#N
    DEPRECATE = "deprecate"  # name@deprecated
    CREATE = "create"  # name@created


@dataclass(frozen=True)
class TagName:
    """A parsed registry tag name."""

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
    counter = int(m["counter"]) if m["counter"] is not None else None
    cancel = bool(m["cancel"])
    if m["stage"]:
        action = Action.UNASSIGN if cancel else Action.ASSIGN
        return TagName(m["name"], action, stage=m["stage"], counter=counter)
    if m["version"]:
        action = Action.DEREGISTER if cancel else Action.REGISTER
        return TagName(m["name"], action, version=m["version"], counter=counter)
    if m["deprecated"]:
        return TagName(m["name"], Action.DEPRECATE, counter=counter)
    return TagName(m["name"], Action.CREATE, counter=counter)


class Spec(NamedTuple):
    """What a command-line spec names: an artifact, one of its versions, or one of its stages."""

    name: str
    stage: str | None
    version: str | None  # without the leading "v"


SPEC_FORMS = (
    "NAME for the whole artifact, NAME@vX.Y.Z for one version (e.g. encoder@v1.2.0), "
    "or NAME#STAGE for a stage (e.g. encoder#production)"
)
_SEMVER_RE = re.compile(_SEMVER)


def _bad_spec(spec: str, why: str) -> InputError:
    shown = spec.encode("unicode_escape").decode("ascii")
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return InputError(f"malformed spec {shown!r}: {why}", hint=f"write {SPEC_FORMS}")


def parse_spec(spec: str) -> Spec:
    """`NAME`, `NAME@vX.Y.Z` (the `v` may be left out) or `NAME#STAGE`; anything else is an
    InputError, so that a spec with a part missing never acts on more than was asked."""
    if not spec:
        raise _bad_spec(spec, "it is empty")
    marks = [c for c in spec if c in "@#"]
    if len(marks) > 1:
        raise _bad_spec(
            spec, "a spec holds one '@' or one '#'; tag names such as NAME#STAGE#N are not specs"
        )
    if not marks:
        return Spec(validate_name(spec), None, None)
    name, mark, rest = spec.partition(marks[0])
    if not name:
        raise _bad_spec(spec, f"no artifact name before {mark!r}")
    validate_name(name)
    if mark == "@":
        if not rest:
            raise _bad_spec(spec, "no version after '@'")
        bare = rest.removeprefix("v")
        if not _SEMVER_RE.fullmatch(bare):
            raise _bad_spec(spec, f"{rest!r} is not a semantic version such as v1.2.0")
        return Spec(name, None, bare)
    if not rest:
        raise _bad_spec(spec, "no stage after '#'")
    if rest not in STAGES:
        raise _bad_spec(spec, f"unknown stage {rest!r}; the stages are {', '.join(STAGES)}")
    return Spec(name, rest, None)


@dataclass(frozen=True)
class TagRecord:
    """One registry tag as `git for-each-ref` reports it."""

    tag: str
    parsed: TagName
    commit: str
    timestamp: int
    tagger: str
    tagger_email: str
    message: str
    annotated: bool


# `%00` and `%1e` are for-each-ref's hex escapes: NUL between fields (never in a ref name or a
# tagger line), ASCII record separator between tags (so multi-line messages stay whole).
FOR_EACH_REF_FORMAT = "%1e" + "%00".join(
    [
        "%(objecttype)",
        "%(refname:strip=2)",
        "%(objectname)",
        "%(*objectname)",
        "%(creatordate:unix)",
        "%(taggername)",
        "%(taggeremail:trim)",
        "%(contents)",
    ]
)


def parse_for_each_ref(output: str) -> list[TagRecord]:
    """Turn `git for-each-ref --format=FOR_EACH_REF_FORMAT refs/tags` output into records.

    Tags outside the grammar are skipped; lightweight ones are kept but marked, because GTO
    counts them for the next counter while ignoring them for the registry state.
    """
    records: list[TagRecord] = []
    for chunk in output.split("\x1e"):
        fields = chunk.split("\x00")
        if len(fields) < 8:
            continue
        objecttype, refname, objectname, peeled, date, tagger, email, contents = fields[:8]
        parsed = parse_tag(refname)
        if parsed is None:
            continue
        annotated = objecttype == "tag"
        records.append(
            TagRecord(
                tag=refname,
                parsed=parsed,
                commit=peeled if annotated else objectname,
                timestamp=int(date or 0),
                tagger=tagger,
                tagger_email=email,
                message=contents.rstrip("\n"),
                annotated=annotated,
            )
        )
    return records


def next_counter(records: list[TagRecord], name: str) -> int:
    """1 + the highest counter on any tag of `name`, across all actions (as GTO counts)."""
    return 1 + max(
        (r.parsed.counter or 0 for r in records if r.parsed.name == name),
        default=0,
    )
