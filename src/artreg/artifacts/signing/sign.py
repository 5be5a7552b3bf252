"""Signing a stage folder's model in the OpenSSF model-signing format (`model_signing`).

What is signed is a stage folder's *model*: the files DVC tracks (model.pt, model.safetensors),
never the metadata, model card or deployment files kept in git. artreg signs the folder the way
`model_signing sign key FOLDER` would with every other entry ignored, so the package's own
`model_signing verify key FOLDER --signature FOLDER/model.sig --public_key KEY` checks a release.
At promotion, `plan` checks before anything is built how the model will be signed, and the
`SignaturePlan` signs (or checks a bundle made elsewhere) once the folder is built.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from artreg.adapters.hashing import FileDigest, Recorded
from artreg.artifacts.signing.keys import (
    Signer,
    SigningKey,
    key_fingerprint,
    load_model_signing,
    load_signing_key,
    preload,
    require_extra,
    trusted_keys,
    trusted_names,
)
from artreg.artifacts.signing.statement import build_manifest, precomputed
from artreg.artifacts.signing.verify import (
    Bundle,
    actual_digests,
    differences,
    parse_bundle,
    verify_bundle,
)
from artreg.errors import InputError, IntegrityError
from artreg.registry.layout import SIGNATURE_FILE, StageDir
from artreg.registry.policy import load_trust


class BuiltFolder(Protocol):
    """What signing needs of a stage folder being built (publishing's StageBuilder): where it
    is, its files so far and which of them are the model's, and a way to add one."""

    @property
    def entry(self) -> StageDir: ...
    @property
    def path(self) -> Path: ...
    @property
    def files(self) -> Mapping[str, FileDigest]: ...
    @property
    def dvc_files(self) -> Collection[str]: ...
    def write_bytes(self, rel: str, data: bytes) -> FileDigest: ...


# What `model_signing sign` itself leaves out of a folder's signature and records as ignored.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
# Files a stage folder gains after its model is signed (and the signature itself).
WRITTEN_AFTER = ("metadata.json", "README.md", "manifest.json", SIGNATURE_FILE)


def _ignored(folder: Path, model_files: Collection[str]) -> list[str]:
    """Every entry of `folder` that is not part of the model, as model_signing records them."""
    tops = {rel.split("/", 1)[0] for rel in model_files}
    names = {p.name for p in folder.iterdir()} | set(WRITTEN_AFTER) | set(GIT_PATHS)
    for top in tops:
        if (folder / top).is_dir():
            names |= {
                p.relative_to(folder).as_posix()
                for p in (folder / top).rglob("*")
                if p.is_file() and p.relative_to(folder).as_posix() not in model_files
            }
    return sorted(names - tops)


def sign_folder(
    folder: Path, model: Mapping[str, FileDigest], key: SigningKey
) -> tuple[bytes, Signer]:
    """A model-signing bundle over the model files of `folder` (their digests given), made with
    `key`; every other entry of the folder is recorded as ignored."""
    private, cert = load_signing_key(key)
    load_model_signing("signing a model")
    from model_signing import signing

    built = build_manifest(
        folder.name, {rel: d.sha256 for rel, d in model.items()}, _ignored(folder, model)
    )
    config = signing.Config().set_hashing_config(precomputed(built))  # type: ignore[no-untyped-call]
    if key.certificate is not None:
        config.use_certificate_signer(
            private_key=key.private_key,
            signing_certificate=key.certificate,
            certificate_chain=key.chain,
        )
    else:
        # model_signing 1.1.1 types the password as str but hands it to cryptography, which
        # takes bytes only (its own CLI fails on encrypted keys): give it bytes.
        password = key.password.encode() if key.password is not None else None
        config.use_elliptic_key_signer(private_key=key.private_key, password=password)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="artreg-sign-") as tmp:
        out = Path(tmp) / SIGNATURE_FILE
        config.sign(folder, out)
        bundle = out.read_bytes()
    signer = Signer(
        "certificate" if cert is not None else "key",
        key_fingerprint(private.public_key()),
        subject=cert.subject.rfc4514_string() if cert is not None else None,
        files=tuple(sorted(model)),
    )
    return bundle, signer


@dataclass(frozen=True)
class SignaturePlan:
    """A signature to add to a folder being built: made with a key, or a bundle made elsewhere."""

    key: SigningKey | None = None
    bundle: bytes | None = None
    source: str = ""

    def write(self, root: Path, builder: BuiltFolder) -> dict[str, Any]:
        """Sign the built folder's model (or check the bundle given against it) and write
        model.sig; returns what metadata.json records about it."""
        model = {rel: builder.files[rel] for rel in sorted(builder.dvc_files)}
        where = self.source or f"{builder.entry.relpath}/{SIGNATURE_FILE}"
        if self.key is not None:
            raw, signer = sign_folder(builder.path, model, self.key)
        else:
            assert self.bundle is not None
            raw = self.bundle
        policy = load_trust(root)
        if policy.requires(builder.entry.stage):
            # The release must be loadable: its signature is checked as consumers will check it.
            signer = verify_bundle(raw, where, builder.files, model, trusted_keys(root, policy))
        elif self.key is None:
            signer = _covers(parse_bundle(raw, where), where, builder.files, model)
        builder.write_bytes(SIGNATURE_FILE, raw)
        return {
            "file": SIGNATURE_FILE,
            "kind": signer.kind if self.key is not None else "external",
            "fingerprint": signer.fingerprint,
            "subject": signer.subject,
            "files": list(model),
        }


def _covers(
    bundle: Bundle, where: str, files: Mapping[str, Recorded], model: Collection[str]
) -> Signer:
    """Without a trusted key to verify it: the bundle at least claims exactly the model's digests."""
    expected = actual_digests(bundle, where, files, model)
    if expected != bundle.resources:
        raise IntegrityError(
            f"{where}: does not sign this model: {differences(expected, bundle.resources, model)}",
            hint="sign the model file being released: model_signing sign key MODEL_FILE ...",
        )
    leaf = bundle.leaf
    return Signer(
        "certificate" if leaf is not None else "key",
        key_fingerprint(leaf.public_key()) if leaf is not None else None,
        subject=leaf.subject.rfc4514_string() if leaf is not None else None,
        files=tuple(sorted(model)),
    )


def plan(
    root: Path,
    stage: str,
    key: SigningKey | Path | str | None = None,
    bundle: Path | str | None = None,
) -> SignaturePlan | None:
    """Check, before anything is built, how the promoted model will be signed: the key must be
    usable, and trusted where params.yaml requires a signature for `stage`."""
    if key is not None and bundle is not None:
        raise InputError(
            "give a signing key or a signature made elsewhere, not both",
            hint="drop --sign-model or --model-signature",
        )
    policy = load_trust(root)
    if key is None and bundle is None:
        if policy.requires(stage):
            raise InputError(
                f"params.yaml (trust.require_signature) requires {stage} models to be signed by a "
                f"trusted key ({', '.join(policy.keys) or 'trust.keys lists none'})",
                hint="pass --sign-model KEY (sign_key=...) with a trusted private key",
            )
        return None
    if bundle is not None:
        require_extra("checking a model signature")
        path = Path(bundle)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read the signature ({exc.strerror})", hint="check the path"
            ) from exc
        parse_bundle(raw, str(path), InputError)  # the user's file: bad input, exit 2
        preload()
        return SignaturePlan(bundle=raw, source=str(path))
    assert key is not None
    signing_key = key if isinstance(key, SigningKey) else SigningKey(Path(key))
    private, cert = load_signing_key(signing_key)
    if policy.requires(stage):
        trusted = trusted_keys(root, policy)
        mine = key_fingerprint(private.public_key())
        if not any(k.fingerprint == mine for k in trusted) and not (
            cert is not None and any(k.is_certificate for k in trusted)
        ):
            raise InputError(
                f"{signing_key.private_key}: its public key {mine} is not in params.yaml trust.keys "
                f"(trusted: {trusted_names(trusted)}), and {stage} requires a trusted signature",
                hint="sign with a trusted key, or add its public key to trust.keys in a reviewed commit",
            )
    preload()
    return SignaturePlan(key=signing_key)
