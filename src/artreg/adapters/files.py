"""Reading JSON and YAML strictly (clear errors naming the file) and writing files atomically."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from artreg.adapters.values import shown, unencodable
from artreg.errors import InputError

MAX_DOCUMENT_BYTES = (
    16 << 20
)  # metadata is small; a 100 MB "metrics" file is a mistake or an attack
MAX_DEPTH = 64
_T = TypeVar("_T")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (use null or a finite number)")


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _read_text(path: Path, what: str) -> str:
    if not path.exists():
        raise InputError(f"{path}: {what} not found", hint="check the path")
    if not path.is_file():
        raise InputError(f"{path}: {what} is not a regular file", hint="give a file")
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"{path}: {what} is {size} bytes, over the {MAX_DOCUMENT_BYTES} byte limit",
            hint="metadata files hold numbers and short texts; keep large data out of them",
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot read {what}: {exc}", hint="give a UTF-8 text file"
        ) from exc


def parse_json(text: str, source: str) -> Any:
    """Parse JSON strictly: no duplicate keys, no NaN/Infinity, bounded nesting."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError as exc:
        raise InputError(f"{source}: JSON nested too deeply", hint="flatten it") from exc
    except ValueError as exc:
        raise InputError(f"{source}: malformed JSON: {exc}", hint="fix the JSON syntax") from exc
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels", hint="flatten it")
    _check_finite(data, source)
    _check_text(text, data, source)
    return data


def _check_text(text: str, data: Any, source: str) -> None:
    """Refuse a parsed document holding a lone surrogate, which no file artreg writes can
    hold. Only a backslash-u escape makes one: documents without one skip the walk."""
    if "\\u" not in text and "\\U" not in text:
        return

    pointer = unencodable(data)
    if pointer is not None:
        raise InputError(
            f"{source}: {shown(pointer)}: a lone surrogate (a \\uD800-\\uDFFF escape without "
            "its pair) is not text, and no JSON or YAML artreg writes can hold it",
            hint="remove the escape, or write the character itself",
        )


def _check_finite(data: Any, source: str) -> None:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InputError(f"{source}: number out of range ({item})", hint="use a finite number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def read_json(path: Path, what: str = "JSON file") -> Any:
    """Read a JSON file strictly; errors name the file."""
    return parse_json(_read_text(path, what), str(path))


# libyaml composes nodes recursively in C: a document nested deeper than this could overflow
# the C stack, so such documents go to the pure loader, which raises RecursionError instead.
C_SAFE_DEPTH = 2000
_USE_LIBYAML = True  # the tests turn it off to run every case through the pure loader too
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@functools.cache
def _loaders() -> tuple[Any, Any]:
    """(the pure loader, libyaml's or None), made on first use: PyYAML is imported only by a
    command that reads or writes YAML (`artreg list` of artreg's own tags reads none)."""
    import yaml

    class _SafeLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type stubs
        """safe_load's loader, refusing aliases as it meets them (libyaml composes in C, so
        there `_checked_tree` finds them afterwards, as a node reached twice)."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.YAMLError(f"aliases are not allowed (line {event.start_mark.line + 1})")
            return super().compose_node(parent, index)

    return _SafeLoader, getattr(yaml, "CSafeLoader", None)


def _checked_tree(loader: Any, root: Any) -> int:
    """Check a composed document in one pass before anything is built from it, and return
    its depth (levels of values, as `_depth` counts them; stops past MAX_DEPTH).

    Refused: aliases (they buy nothing in metadata and enable bombs), a key twice in one
    mapping, keys that are not plain values, and tags the safe loader cannot build.
    """
    import yaml

    known = loader.yaml_constructors
    seen: set[int] = set()
    stack = [(root, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise yaml.YAMLError(f"aliases are not allowed (line {node.start_mark.line + 1})")
        seen.add(id(node))
        if node.tag not in known:
            raise yaml.YAMLError(
                f"tag {node.tag!r} is not allowed (line {node.start_mark.line + 1})"
            )
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            keys: set[Any] = set()
            for key, value in node.value:
                line = key.start_mark.line + 1
                if key.tag == _MERGE_TAG:
                    raise yaml.YAMLError(f"merge keys (<<) are not allowed (line {line})")
                if not isinstance(key, yaml.ScalarNode) or key.tag not in known:
                    raise yaml.YAMLError(
                        f"keys must be plain values, not {key.tag!r} (line {line})"
                    )
                # A string key is its text; others are built to compare (1 and 01 are one key).
                name = key.value if key.tag == _STR_TAG else loader.construct_object(key)
                if name in keys:
                    raise yaml.YAMLError(f"duplicate key {name!r} (line {line})")
                keys.add(name)
                stack.append((value, depth + 1))
    return deepest


def _depth_bound(text: str) -> int:
    """An upper bound of a YAML document's nesting: every level opens a bracket, a `-`/`?`
    entry, or indents a block further."""
    if len(text) <= C_SAFE_DEPTH:
        return len(text)
    indents = re.findall(r"\n([ \t]*)", text)
    widest = max((len(i) for i in indents), default=0)
    return sum(text.count(c) for c in "[{-?") + widest + 1


def prepare_yaml() -> None:
    """Import PyYAML and build the loaders now (10 ms), not at the first `parse_yaml`."""
    _loaders()


def _loader_for(text: str) -> Any:
    pure, fast = _loaders()
    if fast is not None and _USE_LIBYAML and _depth_bound(text) <= C_SAFE_DEPTH:
        return fast
    return pure


def _parsed(text: str, source: str, build: Callable[[Any, Any], _T]) -> _T:
    """`build(loader, root)` of a checked YAML document (root None when it is empty), with
    the safe loader: no Python tags, no aliases, no duplicate keys. Errors name `source`."""
    import yaml

    loader = _loader_for(text)(text)
    try:
        root = loader.get_single_node()
        if root is not None and _checked_tree(loader, root) > MAX_DEPTH:
            raise InputError(
                f"{source}: YAML nested deeper than {MAX_DEPTH} levels", hint="flatten it"
            )
        return build(loader, root)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: `!!int abc` and the like
        raise InputError(f"{source}: malformed YAML: {exc}", hint="fix the YAML syntax") from exc
    except RecursionError as exc:
        raise InputError(f"{source}: YAML nested too deeply", hint="flatten it") from exc
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML with the safe loader (no Python tags), no aliases, no duplicate keys."""
    data = _parsed(
        text, source, lambda loader, root: None if root is None else loader.construct_document(root)
    )
    _check_text(text, data, source)
    return data


def parse_yaml_tree(text: str, source: str) -> Any:
    """The checked node tree of a YAML document (None when it is empty): what `parse_yaml`
    accepts, with nothing built, so each scalar keeps the text it was written with."""
    return _parsed(text, source, lambda _loader, root: root)


def parse_yaml_entries(text: str, source: str, section: str, key: str) -> dict[Any, Any]:
    """`{name: entry[key]}` for every mapping entry of the top-level mapping `section` that
    has a non-null `key`: what `parse_yaml` and that lookup give, building only those values
    (the paths of a 100-artifact dvc.yaml in half the time)."""

    def build(loader: Any, root: Any) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        for name, entry in _mapping_items(_mapping_get(root, section)):
            value = _mapping_get(entry, key)
            if value is not None and (built := loader.construct_object(value)) is not None:
                found[loader.construct_object(name)] = built
        return found

    return _parsed(text, source, build)


def _mapping_items(node: Any) -> list[tuple[Any, Any]]:
    """The (key, value) nodes of a node that builds a dict (none for anything else)."""
    return node.value if node is not None and node.tag == _MAP_TAG else []


def _mapping_get(node: Any, key: str) -> Any:
    """The value node of string `key` in a node that builds a dict, or None."""
    for name, value in _mapping_items(node):
        if name.tag == _STR_TAG and name.value == key:
            return value
    return None


def read_yaml(path: Path, what: str = "YAML file") -> Any:
    """Read a YAML file safely; errors name the file."""
    return parse_yaml(_read_text(path, what), str(path))


def dump_json(data: Any) -> str:
    """The one JSON style artreg writes: sorted keys, two-space indent, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def dump_yaml(data: Any) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write via a temporary file in the same folder and os.replace: readers never see half.

    The file gets `mode` when given; else it keeps its mode when it exists, and a new one gets
    the mode the umask gives any new file (mkstemp's private 0600 would leak onto the real
    file through the replace).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(path.stat().st_mode)
    import uuid  # not at module level: read commands never write

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def replacing(target: Path, tmp: Path) -> Iterator[Path]:
    """`tmp`, for the block to write `target`'s new bytes into: put in place (os.replace) when
    the block ends, removed when it raises, so `target` is never seen half written."""
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def check_output_path(path: Path | None, option: str, folder: bool = False) -> None:
    """Refuse an output path that cannot be written, before the command changes anything."""
    if path is None:
        return
    target = Path(path)
    if target.is_symlink() and not target.exists():
        target = Path(os.path.realpath(target))  # a dangling link is written through
    if target.exists():
        if folder != target.is_dir():
            raise InputError(
                f"{option} {path}: " + ("exists and is not a folder" if folder else "is a folder"),
                hint="give a folder to write into" if folder else "give a file name",
            )
        if not os.access(target, os.W_OK | (os.X_OK if folder else 0)):
            raise InputError(
                f"{option} {path}: no permission to write it", hint="fix its permissions"
            )
        return
    # What does not exist yet is created: its nearest existing parent must allow that.
    existing = target.parent
    while folder and not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.exists():
        raise InputError(
            f"{option} {path}: the folder {existing} does not exist",
            hint=f"create it first (mkdir -p {existing}) or give another path",
        )
    if not existing.is_dir():
        raise InputError(
            f"{option} {path}: {existing} is a file, not a folder",
            hint="give a path that does not pass through a file",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"{option} {path}: no permission to write in {existing}",
            hint="give a folder you can write to",
        )
