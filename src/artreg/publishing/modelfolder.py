"""A model that is a folder (sharded weights with their index, config, tokenizer files), built
into a validated or production stage folder as `model/`, one DVC directory output.

Its files are copied through StageBuilder.track_dir, the one copy-and-hash pass (each byte read
and hashed once, on both cores); the copies' digests are then compared with what the source's
manifest recorded, so a source file is never hashed a second time before it is copied. Pickled
weight files are loaded with weights_only=True and written as safetensors, with the weight
index's map rewritten to the new names. `model.sha256` beside the folder lists every file, so
`sha256sum -c model.sha256` checks the whole folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from artreg.adapters.files import dump_json, read_json
from artreg.adapters.hashing import FileDigest, Recorded, sha256_line
from artreg.artifacts import hflayout
from artreg.artifacts.checkpoints import clean_checkpoint_bytes
from artreg.artifacts.formats import detect
from artreg.artifacts.formats.safetensors import check_safetensors
from artreg.artifacts.hflayout import FolderLayout
from artreg.errors import InputError, IntegrityError
from artreg.publishing.stagefolder import StageBuilder
from artreg.registry.documents import ModelFile
from artreg.registry.formatnames import SAFETENSORS
from artreg.registry.layout import MODEL_DIR

if TYPE_CHECKING:
    from artreg.registry.formatnames import FormatInfo

SHA256_FILE = f"{MODEL_DIR}.sha256"


@dataclass(frozen=True)
class BuiltFolder:
    """The model folder as written: its files (primary first), layout and parameter count."""

    files: list[ModelFile]
    layout: dict[str, Any]
    parameter_count: int | None = None


def read_layout(files: Mapping[str, Path], where: str) -> FolderLayout:
    """The layout of a model folder whose file `rel` has its bytes at `files[rel]` (a work-tree
    file or a DVC cache object), with every weight index checked against the folder."""
    indexes = {
        rel: read_json(path, "weight index")
        for rel, path in files.items()
        if hflayout.is_index(rel)
    }
    layout = hflayout.scan(list(files), indexes, where)
    found = {rel: check_weights(files[rel], f"{where}/{rel}") for rel in layout.weights}
    _check_index_tensors(files, indexes, layout, found, where)
    return layout


def _check_index_tensors(
    files: Mapping[str, Path],
    indexes: Mapping[str, Any],
    layout: FolderLayout,
    found: Mapping[str, FormatInfo],
    where: str,
) -> None:
    """Each index's tensors against the headers of its safetensors shards, so that a tensor
    the index promises is missed now, not when a service loads the model."""
    shards = {
        s
        for index in layout.indexes
        for s in index.shards
        if s in found and found[s].name == SAFETENSORS
    }
    held = {s: {t.name for t in check_safetensors(files[s]).tensors} for s in sorted(shards)}
    for index in layout.indexes:
        hflayout.check_index_tensors(index, indexes[index.path], held, where)


def check_weights(path: Path, shown: str) -> FormatInfo:
    """One weight file of a folder, checked by its content (formats.detect: a safetensors
    header consistent with the file's size, ONNX, GGUF, a weights-only PyTorch checkpoint);
    the refusal names the file as the folder has it, not a DVC cache object."""

    try:
        return detect(path)
    except InputError as exc:
        if path.name == PurePosixPath(shown).name:
            raise
        raise InputError(f"{shown}: {exc.message}", hint=exc.hint) from exc


@dataclass(frozen=True)
class FolderPlan:
    """A model folder checked and ready to build: what is copied, what is generated."""

    files: Mapping[str, Path]  # relative path → where its bytes are
    where: str  # how errors name the source
    copied: list[tuple[str, Path]]
    generated: dict[str, bytes]  # cleaned weights and rewritten indexes, by their new names
    parameter_count: int | None


def plan(files: Mapping[str, Path], where: str, *, clean: bool = False) -> FolderPlan:
    """Check the model folder `files` (relative path → bytes) before anything is written: its
    layout, its weight indexes, its weight files. With `clean`, pickled weights are loaded
    (weights_only=True) and become safetensors; their bytes must be verified already."""
    layout = read_layout(files, where)
    pickled = [rel for rel in layout.weights if clean and hflayout.is_pickled(rel)]
    generated, renamed, count = (
        _cleaned(files, pickled, layout, where) if pickled else ({}, {}, None)
    )
    copied = [(rel, path) for rel, path in files.items() if rel not in renamed]
    return FolderPlan(files, where, copied, generated, count)


def build(
    builder: StageBuilder, planned: FolderPlan, expected: Mapping[str, Recorded] | None = None
) -> BuiltFolder:
    """Write the planned folder as `model/` of `builder`, and `model.sha256` beside it.

    `expected`, the source manifest's digests of the copied files, is compared with the
    digests of the copies (a mismatch is an IntegrityError)."""
    files, where, copied, generated = (
        planned.files,
        planned.where,
        planned.copied,
        planned.generated,
    )

    def check(rel: str, got: FileDigest) -> None:
        assert expected is not None
        if (got.sha256, got.size) != (expected[rel].sha256, expected[rel].size):
            raise IntegrityError(
                f"{where}/{rel}: sha256 {got.sha256} differs from the manifest's "
                f"{expected[rel].sha256}",
                hint="the source's bytes were altered after it was registered; restore them "
                f"with `dvc checkout {where}`",
            )

    digests = builder.track_dir(
        MODEL_DIR, copied, extra=lambda _: generated, check=None if expected is None else check
    )
    final = _written_layout(digests, generated, files, where)
    model_files = _model_files(digests, final)
    builder.write_text(
        SHA256_FILE, "".join(sha256_line(f.sha256, f.path) for f in sorted_by_path(model_files))
    )
    return BuiltFolder(model_files, final.describe(), planned.parameter_count)


def _written_layout(
    digests: Mapping[str, FileDigest],
    generated: Mapping[str, bytes],
    files: Mapping[str, Path],
    where: str,
) -> FolderLayout:
    """The layout of the folder as written (pickled weights renamed, their index rewritten)."""
    import json

    indexes = {
        rel: json.loads(generated[rel]) if rel in generated else read_json(files[rel])
        for rel in digests
        if hflayout.is_index(rel)
    }
    return hflayout.scan(list(digests), indexes, where)


def _cleaned(
    files: Mapping[str, Path], pickled: list[str], layout: FolderLayout, where: str
) -> tuple[dict[str, bytes], dict[str, str], int]:
    """Safetensors bytes of each pickled weight file and rewritten indexes, under their new
    names; the old → new names of what they replace; the parameter count."""
    generated: dict[str, bytes] = {}
    renamed: dict[str, str] = {}
    tensors: dict[str, set[str]] = {}
    count = 0
    for rel in pickled:
        new = hflayout.safetensors_name(rel)
        if new in files:
            raise InputError(
                f"{where}/{rel}: would be written as {new} (safetensors), which the folder "
                "holds already",
                hint="remove one of the two copies of the weights from the folder",
            )
        data, cleaned = clean_checkpoint_bytes(files[rel], "safetensors")
        generated[new] = data
        renamed[rel] = new
        tensors[rel] = set(cleaned.state_dict)
        count += cleaned.parameter_count
    for index in layout.indexes:
        if not all(s in renamed for s in index.shards):
            continue  # an index of files kept as they are
        document = read_json(files[index.path], "weight index")
        for shard in index.shards:
            mapped = {
                t for t, s in document["weight_map"].items() if _beside(index.path, s) == shard
            }
            if mapped != tensors[shard]:
                extra = sorted(tensors[shard] - mapped)[:3] or sorted(mapped - tensors[shard])[:3]
                raise InputError(
                    f"{where}/{index.path}: /weight_map does not match the tensors of {shard} "
                    f"(differ: {', '.join(extra)})",
                    hint="the index and the shards come from different saves; save the model again",
                )
        new_index = hflayout.safetensors_index_name(index.path)
        if new_index in files:
            raise InputError(
                f"{where}/{index.path}: would be written as {new_index}, which the folder holds "
                "already",
                hint="remove the pickled shards and their index, keeping the safetensors ones",
            )
        names = {Path(s).name: Path(renamed[s]).name for s in index.shards}
        generated[new_index] = dump_json(hflayout.rewrite_index(document, names)).encode()
        renamed[index.path] = new_index
    return generated, renamed, count


def _beside(index: str, shard: str) -> str:
    parent = Path(index).parent.as_posix()
    return shard if parent == "." else f"{parent}/{shard}"


def _model_files(digests: Mapping[str, FileDigest], layout: FolderLayout) -> list[ModelFile]:
    """Every file of the folder for metadata.json, the primary first."""
    files = [ModelFile.named(f"{MODEL_DIR}/{rel}", d.sha256, d.size) for rel, d in digests.items()]
    primary = f"{MODEL_DIR}/{layout.primary}"
    return sorted(files, key=lambda f: (f.path != primary, f.path))


def sorted_by_path(files: list[ModelFile]) -> list[ModelFile]:
    return sorted(files, key=lambda f: f.path)
