"""Model folders: what a folder of model files holds, and whether a Hugging Face layout in it is
consistent (an `*.index.json` weight index and its shards, `config.json`, tokenizer files).

Pure logic over file names and parsed index documents: the callers read the files. A folder
keeps its own names; only pickled weights are renamed, when they are cleaned to safetensors.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from artreg.errors import InputError

# The weight files of a folder, by suffix; pickled ones are cleaned to safetensors on validation.
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".gguf", *PICKLED_SUFFIXES)
INDEX_SUFFIX = ".index.json"  # model.safetensors.index.json, pytorch_model.bin.index.json
CONFIG_FILE = "config.json"
# Tokenizer files as the transformers and tokenizers libraries write them.
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "tokenizer.model",
        "spiece.model",
        "sentencepiece.bpe.model",
    }
)
SHARD = re.compile(r"^(?P<stem>.+)-(?P<part>\d+)-of-(?P<total>\d+)(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class WeightIndex:
    """One `*.index.json`: the shards its weight_map names, in order."""

    path: str
    shards: list[str]
    tensors: int


@dataclass(frozen=True)
class FolderLayout:
    """What a model folder holds: its weight files, indexes, config and tokenizer files."""

    kind: str  # "huggingface" (a config.json or a weight index) or "files"
    weights: list[str]
    indexes: list[WeightIndex] = field(default_factory=list)
    config: str | None = None
    tokenizer: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        """The file that stands for the folder: its index, else its first weights, else config."""
        if self.indexes:
            return self.indexes[0].path
        if self.weights:
            return self.weights[0]
        return self.config or ""

    def describe(self) -> dict[str, Any]:
        """The `layout` record of metadata.json (and the model card's front matter)."""
        shards = [s for index in self.indexes for s in index.shards]
        data: dict[str, Any] = {
            "kind": self.kind,
            "weight_files": len(self.weights),
            "weights": sorted({_format(w) for w in self.weights}),
            "shards": len(shards),
            "index": [index.path for index in self.indexes],
            "config": self.config,
            "tokenizer": self.tokenizer,
        }
        return {k: v for k, v in data.items() if v not in (None, [])}


def _format(name: str) -> str:
    return PurePosixPath(name).suffix.lstrip(".")


def is_weight_file(name: str) -> bool:
    return name.lower().endswith(WEIGHT_SUFFIXES)


def is_pickled(name: str) -> bool:
    return name.lower().endswith(PICKLED_SUFFIXES)


def is_index(name: str) -> bool:
    """`model.safetensors.index.json` and its kin: a weight index (not any *.json)."""
    base = name[: -len(INDEX_SUFFIX)] if name.endswith(INDEX_SUFFIX) else ""
    return bool(base) and is_weight_file(base)


def check_index(path: str, document: Any, files: Collection[str], where: str) -> WeightIndex:
    """The shards an index names, checked against the folder's `files` (paths relative to it).

    Every shard the weight_map names exists beside the index; no shard of a numbered series
    (`-00002-of-00003`) is missing; no shard of the index's kind in the folder goes unnamed.
    `where` is how errors name the folder.
    """
    shown = f"{where}/{path}"
    weight_map = document.get("weight_map") if isinstance(document, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError(
            f"{shown}: /weight_map is missing or empty; a weight index maps each tensor name to "
            "the shard that holds it",
            hint="write the index as transformers' save_pretrained does, or remove it",
        )
    folder = PurePosixPath(path).parent
    names: list[str] = []
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or "/" in shard or shard in (".", ".."):
            raise InputError(
                f"{shown}: /weight_map/{tensor} is {shard!r}, not the name of a shard file",
                hint="each value must be a file name beside the index",
            )
        if shard not in names:
            names.append(shard)
    beside = {str(folder / n) if str(folder) != "." else n for n in names}
    lacking = sorted(
        n for n in names if (str(folder / n) if str(folder) != "." else n) not in files
    )
    if lacking:
        raise InputError(
            f"{shown}: /weight_map names shard(s) the folder lacks: {', '.join(lacking)}",
            hint="add the missing shard(s) to the folder, or save the model again",
        )
    series: dict[tuple[str, str, str], set[int]] = {}
    for n in names:
        m = SHARD.match(n)
        if m:
            key = (m["stem"], m["total"], m["suffix"])
            series.setdefault(key, set()).add(int(m["part"]))
    for (stem, total, suffix), parts in series.items():
        missing = [p for p in range(1, int(total) + 1) if p not in parts]
        if missing:
            width = len(total)
            first = f"{stem}-{missing[0]:0{width}d}-of-{total}{suffix}"
            raise InputError(
                f"{shown}: the index names {len(parts)} of the {int(total)} shards of "
                f"{stem}-*-of-{total}{suffix}; no tensor is mapped to {first}"
                + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
                hint="the index and the shards come from different saves; save the model again",
            )
    kind = PurePosixPath(path).name[: -len(INDEX_SUFFIX)]
    suffix = PurePosixPath(kind).suffix
    unnamed = sorted(
        f
        for f in files
        if PurePosixPath(f).parent == folder
        and f.endswith(suffix)
        and f not in beside
        and SHARD.match(PurePosixPath(f).name)
    )
    if unnamed:
        raise InputError(
            f"{shown}: shard(s) in the folder that the index does not name: {', '.join(unnamed)}",
            hint="remove the stray shard(s), or save the model again so the index names them",
        )
    return WeightIndex(path, sorted(beside), len(weight_map))


def check_index_tensors(
    index: WeightIndex, document: Any, held: Mapping[str, Collection[str]], where: str
) -> None:
    """Every tensor the index's weight_map assigns to a shard is in that shard: `held` maps a
    shard (as `index.shards` names it) to the tensor names its header lists. A shard missing
    from `held` (not safetensors: its header was not read) is not checked."""
    weight_map = document["weight_map"]
    folder = PurePosixPath(index.path).parent
    for tensor, shard in weight_map.items():
        rel = shard if str(folder) == "." else str(folder / shard)
        names = held.get(rel)
        if names is not None and tensor not in names:
            raise InputError(
                f"{where}/{index.path}: /weight_map/{tensor} names {shard}, and {shard} holds "
                f"no tensor {tensor!r} (its header lists {len(names)}: "
                f"{', '.join(sorted(names)[:3])}{', ...' if len(names) > 3 else ''})",
                hint="the index and the shards come from different saves; save the model "
                "again, or correct the index",
            )


def scan(files: Collection[str], indexes: Mapping[str, Any], where: str) -> FolderLayout:
    """The layout of a folder holding `files` (relative paths); `indexes` are the parsed
    documents of its weight indexes (those `is_index` names). Refuses an inconsistent index or
    a folder without weights."""
    checked = [check_index(p, indexes[p], files, where) for p in sorted(indexes)]
    weights = sorted(f for f in files if is_weight_file(f))
    if not weights:
        raise InputError(
            f"{where}: no model weights in the folder (none of {', '.join(WEIGHT_SUFFIXES)})",
            hint="pass the folder that holds the model's weight files",
        )
    top = {f for f in files if "/" not in f}
    config = CONFIG_FILE if CONFIG_FILE in top else None
    tokenizer = sorted(f for f in top if f in TOKENIZER_FILES)
    kind = "huggingface" if config or checked else "files"
    return FolderLayout(kind, weights, checked, config, tokenizer)


def safetensors_name(name: str) -> str:
    """The name a pickled weight file gets once cleaned to safetensors, as transformers names
    them: `pytorch_model-00001-of-00002.bin` → `model-00001-of-00002.safetensors`."""
    path = PurePosixPath(name)
    stem = path.stem
    if stem.startswith("pytorch_model"):
        stem = "model" + stem[len("pytorch_model") :]
    return str(path.with_name(f"{stem}.safetensors"))


def safetensors_index_name(name: str) -> str:
    """`pytorch_model.bin.index.json` → `model.safetensors.index.json`."""
    return f"{safetensors_name(name[: -len(INDEX_SUFFIX)])}{INDEX_SUFFIX}"


def rewrite_index(document: dict[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
    """The index with each shard of its weight_map renamed (names relative to the index)."""
    weight_map = {t: renamed.get(s, s) for t, s in document["weight_map"].items()}
    return {**document, "weight_map": weight_map}
