"""The layout of model folders: Hugging Face weight indexes checked against the folder's files,
and the names pickled weights get as safetensors."""

from __future__ import annotations

import pytest

from artreg.artifacts.hflayout import (
    check_index,
    check_index_tensors,
    is_index,
    rewrite_index,
    safetensors_index_name,
    safetensors_name,
    scan,
)
from artreg.errors import InputError

SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
INDEX = "model.safetensors.index.json"
DOC = {"metadata": {"total_size": 10}, "weight_map": {"a": SHARDS[0], "b": SHARDS[1]}}
FOLDER = [*SHARDS, INDEX, "config.json", "tokenizer.json", "tokenizer_config.json", "README.md"]


def test_a_consistent_folder_is_a_huggingface_layout() -> None:
    layout = scan(FOLDER, {INDEX: DOC}, "snap")
    assert layout.kind == "huggingface"
    assert layout.primary == INDEX
    assert layout.describe() == {
        "kind": "huggingface",
        "weight_files": 2,
        "weights": ["safetensors"],
        "shards": 2,
        "index": [INDEX],
        "config": "config.json",
        "tokenizer": ["tokenizer.json", "tokenizer_config.json"],
    }


def test_a_folder_of_plain_weight_files_is_no_huggingface_layout() -> None:
    layout = scan(["encoder.onnx", "notes.txt"], {}, "snap")
    assert (layout.kind, layout.primary, layout.describe()["weight_files"]) == (
        "files",
        "encoder.onnx",
        1,
    )


def test_a_folder_without_weights_is_refused() -> None:
    with pytest.raises(InputError, match="snap: no model weights"):
        scan(["config.json", "tokenizer.json"], {}, "snap")


def test_an_index_naming_a_shard_the_folder_lacks_is_refused() -> None:
    with pytest.raises(
        InputError, match=r"snap/model.safetensors.index.json: .*lacks: model-00002"
    ):
        check_index(INDEX, DOC, [SHARDS[0], INDEX], "snap")


def test_a_numbered_series_with_a_shard_no_tensor_maps_to_is_refused() -> None:
    three = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    doc = {"weight_map": {"a": three[0], "c": three[2]}}
    with pytest.raises(InputError, match=r"names 2 of the 3 shards.*model-00002-of-00003"):
        check_index(INDEX, doc, [*three, INDEX], "snap")


def test_a_shard_the_index_does_not_name_is_refused() -> None:
    stray = "model-00003-of-00003.safetensors"
    with pytest.raises(InputError, match=f"does not name: {stray}"):
        check_index(INDEX, DOC, [*FOLDER, stray], "snap")


@pytest.mark.parametrize(
    "doc",
    [{}, {"weight_map": {}}, {"weight_map": []}, [], {"weight_map": {"a": "../x.safetensors"}}],
)
def test_a_malformed_index_is_refused_naming_the_field(doc: object) -> None:
    with pytest.raises(InputError, match="weight_map"):
        check_index(INDEX, doc, FOLDER, "snap")


def test_an_index_in_a_subfolder_names_shards_beside_it() -> None:
    files = [f"text/{s}" for s in SHARDS] + [f"text/{INDEX}"]
    assert check_index(f"text/{INDEX}", DOC, files, "snap").shards == [f"text/{s}" for s in SHARDS]


def test_only_indexes_of_weights_count_as_weight_indexes() -> None:
    assert is_index(INDEX) and is_index("pytorch_model.bin.index.json")
    assert not is_index("tokenizer.json") and not is_index("dataset.index.json")


def test_pickled_names_become_transformers_safetensors_names() -> None:
    assert safetensors_name("pytorch_model-00001-of-00002.bin") == SHARDS[0]
    assert safetensors_name("pytorch_model.bin") == "model.safetensors"
    assert safetensors_name("sub/adapter_model.bin") == "sub/adapter_model.safetensors"
    assert safetensors_name("epoch_3.pt") == "epoch_3.safetensors"
    assert safetensors_index_name("pytorch_model.bin.index.json") == INDEX


def test_rewriting_an_index_renames_only_its_shards() -> None:
    doc = {"metadata": {"total_size": 1}, "weight_map": {"a": "p-1.bin", "b": "p-2.bin"}}
    new = rewrite_index(doc, {"p-1.bin": "m-1.safetensors"})
    assert new == {
        "metadata": {"total_size": 1},
        "weight_map": {"a": "m-1.safetensors", "b": "p-2.bin"},
    }
    assert doc["weight_map"]["a"] == "p-1.bin"  # the input is left as it was


def test_a_tensor_the_index_maps_to_a_shard_that_lacks_it_is_refused_naming_all_three() -> None:
    index = check_index(INDEX, DOC, FOLDER, "snap")
    check_index_tensors(index, DOC, {SHARDS[0]: {"a"}, SHARDS[1]: {"b", "c"}}, "snap")
    with pytest.raises(InputError) as caught:
        check_index_tensors(index, DOC, {SHARDS[0]: {"a"}, SHARDS[1]: {"c"}}, "snap")
    assert caught.value.message.startswith(
        f"snap/{INDEX}: /weight_map/b names {SHARDS[1]}, and {SHARDS[1]} holds no tensor 'b'"
    )
    # A shard whose header was not read (not safetensors) is left to its own check.
    check_index_tensors(index, DOC, {SHARDS[0]: {"a"}}, "snap")
