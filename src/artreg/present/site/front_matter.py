"""The model card's YAML front matter as (dotted key, value) rows for the site's table.

It is read by the strict loader every YAML file of artreg goes through (`fileio`: no aliases,
no duplicate keys, no Python tags, bounded depth); front matter it refuses is shown as text.
Each value is shown as written (`threshold: -0.5` shows "-0.5"), a null as "—".
"""

from __future__ import annotations

from typing import Any

from artreg.adapters.files import parse_yaml_tree
from artreg.errors import InputError

_NULL_TAG = "tag:yaml.org,2002:null"
_NULLS = ("", "~", "null", "Null", "NULL")  # how YAML writes a null plainly


def front_matter_rows(text: str, limit: int = 200) -> list[tuple[str, str]] | None:
    """(dotted key, value) rows of YAML front matter, at most `limit`: a list of plain values
    is one row, a list holding mappings or lists a row per item. None when the strict loader
    refuses it, or it is not a mapping or list at the top."""
    try:
        root = parse_yaml_tree(text, "model card front matter")
    except InputError:
        return None
    if root is None or root.id == "scalar":
        return None
    rows: list[tuple[str, str]] = []
    _walk(root, "", rows, limit)
    if "\\u" in text or "\\U" in text:  # only an escape makes a lone surrogate, not text
        try:
            "".join(k + v for k, v in rows).encode("utf-8")
        except UnicodeEncodeError:
            return None
    return rows or None


def _walk(node: Any, path: str, rows: list[tuple[str, str]], limit: int) -> None:
    if len(rows) >= limit:
        return
    if node.id == "mapping":
        for key, value in node.value:  # keys are plain scalars: the loader checked them
            _walk(value, f"{path}.{key.value}" if path else key.value, rows, limit)
    elif node.id == "sequence":
        items = node.value
        if any(item.id != "scalar" for item in items):
            for i, item in enumerate(items):
                _walk(item, f"{path}[{i}]", rows, limit)
        else:
            rows.append((path or "[]", ", ".join(_shown(item) for item in items)))
    else:
        rows.append((path, _shown(node)))


def _shown(node: Any) -> str:
    """A scalar as written; a null written plainly (`~`, `null`, nothing) as a dash."""
    return "—" if node.tag == _NULL_TAG and node.value in _NULLS else str(node.value)
