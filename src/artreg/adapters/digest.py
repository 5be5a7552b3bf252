"""A file's digest (sha256, size, and DVC's md5 when asked for): what manifests, pins and the
hashing pass (hashing.py) record. Its own module so that a read that hashes nothing (`list`)
does not load the hashing machinery to name it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    size: int
    md5: str | None = field(default=None, compare=False)  # DVC's address, when asked for
