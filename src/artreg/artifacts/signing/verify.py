"""Reading and verifying a model-signing bundle, and the trust policy's verdict on a folder.

A bundle made elsewhere over the model file alone (its one resource named ".") is accepted too.
Verifying needs no model bytes: the bundle must verify with a trusted key and its statement must
name the same digests as the committed manifest, whose sha256s the caller checks against the
bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.hashing import Recorded
from artreg.artifacts.signing.keys import (
    EXTRA_HINT,
    Signer,
    TrustedKey,
    installed,
    key_fingerprint,
    load_model_signing,
    trusted_keys,
    trusted_names,
)
from artreg.artifacts.signing.statement import build_manifest, precomputed
from artreg.errors import ArtregError, IntegrityError, NotFoundError
from artreg.registry.layout import SIGNATURE_FILE
from artreg.registry.policy import load_trust
from artreg.registry.trust import TrustPolicy


@dataclass(frozen=True)
class Bundle:
    """What a model.sig says before it is verified: who claims to have signed which digests."""

    raw: bytes
    hint: str | None
    leaf: Any | None  # the signing certificate (cryptography x509), for certificate bundles
    resources: dict[str, str]  # resource name → sha256 hex


def parse_bundle(raw: bytes, where: str, bad: type[ArtregError] = IntegrityError) -> Bundle:
    """The unverified claims of a model-signing bundle (sha256 file serialization only), or `bad`."""
    try:
        data = json.loads(raw)
        material = data["verificationMaterial"]
        statement = json.loads(base64.b64decode(data["dsseEnvelope"]["payload"]))
        predicate = statement["predicate"]
        serialization = predicate["serialization"]
        resources = {r["name"]: (r["algorithm"], r["digest"]) for r in predicate["resources"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise bad(
            f"{where}: not a model-signing bundle ({type(exc).__name__}: {exc})",
            hint="sign the model with `artreg promote --sign-model` or `model_signing sign`",
        ) from exc
    if serialization.get("method") != "files" or any(a != "sha256" for a, _ in resources.values()):
        raise bad(
            f"{where}: hashes by {serialization.get('method')}/{serialization.get('hash_type')}; "
            "artreg compares the sha256 of whole files",
            hint="sign again with model_signing's default hashing (files, sha256)",
        )
    leaf = None
    certificates = (material.get("x509CertificateChain") or {}).get("certificates") or []
    if certificates:
        from cryptography import x509

        try:
            leaf = x509.load_der_x509_certificate(base64.b64decode(certificates[0]["rawBytes"]))
        except (ValueError, KeyError) as exc:
            raise bad(f"{where}: its signing certificate cannot be read ({exc})") from exc
    hint = (material.get("publicKey") or {}).get("hint") or None
    return Bundle(raw, hint, leaf, {name: digest for name, (_, digest) in resources.items()})


def actual_digests(
    bundle: Bundle, where: str, files: Mapping[str, Recorded], model: Collection[str]
) -> dict[str, str]:
    """The digests model_signing must find, built from the folder's verified digests: the model
    files, and whatever else the bundle claims to cover (absent ones are left out, so they fail)."""
    if set(bundle.resources) == {"."}:
        if len(model) != 1:
            raise IntegrityError(
                f"{where}: signs a single file, but the folder's model is {len(model)} files: "
                + ", ".join(sorted(model)),
                hint="sign the folder (`artreg promote --sign-model`) so every model file is covered",
            )
        return {".": files[next(iter(model))].sha256}
    digests = {rel: files[rel].sha256 for rel in bundle.resources if rel in files}
    digests.update({rel: files[rel].sha256 for rel in model})
    return digests


def differences(
    actual: Mapping[str, str], signed: Mapping[str, str], model: Collection[str]
) -> str:
    """Which files a statement signs differently from the folder (a single-file signature's
    one resource, named ".", is shown as the model file it stands for)."""
    single = f"{next(iter(model))} (signed as a single file)" if len(model) == 1 else "."
    return "; ".join(
        f"{single if rel == '.' else rel}: signed sha256 {signed.get(rel, '(not signed)')}, "
        f"the folder's is {actual.get(rel, '(no such file)')}"
        for rel in sorted(set(actual) | set(signed))
        if actual.get(rel) != signed.get(rel)
    )


def _candidates(bundle: Bundle, trusted: Sequence[TrustedKey]) -> list[TrustedKey]:
    keys = [k for k in trusted if not k.is_certificate]
    if bundle.leaf is not None:
        pinned = key_fingerprint(bundle.leaf.public_key())
        return [k for k in keys if k.fingerprint == pinned] + [
            k for k in trusted if k.is_certificate
        ]
    if bundle.hint:
        return [k for k in keys if k.hint == bundle.hint]
    return keys  # a bundle from before model_signing 1.0 names no key: try each


def _claimed(bundle: Bundle) -> str:
    if bundle.leaf is not None:
        return (
            f"certificate {bundle.leaf.subject.rfc4514_string()} "
            f"(key {key_fingerprint(bundle.leaf.public_key())})"
        )
    return f"a key whose PEM has sha256 {bundle.hint}" if bundle.hint else "an unnamed key"


def verify_bundle(
    raw: bytes,
    where: str,
    files: Mapping[str, Recorded],
    model: Collection[str],
    trusted: Sequence[TrustedKey],
) -> Signer:
    """Check a bundle with model_signing's own verifier: made by a trusted key, and naming the
    sha256 of every model file as `files` records it. IntegrityError names the file and the key."""
    load_model_signing("checking a model signature")
    from model_signing import verifying

    bundle = parse_bundle(raw, where)
    expected = actual_digests(bundle, where, files, model)
    candidates = _candidates(bundle, trusted)
    if not candidates:
        raise IntegrityError(
            f"{where}: signed by {_claimed(bundle)}, which params.yaml trust.keys does not list "
            f"(trusted: {trusted_names(trusted)})",
            hint="release it again signed by a trusted key, or add the signer's public key to "
            "trust.keys in a reviewed commit",
        )
    failures = []
    for key in candidates:
        config = verifying.Config()  # type: ignore[no-untyped-call]
        with tempfile.TemporaryDirectory(prefix="artreg-verify-") as tmp:
            sig, pem = Path(tmp) / SIGNATURE_FILE, Path(tmp) / "trusted.pem"
            sig.write_bytes(raw)
            pem.write_bytes(key.pem)
            if key.is_certificate:
                config.use_certificate_verifier(certificate_chain=[pem])
            else:
                config.use_elliptic_key_verifier(public_key=pem)
            built = build_manifest(Path(where).parent.name, expected, ())
            config.set_hashing_config(precomputed(built))
            try:
                # model_signing prints a warning for pre-1.0 bundles; the core never prints.
                with contextlib.redirect_stdout(io.StringIO()):
                    config.verify(Path(tmp), sig)
            except Exception as exc:  # model_signing raises ValueError, OpenSSL and crypto errors
                reason = str(exc) or type(exc).__name__
                if reason.startswith("Signature mismatch"):
                    # The signature verified; the statement it signs names other digests.
                    raise IntegrityError(
                        f"{where}: made by trusted key {key.path} ({key.fingerprint}), but the model "
                        f"differs from what it signed: {differences(expected, bundle.resources, model)}",
                        hint="the model was changed after it was signed; do not use it",
                    ) from exc
                failures.append(f"{key.path} ({key.fingerprint}): {reason}")
                continue
        leaf = bundle.leaf
        return Signer(
            "certificate" if leaf is not None else "key",
            key_fingerprint(leaf.public_key()) if leaf is not None else key.fingerprint,
            key=key.path,
            subject=leaf.subject.rfc4514_string() if leaf is not None else None,
            files=tuple(sorted(model)),
        )
    raise IntegrityError(
        f"{where}: signature does not verify with the trusted key: " + "; ".join(failures),
        hint="the signature or the signed statement was altered, or another key made it; do not use the model",
    )


def committed_signature(
    root: Path, rev: str, relpath: str, files: Mapping[str, Recorded]
) -> bytes | None:

    if SIGNATURE_FILE not in files:
        return None
    raw = gitread.show_file(root, rev, f"{relpath}/{SIGNATURE_FILE}")
    if raw is None or hashlib.sha256(raw).hexdigest() != files[SIGNATURE_FILE].sha256:
        raise IntegrityError(
            f"{relpath}/{SIGNATURE_FILE}: missing at {rev[:12]} or not the bytes its manifest records",
            hint="the folder was altered after its promotion; do not use it",
        )
    return raw


def check_folder(
    root: Path,
    policy: TrustPolicy,
    relpath: str,
    stage: str,
    files: Mapping[str, Recorded],
    model: Collection[str],
    raw: bytes | None,
) -> Signer:
    """The policy's verdict on one folder whose stage requires a signature (IntegrityError if
    the signature is missing, invalid or untrusted)."""
    where = f"{relpath}/{SIGNATURE_FILE}"
    trusted = trusted_keys(root, policy)  # a broken policy is reported as such, signed or not
    if raw is None:
        raise IntegrityError(
            f"{where}: missing, and params.yaml trust.require_signature lists {stage}: its model "
            f"must be signed by a trusted key ({', '.join(policy.keys) or 'trust.keys lists none'})",
            hint="release a signed version (`artreg promote ... --sign-model KEY`)",
        )
    if not model:
        raise NotFoundError(
            f"{relpath}: its manifest lists no model file to check the signature against"
        )
    return verify_bundle(raw, where, files, model, trusted)


def describe(
    root: Path,
    rev: str,
    relpath: str,
    stage: str,
    files: Mapping[str, Recorded],
    model: Collection[str],
    policy: TrustPolicy | None = None,
) -> dict[str, Any] | None:
    """What `show` and the PR summary say about a folder's signature (None: unsigned and not
    required) under `policy` (default: HEAD's). Never raises for a bad signature: the status
    says what is wrong."""
    policy = policy or load_trust(root)
    required = policy.requires(stage)
    if SIGNATURE_FILE not in files and not required:
        return None
    info: dict[str, Any] = {
        "file": SIGNATURE_FILE,
        "required": required,
        "trusted_keys_at": policy.rev,
    }
    try:
        raw = committed_signature(root, rev, relpath, files)
        if raw is None:
            info["status"] = "missing (required by params.yaml trust.require_signature)"
            return info
        if not installed():
            info["status"] = f"not checked: {EXTRA_HINT}"
            return info
        signer = verify_bundle(
            raw, f"{relpath}/{SIGNATURE_FILE}", files, model, trusted_keys(root, policy)
        )
    except ArtregError as exc:
        # Consumers refuse it only where the policy requires a signature.
        info["status"] = f"{'REFUSED' if required else 'not verified'}: {exc.message}"
        return info
    info.update(signer.as_dict(), status="verified")
    return info
