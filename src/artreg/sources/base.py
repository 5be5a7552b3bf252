"""What every source shares: the protocol the read commands call, the records a read answers
with (a `Pin` for a URL, a lock file or the cache; a `Local` folder for a clone), and the
helpers both need (the verify mode, the offline switch). The name's tag fingerprint is
fingerprint.py, a pinned model's export exporting.py: `list` loads neither."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from artreg.adapters import settings
from artreg.adapters.digest import FileDigest
from artreg.errors import InputError
from artreg.registry.jsonform import fields_json
from artreg.registry.layout import StageDir, model_files, model_target

if TYPE_CHECKING:
    from artreg.adapters.hashing import ProgressFn
    from artreg.reading.resolve import Resolved
    from artreg.reading.trust_ratchet import Accepted
    from artreg.sources.listing import ArtifactSummary

ENV_OFFLINE = "ARTREG_OFFLINE"
VERIFY_MODES = ("auto", "full")


def offline_setting(offline: bool | None) -> bool:
    """`offline` when given, else ARTREG_OFFLINE: read once, where the source is chosen."""
    if offline is not None:
        return offline
    return settings.offline()


ENV_URL_TTL = "ARTREG_URL_TTL"


def url_ttl() -> float:
    """Seconds a registry URL's last `git ls-remote` answers again inside one process
    (ARTREG_URL_TTL, default 0: every read asks the registry)."""
    raw = settings.url_ttl()
    try:
        ttl = float(raw) if raw else 0.0
    except ValueError:
        ttl = -1.0
    if not ttl >= 0:  # also NaN
        raise InputError(
            f"{ENV_URL_TTL}={raw!r} is not a number of seconds",
            hint=f"set {ENV_URL_TTL} to 0 (ask every time) or a number of seconds, or unset it",
        )
    return ttl


def check_verify(verify: str) -> bool:
    """`verify="auto"` trusts unchanged files' records; `"full"` rehashes. Returns full."""
    if verify not in VERIFY_MODES:
        raise InputError(f"verify={verify!r} is not a mode", hint="use 'auto' or 'full'")
    return verify == "full"


def tag_patterns(names: Sequence[str]) -> list[str]:
    """Ref patterns of the names' tags (all of GTO's kinds: NAME#…, NAME@…)."""
    return [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"]


# --- what a name resolved to -----------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One resolution of a name in a registry: the tag, commit, folder and every file's sha256.
    Stored as the last answer (offline mode) and as a lock-file entry."""

    registry: str
    name: str
    stage: str | None
    version: str | None
    tag: str
    commit: str
    folder: str
    primary: str
    files: dict[str, FileDigest]
    dvc_files: frozenset[str]
    fingerprint: str = ""  # the name's tags when it was resolved

    @property
    def spec(self) -> str:
        if self.stage:
            return f"{self.name}#{self.stage}"
        return f"{self.name}@v{(self.version or '').removeprefix('v')}"

    @property
    def stage_folder(self) -> str:
        """The stage of the pinned folder (whose trust rule applies), not the stage asked for."""
        folder = StageDir.parse(self.folder)
        return folder.stage if folder is not None else (self.stage or "")

    def selected(self) -> list[str]:
        """What a consumer gets: the model file(s) and the metadata, nothing else."""
        chosen = self.model_files()
        return chosen + (["metadata.json"] if "metadata.json" in self.files else [])

    def model_files(self) -> list[str]:
        return model_files(self.primary, self.files)

    @classmethod
    def of(cls, resolved: Resolved, registry: str, fingerprint: str) -> Pin:
        """A resolution as a pin of `registry` (a URL, or a clone's path), bound to the tags
        `fingerprint` digests."""
        return cls(
            registry=registry,
            name=resolved.name,
            stage=resolved.stage,
            version=resolved.version,
            tag=resolved.tag,
            commit=resolved.commit,
            folder=resolved.folder.relpath,
            primary=resolved.primary,
            files=dict(resolved.files),
            dvc_files=resolved.dvc_files,
            fingerprint=fingerprint,
        )

    def to_json(self) -> dict[str, Any]:
        return fields_json(
            self,
            omit=["primary", "dvc_files", "fingerprint"],
            model=self.primary,
            files={
                rel: {
                    "sha256": d.sha256,
                    "size": d.size,
                    **({"dvc": True} if rel in self.dvc_files else {}),
                }
                for rel, d in sorted(self.files.items())
            },
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any], fingerprint: str = "") -> Pin:
        files = data["files"]
        return cls(
            registry=str(data["registry"]),
            name=str(data["name"]),
            stage=data.get("stage"),
            version=data.get("version"),
            tag=str(data["tag"]),
            commit=str(data["commit"]),
            folder=str(data["folder"]),
            primary=str(data["model"]),
            files={rel: FileDigest(str(e["sha256"]), int(e["size"])) for rel, e in files.items()},
            dvc_files=frozenset(rel for rel, e in files.items() if e.get("dvc")),
            fingerprint=fingerprint,
        )


def load_pin(data: Any) -> Pin | None:
    """A recorded answer (with its fingerprint), or None for a record that is absent or
    unreadable: then the name is resolved again."""
    try:
        return (
            Pin.from_json(data, str(data.get("fingerprint", "")))
            if isinstance(data, dict)
            else None
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class Fetched:
    """A pin's files as a verified snapshot in the consumer cache."""

    pin: Pin
    snapshot: Path
    downloaded: int  # files whose bytes came from a remote in this call

    @property
    def path(self) -> Path:
        folder = StageDir.parse(self.pin.folder)
        return self.snapshot / model_target(folder.stage if folder else "", self.pin.primary)


@dataclass(frozen=True)
class Local:
    """A resolved folder in a clone's work tree, verified (and pulled) in place."""

    root: Path
    resolved: Resolved
    fetched: int = 0  # objects DVC fetched for it in this call

    @property
    def path(self) -> Path:
        return self.root / self.resolved.model


Served = Fetched | Local
Exported = list[tuple[Served, list[Path]]]  # what `export` served, and the files it wrote


@dataclass(frozen=True)
class Listing:
    """`artreg list`: the summaries, with what to say on stderr and around the table."""

    data: dict[str, ArtifactSummary]
    heading: str = ""
    suffix: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """`artreg show NAME@vX|NAME#STAGE`: what it resolves to and its signature's status."""

    found: Served | Pin
    signature: dict[str, Any] | None
    retired: str = ""
    requires: tuple[str, ...] = ()  # NAME@vX.Y.Z its tag says it needs (a pin's; a clone's
    # resolution carries its own)
    deprecated: str = ""  # the tag that deprecated the name: shown, never served
    signer: dict[str, Any] | None = None  # a clone's: git's verdict on its tag's signature
    deregistered: str = ""  # the tag that deregistered the version: shown, never served


class RegistrySource(Protocol):
    """Where a registry is read from, decided once by `sources.locate.open_source`; every read
    command calls one of these and renders what it returns."""

    kind: str  # "clone", "url", "lock" or "offline"
    label: str  # the path or URL, for messages
    root: Path | None  # a clone's work tree (the CLI's error reports name it), else None
    notes: list[str]  # what the last read has to say aloud (a lock pin retracted since)

    def prepare(self, tags: bool = True) -> str | None:
        """Fetch what a shallow or tagless clone lacks; the note saying so, if anything was."""
        ...

    def accept_trust(self) -> Accepted:
        """Record the trust policy at the registry's HEAD as the one applied, weaker or not."""
        ...

    def address(self) -> str:
        """The registry's address as a lock file pins it (`lock add`): a clone's path or a
        registry URL; a lock file or an OCI repository is no registry to pin (InputError)."""
        ...

    def overview(self, *, deprecated: bool = False, as_of: str | None = None) -> Listing:
        """Every name, its latest version and what each stage holds."""
        ...

    def show(self, name: str) -> ArtifactSummary:
        """One name: every stage, each folder's signature status."""
        ...

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        """What `name` at a stage or version resolves to, with its signature's status."""
        ...

    def serve(
        self,
        name: str,
        stage: str | None,
        version: str | None,
        *,
        options: ServeOptions,
    ) -> dict[str, Served]:
        """The verified model of `name` (and, `options.with_requirements`, of everything it
        requires), by name."""
        ...

    def export(
        self, name: str, stage: str | None, version: str | None, out: Path, *, options: ServeOptions
    ) -> Exported:
        """`serve`, then the model files copied into `out` (each requirement into OUT/NAME/)."""
        ...

    def cached(self, name: str, stage: str | None, version: str | None) -> bool:
        """True if what `name` resolves to is present here, every byte rehashed and matching;
        nothing is fetched."""
        ...

    def history_root(self, name: str | None, files: bool = False) -> Path:
        """A git repository holding the registry's tags of `name` (None: of every name) and
        its history, with the committed files at each commit when `files` (a clone's own; a
        URL's cache repository, fetched): for `history`, `log`, `lineage` and `diff`."""
        ...


@dataclass(frozen=True)
class ServeOptions:
    """How a read is served: fetch absent bytes or refuse, how hard to verify, which remote."""

    pull: bool = True  # fetch absent bytes (False: refuse with the command that fetches them)
    check: bool = True  # verify the bytes (False: `resolve --no-verify` in a clone)
    full: bool = False  # rehash every byte rather than trust unchanged files' records
    records: bool = True  # keep verification records (the CLI's clone reads rehash)
    remote: str | None = None
    remote_config: Mapping[str, str] | None = None
    as_of: Any = None  # a date, ISO time, datetime or commit: the tags that existed then
    with_requirements: bool = False
    accept_moved_tag: bool = False
    progress: ProgressFn | None = None
