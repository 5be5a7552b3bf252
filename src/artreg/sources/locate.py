"""Where a registry is read from, decided once (gto's `RemoteRepoMixin.from_url`): a lock
file, an OCI repository (oci://), a registry URL (or a bare repository's path), the consumer
cache alone (offline), or a clone. Every read command and the Python API build their source here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

from artreg.adapters import settings
from artreg.sources.base import RegistrySource, offline_setting
from artreg.sources.clone import CloneSource
from artreg.sources.location import find_root, is_registry_url, normalize_url


def open_source(
    repo: str | os.PathLike[str] | None = None,
    *,
    lock: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    cache_dir: Path | str | None = None,
    fetch: bool = True,
) -> RegistrySource:
    """The source `repo` (a clone's path, default the one around the cwd, or a registry URL)
    or `lock` names; `offline` (default ARTREG_OFFLINE) reads the cache alone, also for a
    registry path that is gone; `fetch` False: nothing is fetched (a URL is answered from the
    consumer cache alone)."""
    # The variants other than the clone are imported where they are chosen: a warm read in a
    # clone loads neither git's network side nor DVC's remote readers (start-up time).
    offline = offline_setting(offline)
    if lock is not None:
        from artreg.sources.lock import LockSource

        return LockSource(Path(lock), cache_dir, offline)
    if isinstance(repo, str) and repo.startswith("oci://"):  # an OCI repository
        from artreg.sources.oci import OciSource

        return OciSource(repo, cache_dir, offline=offline, insecure=settings.oci_plain_http())
    if repo is not None and (
        is_registry_url(repo) or (offline and not Path(os.fspath(repo)).exists())
    ):
        if offline:
            from artreg.sources.offline import OfflineSource

            return OfflineSource(normalize_url(repo), cache_dir)
        from artreg.sources.url import UrlSource

        if not fetch:  # --no-fetch: the consumer cache answers, as offline, or a refusal
            return UrlSource(repo, cache_dir, offline=True, why="--no-fetch")
        return UrlSource(repo, cache_dir)
    return CloneSource(_clone_root(repo), cache_dir, fetch=fetch and not offline)


def names_registry(text: str) -> bool:
    """True if `text`, given where an artifact name belongs, is an address `open_source` reads
    as a registry (a URL, oci://, a bare repository): `artreg get URL` without NAME."""
    return text.startswith("oci://") or is_registry_url(text)


# The clone a path (or the cwd) named, kept for this process while it is still a work tree: a
# repeated read of an unchanged clone runs no git (see clone_warm).
_ROOTS: dict[tuple[str | None, str, str | None], Path] = {}


def _clone_root(repo: str | os.PathLike[str] | None) -> Path:
    given = None if repo is None else os.fspath(repo)
    key = (given, os.getcwd(), settings.repo())
    root = _ROOTS.get(key)
    if root is None or not (root / ".git").exists():
        root = _ROOTS[key] = find_root(given)
    return root
