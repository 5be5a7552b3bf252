"""What an OCI repository says about an artifact, checked before any layer is fetched: the
manifest a tag names (a ModelPack artifact titled NAME, of the version asked), the version held
to the bytes this cache served before, and the model signature the consumer's policy requires.
`sources/oci.py` serves the layers.

The tag is `production` (or `vX.Y.Z` for a version). An OCI repository has no params.yaml: the
trust policy is the consumer's. With ARTREG_OCI_TRUSTED_KEYS (PEM public keys, separated by
`:`), the artifact must carry a model signature as a referrer (found through the referrers tag
schema) made by one of those keys over the model files' sha256s as the manifest lists them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.adapters import settings
from artreg.adapters.hashing import FileDigest
from artreg.adapters.oci import Blob, Client, json_or_none, parse_reference
from artreg.artifacts import modelpack
from artreg.artifacts.signing import keys as signing_keys
from artreg.artifacts.signing import verify as signature
from artreg.errors import InputError, IntegrityError, NotFoundError
from artreg.reading.cache import Cache, registry_key
from artreg.registry.layout import model_target
from artreg.registry.tags import validate_name, validate_semver

ENV_TRUSTED_KEYS = "ARTREG_OCI_TRUSTED_KEYS"


@dataclass(frozen=True)
class Found:
    """The manifest a tag names, checked, before any layer is fetched."""

    client: Client
    url: str
    tag: str
    raw: bytes
    artifact: modelpack.Artifact

    @property
    def digest(self) -> str:
        return Blob(self.raw, modelpack.MANIFEST_MEDIA_TYPE).digest


def resolve(
    url: str, name: str, stage: str | None, version: str | None, *, insecure: bool = False
) -> Found:
    """The manifest of `name` in the OCI repository `url` (its `production` tag, or `vX.Y.Z`),
    refused unless it is a ModelPack artifact titled `name` (and of that version)."""
    name = validate_name(name)
    if stage not in (None, "production"):
        raise InputError(
            f"{url}: an OCI repository holds released versions and production, not {stage!r}",
            hint="ask for the production stage or a version",
        )
    ref = parse_reference(url, "repo")
    if ref.tag:
        raise InputError(
            f"{url}: name the repository without a tag",
            hint="choose the version with version= (or NAME@vX.Y.Z)",
        )
    tag = f"v{validate_semver(version)}" if version else "production"
    client = Client(ref, insecure=insecure)
    raw = client.get_manifest(tag)
    where = f"{ref.url}:{tag}"
    if raw is None:
        raise NotFoundError(
            f"{where}: no such tag",
            hint=f"export it first: artreg export {name}"
            + (f"@{tag}" if version else "")
            + f" --oci {ref.registry}/{ref.repository}",
        )
    artifact = modelpack.parse(raw, where, name)
    if version and artifact.version != validate_semver(version):
        raise IntegrityError(
            f"{where}: the manifest says version {artifact.version!r}, not {version}",
            hint="the tag was moved onto another version; do not use it",
        )
    config = client.read_blob(artifact.config, modelpack.CONFIG_LIMIT)
    modelpack.check_config(config, artifact, where)
    release = artifact.files.get(modelpack.RELEASE_MANIFEST)
    if release is None:
        raise IntegrityError(
            f"{where}: no {modelpack.RELEASE_MANIFEST} layer, so its files cannot be held to "
            "their release's list",
            hint="export the release again with this artreg (artreg export NAME@vX.Y.Z --oci)",
        )
    if release[1] > modelpack.RELEASE_MANIFEST_LIMIT:
        raise IntegrityError(
            f"{where}: its {modelpack.RELEASE_MANIFEST} is {release[1]} B, more than the "
            f"{modelpack.RELEASE_MANIFEST_LIMIT} B read here; not read",
            hint="the artifact was not made by artreg or was altered; do not use it",
        )
    listing = client.read_blob(f"sha256:{release[0]}", modelpack.RELEASE_MANIFEST_LIMIT)
    modelpack.check_release_manifest(listing, artifact, where)
    return Found(client, ref.url, tag, raw, artifact)


def hold_version(cache: Cache, found: Found, accept_moved_tag: bool = False) -> Callable[[], None]:
    """Refuse `found` when this cache served its version from this repository with other
    bytes before (unless `accept_moved_tag`): a version never changes, so a re-pointed vX.Y.Z
    tag is named, not followed. Returns the function that records it once it is served."""
    artifact = found.artifact
    path = (
        cache.root
        / "versions"
        / registry_key(found.url)
        / artifact.name
        / f"v{artifact.version}.json"
    )
    now: dict[str, Any] = {
        "manifest": found.digest,
        "revision": artifact.revision,
        "files": {rel: list(digest) for rel, digest in sorted(artifact.files.items())},
    }
    seen = cache.read_json(path)
    if isinstance(seen, dict) and seen.get("files") == now["files"]:
        return lambda: None
    if isinstance(seen, dict) and not accept_moved_tag:
        recorded = seen.get("files")
        old: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        new: dict[str, Any] = now["files"]
        differ = sorted(r for r in set(old) | set(new) if old.get(r) != new.get(r))
        raise IntegrityError(
            f"{found.url}: {artifact.name}@v{artifact.version} moved: it was manifest "
            f"{seen.get('manifest')} (revision {str(seen.get('revision'))[:12]}) when this cache "
            f"served it, the repository now answers {found.digest} (revision "
            f"{artifact.revision[:12]}) with other bytes ({', '.join(differ[:5])}"
            f"{' …' if len(differ) > 5 else ''}); nothing was fetched",
            hint=f"ask who exports to the repository why v{artifact.version} was re-pointed; "
            "to take the new bytes anyway, pass --accept-moved-tag (CLI) or "
            "accept_moved_tag=True (Python)",
        )
    return lambda: cache.write_json(path, now)


def trusted_key_files() -> list[Path]:
    """The consumer's trusted keys for OCI artifacts: $ARTREG_OCI_TRUSTED_KEYS (none: no
    signature required)."""
    return [Path(p) for p in settings.oci_trusted_keys()]


def _trusted(paths: Sequence[Path]) -> list[signing_keys.TrustedKey]:
    from cryptography.hazmat.primitives import serialization

    found = []
    for path in paths:
        try:
            pem = path.read_bytes()
            key = serialization.load_pem_public_key(pem)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"{ENV_TRUSTED_KEYS}: {path} is not a readable PEM public key ({exc})",
                hint="name the public half of each trusted signing key, e.g. keys/release.pub",
            ) from exc
        canonical = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        hint = hashlib.sha256(canonical).hexdigest()  # what model_signing names a key by
        found.append(
            signing_keys.TrustedKey(str(path), pem, signing_keys.fingerprint(pem), hint, False)
        )
    return found


def check_signature(found: Found, keys: Sequence[Path]) -> signing_keys.Signer | None:
    """With trusted `keys`, the artifact's signature referrer must verify with one of them over
    the model files' digests the manifest lists (IntegrityError otherwise); no layer is read."""
    if not keys:
        return None
    trusted = _trusted(keys)
    where = f"{found.url}@{found.digest}"
    tag = modelpack.referrers_tag(found.digest)
    index = json_or_none(found.client.get_manifest(tag)) or {}
    signatures = [
        m
        for m in index.get("manifests", [])
        if m.get("artifactType") == modelpack.SIGNATURE_ARTIFACT_TYPE
    ]
    if not signatures:
        raise IntegrityError(
            f"{where}: no model signature among its referrers (tag {tag}), and "
            f"{ENV_TRUSTED_KEYS} requires one",
            hint="export a release signed with --sign-model, or unset the variable to accept "
            "unsigned models",
        )
    referrer = json_or_none(found.client.get_manifest(signatures[-1]["digest"])) or {}
    layers = referrer.get("layers") or [{}]
    if (referrer.get("subject") or {}).get("digest") != found.digest or "digest" not in layers[0]:
        raise IntegrityError(f"{where}: its signature referrer names another subject or no layer")
    blob = layers[0]["digest"]
    with found.client.open_blob(blob) as stream:
        raw = stream.read()
    if f"sha256:{hashlib.sha256(raw).hexdigest()}" != blob:
        raise IntegrityError(f"{where}: the signature blob's bytes are not its digest {blob}")
    files = {rel: FileDigest(sha, size) for rel, (sha, size) in found.artifact.files.items()}
    target = model_target("production", found.artifact.primary)
    model = [rel for rel in files if rel == target or rel.startswith(f"{target}/")]
    try:
        signer = signature.verify_bundle(
            raw, f"{where} {modelpack.SIGNATURE_FILE}", files, model, trusted
        )
    except IntegrityError as exc:  # its words name a registry's policy; here it is the consumer's
        raise IntegrityError(
            exc.message.replace("params.yaml trust.keys", ENV_TRUSTED_KEYS),
            hint=f"trust the signer's public key in {ENV_TRUSTED_KEYS} only if you trust it; "
            "otherwise do not use this model",
        ) from exc
    # The signature proves the files it names; a weight or configuration layer it does not
    # name (a config.json added beside the model) would reach the loader unproven.
    signed = set(signature.parse_bundle(raw, where).resources)
    covered = set(model) if signed == {"."} else signed
    uncovered = [rel for rel in found.artifact.model_files() if rel not in covered]
    if uncovered:
        raise IntegrityError(
            f"{where}: {', '.join(uncovered[:5])} {'is' if len(uncovered) == 1 else 'are'} "
            f"model files (weights or their configuration) its signature does not cover, and "
            f"{ENV_TRUSTED_KEYS} requires a signature",
            hint="do not use this model; the release's signer signs the whole model folder "
            "(artreg promote --sign-model)",
        )
    return signer
