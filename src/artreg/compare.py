"""`artreg diff A B`: what changed between two artifacts — metrics, gates, files, source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artreg import gitrepo
from artreg.consume import Resolved, resolve
from artreg.documents import parse_json
from artreg.layout import StageDir
from artreg.registry import load_state
from artreg.tags import parse_spec


def _resolved(root: Path, spec: str) -> Resolved:
    name, stage, version = parse_spec(spec)
    return resolve(root, name, stage=stage, version=version, state=load_state(root))


def _numbers(root: Path, rev: str, folder: StageDir) -> dict[str, float]:
    found: dict[str, float] = {}
    listing = gitrepo.git(
        root, "ls-tree", "-r", "--name-only", rev, folder.relpath + "/", check=False
    )
    for path in listing.split():
        if not path.endswith(".json") or path.endswith(("manifest.json", "metadata.json")):
            continue
        data = gitrepo.show_file(root, rev, path)
        try:
            parsed = parse_json(data.decode("utf-8"), path) if data else {}
        except Exception:  # a results file that is not JSON is simply not compared
            continue
        if isinstance(parsed, dict):
            for key, value in parsed.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found[key] = float(value)
    return found


def _metadata(root: Path, r: Resolved) -> dict[str, Any]:
    parsed: dict[str, Any] = (
        gitrepo.json_at(root, r.commit, f"{r.folder.relpath}/metadata.json") or {}
    )
    return parsed


def diff(root: Path, a: str, b: str) -> dict[str, Any]:
    """Metric deltas, gate values, model hashes and sources of two artifacts, side by side."""
    ra, rb = _resolved(root, a), _resolved(root, b)
    ma, mb = _numbers(root, ra.commit, ra.folder), _numbers(root, rb.commit, rb.folder)
    metrics = [
        {
            "metric": k,
            "a": ma.get(k),
            "b": mb.get(k),
            "delta": (mb[k] - ma[k]) if k in ma and k in mb else None,
        }
        for k in sorted(set(ma) | set(mb))
    ]
    meta_a, meta_b = _metadata(root, ra), _metadata(root, rb)
    files = [
        {
            "file": rel,
            "a": ra.files[rel].sha256 if rel in ra.files else None,
            "b": rb.files[rel].sha256 if rel in rb.files else None,
        }
        for rel in sorted(set(ra.files) | set(rb.files))
        if (ra.files.get(rel) or None) != (rb.files.get(rel) or None)
    ]
    return {
        "a": {
            "spec": a,
            "folder": ra.folder.relpath,
            "tag": ra.tag,
            "source": meta_a.get("source"),
            "model_sha256": ra.files[ra.primary].sha256,
            "parameter_count": (meta_a.get("model") or {}).get("parameter_count"),
        },
        "b": {
            "spec": b,
            "folder": rb.folder.relpath,
            "tag": rb.tag,
            "source": meta_b.get("source"),
            "model_sha256": rb.files[rb.primary].sha256,
            "parameter_count": (meta_b.get("model") or {}).get("parameter_count"),
        },
        "same_model": ra.files[ra.primary].sha256 == rb.files[rb.primary].sha256,
        "metrics": metrics,
        "files": files,
    }
