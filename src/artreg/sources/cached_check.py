"""`artreg verify` of a registry read without a clone (a URL, a lock file): every folder a stage
holds now (or every pin) is checked where this machine keeps it, the consumer cache, each byte
rehashed against the manifest as committed. A folder the cache does not hold is not bad data:
it is listed with the command that fetches it, and `fetch` fetches it from the DVC remote and
checks it too (a remote that cannot be reached raises RemoteUnavailable, never a problem)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from artreg.artifacts.integrity import Report
from artreg.errors import ArtregError, InputError, IntegrityError, RemoteUnavailable
from artreg.reading.cache import Cache
from artreg.registry import fold as folding
from artreg.registry.tags import Action
from artreg.sources.base import Pin, RegistrySource, ServeOptions
from artreg.sources.lock import LockSource, load
from artreg.sources.remote import RemoteRegistry
from artreg.sources.url import UrlSource, materialize, resolve_remote


def verify_source(
    source: RegistrySource,
    *,
    fetch: bool = False,
    remote: str | None = None,
    remote_config: Mapping[str, str] | None = None,
) -> Report:
    """Check what the cache holds of `source`'s current folders (a lock: its pins)."""
    if isinstance(source, LockSource):
        where = f"--lock {source.path}"
        # `resolve` fills the cache only; `get` would write the model into the current folder
        pins: list[tuple[Pin, str | None]] = [
            (pin, f"artreg resolve {key} {where}") for key, pin in sorted(load(source.path).items())
        ]
        cache = Cache.open(source.cache_dir)
    elif isinstance(source, UrlSource):
        source._online("`verify`")  # offline, the cache alone does not say what is current
        where = f"--repo {source.label}"
        found, deprecated = url_pins(source.reg)
        pins = url_commands(found, where, deprecated)
        cache = source.reg.cache
    elif source.kind == "oci":
        raise InputError(
            f"{source.label}: `verify` (every folder of a registry) reads a git registry; an "
            "OCI repository answers `get`, `resolve` and `show NAME@vX.Y.Z` (or NAME#production) "
            "for the artifact it holds",
            hint="run it in a clone of the registry, or with its git URL; `get` checks each "
            "layer's sha256 as it fetches it",
        )
    else:
        raise TypeError(source)
    return check_pins(
        cache, pins, where, fetch, ServeOptions(remote=remote, remote_config=remote_config)
    )


def refuse_clone_options(remote: bool, signed: bool, changed: bool, base: str | None) -> None:
    """InputError for the options of `verify` that read a clone's work tree or git history."""
    given = [
        o
        for o, on in (
            ("--remote", remote),
            ("--signed", signed),
            ("--changed/FILES", changed),
            ("--base", base),
        )
        if on
    ]
    if given:
        raise InputError(
            f"verify {', '.join(given)} checks a registry clone; a registry URL or a lock file "
            "is checked by what the consumer cache holds",
            hint="run it in a clone (--repo CLONE), or drop " + ", ".join(given),
        )


def url_pins(reg: RemoteRegistry, retired: Collection[str] = ()) -> tuple[list[Pin], set[str]]:
    """Every folder a stage or an active version of a name resolves to now (tags and
    manifests, no model bytes), but the `retired` ones; with the folders of deprecated names,
    which `get` and `resolve` refuse (see url_commands). A deprecated name is no finding: its
    folders are checked as a clone checks them, resolved as they were before it."""
    registry = reg.state(None)
    reg.folders(folding.current_events(registry))
    found: dict[str, Pin] = {}
    deprecated: set[str] = set()
    for name in sorted(registry.artifacts):
        artifact = registry.artifacts[name]
        view = registry
        if artifact.deprecated:
            kept = [
                e
                for e in registry.events
                if e.parsed.name != name or e.parsed.action is not Action.DEPRECATE
            ]
            view = folding.fold(kept)
        specs: list[tuple[str | None, str | None]] = [
            (s, None) for s in view.artifacts[name].stages()
        ]
        specs += [(None, v.version) for v in view.artifacts[name].released()]
        for stage, version in specs:
            pin = resolve_remote(reg, name, stage, version, view, "")
            if pin.folder not in retired and pin.folder not in found:
                found[pin.folder] = pin
                if artifact.deprecated:
                    deprecated.add(pin.folder)
    return list(found.values()), deprecated


def url_commands(
    pins: Sequence[Pin], where: str, deprecated: Collection[str] = ()
) -> list[tuple[Pin, str | None]]:
    """Each pin with the command that fetches it into the cache only (`resolve`: `get` would
    write the model into the current folder); None for a deprecated name's, which `resolve`
    refuses: `verify --fetch` fetches those."""
    return [
        (pin, None if pin.folder in deprecated else f"artreg resolve {pin.spec} {where}")
        for pin in pins
    ]


def check_pins(
    cache: Cache,
    pins: Sequence[tuple[Pin, str | None]],
    where: str,
    fetch: bool,
    options: ServeOptions,
) -> Report:
    report = Report()
    seen: set[tuple[str, str]] = set()
    for pin, command in pins:
        if (pin.registry, pin.folder) in seen:
            continue
        seen.add((pin.registry, pin.folder))
        reg = RemoteRegistry(pin.registry, cache)
        files = {rel: pin.files[rel] for rel in pin.selected()}
        try:
            snap: Path | None = cache.snapshot_ready(reg.key, pin.folder, files, full=True)
            if snap is None and fetch:
                materialize(reg, pin, options, full=True, pinned=True)
                snap = reg.cache.snapshot(reg.key, pin.folder, files)
        except IntegrityError as exc:
            report.problems.append(exc.message)
            continue
        except RemoteUnavailable:
            raise
        except ArtregError as exc:
            report.problems.append(exc.message)
            continue
        if snap is None:
            report.count("files not present locally", len(files))
            fetch_it = f"fetch it with `{command}`, or " if command else ""
            report.notes.append(
                f"{pin.folder}: data not present locally ({len(files)} file(s), not checked): "
                f"{fetch_it}check every folder with `artreg verify --fetch {where}`"
            )
            continue
        report.count("files hashed from the cache", len(files))
    return report
