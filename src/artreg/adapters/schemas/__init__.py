"""JSON Schemas shipped with artreg (draft 2020-12), and validation with readable errors."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from artreg._version import __version__
from artreg.errors import InputError


@cache
def load(name: str) -> dict[str, Any]:
    """The schema `<name>.schema.json` from the package."""
    path = Path(__file__).with_name(f"{name}.schema.json")
    if path.is_file():  # an installed package is a folder: a plain read, no importlib.resources
        text = path.read_text("utf-8")
    else:  # a zipped package
        from importlib import resources

        text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/ (the document itself)"


def errors(data: Any, name: str) -> list[str]:
    """Every violation of schema `name`, each as 'JSON-pointer: message', in document order."""
    import jsonschema  # deferred: read paths that never validate should not pay for it

    validator_cls = jsonschema.Draft202012Validator
    validator = validator_cls(load(name), format_checker=validator_cls.FORMAT_CHECKER)
    found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_pointer(e.absolute_path)}: {e.message[:300]}" for e in found]


def validate(data: Any, name: str, source: str) -> None:
    """Raise InputError naming `source`, each failing field as a JSON pointer, and the fix."""
    problems = errors(data, name)
    if problems:
        raise InputError(
            f"{source}: does not match the {name} schema:\n    " + "\n    ".join(problems),
            hint=f"correct the fields named above (schema: artreg/adapters/schemas/{name}.schema.json)",
        )


def validate_once(raw: bytes, data: Any, name: str, source: str, marks: Path | None) -> None:
    """`validate`, unless these exact bytes passed schema `name` before on this machine (a mark
    in the `marks` folder, the consumer cache): a committed document never changes, and
    importing the validator costs more than the rest of a warm call."""
    import hashlib

    key = hashlib.sha256(f"{name} {__version__}\n".encode() + raw).hexdigest()
    mark = None if marks is None else marks / "validated" / key
    if mark is not None and mark.is_file():
        return
    validate(data, name, source)  # raises on an invalid document: nothing is recorded then
    if mark is not None:
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()
        except OSError:
            pass
