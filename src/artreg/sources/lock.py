"""artreg.lock: a consumer's pins of models in registries, committed in the consumer's repo.

    {
      "lockfile_version": 1,
      "artifacts": {
        "encoder#production": {"registry": URL, "name", "stage", "version", "tag", "commit",
                               "folder", "model", "files": {rel: {"sha256", "size", "dvc"}}}
      }
    }

An entry is keyed by what was asked for (NAME#STAGE or NAME@vX.Y.Z) and records what it resolved
to, down to every file's sha256, so `get_artifact_path(name, lock=...)` serves exactly those
bytes without reading a tag, and nothing it does not pin. `check` says which pins a registry has
moved on from, rewrote or retired (exit 1, for a bump pull request); `update` moves them.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from artreg.adapters import locking, schemas
from artreg.adapters.files import parse_json, write_atomic
from artreg.errors import (
    ArtregError,
    InputError,
    IntegrityError,
    NotFoundError,
    PolicyWeakened,
    VerificationFailed,
)
from artreg.reading.cache import Cache
from artreg.reading.identity import file_url, identity
from artreg.reading.resolve import check_spec, spec_of
from artreg.reading.signed_tags import SignedTagRefused
from artreg.reading.trust_ratchet import Accepted
from artreg.registry.layout import StageDir
from artreg.registry.tags import parse_spec, validate_name
from artreg.sources import lock_errors, pinned, remote_signed
from artreg.sources.base import (
    Entry,
    Exported,
    Fetched,
    Listing,
    Pin,
    Served,
    ServeOptions,
)
from artreg.sources.exporting import export_pins
from artreg.sources.listing import ArtifactSummary
from artreg.sources.lock_hint import pin_hint
from artreg.sources.pins import hold_version, recheck, refuse_retired, retractions, rewritten
from artreg.sources.remote import RemoteRegistry
from artreg.sources.url import UrlSource, materialize, resolve_pin

LOCK_FILE = "artreg.lock"
VERSION = 1
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _path_rule() -> re.Pattern[str]:
    """The manifest schema's rule for file paths (no '..', not absolute), reused as is."""
    return re.compile(schemas.load("manifest")["properties"]["files"]["propertyNames"]["pattern"])


def load(path: Path) -> dict[str, Pin]:
    """The pins of a lock file, each field checked (the file is input: it may be hand-edited)."""
    rule = _path_rule()
    return {key: _pin(path, key, entry, rule) for key, entry in load_raw(path).items()}


def load_raw(path: Path) -> dict[str, Any]:
    """The entries of a lock file, each unchecked (so that a malformed one can be removed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"{path}: no lock file", hint="create it with `artreg lock add URL NAME#STAGE`"
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})", hint="restore it from git") from exc
    data = parse_json(text, str(path))
    if not isinstance(data, dict) or data.get("lockfile_version") != VERSION:
        raise InputError(
            f"{path}: /lockfile_version must be {VERSION}",
            hint="restore it from git, or delete it and pin anew with "
            "`artreg lock add URL NAME#STAGE`",
        )
    entries = data.get("artifacts")
    if not isinstance(entries, dict):
        raise InputError(f"{path}: /artifacts must be an object", hint="restore it from git")
    return dict(entries)


def _pin(path: Path, key: str, entry: Any, rule: re.Pattern[str]) -> Pin:
    where = f"{path}: /artifacts/{key}"

    def bad(field: str, what: str) -> InputError:
        return InputError(
            f"{where}/{field} {what}",
            hint=f"restore the file from git, or pin anew: `artreg lock remove {key} --file "
            f"{path}`, then `artreg lock add URL {key} --file {path}`",
        )

    if not isinstance(entry, dict):
        raise bad("", "must be an object")
    for field in ("registry", "name", "tag", "commit", "folder", "model"):
        if not isinstance(entry.get(field), str) or not entry[field]:
            raise bad(field, "must be a non-empty string")
    try:
        validate_name(entry["name"])
    except ArtregError:
        raise bad("name", f"{entry['name']!r} is not an artifact name") from None
    if not _HEX40.match(entry["commit"]):
        raise bad("commit", "must be a 40-digit commit id")
    folder = StageDir.parse(entry["folder"])
    if folder is None or folder.relpath != entry["folder"] or folder.name != entry["name"]:
        raise bad("folder", f"{entry['folder']!r} is not a stage folder of {entry['name']}")
    files = entry.get("files")
    if not isinstance(files, dict) or not files:
        raise bad("files", "must be a non-empty object")
    for rel, info in files.items():
        if not rule.match(rel):
            raise bad(f"files/{rel}", "is not a path inside the folder")
        if (
            not isinstance(info, dict)
            or not isinstance(info.get("sha256"), str)
            or not _HEX64.match(info["sha256"])
            or not isinstance(info.get("size"), int)
            or info["size"] < 0
        ):
            raise bad(f"files/{rel}", "needs a sha256 (64 hex digits) and a size in bytes")
    if entry["model"] not in files:
        raise bad("model", f"{entry['model']!r} is not among /files")
    return Pin.from_json(entry)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An flock on the lock file's folder (released by the kernel when the holder dies) for a
    read-modify-write: concurrent `lock add`s each keep their pin. The folder, not the file: the
    file is replaced by an atomic rename, and no stray lock file lands in the consumer's repo."""
    folder = path.resolve().parent  # a symlinked lock file: its target's folder

    def cannot_open(exc: OSError, _folder: Path) -> Exception:
        return InputError(f"{path}: its folder cannot be opened ({exc})")

    with locking.hold(folder, create=False, cannot_open=cannot_open):
        yield


def save(path: Path, pins: dict[str, Pin]) -> None:
    doc = {
        "lockfile_version": VERSION,
        "artifacts": {key: pins[key].to_json() for key in sorted(pins)},
    }
    # Through a symlink to its target: a lock shared by link stays one file.
    write_atomic(path.resolve(), json.dumps(doc, indent=2, sort_keys=True) + "\n")


def find(path: Path, name: str, stage: str | None, version: str | None) -> Pin:
    """The pin for `name` at that stage or version (a version: any pin that resolved to it;
    neither: its `#production` pin, else the name's only pin). A lock serves only what it
    pins: anything else is a NotFoundError naming the lock file and what it pins."""
    check_spec(name, stage, version)  # a stage or a version, not both, as every source says
    pins = load(path)
    wanted = spec_of(name, stage, version)
    if wanted in pins:
        return pins[wanted]
    of_name = {key: pin for key, pin in pins.items() if pin.name == name}
    if version is not None:
        same = [pin for pin in of_name.values() if pin.version == version.removeprefix("v")]
        if same:
            return same[0]
    elif stage is None and len(of_name) == 1:
        return next(iter(of_name.values()))
    pinned = ", ".join(
        f"{key} (v{pin.version})" if pin.version and "@" not in key else key
        for key, pin in sorted(of_name.items())
    )
    raise NotFoundError(
        f"{path} pins {pinned or f'nothing of {name}'}, not {wanted}: a lock file serves only "
        f"what it pins"
        + ("" if of_name else f" (it pins: {', '.join(sorted(pins)) or 'nothing'})"),
        hint=pin_hint(path, pins, (name, stage, version)),
    )


class LockSource:
    """A lock file's pins: exactly the pinned bytes, verified, from the registry each pin names;
    no tag is read. Only what the lock pins is served (`find`)."""

    kind = "lock"
    root: Path | None = None

    def __init__(self, path: Path, cache_dir: Path | str | None, offline: bool) -> None:
        self.path = path
        self.label = str(path)
        self.cache_dir = cache_dir
        self.offline = offline
        self.notes: list[str] = []  # what happened to the pin last served since it was pinned

    def prepare(self, tags: bool = True) -> str | None:
        return None

    def _refuse(self, what: str) -> InputError:
        return InputError(
            f"{what} reads a registry; {self.path} holds pins, not a registry",
            hint="pass the registry's URL or clone (--repo), or ask for what the lock pins",
        )

    def accept_trust(self) -> Accepted:
        raise self._refuse("`trust accept`")

    def address(self) -> str:
        raise self._refuse("`lock add`")

    def overview(self, *, deprecated: bool = False, as_of: str | None = None) -> Listing:
        """The stages the lock pins, as the registry listed them when they were pinned."""
        if as_of is not None:
            raise self._refuse("`list --as-of`")
        return Listing(pinned.overview(self.path, load(self.path), self.cache_dir, None))

    def show(self, name: str) -> ArtifactSummary:
        validate_name(name)
        pins = load(self.path)
        if not any(pin.name == name for pin in pins.values()):
            raise NotFoundError(
                f"{self.path} pins nothing of {name} (it pins: "
                f"{', '.join(sorted(pins)) or 'nothing'})",
                hint=pin_hint(self.path, pins, (name, None, None), self.cache_dir),
            )
        return pinned.overview(self.path, pins, self.cache_dir, [name])[name]

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        pin = find(self.path, name, stage, version)
        if version is not None:  # the stage it holds, as the registry says it
            pin = replace(pin, stage=pinned.held_of(pin, self.cache_dir))
        reg = RemoteRegistry(pin.registry, Cache.open(self.cache_dir))
        head = None if self.offline or remote_signed.known(reg) else reg.remote_refs([])[1]
        remote_signed.check(reg, pin, head)  # refused as `get` refuses it
        return Entry(pin, None, requires=pinned.requires_of(pin, self.cache_dir))

    def history_root(self, name: str | None, files: bool = False) -> Path:
        """The history of the one registry the lock's pins (of `name`) name, read by its URL
        as `--repo URL` reads it; a lock naming none or several is refused, naming them."""
        named = {identity(p.registry): p.registry for p in load(self.path).values()
                 if name is None or p.name == name}  # fmt: skip
        if len(named) != 1:
            urls = " and ".join(sorted(named.values())) or "no registry"
            raise InputError(
                f"{self.path} holds no history{f' of {name}' if name else ''}, and it names "
                f"{urls}: a lock file pins versions, and the history, lineage and diffs are "
                "the registry's",
                hint="read them from the registry: --repo URL",
            )
        url = next(iter(named.values()))
        return UrlSource(url, self.cache_dir, self.offline).history_root(name, files)

    def _closure(
        self, name: str, stage: str | None, version: str | None, options: ServeOptions
    ) -> dict[str, Pin]:
        pins = load(self.path)
        top = find(self.path, name, stage, version)
        if not options.with_requirements:
            return {top.name: top}
        return pinned.closure(self.path, pins, top, self.cache_dir)

    def serve(
        self, name: str, stage: str | None, version: str | None, *, options: ServeOptions
    ) -> dict[str, Served]:
        """The pinned bytes (with every requirement the lock pins); what happened to the pin
        since (deregistered, unassigned, deprecated, retired) is in `self.notes`: the pin is
        served all the same."""
        every = self._closure(name, stage, version, options)
        return {each: self._serve(pin, options) for each, pin in every.items()}

    def export(
        self, name: str, stage: str | None, version: str | None, out: Path, *, options: ServeOptions
    ) -> Exported:
        """The pinned model copied out of the cache, verified (exporting.export_pins); with
        requirements, each into OUT/NAME/."""
        every = self._closure(name, stage, version, options)
        whole = replace(options, full=False)
        return export_pins(every, out, lambda pin: self._serve(pin, whole), options)

    def cached(self, name: str, stage: str | None, version: str | None) -> bool:
        pin = find(self.path, name, stage, version)
        reg = RemoteRegistry(pin.registry, Cache.open(self.cache_dir))
        files = {rel: pin.files[rel] for rel in pin.selected()}
        return reg.cache.snapshot_ready(reg.key, pin.folder, files, full=True) is not None

    def _serve(self, pin: Pin, options: ServeOptions) -> Fetched:
        # The registry is asked what happened to the pin (at most every RECHECK_SECONDS) before
        # any byte is served: the policies are read at the HEAD that ask saw.
        notes: list[str] = []
        head, save = None, None
        try:
            if not self.offline:
                notes, head, save = recheck(pin, self.cache_dir)
            fetched = fetch_pin(pin, options, self.cache_dir, self.offline, head)
        except ArtregError as exc:
            raise lock_errors.explained(self.path, pin, exc) from exc
        if save is not None:
            save()
        self.notes = notes
        return fetched


def fetch_pin(
    pin: Pin,
    options: ServeOptions,
    cache_dir: Path | str | None,
    offline: bool,
    head: str | None = None,
) -> Fetched:
    """Exactly the pinned bytes, verified. The model signature (trust) and the promotion tags'
    signatures (rights.signed) are checked against the policies at the registry's HEAD when it
    was asked in this call (`head`), else against those this cache read last (HEAD is asked
    only when it never read them), so a warm call stays a stat; offline, the last read."""
    reg = RemoteRegistry(pin.registry, Cache.open(cache_dir))
    if head is None and not offline and not remote_signed.known(reg):
        head = reg.remote_refs([])[1]
    try:
        reg.check_signature(pin, head, fetch=not offline)
    except PolicyWeakened:
        # A weaker policy at HEAD is not adopted (trust_ratchet): the pin is held to the one
        # applied before, which a pin made under it still meets.
        reg.check_signature(pin, None, fetch=not offline)
    remote_signed.check(reg, pin, head)
    return materialize(reg, pin, options, offline=offline, pinned=True)


def _refuse_retired(pin: Pin, cache_dir: Path | str | None) -> None:
    reg = RemoteRegistry(pin.registry, Cache.open(cache_dir))
    refuse_retired(reg, pin, reg.remote_refs([])[1])


def add(
    path: Path,
    url: str,
    spec: str,
    cache_dir: Path | str | None = None,
    accept_moved_tag: bool = False,
) -> Pin:
    """Resolve SPEC (NAME, NAME#STAGE or NAME@vX.Y.Z) in the registry at `url` and pin it: not
    a retired folder, nor a version this cache served with other bytes (unless
    `accept_moved_tag`)."""
    name, stage, version = parse_spec(spec, any_stage=True)
    key = spec_of(name, stage, version)
    if path.exists():
        _refuse_other_registry(path, load(path).get(key), key, url)  # before asking the registry
    # A local registry is pinned as its file:// URL: the same registry from any folder.
    pin = replace(resolve_pin(url, name, stage, version, cache_dir), registry=file_url(url))
    _refuse_retired(pin, cache_dir)  # gc deletes its data: a pin of it would break
    hold = hold_version(RemoteRegistry(pin.registry, Cache.open(cache_dir)), pin, accept_moved_tag)
    with _locked(path):
        pins = load(path) if path.exists() else {}
        _refuse_other_registry(path, pins.get(key), key, url)
        pins[key] = pin
        save(path, pins)
    hold()
    return pin


def _refuse_other_registry(path: Path, pinned: Pin | None, key: str, url: str) -> None:
    """InputError when `key` is pinned from another registry than `url` (one identity per
    registry, whatever the spelling): replacing it would lose that pin without a word."""
    if pinned is not None and identity(pinned.registry) != identity(url):
        raise InputError(
            f"{path}: {key} is pinned from {pinned.registry}, not {url}: a lock file holds one "
            "pin per spec, and adding this one would drop the other registry's",
            hint=f"to replace it, `artreg lock remove {key} --file {path}`, then "
            f"`artreg lock add {url} {key} --file {path}`",
        )


def remove(path: Path, spec: str) -> Pin | None:
    """Drop the pin `spec` (as the lock file names it) from the lock file; returns it (None:
    the entry was malformed, and is dropped all the same). NotFoundError when it is not pinned."""
    with _locked(path):
        pins = load_raw(path)
        if spec not in pins:
            raise InputError(
                f"{path}: {spec} is not pinned (pinned: {', '.join(sorted(pins)) or 'nothing'})",
                hint="name the pin as the lock file does, e.g. encoder#production",
            )
        entry = pins.pop(spec)
        doc = {"lockfile_version": VERSION, "artifacts": pins}
        write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    try:
        return _pin(path, spec, entry, _path_rule())
    except InputError:
        return None


@dataclass(frozen=True)
class Change:
    """A pin the registry has moved on from (or that no longer resolves)."""

    spec: str
    pinned: Pin
    current: Pin | None
    reason: str
    moved_tag: bool = False  # the same version, other bytes: `update` needs accept_moved_tag


def changes(
    path: Path, specs: tuple[str, ...] = (), cache_dir: Path | str | None = None
) -> list[Change]:
    """Every pin (or those of `specs`) whose registry now resolves to something else."""
    pins = load(path)
    unknown = [s for s in specs if s not in pins]
    if unknown:
        raise NotFoundError(
            f"{path}: no pin for {', '.join(unknown)} (pinned: {', '.join(sorted(pins))})",
            hint="name pins as they appear in the lock file, e.g. encoder#production",
        )
    found = []
    for spec in specs or tuple(sorted(pins)):
        pin = pins[spec]
        name, stage, version = parse_spec(spec, any_stage=True)
        # The verdict `get --lock` reads next, refreshed once the registry answered (a refusal,
        # such as a weakened trust policy, leaves the cache as it was).
        try:
            now = resolve_pin(pin.registry, name, stage, version, cache_dir)
        except NotFoundError as exc:
            retractions(pin, cache_dir, fresh=True)
            found.append(Change(spec, pin, None, f"no longer resolves: {exc.message}"))
            continue
        except SignedTagRefused as exc:  # every pin is listed, not the first refusal alone
            found.append(Change(spec, pin, None, f"refused: {exc.message}"))
            continue
        retractions(pin, cache_dir, fresh=True)
        try:
            _refuse_retired(pin, cache_dir)
        except NotFoundError as exc:
            if now.folder == pin.folder:
                found.append(Change(spec, pin, None, exc.message))
            else:  # a stage moved on: the new folder is what matters, not the old one's fate
                found.append(
                    Change(
                        spec,
                        pin,
                        now,
                        f"{pin.folder} ({pin.tag}, since retired) → {now.folder} ({now.tag})",
                    )
                )
            continue
        rewrite = rewritten(pin, now)
        if rewrite is not None:
            found.append(Change(spec, pin, now, rewrite, moved_tag=True))
        elif (now.tag, now.commit, now.folder, now.files) != (
            pin.tag,
            pin.commit,
            pin.folder,
            pin.files,
        ):
            found.append(
                Change(spec, pin, now, f"{pin.folder} ({pin.tag}) → {now.folder} ({now.tag})")
            )
    return found


def update(
    path: Path,
    specs: tuple[str, ...] = (),
    cache_dir: Path | str | None = None,
    accept_moved_tag: bool = False,
) -> list[Change]:
    """Move the pins the registry has moved on from; returns the moves. Pins that no longer
    resolve, and versions whose tag was rewritten onto other bytes (unless `accept_moved_tag`),
    are an error: nothing is written."""
    moved = changes(path, specs, cache_dir)
    rewritten_versions = {(c.pinned.name, c.pinned.version) for c in moved if c.moved_tag}
    siblings = tuple(
        key
        for key, pin in load(path).items()
        if specs and key not in specs and (pin.name, pin.version) in rewritten_versions
    )
    if siblings:  # every pin of a rewritten version moves with it: one version, one set of bytes
        moved = changes(path, specs + siblings, cache_dir)
    gone = [c for c in moved if c.current is None]
    if gone:
        raise NotFoundError(
            f"{path}: " + "; ".join(f"{c.spec} {c.reason}" for c in gone),
            hint=f"remove the pin with `artreg lock remove {gone[0].spec} --file {path}`, or pin "
            "another stage or version with `artreg lock add`",
        )
    rewrites = [c for c in moved if c.moved_tag]
    if rewrites and not accept_moved_tag:
        raise IntegrityError(
            f"{path}: "
            + "; ".join(
                f"{c.spec}: the registry rewrote v{c.pinned.version}: pinned commit "
                f"{c.pinned.commit}, now commit {c.current.commit if c.current else '?'} with "
                "other bytes"
                for c in rewrites
            )
            + "; a version's bytes never change, so no pin was moved",
            hint="ask the registry's maintainers why; to take the new bytes anyway, "
            f"`artreg lock update --accept-moved-tag --file {path}`",
        )
    if moved:
        with _locked(path):
            pins = load(path)
            for change in moved:
                assert change.current is not None
                pins[change.spec] = change.current
            save(path, pins)
        for change in rewrites:  # taken explicitly: this cache now holds the version to them
            assert change.current is not None
            reg = RemoteRegistry(change.current.registry, Cache.open(cache_dir))
            hold_version(reg, change.current, True)()
    return moved


def refuse_url(path: str, spec: str | None) -> None:
    """`artreg get URL NAME --lock FILE`: the lock names the registry (InputError)."""
    if spec is not None:
        raise InputError(
            f"--lock serves what {path} pins, and the lock names the registry",
            hint=f"drop the URL: artreg get {spec} --lock {path}",
        )


def out_of_date(path: Path | str, moved: list[Change]) -> VerificationFailed:
    """`lock check`'s failure: the out-of-date pins, and the command for each kind."""
    ways = ["run `artreg lock update`"]
    if any(c.moved_tag for c in moved):
        ways.append("a rewritten tag moves only with `artreg lock update --accept-moved-tag`")
    gone = [c.spec for c in moved if c.current is None]
    if gone:
        ways.append(f"drop a pin that no longer resolves with `artreg lock remove {gone[0]}`")
    return VerificationFailed(
        f"{path}: {len(moved)} pin(s) out of date ({'; '.join(ways)})",
        [f"{c.spec}: {c.reason}" for c in moved],
    )


def summary(path: str, moved: list[Change]) -> str:
    """`lock update`'s moved pins, one line each (the text the CLI prints)."""
    return "\n".join(f"{c.spec}: {c.reason}" for c in moved) or f"{path}: every pin is current"
