"""A release as a CNCF ModelPack artifact (github.com/modelpack/model-spec): media types, the
layer of each file, the model config and the OCI manifest, built from what the release's
committed manifest and metadata already say, so no byte is hashed again (a raw layer's digest is
the file's sha256). Pure: no I/O, no network; adapters/oci.py moves the bytes.

It also reads such a manifest back for a consumer (`parse`), refusing one that is not a
ModelPack artifact, names another artifact, or lays a file outside its folder.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from artreg.adapters.oci import INDEX_MEDIA_TYPE, Blob
from artreg.errors import IntegrityError

ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.cncf.model.config.v1+json"
WEIGHT = "application/vnd.cncf.model.weight.v1.raw"
WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw"
DOC = "application/vnd.cncf.model.doc.v1.raw"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
# A model.sig is a sigstore bundle (model_signing writes one); as a referrer it is the one layer
# of a manifest whose config is OCI's empty descriptor, as the image spec's artifact guidance says.
SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BLOB = b"{}"

FILEPATH = "org.cncf.model.filepath"
TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"
REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"
CREATED = "org.opencontainers.image.created"
AUTHORS = "org.opencontainers.image.authors"
# artreg's own keys: who approved the release, and which file (or folder) is the model.
APPROVER = "io.artreg.approved-by"
PRIMARY = "io.artreg.model"

SIGNATURE_FILE = "model.sig"
# The release folder's own manifest travels as a layer: a consumer holds every other layer's
# path, size and sha256 to it. It is read whole, so up to this size (a few KB per file listed).
RELEASE_MANIFEST = "manifest.json"
RELEASE_MANIFEST_LIMIT = 16 << 20
# A consumer reads a config up to this size: artreg's are a few kilobytes.
CONFIG_LIMIT = 1 << 20
# The version a consumer reads from a manifest names a cache folder: semver, nothing else.
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")

# The configuration files of a model (ModelPack's weight.config): Hugging Face's names.
_WEIGHT_CONFIG_NAMES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "tokenizer.model",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "preprocessor_config.json",
        "adapter_config.json",
    }
)


def sniff_format(head: bytes) -> str | None:
    """The model format a file's first 16 bytes announce by magic number (GGUF, a torch.save
    zip or legacy pickle, safetensors' little-endian header length followed by `{`), else None.
    A cheap second look for model files the release's metadata does not list."""
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80\x02\x8a\x0a"):
        return "pytorch"
    if len(head) >= 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < 10**8:
        return "safetensors"
    return None


def classify(rel: str, model_formats: Mapping[str, str], head: bytes = b"") -> str:
    """ModelPack's raw media type for file `rel` of a release: a model file (by the format
    detected from its content at release, or its magic number) is a weight; a model's
    configuration or tokenizer file is weight.config; everything else is documentation."""
    if rel in model_formats or sniff_format(head) is not None:
        return WEIGHT
    base = posixpath.basename(rel)
    if base in _WEIGHT_CONFIG_NAMES or base.endswith(".safetensors.index.json"):
        return WEIGHT_CONFIG
    if base.startswith("tokenizer"):
        return WEIGHT_CONFIG
    return DOC


@dataclass(frozen=True)
class Layer:
    """One file of the release as a raw layer."""

    path: str  # relative to the release folder
    sha256: str
    size: int
    media_type: str

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"

    def descriptor(self) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
            "annotations": {FILEPATH: self.path, TITLE: self.path},
        }


@dataclass(frozen=True)
class Release:
    """What the artifact says about the release (from its tag and committed metadata)."""

    name: str
    version: str
    revision: str  # the release tag's commit
    primary: str  # the model file or folder, relative to the release folder
    created_at: str = ""
    authors: tuple[str, ...] = ()
    approver: str = ""
    source: str = ""  # the registry's git URL, when known
    format: str = ""  # the model's format (safetensors, onnx, gguf, pytorch)


def _dump(doc: Mapping[str, Any]) -> bytes:
    # One canonical serialisation, so an unchanged release exports byte-identical documents.
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def layers(
    files: Mapping[str, tuple[str, int]],
    model_formats: Mapping[str, str],
    heads: Mapping[str, bytes] | None = None,
) -> list[Layer]:
    """A layer per file (rel -> (sha256, size)), in path order."""
    heads = heads or {}
    return [
        Layer(rel, sha, size, classify(rel, model_formats, heads.get(rel, b"")))
        for rel, (sha, size) in sorted(files.items())
    ]


def config(release: Release, layers: Sequence[Layer]) -> Blob:
    """The model config (`application/vnd.cncf.model.config.v1+json`)."""
    descriptor: dict[str, Any] = {
        "name": release.name,
        "version": release.version,
        "revision": release.revision,
    }
    if release.created_at:
        descriptor["createdAt"] = release.created_at
    if release.authors:
        descriptor["authors"] = list(release.authors)
    if release.source:
        descriptor["sourceURL"] = release.source
    doc = {
        "descriptor": descriptor,
        "config": {"format": release.format} if release.format else {},
        # Raw layers are uncompressed, so each DiffID is the layer's digest.
        "modelfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
    }
    return Blob(_dump(doc), CONFIG_MEDIA_TYPE)


def manifest_annotations(release: Release) -> dict[str, str]:
    found = {
        TITLE: release.name,
        VERSION: release.version,
        REVISION: release.revision,
        PRIMARY: release.primary,
        SOURCE: release.source,
        CREATED: release.created_at,
        AUTHORS: ", ".join(release.authors),
        APPROVER: release.approver,
    }
    return {k: v for k, v in found.items() if v}


def manifest(release: Release, layers: Sequence[Layer], cfg: Blob) -> Blob:
    """The OCI image manifest of the artifact (artifactType: ModelPack's)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": cfg.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
        "annotations": manifest_annotations(release),
    }
    return Blob(_dump(doc), MANIFEST_MEDIA_TYPE)


def signature_manifest(subject: Blob, signature: Layer, created: str = "") -> Blob:
    """The referrer that carries model.sig: one layer, OCI's empty config, `subject` the model's
    manifest."""
    empty = Blob(EMPTY_BLOB, EMPTY_MEDIA_TYPE)
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": SIGNATURE_ARTIFACT_TYPE,
        "config": empty.descriptor(),
        "layers": [
            {
                "mediaType": SIGNATURE_ARTIFACT_TYPE,
                "digest": signature.digest,
                "size": signature.size,
                "annotations": {TITLE: SIGNATURE_FILE},
            }
        ],
        "subject": subject.descriptor(),
    }
    if created:
        doc["annotations"] = {CREATED: created}
    return Blob(_dump(doc), MANIFEST_MEDIA_TYPE)


def referrers_tag(digest: str) -> str:
    """The tag of the referrers tag schema (OCI distribution spec 1.1) for a registry without
    the referrers API: `sha256-<hex>`."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}"


def referrers_index(existing: Mapping[str, Any] | None, referrer: Blob, artifact_type: str) -> Blob:
    """The image index under the referrers tag, with `referrer` added (once) to what it held."""
    manifests = [
        m for m in (existing or {}).get("manifests", []) if m.get("digest") != referrer.digest
    ]
    manifests.append(referrer.descriptor(artifactType=artifact_type))
    doc = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests}
    return Blob(_dump(doc), INDEX_MEDIA_TYPE)


# --- reading an artifact back ----------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """A ModelPack manifest as a consumer checks it."""

    name: str
    version: str
    revision: str
    primary: str
    files: dict[str, tuple[str, int]]  # rel -> (sha256, size), in the manifest's layer order
    config: str = ""  # the config blob's digest
    media_types: dict[str, str] = field(default_factory=dict)  # rel -> the layer's media type

    def model_files(self) -> list[str]:
        """The layers a model loader reads: weights and their configuration, by media type or
        by name (a config.json labelled as documentation is still read as configuration)."""
        return [
            rel
            for rel in self.files
            if self.media_types.get(rel) in (WEIGHT, WEIGHT_CONFIG) or classify(rel, {}) != DOC
        ]


def _safe_path(rel: Any, where: str) -> str:
    parts = rel.split("/") if isinstance(rel, str) else []
    if not parts or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise IntegrityError(
            f"{where}: layer file path {rel!r} is not a relative path inside the model folder",
            hint="the artifact was not made by artreg or was altered; do not use it",
        )
    return str(rel)


def parse(raw: bytes, where: str, name: str) -> Artifact:
    """The artifact `raw` (a manifest's bytes) describes, checked: a ModelPack manifest whose
    title is `name`, every layer a sha256 digest with a safe file path (else IntegrityError)."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise IntegrityError(f"{where}: the manifest is not JSON ({exc})") from exc
    if _is_index(doc):
        raise IntegrityError(
            f"{where}: an image index, not a ModelPack manifest",
            hint="point at a tag `artreg export --oci` wrote (vX.Y.Z or production)",
        )
    if not isinstance(doc, dict) or doc.get("artifactType") != ARTIFACT_TYPE:
        got = doc.get("artifactType") if isinstance(doc, dict) else None
        raise IntegrityError(
            f"{where}: not a ModelPack artifact (artifactType {got!r}, expected {ARTIFACT_TYPE})",
            hint="point at a repository that `artreg export --oci` wrote",
        )
    notes = doc.get("annotations") or {}
    title = notes.get(TITLE)
    if title != name:
        raise IntegrityError(
            f"{where}: the manifest's {TITLE} is {title!r}, not {name!r}: it holds another "
            "artifact",
            hint=f"check the repository: {name} was exported to a repository of its own",
        )
    files: dict[str, tuple[str, int]] = {}
    media_types: dict[str, str] = {}
    for i, layer in enumerate(doc.get("layers") or []):
        digest, size = layer.get("digest", ""), layer.get("size")
        rel = _safe_path((layer.get("annotations") or {}).get(FILEPATH), f"{where} layers[{i}]")
        hexpart = digest.removeprefix("sha256:")
        if (
            not digest.startswith("sha256:")
            or len(hexpart) != 64
            or not isinstance(size, int)
            or rel in files
        ):
            raise IntegrityError(
                f"{where} layers[{i}] ({rel}): digest {digest!r} / size {size!r} is not a "
                "sha256 digest and a size, or the path is listed twice",
                hint="the artifact was not made by artreg or was altered; do not use it",
            )
        files[rel] = (hexpart, size)
        media_types[rel] = str(layer.get("mediaType", ""))
    primary = notes.get(PRIMARY) or ""
    if not primary or not any(rel == primary or rel.startswith(primary + "/") for rel in files):
        raise IntegrityError(
            f"{where}: the manifest names no model file among its layers ({PRIMARY}: {primary!r})",
            hint="the artifact was not made by artreg or was altered; do not use it",
        )
    version = notes.get(VERSION)
    if not isinstance(version, str) or not _SEMVER.fullmatch(version):
        raise IntegrityError(
            f"{where}: the manifest's {VERSION} is {version!r}, not a version X.Y.Z",
            hint="the artifact was not made by artreg or was altered; do not use it",
        )
    found = doc.get("config")
    cfg: dict[str, Any] = found if isinstance(found, dict) else {}
    cfg_digest, cfg_size = cfg.get("digest", ""), cfg.get("size")
    if cfg.get("mediaType") != CONFIG_MEDIA_TYPE or not str(cfg_digest).startswith("sha256:"):
        raise IntegrityError(
            f"{where}: its config is not a ModelPack config ({cfg.get('mediaType')!r}, "
            f"{cfg_digest!r})",
            hint="the artifact was not made by artreg or was altered; do not use it",
        )
    if not isinstance(cfg_size, int) or not 0 < cfg_size <= CONFIG_LIMIT:
        raise IntegrityError(
            f"{where}: its config is {cfg_size!r} B, more than the {CONFIG_LIMIT} B a ModelPack "
            "config may have here; not read",
            hint="the artifact was not made by artreg or was altered; do not use it",
        )
    return Artifact(
        name, version, str(notes.get(REVISION, "")), primary, files, cfg_digest, media_types
    )


def check_config(raw: bytes, artifact: Artifact, where: str) -> None:
    """Refuse (IntegrityError) a config `raw` that does not describe `artifact`: its descriptor
    names another name or version, or its diff_ids are not the layers' digests in order."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise IntegrityError(f"{where}: its config is not JSON ({exc})") from exc
    doc = doc if isinstance(doc, dict) else {}
    descriptor = doc.get("descriptor") or {}
    said = (descriptor.get("name"), descriptor.get("version"))
    if said != (artifact.name, artifact.version):
        raise IntegrityError(
            f"{where}: its config describes {said[0]!r} version {said[1]!r}, the manifest "
            f"{artifact.name!r} version {artifact.version!r}",
            hint="the artifact was altered; do not use it",
        )
    diff_ids = (doc.get("modelfs") or {}).get("diff_ids")
    layers = [f"sha256:{sha}" for sha, _ in artifact.files.values()]
    if diff_ids != layers:
        differ = [
            rel
            for i, rel in enumerate(artifact.files)
            if not isinstance(diff_ids, list) or i >= len(diff_ids) or diff_ids[i] != layers[i]
        ]
        raise IntegrityError(
            f"{where}: its layers are not the config's modelfs.diff_ids (differ: "
            f"{', '.join(differ[:5]) or 'the count'}): a layer was swapped",
            hint="the artifact was altered; do not use it",
        )


def _is_index(doc: Any) -> bool:
    # An image index (or Docker's manifest list) lists manifests; it has no layers of its own.
    return isinstance(doc, dict) and (
        doc.get("mediaType") == INDEX_MEDIA_TYPE
        or (isinstance(doc.get("manifests"), list) and "layers" not in doc)
    )


def overwrite_conflict(
    existing: bytes, release: Release, layers: Sequence[Layer], moves: bool = False
) -> str | None:
    """Why pushing `release` over the manifest `existing` (what a tag names now) would destroy
    something: another artifact's title, the same version with other layer digests, or (for
    a tag that does not `moves` between versions, as production does) another version."""
    try:
        loaded = json.loads(existing)
    except ValueError:
        loaded = None
    doc: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    if _is_index(doc):
        return "it holds an image index, not a ModelPack manifest"
    notes = doc.get("annotations") or {}
    title, version = notes.get(TITLE), notes.get(VERSION)
    if title != release.name:
        return f"it holds another artifact ({TITLE} {title!r}, version {version!r})"
    old = [la.get("digest") for la in doc.get("layers") or [] if isinstance(la, dict)]
    if version == release.version and old != [layer.digest for layer in layers]:
        return f"it holds {title} version {version} with other bytes (another registry's release)"
    if version != release.version and not moves:
        return f"it holds {title} version {version}, not {release.version}"
    return None


def check_release_manifest(raw: bytes, artifact: Artifact, where: str) -> None:
    """Refuse (IntegrityError) an artifact whose layers are not the files its release folder's
    manifest.json (`raw`) lists, path for path with their sha256 and size, or whose
    manifest.json names another artifact or version than its annotations."""
    altered = "the artifact was not made by artreg or was altered; do not use it"
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise IntegrityError(f"{where} {RELEASE_MANIFEST}: not JSON ({exc})", hint=altered) from exc
    doc = doc if isinstance(doc, dict) else {}
    said = (doc.get("name"), doc.get("id"))
    if said != (artifact.name, f"v{artifact.version}"):
        raise IntegrityError(
            f"{where} {RELEASE_MANIFEST}: names {said[0]!r} {said[1]!r}, the manifest's "
            f"annotations {artifact.name!r} v{artifact.version}",
            hint=altered,
        )
    listed = doc.get("files")
    listed = listed if isinstance(listed, dict) else {}
    for rel, (sha, size) in artifact.files.items():
        if rel == RELEASE_MANIFEST:
            continue
        entry = listed.get(rel)
        if not isinstance(entry, dict):
            raise IntegrityError(
                f"{where}: layer {rel} is not a file its release's {RELEASE_MANIFEST} lists",
                hint=altered,
            )
        if (entry.get("sha256"), entry.get("size")) != (sha, size):
            raise IntegrityError(
                f"{where}: layer {rel} is sha256 {sha} ({size} B), its release's "
                f"{RELEASE_MANIFEST} records {entry.get('sha256')} ({entry.get('size')} B)",
                hint=altered,
            )
    missing = sorted(set(listed) - set(artifact.files))
    if missing:
        raise IntegrityError(
            f"{where}: no layer for {', '.join(missing[:5])}, which its release's "
            f"{RELEASE_MANIFEST} lists",
            hint=altered,
        )
