"""What a consumer of a registry URL or a lock file was promised, held on every answer.

- A version's bytes never change under a consumer: the cache records, per registry, the commit
  and sha256s each `NAME@vX.Y.Z` had when first served (`versions/<registry>/<name>/vX.Y.Z.json`);
  a later answer with other bytes (the tag deleted and made again, force-pushed) is refused
  (IntegrityError, exit 1) naming both commits, unless the caller accepts the moved tag.
- Retired means retired: a folder in the registry's `artifacts/retired.json` (gc's tombstones,
  read by `retention.parse_retired`) is refused as retired before any byte is fetched, naming
  who retired it, when, and what to use instead (NotFoundError, exit 2, as in a clone).
- A pin whose version was since deregistered, unassigned, deprecated or retired is still served
  (a lock is a pin), but said out loud: `retractions` lists what happened to it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.errors import ArtregError, IntegrityError, NotFoundError, RetryableError
from artreg.reading.cache import Cache, legacy_key
from artreg.reading.resolve import served_instead
from artreg.registry.layout import RETIRED_JSON, StageDir
from artreg.registry.retirements import Retired, parse_retired
from artreg.registry.tags import UNASSIGN
from artreg.sources.base import Pin
from artreg.sources.fingerprint import fingerprint_of
from artreg.sources.remote import RemoteRegistry

if TYPE_CHECKING:
    from artreg.adapters.hashing import FileDigest, ProgressFn
    from artreg.registry.records import Registry


RECHECK_SECONDS = (
    300  # how stale a lock pin's retraction verdict may be before the registry is asked
)

ACCEPT_MOVED_TAG = "--accept-moved-tag (CLI) or accept_moved_tag=True (Python)"


# --- a version's bytes, as first seen ---------------------------------------------------------


def held_version(pin: Pin) -> str | None:
    """The version whose bytes `pin` serves: its own, or, for a stage whose tag sits on a
    commit no version tag holds (a version tag moved away from it), the version its production
    folder is named after: that folder's bytes are that version's, immutable as well."""
    if pin.version:
        return pin.version
    folder = StageDir.parse(pin.folder)
    if folder is not None and folder.stage == "production" and folder.entry.startswith("v"):
        return folder.entry[1:]
    return None


def _record(cache: Cache, key: str, pin: Pin) -> Path:
    return cache.root / "versions" / key / pin.name / f"v{held_version(pin)}.json"


def _content(pin: Pin) -> dict[str, Any]:
    return {rel: [d.sha256, d.size] for rel, d in sorted(pin.files.items())}


def hold_version(reg: RemoteRegistry, pin: Pin, accept_moved_tag: bool) -> Callable[[], None]:
    """Refuse `pin` when this cache served its version with other bytes before (unless
    `accept_moved_tag`); returns the function that records it once it is served."""
    if not held_version(pin):
        return lambda: None  # a stage holding an unversioned commit: nothing to hold it to
    path = _record(reg.cache, reg.key, pin)
    # A record kept under the URL as spelled (before one identity per registry) is adopted.
    seen = reg.cache.read_json(path) or reg.cache.read_json(
        _record(reg.cache, legacy_key(reg.url), pin)
    )
    now = {"commit": pin.commit, "tag": pin.tag, "folder": pin.folder, "files": _content(pin)}
    if isinstance(seen, dict) and (seen.get("folder"), seen.get("files")) == (
        now["folder"],
        now["files"],
    ):
        return lambda: None
    if isinstance(seen, dict) and not accept_moved_tag:
        raise IntegrityError(moved_message(reg.url, pin, seen), hint=_moved_hint(pin))
    return lambda: reg.cache.write_json(path, now)


def moved_message(url: str, pin: Pin, seen: dict[str, Any]) -> str:
    """`NAME@vX.Y.Z` answers other bytes than it had: which commits, which files."""
    recorded = seen.get("files")
    old: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    new = _content(pin)
    differ = sorted(rel for rel in set(old) | set(new) if old.get(rel) != new.get(rel))
    return (
        f"{url}: {pin.name}@v{held_version(pin)} moved: it was commit {str(seen.get('commit'))[:12]} "
        f"({seen.get('folder')}) when this cache served it, the registry now answers commit "
        f"{pin.commit[:12]} ({pin.folder}, tag {pin.tag}) with other bytes "
        f"({', '.join(differ[:5])}{' …' if len(differ) > 5 else ''}); a version's bytes never "
        "change, so nothing was fetched"
    )


def _moved_hint(pin: Pin) -> str:
    return (
        f"ask the registry's maintainers why {pin.name}@v{held_version(pin)} was rewritten; "
        f"to take the new bytes anyway, pass {ACCEPT_MOVED_TAG}"
    )


def rewritten(pin: Pin, now: Pin) -> str | None:
    """How `now` (the registry's answer) rewrote the version `pin` holds, or None."""
    if not pin.version or pin.version != now.version:
        return None
    if (pin.folder, pin.files) == (now.folder, now.files):
        return None
    return (
        f"tag rewritten: {pin.name}@v{pin.version} was commit {pin.commit[:12]} when pinned, "
        f"the registry now answers commit {now.commit[:12]} with other bytes; `artreg get "
        "--lock` serves the pinned ones, and `artreg lock update` refuses to move this pin "
        "unless you take the new bytes explicitly: `artreg lock update --accept-moved-tag`"
    )


# --- retired folders ----------------------------------------------------------------------------


def retirement(reg: RemoteRegistry, folder: str, head: str | None) -> Retired | None:
    """The tombstone of `folder` in `artifacts/retired.json` at the registry's HEAD, if any."""
    if not head:
        return None
    data = reg.files_at(head, [RETIRED_JSON]).get(RETIRED_JSON)
    try:
        return parse_retired(data, f"{reg.url}: {RETIRED_JSON}@{head[:12]}").get(folder)
    except (ArtregError, ValueError):  # ValueError: not UTF-8
        return None  # a tombstone file the registry must repair only explains a missing object


def refuse_retired(reg: RemoteRegistry, pin: Pin, head: str | None = None) -> None:
    """NotFoundError (exit 2, as a clone's `pull` says it) when gc retired the pinned folder,
    per the tombstones at `head` (None: the registry's HEAD now; a registry that does not
    answer is not asked, and the fetch says what it lacks)."""
    if head is None:
        try:
            head = reg.remote_refs([])[1]
        except RetryableError:
            return
    tomb = retirement(reg, pin.folder, head)
    if tomb is not None:
        raise NotFoundError(
            f"{reg.url}: {pin.spec} is {_retired_text(tomb)}; gc deletes its data from the "
            "DVC remote",
            hint=f"use {_instead(reg, pin)} instead; its tags and files in git remain for the record",
        )


def _retired_text(tomb: Retired) -> str:
    return (
        f"{tomb.folder}, retired by {tomb.by or 'gc'} on {tomb.date[:10] or 'an unknown date'} "
        "under the retention policy"
    )


def _instead(reg: RemoteRegistry, pin: Pin, registry: Registry | None = None) -> str:
    """A version of the name the registry still serves, as text."""
    spec, what = _alternative(reg, pin, registry)
    return f"{spec} ({what})" if spec else what


def _alternative(
    reg: RemoteRegistry, pin: Pin, registry: Registry | None
) -> tuple[str | None, str]:
    """(NAME@vX.Y.Z, why) of a version the registry still serves: production first, else the
    latest; (None, where to look) when there is none."""
    try:
        found = served_instead(registry or reg.state([pin.name]), pin.name, pin.version)
    except ArtregError:
        found = None
    if found is not None:
        return found
    return None, f"a version the registry still serves (`artreg list --repo {reg.url}`)"


# --- what happened to a pin since --------------------------------------------------------------


def retractions(pin: Pin, cache_dir: Path | str | None = None, fresh: bool = False) -> list[str]:
    """What happened to the pinned version since it was pinned (see `recheck`)."""
    notes, _, save = recheck(pin, cache_dir, fresh)
    save()
    return notes


def recheck(
    pin: Pin, cache_dir: Path | str | None = None, fresh: bool = False
) -> tuple[list[str], str | None, Callable[[], None]]:
    """What happened to the pinned version since it was pinned: deregistered, unassigned from
    its stage, deprecated, retired (empty when nothing, or when the registry cannot be asked:
    the pin is served either way). The registry is asked (one `git ls-remote`, and the state
    only when its tags or HEAD moved) at most every RECHECK_SECONDS per pin, so a warm lock
    call stays a stat and a read of one small record. `fresh` (`lock check`): ask now, and
    record the verdict the next lock call reads. With the registry's HEAD when it was asked
    now (None: not asked), so the lock reader reads the policy at it in the same ask, and the
    function that records the verdict (called once the pin served: a refusal keeps nothing)."""
    reg = RemoteRegistry(pin.registry, Cache.open(cache_dir))
    digest = hashlib.sha256(json.dumps(pin.to_json(), sort_keys=True).encode()).hexdigest()
    record = reg.cache.root / "retractions" / reg.key / f"{digest}.json"
    known = reg.cache.read_json(record)
    if not isinstance(known, dict) or not _notes(known.get("notes")):
        known = {}
    if known and not fresh and 0 <= time.time() - record.stat().st_mtime < RECHECK_SECONDS:
        return list(known["notes"]), None, lambda: None
    try:
        tags, head = reg.remote_refs([pin.name])
    except ArtregError:  # not asked now; the lock still serves its pin
        return list(known.get("notes", [])), None, lambda: None
    try:
        ident = hashlib.sha256(f"{fingerprint_of(tags)} {head}".encode()).hexdigest()
        notes = (
            list(known["notes"])
            if known.get("ident") == ident
            else _retractions(reg, pin, reg.state([pin.name], tags), head)
        )
    except ArtregError:
        return list(known.get("notes", [])), head, lambda: None
    # Its mtime says when the registry was asked.
    return notes, head, lambda: reg.cache.write_json(record, {"ident": ident, "notes": notes})


def _notes(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(n, str) for n in value)


def _retractions(reg: RemoteRegistry, pin: Pin, registry: Registry, head: str) -> list[str]:
    where = (
        f"{pin.registry}: the pinned {pin.name}@v{pin.version or pin.commit[:12]} ({pin.folder})"
    )
    artifact = registry.artifacts.get(pin.name)
    if artifact is None:
        return [f"{where}: the registry has no tag of {pin.name} any more"]
    notes = []
    if artifact.deprecated:
        notes.append(f"{where}: {pin.name} has since been deprecated ({artifact.events[-1].tag})")
    version = next(
        (v for v in artifact.versions if v.registered and v.version == pin.version), None
    )
    if pin.version and (version is None or not version.active):
        notes.append(f"{where}: v{pin.version} has since been deregistered")
    folder = StageDir.parse(pin.folder)
    events = version.stage_events.get(folder.stage, []) if version and folder else []
    if events and events[-1].parsed.action is UNASSIGN:
        notes.append(f"{where}: has since been unassigned from {folder.stage if folder else ''}")
    tomb = retirement(reg, pin.folder, head)
    if tomb is not None:
        notes.append(
            f"{where}: has since been retired by {tomb.by or 'gc'} on "
            f"{tomb.date[:10] or 'an unknown date'} under the retention policy"
        )
    if notes:
        spec, what = _alternative(reg, pin, registry)
        if spec is None:
            notes[-1] += f"; pin {what} instead"
        elif pin.stage and artifact.stage(pin.stage) is not None:
            notes[-1] += f"; {pin.spec} now resolves to {spec} ({what}): `artreg lock update`"
        else:
            notes[-1] += f"; pin {spec} ({what}) instead: `artreg lock add {pin.registry} {spec}`"
    return notes


# --- fetching a lock file's pin ----------------------------------------------------------------


def build_or_explain(
    reg: RemoteRegistry,
    pin: Pin,
    files: Mapping[str, FileDigest],
    pinned: bool,
    remote: tuple[str | None, Mapping[str, str] | None],
    progress: ProgressFn | None,
) -> tuple[Path, int]:
    """Fetch the pin's files (`build`). A name asked for is refused before any byte when gc
    retired its folder; a lock's pin (`pinned`) is served whenever its bytes can be fetched
    (retired or not, as on a machine whose cache holds them), and only a fetch that fails says
    why: the folder retired, or the lock file pinning other bytes than the registry recorded."""

    def build() -> tuple[Path, int]:
        info = {"registry": pin.registry, "commit": pin.commit, "tag": pin.tag}
        source = reg.sources(pin, *remote)
        return reg.cache.build_snapshot(
            reg.key, pin.folder, files, source, {**info, "version": pin.version}, progress
        )

    if not pinned:
        refuse_retired(reg, pin)  # gc's tombstones, at the registry's HEAD
        return build()
    try:
        return build()
    except RetryableError:
        raise
    except IntegrityError:
        _refuse_altered_pin(reg, pin)
        raise
    except ArtregError:
        refuse_retired(reg, pin)
        raise


def _refuse_altered_pin(reg: RemoteRegistry, pin: Pin) -> None:
    """IntegrityError when the lock file's sha256s are not the registry's manifest's at the
    pinned commit (the lock file was altered, not the DVC remote); silent when they are or the
    manifest cannot be read."""
    path = f"{pin.folder}/manifest.json"
    try:
        recorded = json.loads(reg.files_at(pin.commit, [path])[path])["files"]
        differ = sorted(
            (rel, key)
            for rel, d in pin.files.items()
            for key in ("sha256", "size")  # a size the lock changed fails the fetch too
            if recorded[rel][key] != getattr(d, key)
        )
    except (ArtregError, ValueError, KeyError, TypeError):
        return
    if differ:
        rel, key = differ[0]
        raise IntegrityError(
            f"the lock file pins {pin.spec} {rel} with {key} {getattr(pin.files[rel], key)}, "
            f"but {pin.registry}'s manifest at commit {pin.commit[:12]} ({pin.tag}) says "
            f"{recorded[rel][key]}: the lock file was altered (field files/{rel}/{key}); "
            "nothing was stored",
            hint=f"restore the lock file from git, or pin anew: `artreg lock remove {pin.spec}` "
            f"then `artreg lock add {pin.registry} {pin.spec}`",
        )
