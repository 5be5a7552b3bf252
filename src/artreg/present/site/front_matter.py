"""The model card's YAML front matter as (dotted key, value) rows for the site's table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


def _front_matter_rows(text: str, limit: int = 200) -> list[tuple[str, str]] | None:
    """(dotted key, value) rows of YAML front matter, read from the parser's events.

    Walking events skips the constructor, the slow part of loading, and never expands an
    alias, so a card cannot blow up into a huge table. The events come from `_simple_events`
    when the front matter is in the plain block style model cards are written in, else from
    libyaml's parser (the pure one without it). None when it is not YAML or not a mapping or
    list at the top.
    """
    try:
        return _rows(_simple_events(text), limit)
    except _NotSimple:
        pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)

    def events() -> Iterator[tuple[str, str, bool]]:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.ScalarEvent):
                yield ("scalar", event.value, event.implicit[0])
            elif isinstance(event, yaml.AliasEvent):
                yield ("scalar", f"*{event.anchor}", False)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                yield (
                    "mapping" if isinstance(event, yaml.MappingStartEvent) else "list",
                    "",
                    False,
                )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                yield ("end", "", False)

    try:
        return _rows(events(), limit)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


_NULLS = ("", "~", "null", "Null", "NULL")


def _rows(events: Iterable[tuple[str, str, bool]], limit: int) -> list[tuple[str, str]] | None:
    """The rows of `_front_matter_rows` from (kind, scalar text, plain) events."""
    rows: list[tuple[str, str]] = []
    stack: list[_Open] = []

    def value(text: str) -> None:
        top = stack[-1]
        if top.mapping and top.key is None:
            top.key = text
        elif not top.mapping and not top.nested:
            top.scalars.append(text)  # a list of plain values becomes one row
        elif len(rows) < limit:
            rows.append((top.child(), text))

    for kind, text, plain in events:
        if kind == "scalar":
            if not stack:
                return None
            value("—" if plain and text in _NULLS else text)
        elif kind == "end":
            done = stack.pop()
            if not done.mapping and not done.nested and len(rows) < limit:
                rows.append((done.path or "[]", ", ".join(done.scalars)))
        else:
            path = ""
            if stack:
                top = stack[-1]
                if top.mapping and top.key is None:
                    return None  # a collection as a mapping key: not front matter
                if not top.mapping and not top.nested:
                    top.nested = True  # list items get a row each from here on
                    for item in top.scalars:
                        rows.append((top.child(), item))
                    top.scalars = []
                path = top.child()
            stack.append(_Open(path, kind == "mapping"))
    return rows or None


class _NotSimple(Exception):
    """The front matter uses more of YAML than `_simple_events` reads."""


# What a plain scalar may not start with (YAML 1.1's indicators), besides "- " and a lone "-".
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")


def _simple_events(text: str) -> list[tuple[str, str, bool]]:
    """The parser's events for front matter in plain block style only: `key: value`,
    `key:` with a block below, `- item` and `- key: value` lists, one printable-ASCII line
    per scalar, no quotes, comments, anchors, tags, flow or multi-line scalars. Anything
    else raises _NotSimple, and libyaml reads it instead: this is the subset model cards
    are written in, read about 4x faster than through libyaml's events."""
    lines: list[tuple[int, str]] = []
    for raw in text.split("\n"):
        if not raw.isascii() or not raw.isprintable():
            raise _NotSimple  # tabs, control characters, non-ASCII: libyaml's business
        content = raw.lstrip(" ")
        if not content:
            continue
        if content[0] == "#" or " #" in content or content[-1] == " ":
            raise _NotSimple  # comments; trailing spaces (kept simple: no stripping here)
        lines.append((len(raw) - len(content), content))
    if not lines or lines[0][0] != 0:
        raise _NotSimple
    events: list[tuple[str, str, bool]] = []
    end = _block(lines, 0, events)
    if end != len(lines):
        raise _NotSimple
    return events


def _scalar(text: str) -> tuple[str, str, bool]:
    first = text[0]
    if (
        first in _INDICATORS
        or (first == "-" and (len(text) == 1 or text[1] == " "))
        or ": " in text
        or text[-1] == ":"
    ):
        raise _NotSimple
    return ("scalar", text, True)


def _block(lines: list[tuple[int, str]], i: int, events: list[tuple[str, str, bool]]) -> int:
    """Read the mapping or list starting at line `i` into `events`; the next line's index."""
    indent, content = lines[i]
    if content == "-" or content.startswith("- "):
        return _list(lines, i, indent, events)
    return _mapping(lines, i, indent, events)


def _mapping(
    lines: list[tuple[int, str]], i: int, indent: int, events: list[tuple[str, str, bool]]
) -> int:
    events.append(("mapping", "", False))
    while i < len(lines) and lines[i][0] == indent:
        content = lines[i][1]
        key, sep, rest = content.partition(": ")
        if not sep:
            if content[-1] != ":":
                raise _NotSimple
            key = content[:-1]
        if not key or len(key) > 1024 or key[-1] == " ":
            raise _NotSimple  # libyaml refuses implicit keys longer than 1024 characters
        events.append(_scalar(key))
        i += 1
        if sep:
            events.append(_scalar(rest.lstrip(" ")))
        elif i < len(lines) and lines[i][0] > indent:
            i = _block(lines, i, events)
        elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            i = _list(lines, i, indent, events)  # a list may sit at its key's indentation
        else:
            events.append(("scalar", "", True))  # `key:` and nothing: null
    if i < len(lines) and lines[i][0] > indent:
        raise _NotSimple
    events.append(("end", "", False))
    return i


def _list(
    lines: list[tuple[int, str]], i: int, indent: int, events: list[tuple[str, str, bool]]
) -> int:
    events.append(("list", "", False))
    while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
        item = lines[i][1][2:]
        if not item or item[0] == " " or item.startswith("-"):
            raise _NotSimple  # nested lists, odd indentation: libyaml's business
        if ": " in item or item[-1] == ":":
            lines[i] = (indent + 2, item)  # `- key: value`: a mapping at the item's column
            i = _mapping(lines, i, indent + 2, events)
        else:
            events.append(_scalar(item))
            i += 1
    if i < len(lines) and lines[i][0] > indent:
        raise _NotSimple
    events.append(("end", "", False))
    return i


@dataclass
class _Open:
    """A mapping or list being read from YAML events."""

    path: str
    mapping: bool
    key: str | None = None
    index: int = 0
    nested: bool = False
    scalars: list[str] = field(default_factory=list)

    def child(self) -> str:
        """The path of the next value inside (and move past it)."""
        if self.mapping:
            key, self.key = self.key, None
            return f"{self.path}.{key}" if self.path else str(key)
        self.index += 1
        return f"{self.path}[{self.index - 1}]"
