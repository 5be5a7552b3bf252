"""Model folders for the tests: a tiny Hugging Face-style snapshot written with safetensors
(or pickled .bin shards written with torch.save), with its index, config and tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

TOKENIZER = {
    "version": "1.0",
    "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1}, "unk_token": "[UNK]"},
}


def _tensors(seed: int) -> list[dict[str, object]]:
    """Two shards' worth of real tensors (a tiny two-layer model)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return [
        {
            "embed.weight": torch.randn(16, 8, generator=gen),
            "layer0.weight": torch.randn(8, 8, generator=gen),
        },
        {
            "layer1.weight": torch.randn(8, 8, generator=gen),
            "layer1.bias": torch.zeros(8),
        },
    ]


def write_hf_folder(folder: Path, *, pickled: bool = False, seed: int = 0) -> Path:
    """A sharded model folder as transformers' save_pretrained writes it: two shards and their
    index (`model.safetensors.index.json`, or with `pickled`, `pytorch_model-*.bin` and
    `pytorch_model.bin.index.json`), config.json and tokenizer files."""
    folder.mkdir(parents=True, exist_ok=True)
    shards = _tensors(seed)
    stem, suffix = ("pytorch_model", ".bin") if pickled else ("model", ".safetensors")
    weight_map: dict[str, str] = {}
    total = 0
    for i, tensors in enumerate(shards, start=1):
        name = f"{stem}-{i:05d}-of-{len(shards):05d}{suffix}"
        if pickled:
            import torch

            torch.save(tensors, folder / name)
        else:
            from safetensors.torch import save_file

            save_file(tensors, str(folder / name))  # type: ignore[arg-type]
        for key, tensor in tensors.items():
            weight_map[key] = name
            total += tensor.numel() * tensor.element_size()  # type: ignore[attr-defined]
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / f"{stem}{suffix}.index.json").write_text(json.dumps(index, indent=2))
    (folder / "config.json").write_text(
        json.dumps({"model_type": "tiny", "hidden_size": 8, "num_hidden_layers": 2})
    )
    (folder / "tokenizer.json").write_text(json.dumps(TOKENIZER))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 16}))
    (folder / "special_tokens_map.json").write_text(json.dumps({"unk_token": "[UNK]"}))
    return folder


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of a folder by relative path, with its bytes: two folders are identical
    exactly when these are equal."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
