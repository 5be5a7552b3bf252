"""A folder's committed model.sig checked against the committed manifest (`signing`), the same
for every source: a clone reads the objects from its own repository, a URL from its cache
repository."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from artreg.adapters.hashing import FileDigest
from artreg.artifacts.signing import verify as signature
from artreg.registry.trust import TrustPolicy


def check_signed(
    repo: Path,
    policy: TrustPolicy,
    commit: str,
    folder: str,
    stage: str,
    files: Mapping[str, FileDigest],
    dvc_files: frozenset[str],
) -> dict[str, Any]:
    """The committed model.sig of `folder` at `commit`, made by a key `policy` trusts over the
    model its manifest records (IntegrityError otherwise); returns who signed it."""
    raw = signature.committed_signature(repo, commit, folder, files)
    signer = signature.check_folder(repo, policy, folder, stage, files, dvc_files, raw)
    return signer.as_dict()


def describe(
    repo: Path, commit: str, folder: str, pin: Any, policy: TrustPolicy
) -> dict[str, Any] | None:
    """What `show` says of a pinned folder's model.sig under `policy` (never raises for a bad
    signature; None: unsigned, and none required)."""
    return signature.describe(
        repo, commit, folder, pin.stage_folder, pin.files, pin.dvc_files, policy
    )
