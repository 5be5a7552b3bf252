"""`artreg verify` from wherever the registry is read: a clone's work tree and history
(`clone.verify_registry`), or a URL or lock file through the consumer cache
(`url.verify_without_clone`). The one function the CLI calls."""

from __future__ import annotations

from collections.abc import Sequence

from artreg.artifacts.integrity import Report
from artreg.services.verify.clone import verify_registry
from artreg.services.verify.url import verify_without_clone
from artreg.sources.base import RegistrySource


def verify(
    source: RegistrySource,
    *,
    remote: bool = False,
    remote_name: str | None = None,
    signed: bool = False,
    base: str | None = None,
    changed: bool = False,
    files: Sequence[str] = (),
    fetch: bool = False,
) -> Report:
    """Every check `source` allows; with `changed`, a clone's check covers only the folders
    holding `files` (a URL or lock file has no work tree: they are refused there)."""
    if source.root is None:
        return verify_without_clone(
            source, fetch=fetch, remote=remote, remote_name=remote_name,
            signed=signed, changed=changed or bool(files), base=base,
        )  # fmt: skip
    return verify_registry(
        source.root, remote=remote, remote_name=remote_name, signed=signed, base=base,
        changed=list(files) if changed else None, fetch=fetch,
    )  # fmt: skip
