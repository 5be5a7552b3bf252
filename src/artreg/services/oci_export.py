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

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters.files import check_output_path, parse_json
from artreg.adapters.git import history as githistory
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import ProgressFn
from artreg.adapters.oci import (
    REPOSITORY_RULE,
    Blob,
    Client,
    Reference,
    json_or_none,
    layout_manifest,
    parse_reference,
    valid_repository,
    write_layout,
)
from artreg.artifacts import modelpack, stagebytes
from artreg.artifacts.modelpack import Layer, Release
from artreg.errors import ArtregError, InputError, NotFoundError
from artreg.reading import outputs
from artreg.reading import resolve as reading_resolve
from artreg.reading.resolve import target
from artreg.registry import state
from artreg.registry.jsonform import fields_json
from artreg.sources import clone_fetch

PRODUCTION_TAG = "production"
# An OCI tag that names a version (vA.B.C, with a pre-release or build part or not).
_VERSION_TAG = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


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
    layout: bool = False  # written into an OCI image layout, not pushed
    notes: list[str] = field(default_factory=list)  # what the user should know (not errors)

    def summary(self) -> str:
        """One line saying what the export did."""
        moved = "written" if self.layout else "uploaded"
        there = "already in the layout" if self.layout else "already there"
        return (
            f"{self.name}@v{self.version} -> {self.target} ({', '.join(self.tags)}) "
            f"{self.digest}: {self.layers} layers, {len(self.uploaded)} blobs {moved} "
            f"({self.bytes_uploaded} B), {len(self.skipped)} {there}"
            + (f", signature {self.signature}" if self.signature else "")
            + "".join(f"\nnote: {note}" for note in self.notes)
        )

    def as_dict(self) -> dict[str, Any]:
        return fields_json(
            self, omit=["layout"], uploaded=len(self.uploaded), skipped=len(self.skipped)
        )


@dataclass(frozen=True)
class Prepared:
    """A release as a ModelPack artifact, with where each layer's bytes are."""

    resolved: reading_resolve.Resolved
    release: Release
    layers: list[Layer]
    config: Blob
    manifest: Blob
    paths: dict[str, Path]
    holds_production: bool
    production: str | None  # the version git holds in production, if any
    inline: dict[str, Blob]  # layers whose bytes are in memory (the folder's manifest.json)


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
    resolved = clone_fetch.resolve(root, name, version=version, registry=registry)
    if resolved.version is None:
        raise NotFoundError(
            f"{spec}: resolves to {resolved.folder.relpath}, which has no version",
            hint="export a released version: NAME@vX.Y.Z",
        )
    holder = registry.get(name).stage(PRODUCTION_TAG)
    production = holder.version if holder is not None and holder.registered else None
    holds = production is not None and production == resolved.version
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
    stagebytes.prefetch(root, folder, resolved.files, resolved.dvc_files)
    paths = {
        rel: stagebytes.stage_file(
            root, folder, rel, digest, dvc=rel in resolved.dvc_files, check=False, progress=progress
        )
        for rel, digest in resolved.files.items()
    }
    heads = {rel: _head(path) for rel, path in paths.items() if rel not in formats}
    files = {rel: (d.sha256, d.size) for rel, d in resolved.files.items()}
    # The folder's manifest.json travels too: a consumer holds every layer to the list it is.
    listing_path = f"{folder.relpath}/{modelpack.RELEASE_MANIFEST}"
    listing = gitread.show_file(root, resolved.commit, listing_path)
    if listing is None or modelpack.RELEASE_MANIFEST in files:
        raise NotFoundError(f"{listing_path}: not committed at {resolved.commit[:12]}")
    inline = {modelpack.RELEASE_MANIFEST: Blob(listing, modelpack.DOC)}
    files[modelpack.RELEASE_MANIFEST] = (inline[modelpack.RELEASE_MANIFEST].sha256, len(listing))
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
        resolved,
        release,
        layers,
        cfg,
        modelpack.manifest(release, layers, cfg),
        paths,
        holds,
        production,
        inline,
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(16)


def check_production(prepared: Prepared, tag: str | None) -> None:
    """Refuse writing the `production` tag for a version git does not hold in production, and
    a version tag (vA.B.C) naming another version than the one exported."""
    release = prepared.release
    if tag is not None and _VERSION_TAG.fullmatch(tag) and tag != f"v{release.version}":
        # A version tag is a promise about the bytes it names: never another version's.
        raise InputError(
            f"OCI tag {tag}: a version tag, but {release.name} is exported at "
            f"v{release.version}; consumers of {tag} would get other bytes; nothing was pushed",
            hint=f"export it under its own version tag (v{release.version}), or under a tag "
            "that is not a version; --force does not override this",
        )
    if tag == PRODUCTION_TAG and not prepared.holds_production:
        raise InputError(
            f"{release.name}@v{release.version} does not hold production in git: the OCI tag "
            f"{PRODUCTION_TAG} would point the fleet at it",
            hint=f"promote it first, or export it under its version tag (v{release.version})",
        )


def check_overwrite(
    prepared: Prepared, tag: str, existing: bytes | None, where: str, force: bool
) -> None:
    """Refuse (unless `force`) replacing what tag `tag` names when it is another artifact or
    the same version with other bytes."""
    why = (
        None
        if existing is None or force
        else modelpack.overwrite_conflict(
            existing, prepared.release, prepared.layers, moves=tag == PRODUCTION_TAG
        )
    )
    if why:
        raise InputError(
            f"{where}:{tag}: {why}; nothing was pushed",
            hint="export to a repository (or tag) of its own; to replace it anyway, pass --force",
        )


def to_registry(
    prepared: Prepared,
    ref: Reference,
    *,
    insecure: bool,
    move_production: bool = True,
    force: bool = False,
) -> Exported:
    """Push the artifact (blobs the registry lacks, config, manifest under its tags), then the
    signature referrer; first refuse overwriting a tag that holds something else."""
    check_production(prepared, ref.tag)
    client = Client(ref, insecure=insecure)
    release = prepared.release
    tags = [ref.tag or f"v{release.version}"]
    if prepared.holds_production and move_production and PRODUCTION_TAG not in tags:
        tags.append(PRODUCTION_TAG)
    for tag in tags:  # before any blob moves
        check_overwrite(prepared, tag, client.get_manifest(tag), ref.url, force)
    sizes = {layer.digest: layer.size for layer in prepared.layers}
    for layer in prepared.layers:
        if layer.path in prepared.inline:
            client.push_bytes(prepared.inline[layer.path])
        else:
            client.push_file(layer, prepared.paths[layer.path])
    client.push_bytes(prepared.config)
    # By digest first: the tags then name a manifest the registry already holds.
    client.put_manifest(prepared.manifest, prepared.manifest.digest)
    for tag in tags:
        client.put_manifest(prepared.manifest, tag)
    signature = _push_signature(client, prepared)
    sizes[prepared.config.digest] = len(prepared.config.raw)
    notes = [] if PRODUCTION_TAG in tags else _production_note(prepared, client, ref)
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
        notes=notes,
    )


def _production_note(prepared: Prepared, client: Client, ref: Reference) -> list[str]:
    """A note when the repository's production tag names another version than git's
    production (after a rollback, say): exporting this version did not move it."""
    held = json_or_none(client.get_manifest(PRODUCTION_TAG))
    if held is None:
        return []
    version = (held.get("annotations") or {}).get(modelpack.VERSION)
    want = prepared.production
    if want is not None and version == want:
        return []
    name = prepared.release.name
    git = f"git's production is v{want}" if want else "git holds no production"
    return [
        f"the OCI tag {PRODUCTION_TAG} of {ref.url} still names v{version} ({git}); production is "
        f"exported by `artreg export --all-production` or by exporting the production version"
        + (f" (artreg export {name}@v{want} --oci {ref.registry}/{ref.repository})" if want else "")
    ]


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


def check_layout_path(root: Path, out: Path) -> None:
    """Refuse a layout folder that cannot be written, or one inside a registry's work tree
    where git would track it (as `get -o` does), or inside .git or .dvc."""
    check_output_path(out, "--oci-layout", folder=True)
    real = Path(os.path.realpath(out))
    for tree in {Path(os.path.realpath(t)) for t in (root, outputs.registry_around(out)) if t}:
        for private in (tree / ".git", tree / ".dvc"):
            if real == private or private in real.parents:
                raise InputError(
                    f"--oci-layout {out}: inside {private}, which git and DVC own",
                    hint="write the layout outside the registry's clone (e.g. /tmp/encoder-oci)",
                )
        probe = [out / "index.json", out / "oci-layout", out / "blobs"]
        outputs.check_work_tree(out, probe, tree, "--oci-layout")


def to_layout(
    prepared: Prepared, out: Path, tag: str | None = None, force: bool = False
) -> Exported:
    """Write the artifact into the OCI image layout `out` (created, or added to)."""
    release = prepared.release
    name = tag or f"v{release.version}"
    check_production(prepared, name)
    check_overwrite(prepared, name, layout_manifest(out, name), f"--oci-layout {out}", force)
    files = [(la, prepared.paths[la.path]) for la in prepared.layers if la.path in prepared.paths]
    documents: list[Blob] = [prepared.config, *prepared.inline.values()]
    written = write_layout(out, prepared.manifest, documents, files, name)
    return Exported(
        release.name,
        release.version,
        str(out),
        [name],
        prepared.manifest.digest,
        len(prepared.layers),
        written.written,
        written.kept,
        written.bytes_written,
        layout=True,
    )


def export(
    root: Path,
    spec: str,
    *,
    oci: str | None = None,
    layout: Path | None = None,
    insecure: bool = False,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> list[Exported]:
    """`artreg export SPEC --oci REF` and/or `--oci-layout DIR` (`force`: replace a tag that
    holds another artifact or other bytes)."""
    if oci is None and layout is None:
        raise InputError(
            "export needs --oci REGISTRY/REPOSITORY[:TAG] or --oci-layout DIR",
            hint="e.g. artreg export encoder@v1.0.0 --oci ghcr.io/acme/encoder",
        )
    ref = parse_reference(oci) if oci is not None else None  # checked before any byte moves
    if layout is not None:
        check_layout_path(root, layout)
    prepared = prepare(root, spec, progress)
    check_production(prepared, ref.tag if ref else None)
    done = []
    if layout is not None:
        done.append(to_layout(prepared, layout, ref.tag if ref else None, force))
    if ref is not None:
        done.append(to_registry(prepared, ref, insecure=insecure, force=force))
    return done


class ExportsFailed(ArtregError):
    """Some artifacts of `--all-production` failed (each named); exit code: the worst one's."""

    def __init__(self, failures: Sequence[tuple[str, ArtregError]], total: int) -> None:
        super().__init__(
            f"{len(failures)} of {total} production exports failed: "
            + "; ".join(f"{name}: {exc.message}" for name, exc in failures),
            hint="fix what each names and run the export again: what the registry has is not "
            "sent twice",
        )
        self.exit_code = max(exc.exit_code for _, exc in failures)


def export_all_production(
    root: Path,
    base: str,
    *,
    insecure: bool = False,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> Iterator[Exported]:
    """`artreg export --all-production --oci REGISTRY/PREFIX`: each artifact's production
    version to REGISTRY/PREFIX/NAME (tags vX.Y.Z and production), yielded as it lands. CI runs
    it after a release merges; what the registry has already is not sent again. Every
    repository name is checked first; one artifact's failure does not stop the others, and
    ExportsFailed names each at the end."""
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
    targets = {name: f"{ref.repository}/{name.lower()}" for name in names}
    bad = [name for name, repo in targets.items() if not valid_repository(repo)]
    if bad:
        raise InputError(
            f"--all-production: {', '.join(bad)} cannot be OCI repository "
            f"{', '.join(repr(targets[n]) for n in bad)}: an OCI repository name is "
            f"{REPOSITORY_RULE}; nothing was exported",
            hint="export those artifacts one by one to a repository you name "
            "(artreg export NAME@vX.Y.Z --oci REGISTRY/REPOSITORY)",
        )
    failures: list[tuple[str, ArtregError]] = []
    for name in names:
        try:
            prepared = prepare(root, name, progress)
            target = Reference(ref.registry, targets[name])
            yield to_registry(prepared, target, insecure=insecure, force=force)
        except ArtregError as exc:
            failures.append((name, exc))
    if failures:
        raise ExportsFailed(failures, len(names))


def exported_names(done: Sequence[Exported]) -> list[str]:
    return [f"{e.name}@v{e.version}" for e in done]
