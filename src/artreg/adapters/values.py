"""Values handed in from Python (metrics, configs, results...) turned into plain JSON data.

A training script passes whatever its libraries return: `numpy.float64`, a 0-d torch tensor,
a tuple, sometimes NaN or a set. Everything artreg writes is JSON or YAML, checked against a
schema, so values are made plain once, where they enter, with an error that names the field
(as a JSON pointer) instead of a TypeError from deep inside `json.dumps`.

numpy and torch are never imported here: their scalars are recognised by the package their
type comes from and converted with `.item()`, which both libraries provide.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from artreg.errors import InputError

TYPE_CHECKING = False  # not typing's: api.py imports this module on a warm read's path
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 64
# Libraries whose 0-d arrays and scalars are numbers for us (through `.item()`).
ARRAY_LIBRARIES = frozenset({"numpy", "torch"})


def pointer_join(pointer: str, key: str | int) -> str:
    """`pointer` extended by one key, escaped as RFC 6901 says (`~` → `~0`, `/` → `~1`)."""
    return f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _from_array_library(value: Any) -> bool:
    return type(value).__module__.split(".", 1)[0] in ARRAY_LIBRARIES and hasattr(value, "item")


def _refuse(pointer: str, problem: str, hint: str) -> InputError:
    return InputError(f"{shown(pointer) or '/'}: {problem}", hint=hint)


def shown(text: str) -> str:
    """`text` as it can be printed: a byte that was not UTF-8 (which Python keeps as a lone
    surrogate, U+DC80..U+DCFF) as `\\xNN`, any other lone surrogate as `\\uNNNN`."""
    if _encodes(text):
        return text
    return "".join(
        c
        if not 0xD800 <= ord(c) <= 0xDFFF
        else (f"\\x{ord(c) - 0xDC00:02x}" if ord(c) >= 0xDC80 else f"\\u{ord(c):04x}")
        for c in text
    )


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, field: str, hint: str = "pass UTF-8 text") -> str:
    """`value`, or InputError naming `field` when UTF-8 cannot encode it (a lone surrogate,
    or bytes that were not UTF-8 on the command line): nothing artreg writes could hold it."""
    if _encodes(value):
        return value
    raise InputError(
        f"{shown(field)}: '{shown(value)}' is not valid text: it holds a lone surrogate or "
        "bytes that are not UTF-8, which no JSON, YAML or git message artreg writes can hold",
        hint=hint,
    )


def _control(c: str) -> bool:
    """C0 (ESC included), DEL and C1: characters that forge lines or terminal output."""
    code = ord(c)
    return code < 0x20 or 0x7F <= code <= 0x9F


def check_line(value: str, field: str, hint: str | None = None) -> str:
    """`value`, valid UTF-8 text on one line, or InputError naming `field` (and `hint`, the fix):
    a single-line field (a name, who approved) lands in one line of a model card, CHANGELOG,
    tag message or PR summary, where a newline or control character would forge what follows."""
    check_text(value, field, hint or "pass UTF-8 text")
    return _no_control(value, field, "", hint or "pass one line of text, without them")


def check_lines(value: str, field: str, hint: str | None = None) -> str:
    """`value`, valid UTF-8 text whose only control characters are newline and tab, or
    InputError naming `field` (multi-line fields such as release notes)."""
    check_text(value, field, hint or "pass UTF-8 text")
    return _no_control(value, field, "\n\t", hint or "remove them (newlines and tabs are fine)")


# Fields (keywords, and options by their Python name) that may hold several lines; every other
# text field is one line.
MULTILINE = frozenset({"notes"})


def check_field(value: str, field: str, key: str | None) -> str:
    """`value` checked by the rule of its field: `check_lines` for MULTILINE ones (by `key`,
    e.g. "notes"), else `check_line`; errors name `field` (e.g. --notes)."""
    return (check_lines if key in MULTILINE else check_line)(value, field)


def ident_source(who: str) -> tuple[str, str]:
    """Where git took the `who` ("author" or "committer") identity from, as the field an error
    names, and the fix: GIT_<WHO>_NAME / _EMAIL when set, else git config user.name / email."""
    named = [
        f"GIT_{who.upper()}_{part}"
        for part in ("NAME", "EMAIL")
        if f"GIT_{who.upper()}_{part}" in os.environ
    ]
    if named:
        field = " or ".join(named)
        return f"the git {who} identity ({field})", f"set {field} to UTF-8 text on one line"
    return (
        f"the git {who} identity (git config user.name / user.email, or EMAIL)",
        'run: git config user.name "Your Name" && git config user.email you@example.com',
    )


def _no_control(value: str, field: str, allowed: str, hint: str) -> str:
    bad = sorted({c for c in value if _control(c) and c not in allowed})
    if not bad:
        return value
    raise InputError(
        f"{shown(field)}: {shown(value)!r} holds the control character(s) "
        f"{', '.join(repr(c) for c in bad)}, which would forge lines (or terminal output) in "
        "the model card, CHANGELOG, tag message or PR summary it lands in",
        hint=hint,
    )


def unencodable(data: Any) -> str | None:
    """The JSON pointer of the first key or string in parsed JSON `data` that UTF-8 cannot
    encode, or None when there is none."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        item, pointer = stack.pop()
        if isinstance(item, str) and not _encodes(item):
            return pointer or "/"
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and not _encodes(key):
                    return pointer_join(pointer, key)
                stack.append((value, pointer_join(pointer, key)))
        elif isinstance(item, list):
            stack.extend((v, pointer_join(pointer, i)) for i, v in enumerate(item))
    return None


def _scalar(value: Any, pointer: str) -> Any:
    """The Python value of a numpy/torch scalar or 0-d array; anything bigger is refused."""
    shape = tuple(getattr(value, "shape", ()))
    if shape:
        raise _refuse(
            pointer,
            f"a {_type_name(value)} of shape {shape} is not a single value",
            "pass a number (`.item()`) or a list (`.tolist()`)",
        )
    try:
        return value.item()
    except (ValueError, RuntimeError, TypeError) as exc:
        raise _refuse(
            pointer, f"{_type_name(value)} has no single value ({exc})", "pass a number"
        ) from exc


def to_plain(value: Any, pointer: str = "") -> Any:
    """`value` as plain JSON data (dict with str keys, list, str, int, float, bool, None).

    Finite numpy and torch scalars (and 0-d arrays/tensors) become Python numbers, tuples
    become lists. NaN, infinity, larger arrays, sets, bytes and any other object raise
    InputError naming the field as a JSON pointer under `pointer` (e.g. /metrics/coverage).
    """
    return _plain(value, pointer, 0)


def _plain(value: Any, pointer: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _refuse(
            pointer, f"nested deeper than {MAX_DEPTH} levels", "flatten it (is it circular?)"
        )
    if _from_array_library(value):
        value = _scalar(value, pointer)
        if _from_array_library(value):  # .item() must give a Python value, or we stop here
            raise _refuse(pointer, f"{_type_name(value)} is not a number", "pass a number")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_text(str(value), pointer or "/")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _refuse(
                pointer,
                f"{value} is not a finite number, and JSON cannot hold it",
                "pass a finite number, or None for a value that is missing",
            )
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _refuse(
                    pointer,
                    f"key {key!r} ({_type_name(key)}) is not a string",
                    "use string keys: JSON and YAML metadata have no other",
                )
            check_text(key, f"{pointer or '/'} (a key)")
            out[str(key)] = _plain(item, pointer_join(pointer, key), depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, pointer_join(pointer, i), depth + 1) for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        hint = "pass a list (e.g. sorted(...)): a set has no order, so it has no JSON form"
    elif isinstance(value, (bytes, bytearray)):
        hint = "pass text (decode it) or leave binary data out of metadata"
    elif isinstance(value, complex):
        hint = "pass the real and imaginary parts as two numbers"
    else:
        hint = "pass a number, string, bool, None, list or dict (convert it, e.g. str(value))"
    raise _refuse(pointer, f"a {_type_name(value)} is not a JSON value", hint)


def plain_input(value: Mapping[str, Any], field: str) -> dict[str, Any]:
    """A dict argument (`metrics=`, `config=`...) made plain; errors point at /<field>/...."""
    data = to_plain(value, f"/{field}")
    assert isinstance(data, dict)
    return data
