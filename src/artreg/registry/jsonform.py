"""A record's JSON form, said once: its dataclass fields in order, and only what differs
(a field left out, a value shown otherwise, a key added) said at the record."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def fields_json(
    record: DataclassInstance, /, *, omit: Iterable[str] = (), **shown: Any
) -> dict[str, Any]:
    """`record`'s fields as a mapping, in declaration order, tuples as lists, except `omit`;
    `shown` gives a field another value (in its place) or adds a key (at the end)."""
    left_out = set(omit)
    data = {
        f.name: list(value) if isinstance(value := getattr(record, f.name), tuple) else value
        for f in fields(record)
        if f.name not in left_out
    }
    data.update(shown)
    return data
