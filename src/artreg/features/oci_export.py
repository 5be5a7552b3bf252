"""`artreg export NAME@vX.Y.Z --oci REGISTRY/REPOSITORY[:TAG]` (or `--oci-layout DIR`): a
release as a CNCF ModelPack artifact, for registries that serve fleets (Harbor, distribution,
ECR, GHCR, Artifactory) and for Kubernetes image volumes and KServe's oci:// storage.

The release is resolved by its tags and read as committed: the layers are its manifest's files,
their digests the sha256s that manifest records, their bytes the stage folder's (or the DVC
cache's, fetched when absent). Nothing is hashed here: the registry checks every upload's digest,
and the layout writer hashes each file once while copying it. Exporting the version that holds
production also moves the repository's `production` tag; a model.sig travels as a referrer of
the manifest (through the referrers tag schema, which every registry serves).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg import modelpack
from artreg.adapters.files import parse_json
from artreg.adapters.git import history as githistory
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import ProgressFn
from artreg.errors import InputError, NotFoundError
from artreg.features import fetch
from artreg.modelpack import Blob, Layer, Release
from artreg.ociclient import Client, Reference, json_or_none, parse_reference, write_layout
from artreg.reading.resolve import target
from artreg.sources import state

PRODUCTION_TAG = "production"


@dataclass
class Exported:
    """What one export did."""

    name: str
    version: str
    target: str  # REGISTRY/REPOSITORY or the layout folder
    tags: list[str]
    digest: str  # the manifest's
    layers: int
    uploaded: list[str] = field(default_factory=list)  # digests of the blobs sent
    skipped: list[str] = field(default_factory=list)  # digests the registry had already
    bytes_uploaded: int = 0
    signature: str | None = None  # the referrer's digest

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "target": self.target,
            "tags": self.tags,
            "digest": self.digest,
            "layers": self.layers,
            "uploaded": len(self.uploaded),
            "skipped": len(self.skipped),
            "bytes_uploaded": self.bytes_uploaded,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class Prepared:
    """A release as a ModelPack artifact, with where each layer's bytes are."""

    resolved: fetch.Resolved
    release: Release
    layers: list[Layer]
    config: Blob
    manifest: Blob
    paths: dict[str, Path]
    holds_production: bool


def _source_url(root: Path) -> str:
    remote = githistory.upstream_remote(root)
    url = gitrun.config_value(root, f"remote.{remote}.url") if remote else ""
    # Never publish credentials a remote URL may embed (https://user:token@host/...).
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url)


def prepare(root: Path, spec: str, progress: ProgressFn | None = None) -> Prepared:
    """Resolve NAME@vX.Y.Z (or NAME: its production version) and build its artifact."""
    name, stage, version = target(spec, None, None)
    if stage not in (None, PRODUCTION_TAG):
        raise InputError(
            f"{spec}: only released versions are exported, not stage {stage!r}",
            hint="export NAME@vX.Y.Z, or NAME for the version in production",
        )
    registry = state.load(root, [name], folders="none")
    resolved = fetch.resolve(root, name, version=version, registry=registry)
    if resolved.version is None:
        raise NotFoundError(
            f"{spec}: resolves to {resolved.folder.relpath}, which has no version",
            hint="export a released version: NAME@vX.Y.Z",
        )
    holder = registry.get(name).stage(PRODUCTION_TAG)
    holds = holder is not None and holder.registered and holder.version == resolved.version
    meta_raw = gitread.show_file(root, resolved.commit, f"{resolved.folder.relpath}/metadata.json")
    meta = (
        parse_json(meta_raw.decode(), f"{resolved.folder.relpath}/metadata.json")
        if meta_raw
        else {}
    )
    model = meta.get("model") if isinstance(meta, dict) else None
    # The formats release detected from each model file's content (a folder's config and
    # tokenizer files have none); a file without one is classified by its name and magic.
    formats = {
        str(f["path"]): str(f["content_format"])
        for f in (model or {}).get("files", [])
        if isinstance(f, dict) and "path" in f and f.get("content_format")
    }
    folder = resolved.folder
    fetch.prefetch(root, folder, resolved.files, resolved.dvc_files)
    paths = {
        rel: fetch.stage_file(
            root, folder, rel, digest, dvc=rel in resolved.dvc_files, check=False, progress=progress
        )
        for rel, digest in resolved.files.items()
    }
    heads = {rel: _head(path) for rel, path in paths.items() if rel not in formats}
    files = {rel: (d.sha256, d.size) for rel, d in resolved.files.items()}
    layers = modelpack.layers(files, formats, heads)
    approval = meta.get("approval") if isinstance(meta, dict) else None
    created_by = meta.get("created_by", "") if isinstance(meta, dict) else ""
    release = Release(
        name=name,
        version=resolved.version,
        revision=resolved.commit,
        primary=resolved.primary,
        created_at=str(meta.get("created_at", "")) if isinstance(meta, dict) else "",
        authors=(str(created_by),) if created_by else (),
        approver=str((approval or {}).get("approved_by", "")),
        source=_source_url(root),
        format=formats.get(resolved.primary, "") or next(iter(formats.values()), ""),
    )
    cfg = modelpack.config(release, layers)
    return Prepared(
        resolved, release, layers, cfg, modelpack.manifest(release, layers, cfg), paths, holds
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(16)


def to_registry(
    prepared: Prepared, ref: Reference, *, insecure: bool, move_production: bool = True
) -> Exported:
    """Push the artifact (blobs the registry lacks, config, manifest under its tags), then the
    signature referrer."""
    client = Client(ref, insecure=insecure)
    release = prepared.release
    sizes = {layer.digest: layer.size for layer in prepared.layers}
    for layer in prepared.layers:
        client.push_file(layer, prepared.paths[layer.path])
    client.push_bytes(prepared.config)
    tags = [ref.tag or f"v{release.version}"]
    if prepared.holds_production and move_production and PRODUCTION_TAG not in tags:
        tags.append(PRODUCTION_TAG)
    # By digest first: the tags then name a manifest the registry already holds.
    client.put_manifest(prepared.manifest, prepared.manifest.digest)
    for tag in tags:
        client.put_manifest(prepared.manifest, tag)
    signature = _push_signature(client, prepared)
    sizes[prepared.config.digest] = len(prepared.config.raw)
    return Exported(
        release.name,
        release.version,
        f"{ref.registry}/{ref.repository}",
        tags,
        prepared.manifest.digest,
        len(prepared.layers),
        client.uploaded,
        client.skipped,
        sum(sizes.get(d, 0) for d in client.uploaded),
        signature,
    )


def _push_signature(client: Client, prepared: Prepared) -> str | None:
    sig = next((la for la in prepared.layers if la.path == modelpack.SIGNATURE_FILE), None)
    if sig is None:
        return None
    referrer = modelpack.signature_manifest(prepared.manifest, sig, prepared.release.created_at)
    client.push_bytes(Blob(modelpack.EMPTY_BLOB, modelpack.EMPTY_MEDIA_TYPE))
    client.put_manifest(referrer, referrer.digest)
    tag = modelpack.referrers_tag(prepared.manifest.digest)
    existing = json_or_none(client.get_manifest(tag))
    index = modelpack.referrers_index(existing, referrer, modelpack.SIGNATURE_ARTIFACT_TYPE)
    client.put_manifest(index, tag)
    return referrer.digest


def to_layout(prepared: Prepared, out: Path, tag: str | None = None) -> Exported:
    """Write the artifact into the OCI image layout `out` (created, or added to)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--oci-layout {out}: exists and is not a folder", hint="name a folder")
    release = prepared.release
    name = tag or f"v{release.version}"
    files = [(layer, prepared.paths[layer.path]) for layer in prepared.layers]
    documents: list[Blob] = [prepared.config]
    write_layout(out, prepared.manifest, documents, files, name)
    return Exported(
        release.name,
        release.version,
        str(out),
        [name],
        prepared.manifest.digest,
        len(prepared.layers),
    )


def export(
    root: Path,
    spec: str,
    *,
    oci: str | None = None,
    layout: Path | None = None,
    insecure: bool = False,
    progress: ProgressFn | None = None,
) -> list[Exported]:
    """`artreg export SPEC --oci REF` and/or `--oci-layout DIR`."""
    if oci is None and layout is None:
        raise InputError(
            "export needs --oci REGISTRY/REPOSITORY[:TAG] or --oci-layout DIR",
            hint="e.g. artreg export encoder@v1.0.0 --oci ghcr.io/acme/encoder",
        )
    ref = parse_reference(oci) if oci is not None else None  # checked before any byte moves
    prepared = prepare(root, spec, progress)
    done = []
    if layout is not None:
        done.append(to_layout(prepared, layout, ref.tag if ref else None))
    if ref is not None:
        done.append(to_registry(prepared, ref, insecure=insecure))
    return done


def export_all_production(
    root: Path, base: str, *, insecure: bool = False, progress: ProgressFn | None = None
) -> list[Exported]:
    """`artreg export --all-production --oci REGISTRY/PREFIX`: each artifact's production
    version to REGISTRY/PREFIX/NAME (tags vX.Y.Z and production). CI runs it after a release
    merges; what the registry has already is not sent again."""
    ref = parse_reference(base)
    if ref.tag:
        raise InputError(
            f"--oci {base}: with --all-production, name a repository prefix without a tag",
            hint="each artifact goes to PREFIX/NAME, tagged vX.Y.Z and production",
        )
    registry = state.load(root, folders="none")
    names = sorted(
        name
        for name, artifact in registry.artifacts.items()
        if not artifact.deprecated
        and (holder := artifact.stage(PRODUCTION_TAG)) is not None
        and holder.registered
    )
    done = []
    for name in names:
        target = Reference(ref.registry, f"{ref.repository}/{name.lower()}")
        done.append(to_registry(prepare(root, name, progress), target, insecure=insecure))
    return done


def exported_names(done: Sequence[Exported]) -> list[str]:
    return [f"{e.name}@v{e.version}" for e in done]
