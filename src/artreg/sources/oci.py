"""An OCI repository (`oci://REGISTRY/REPOSITORY`) as a registry source: `get_artifact_path(NAME,
repo="oci://...")`, `artreg get oci://... NAME[@vX.Y.Z] -o DIR` and `artreg show oci://...
NAME@vX.Y.Z` read a ModelPack artifact that `artreg export --oci` wrote, without git or DVC.

The manifest is checked before any layer is fetched (oci_pull.py); each layer goes through the
machine's consumer cache, hashed while it is stored and refused unless its sha256 is the layer's
digest, so a tampered blob never reaches a snapshot. The answer is a `Pin` like a registry
URL's (the registry is the oci:// URL, the commit the manifest's revision), recorded in the cache
so that offline (ARTREG_OFFLINE=1) the last resolution and its snapshot answer again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from artreg.adapters.hashing import FileDigest
from artreg.adapters.oci import parse_reference
from artreg.artifacts import modelpack
from artreg.errors import InputError, IntegrityError, NotFoundError
from artreg.reading.cache import Cache, registry_key
from artreg.reading.fetch import copy_verified, export_targets
from artreg.reading.resolve import check_spec, selector, spec_of
from artreg.registry.layout import production_dir
from artreg.sources.base import (
    ENV_OFFLINE,
    Entry,
    Fetched,
    Listing,
    Pin,
    Served,
    ServeOptions,
    load_pin,
)
from artreg.sources.oci_pull import (
    ENV_TRUSTED_KEYS,
    Found,
    check_signature,
    hold_version,
    resolve,
    trusted_key_files,
)

if TYPE_CHECKING:
    from artreg.reading.trust_ratchet import Accepted
    from artreg.sources.listing import ArtifactSummary


class OciSource:
    """An OCI repository holding one artifact's released versions, `production` its tag for
    the production stage (`offline`: the cache's last answers alone)."""

    root: Path | None = None

    def __init__(
        self,
        url: str,
        cache_dir: Path | str | None,
        *,
        offline: bool = False,
        insecure: bool = False,
    ) -> None:
        ref = parse_reference(url, "repo")
        if ref.tag:
            raise InputError(
                f"{url}: name the repository without a tag",
                hint="choose the version with version= (or NAME@vX.Y.Z)",
            )
        self.url = ref.url
        self.cache = Cache.open(cache_dir)
        self.key = registry_key(self.url)
        self.offline = offline
        self.insecure = insecure
        self.kind = "oci"
        self.label = self.url
        self.notes: list[str] = []

    # --- what an OCI repository cannot answer ----------------------------------------------

    def _refuse(self, what: str) -> NoReturn:
        raise InputError(
            f"{self.label}: {what} reads a git registry; an OCI repository answers `get`, "
            "`resolve` and `show NAME@vX.Y.Z` (or NAME#production) for the artifact it holds",
            hint="run it in a clone of the registry, or with its git URL",
        )

    def prepare(self, tags: bool = True) -> str | None:
        return None  # each read asks the repository for the one manifest it needs

    def address(self) -> str:
        self._refuse("`lock add`")

    def accept_trust(self) -> Accepted:
        raise InputError(
            f"{self.label}: an OCI repository carries no trust policy to accept; the consumer's "
            f"is {ENV_TRUSTED_KEYS} (PEM public keys whose model signature it requires)",
            hint=f"set {ENV_TRUSTED_KEYS} to the keys you trust",
        )

    def overview(self, *, deprecated: bool = False, as_of: str | None = None) -> Listing:
        self._refuse("`list`")

    def show(self, name: str) -> ArtifactSummary:
        self._refuse(f"`show {name}` (every stage and version)")

    def history_root(self, name: str | None, files: bool = False) -> Path:
        self._refuse("`history`, `log`, `lineage` and `diff`")

    # --- resolving ----------------------------------------------------------------------

    def _pin(
        self,
        name: str,
        stage: str | None,
        version: str | None,
        accept_moved_tag: bool = False,
    ) -> tuple[Pin, Found | None, Callable[[], None]]:
        """What `name` resolves to, its signature checked and its version held to the bytes
        this cache served before; offline, the last answer. With the function that records a
        new answer once it is served."""
        name, stage, version = check_spec(name, stage, version)
        record = self.cache.resolution(self.key, name, selector(stage, version))
        if self.offline:
            last = load_pin(self.cache.read_json(record))
            if last is None:
                raise NotFoundError(
                    f"offline: {spec_of(name, stage, version)} of {self.url} was never resolved "
                    f"with the cache {self.cache.root}",
                    hint=f"run once online (unset {ENV_OFFLINE})",
                )
            return last, None, lambda: None
        found = resolve(self.url, name, stage, version, insecure=self.insecure)
        check_signature(found, trusted_key_files())
        pin = pin_of(found, stage, version)
        hold = hold_version(self.cache, found, accept_moved_tag)  # before any layer is fetched

        def save() -> None:
            self.cache.write_json(record, {**pin.to_json(), "fingerprint": pin.fingerprint})
            hold()

        return pin, found, save

    def entry(self, name: str, stage: str | None, version: str | None) -> Entry:
        """The manifest's pin (no layer fetched); its signature checked when one is required."""
        pin, _, _ = self._pin(name, stage, version)
        return Entry(pin, None)

    def cached(self, name: str, stage: str | None, version: str | None) -> bool:
        pin, _, _ = self._pin(name, stage, version)
        return self.cache.snapshot_ready(self.key, pin.folder, pin.files, full=True) is not None

    # --- the model's bytes ---------------------------------------------------------------

    def _check(self, options: ServeOptions) -> None:
        if options.with_requirements:
            raise InputError(
                f"{self.label}: an OCI repository holds one artifact, not what it requires",
                hint="get each requirement from its own repository, or read the git registry",
            )
        if options.as_of is not None:
            self._refuse("as_of= (the registry's history)")
        if options.remote is not None or options.remote_config:
            self._refuse("--remote/--remote-config (a DVC remote)")

    def serve(
        self, name: str, stage: str | None, version: str | None, *, options: ServeOptions
    ) -> dict[str, Served]:
        self._check(options)
        pin, found, save = self._pin(name, stage, version, options.accept_moved_tag)
        fetched = self._materialize(pin, found, options)
        save()
        return {pin.name: fetched}

    def export(
        self,
        name: str,
        stage: str | None,
        version: str | None,
        out: Path,
        *,
        options: ServeOptions,
    ) -> list[tuple[Served, list[Path]]]:
        """The model file(s) copied out of the cache, verified; the targets are checked before
        any layer is fetched, so a refusal leaves nothing behind."""
        self._check(options)
        pin, found, save = self._pin(name, stage, version, options.accept_moved_tag)
        targets = export_targets(out, pin.primary, pin.files)
        fetched = self._materialize(pin, found, options)
        save()
        written = copy_verified(fetched.snapshot, targets, pin.files, options.progress, out=out)
        return [(fetched, written)]

    def _materialize(self, pin: Pin, found: Found | None, options: ServeOptions) -> Fetched:
        """The artifact's files as a verified snapshot in the consumer cache, each layer
        fetched only when the cache lacks it and stored only if its sha256 is the digest."""
        snap = self._ready(pin, options.full)
        if snap is not None:
            return Fetched(pin, snap, 0)
        if found is None:
            raise NotFoundError(
                f"offline: {pin.spec} of {self.url} is manifest {pin.fingerprint}, but its "
                f"files are not in the cache {self.cache.root}",
                hint=f"run once online (unset {ENV_OFFLINE}) to fetch them",
            )
        client = found.client

        def source(rel: str) -> Callable[[], contextlib.AbstractContextManager[IO[bytes]]]:
            return lambda: client.open_blob(f"sha256:{pin.files[rel].sha256}")

        with self.cache.building(), self.cache.lock("snapshot", f"{self.key}/{pin.folder}"):
            info = {
                "name": pin.name,
                "version": pin.version,
                "registry": self.url,
                "manifest": found.digest,
            }
            snap, downloaded = self.cache.build_snapshot(
                self.key, pin.folder, pin.files, source, info, options.progress
            )
        return Fetched(pin, snap, downloaded)

    def _ready(self, pin: Pin, full: bool) -> Path | None:
        try:
            return self.cache.snapshot_ready(self.key, pin.folder, pin.files, full)
        except IntegrityError:  # altered in the cache: fetched again (once) when online
            if self.offline:
                raise
            return None


def pin_of(found: Found, stage: str | None, version: str | None) -> Pin:
    """The manifest as a registry source's answer: the oci:// URL, the OCI tag, the release
    commit (the revision annotation), its production folder and every layer's sha256 and size."""
    artifact = found.artifact
    return Pin(
        registry=found.url,
        name=artifact.name,
        stage=None if version else (stage or "production"),
        version=artifact.version,
        tag=found.tag,
        commit=artifact.revision,
        folder=production_dir(artifact.name, artifact.version).relpath,
        primary=artifact.primary,
        # The release's manifest.json is what the layers were checked against, not a model file
        # (a git registry's folder lists it nowhere either).
        files={
            rel: FileDigest(sha, size)
            for rel, (sha, size) in artifact.files.items()
            if rel != modelpack.RELEASE_MANIFEST
        },
        dvc_files=frozenset(),
        fingerprint=found.digest,
    )
