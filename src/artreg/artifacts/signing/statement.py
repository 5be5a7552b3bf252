"""The in-toto statement of a signed model, from digests already computed: model_signing's
default serialization is one sha256 per file, exactly what artreg's manifest records, so the
statement is built from those digests instead of reading the model again, both to sign a folder
and to check what a bundle claims."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any


def build_manifest(name: str, digests: Mapping[str, str], ignored: Sequence[str]) -> Any:
    """A model_signing manifest of (file, sha256) pairs, as its file serialization builds one."""
    from model_signing import manifest
    from model_signing._hashing.hashing import Digest

    serialization = manifest.SerializationType.from_args(
        {
            "method": "files",
            "hash_type": "sha256",
            "allow_symlinks": False,
            "ignore_paths": list(ignored),
        }
    )
    items = [
        manifest.FileManifestItem(
            path=PurePosixPath(rel), digest=Digest("sha256", bytes.fromhex(sha))
        )
        for rel, sha in sorted(digests.items())
    ]
    return manifest.Manifest(name, items, serialization)


def precomputed(built: Any) -> Any:
    """A model_signing hashing configuration that hands out `built` instead of reading files."""
    from model_signing import hashing

    class Precomputed(hashing.Config):
        def hash(self, model_path: Any, *, files_to_hash: Any = None) -> Any:
            return built

    return Precomputed()  # type: ignore[no-untyped-call]  # model_signing leaves __init__ unannotated
