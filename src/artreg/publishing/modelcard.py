"""Model cards (README.md with Hugging Face-style YAML front matter) and release CHANGELOGs."""

from __future__ import annotations

from typing import Any

import yaml

from artreg.publishing.gatetable import gate_table
from artreg.registry.documents import GateResult
from artreg.registry.formatnames import GGUF, ONNX, PYTORCH, SAFETENSORS, from_suffix

# Hugging Face's library_name for each detected format (its hub lists these libraries).
_LIBRARIES = {PYTORCH: "pytorch", SAFETENSORS: "pytorch", ONNX: "onnx", GGUF: "gguf"}


def _format(file: dict[str, Any]) -> str:
    """The format found in a file's content; a record from before detection: its suffix's."""
    return str(file.get("content_format") or from_suffix(file["path"]))


def _front_matter(metadata: dict[str, Any]) -> str:
    results = metadata["gates"]["results"]
    numbers = [
        r
        for r in results
        if isinstance(r["value"], (int, float)) and not isinstance(r["value"], bool)
    ]
    layout = metadata["model"].get("layout")
    library = _LIBRARIES.get(_format(metadata["model"]["files"][0]))
    if layout and layout.get("config"):
        library = "transformers"  # a Hugging Face folder with its config.json loads with it
    front = {
        "model_name": metadata["name"],
        "library_name": library,
        "tags": ["artreg", metadata["stage"]],
        "artreg": {
            "stage": metadata["stage"],
            "id": metadata["id"],
            "version": metadata.get("version"),
            "source": f"{metadata['source']['stage']}/{metadata['source']['id']}",
            "sha256": metadata["model"]["files"][0]["sha256"],
            "format": _format(metadata["model"]["files"][0]),
            **(_layout_front(layout) if layout else {}),
        },
        "model-index": [
            {
                "name": metadata["name"],
                "results": [
                    {
                        "task": {"type": "model-validation", "name": f"{metadata['stage']} gates"},
                        "metrics": [
                            {"type": r["metric"], "name": r["metric"], "value": r["value"]}
                            for r in numbers
                        ],
                    }
                ],
            }
        ],
    }
    front = {k: v for k, v in front.items() if v is not None}
    return "---\n" + str(yaml.safe_dump(front, sort_keys=False)) + "---\n"


def _layout_front(layout: dict[str, Any]) -> dict[str, Any]:
    """A model folder in the front matter: `layout: huggingface`, its shards and files."""
    return {
        "layout": layout["kind"],
        "model_folder": "model/",
        **{
            k: layout[k]
            for k in ("shards", "weight_files", "weights", "index", "tokenizer")
            if k in layout
        },
    }


def model_card(metadata: dict[str, Any]) -> str:
    """README.md of a validated or production folder."""
    gates = [GateResult.from_json(r) for r in metadata["gates"]["results"]]
    files = "\n".join(
        f"| `{f['path']}` | {f.get('format_detail') or _format(f)} | {f['size']:,} | `{f['sha256']}` |"
        for f in metadata["model"]["files"]
    )
    source = metadata["source"]
    title = (
        f"# {metadata['name']} v{metadata['version']} (production)"
        if metadata["stage"] == "production"
        else f"# {metadata['name']} — `{metadata['id']}` (validated)"
    )
    lines = [
        _front_matter(metadata),
        title,
        "",
        f"Promoted {metadata['created_at']} by {metadata['created_by']}, "
        f"from {source['stage']} `{source['id']}`"
        + (f" (sha256 `{source['sha256'][:16]}…`)" if source.get("sha256") else "")
        + (f", originally checkpoint `{source['checkpoint']}`" if source.get("checkpoint") else "")
        + ".",
        "",
    ]
    if metadata.get("approval"):
        lines += [
            f"Approved by {metadata['approval']['approved_by']} on {metadata['approval']['approved_at']}.",
            "",
        ]
    if metadata.get("notes"):
        lines += [str(metadata["notes"]), ""]
    if metadata.get("requires"):
        lines += [f"Requires {_requires(metadata)} in production.", ""]
    if metadata.get("training_curves"):
        # Stage folders all sit at artifacts/<stage>/<name>/<id>, so this link works from each.
        lines += [
            "## Training",
            "",
            f"![training curves](../../../../{metadata['training_curves']})",
            "",
        ]
    lines += [
        "## Model files",
        "",
        "| file | format | bytes | sha256 |",
        "| --- | --- | ---: | --- |",
        files,
        "",
        f"Parameters: {metadata['model'].get('parameter_count') or 'unknown'}."
        + (
            f" Optimisation: {metadata['model']['optimization']}."
            if metadata["model"].get("optimization")
            else ""
        ),
        "",
        "Verify a downloaded copy with "
        + (
            "`sha256sum -c model.sha256` (every file of the model folder)."
            if metadata["model"].get("layout")
            else "`sha256sum -c <file>.sha256`."
        ),
        "",
        f"## Gates ({'all passed' if metadata['gates']['passed'] else 'FAILED'})",
        "",
        gate_table(gates) if gates else "No gates configured for this stage.",
        "",
    ]
    return "\n".join(lines)


def _requires(metadata: dict[str, Any]) -> str:
    return ", ".join(f"`{r['name']}@v{r['version']}`" for r in metadata["requires"])


def changelog(previous: str | None, metadata: dict[str, Any]) -> str:
    """CHANGELOG.md of a release: a new entry on top of the previous release's entries."""
    gates = ", ".join(
        f"{r['metric']}={r['value']} ({'pass' if r['passed'] else 'fail'})"
        for r in metadata["gates"]["results"]
    )
    entry = (
        f"## v{metadata['version']} — {metadata['created_at'][:10]}\n\n"
        f"- Source: {metadata['source']['stage']} `{metadata['source']['id']}` (sha256 `{metadata['model']['files'][0]['sha256'][:16]}…`)\n"
        f"- Approved by: {metadata['approval']['approved_by']}\n"
        f"- Gates: {gates or 'none configured'}\n"
        + (f"- Requires: {_requires(metadata)}\n" if metadata.get("requires") else "")
        + (f"- Notes: {metadata['notes']}\n" if metadata.get("notes") else "")
    )
    header = f"# Changelog of {metadata['name']}\n\n"
    earlier = ""
    if previous:
        earlier = previous.split("\n", 2)[2].lstrip("\n") if previous.startswith("# ") else previous
    return header + entry + ("\n" + earlier if earlier else "")
