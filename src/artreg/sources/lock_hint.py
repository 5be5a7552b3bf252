"""What to do about a spec a lock file does not pin: `artreg lock add` it, unless `lock add`
would refuse it (a deprecated name, a retired folder, a name the registry lacks): then read it
from the registry instead. `lock add`'s own checks decide, asked in the error path only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from artreg.errors import ArtregError, RetryableError
from artreg.reading.cache import Cache
from artreg.reading.identity import identity
from artreg.sources.base import Pin, offline_setting
from artreg.sources.pins import refuse_retired
from artreg.sources.remote import RemoteRegistry
from artreg.sources.url import resolve_pin


def pin_hint(
    path: Path,
    pins: Mapping[str, Pin],
    wanted: tuple[str, str | None, str | None],
    cache_dir: Path | str | None = None,
) -> str:
    """The fix for a missing pin of `wanted` (name, stage, version) in the lock at `path`."""
    name, stage, version = wanted
    spec = f"{name}@v{version.removeprefix('v')}" if version else f"{name}#{stage or 'production'}"
    of_name = [p.registry for p in pins.values() if p.name == name]
    named = {identity(url): url for url in of_name or [p.registry for p in pins.values()]}
    if len(named) != 1:
        return f"pin it with `artreg lock add URL {spec} --file {path}`, or ask for what it pins"
    url = next(iter(named.values()))
    if not offline_setting(None):
        try:
            pin = resolve_pin(url, name, stage, version, cache_dir)
            refuse_retired(RemoteRegistry(pin.registry, Cache.open(cache_dir)), pin)
        except RetryableError:
            pass  # the registry does not answer now: `lock add` will say so itself
        except ArtregError as refused:
            return (
                f"`artreg lock add` refuses {spec} ({refused.message}); read {name} from the "
                f"registry instead: `artreg show {spec if version else name} --repo {url}`"
            )
    return f"pin it with `artreg lock add {url} {spec} --file {path}`, or ask for what it pins"
