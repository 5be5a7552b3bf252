"""Keys for signed models: the optional `model_signing` package (found, and imported on a
second thread ahead of use), signing keys and certificates as the user gives them, and the public
keys and CA certificates params.yaml trusts, each known by its fingerprint. model_signing and
cryptography are imported only inside functions; they are optional (`artreg[signing]`)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.errors import InputError
from artreg.registry.jsonform import fields_json
from artreg.registry.trust import TrustPolicy

EXTRA_HINT = 'install the signing extra: pip install "artreg[signing]"'


CURVES = ("secp256r1", "secp384r1", "secp521r1")  # the curves model_signing accepts


def require_extra(purpose: str) -> None:
    """Refuse early, naming the extra, when model_signing is not installed (without importing
    it: that alone takes about half a second, for sigstore, tuf and pyOpenSSL)."""
    if not installed():
        raise InputError(
            f"{purpose} needs the model_signing package, which is not installed",
            hint=EXTRA_HINT,
        )


def installed() -> bool:
    try:
        return importlib.util.find_spec("model_signing") is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def preload() -> threading.Thread:
    """Import model_signing on a second thread, once per process. A promotion starts this
    before it hashes its source model, which keeps one core busy and releases the GIL, so
    the import costs the release almost nothing; `load_model_signing()` waits for it where it is
    used."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the main thread's own import reports failures
            importlib.import_module("model_signing")

    thread = threading.Thread(target=load, name="artreg-import-model-signing")
    thread.start()
    return thread


def load_model_signing(purpose: str) -> None:
    require_extra(purpose)
    preload().join()


@dataclass(frozen=True)
class SigningKey:
    """How to sign: an elliptic-curve private key (PEM), optionally with its certificate and the
    certificates of its chain (certificate signing)."""

    private_key: Path
    certificate: Path | None = None
    chain: tuple[Path, ...] = ()
    password: str | None = None


@dataclass(frozen=True)
class TrustedKey:
    """One entry of params.yaml `trust.keys`, as committed: a public key or a CA certificate."""

    path: str
    pem: bytes
    fingerprint: str  # sha256 of the DER SubjectPublicKeyInfo
    hint: str  # what model_signing records in a key bundle: sha256 of the PEM public key
    is_certificate: bool


@dataclass(frozen=True)
class Signer:
    """Who signed a model, as far as it was established."""

    kind: str  # "key" or "certificate"
    fingerprint: str | None  # sha256:… of the signing key's DER SubjectPublicKeyInfo
    key: str | None = None  # the trust.keys entry that verified it
    subject: str | None = None  # the signing certificate's subject
    files: tuple[str, ...] = ()  # what the signature covers, relative to the folder

    def as_dict(self) -> dict[str, Any]:
        return fields_json(self)


def _public_key(pem: bytes, source: str) -> tuple[Any, bool]:
    """The public key in a PEM public key or certificate, and whether it was a certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            return x509.load_pem_x509_certificate(pem).public_key(), True
        return serialization.load_pem_public_key(pem), False
    except ValueError as exc:
        raise InputError(
            f"{source}: not a PEM public key or certificate ({exc})",
            hint="give the public half, e.g. `openssl ec -in key.pem -pubout -out key.pub`",
        ) from exc


def _check_curve(public_key: Any, source: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name not in CURVES:
        raise InputError(
            f"{source}: not an elliptic-curve key on P-256, P-384 or P-521",
            hint="model-signing signs with EC keys: `openssl ecparam -name prime256v1 -genkey`",
        )


def key_fingerprint(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _key_hint(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def fingerprint(pem: bytes, source: str = "key") -> str:
    """`sha256:<hex>` of a PEM public key's (or certificate's key's) DER SubjectPublicKeyInfo."""
    return key_fingerprint(_public_key(pem, source)[0])


def trusted_keys(root: Path, policy: TrustPolicy) -> list[TrustedKey]:
    """The keys params.yaml trusts, read from git at the policy's commit (not the work tree)."""

    found = []
    for i, rel in enumerate(policy.keys):
        where = f"params.yaml trust.keys[{i}] ({rel})"
        pem = gitread.show_file(root, policy.rev, rel) if policy.rev else None
        if pem is None:
            raise InputError(
                f"{where}: not committed at {str(policy.rev)[:12]}",
                hint=f"commit the public key: git add {rel} && git commit",
            )
        key, is_cert = _public_key(pem, where)
        if not is_cert:  # a CA may use any key type; a signing key must suit model_signing
            _check_curve(key, where)
        found.append(TrustedKey(rel, pem, key_fingerprint(key), _key_hint(key), is_cert))
    return found


def trusted_names(trusted: Sequence[TrustedKey]) -> str:
    return ", ".join(f"{k.path} ({k.fingerprint})" for k in trusted) or "none"


def load_signing_key(key: SigningKey) -> tuple[Any, Any | None]:
    """The private key (and certificate) of `key`, checked: readable, EC, matching each other."""
    require_extra("signing a model")  # before the key: say what is missing first
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    def read(path: Path, what: str) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read the {what} ({exc.strerror})", hint="check the path"
            ) from exc

    try:
        private = serialization.load_pem_private_key(
            read(key.private_key, "private key"),
            key.password.encode() if key.password is not None else None,
        )
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{key.private_key}: not a readable PEM private key ({exc})",
            hint="give an unencrypted EC private key, or its password in ARTREG_MODEL_KEY_PASSWORD",
        ) from exc
    _check_curve(private.public_key(), str(key.private_key))
    cert = None
    if key.certificate is not None:
        if key.password is not None:
            raise InputError(
                f"{key.private_key}: certificate signing takes an unencrypted private key",
                hint="model_signing reads a certificate's key without a password",
            )
        try:
            cert = x509.load_pem_x509_certificate(read(key.certificate, "certificate"))
            for link in key.chain:
                x509.load_pem_x509_certificates(read(link, "certificate chain"))
        except ValueError as exc:
            raise InputError(
                f"{key.certificate}: a certificate of the chain is not PEM ({exc})",
                hint="give PEM certificates",
            ) from exc
        if cert.public_key() != private.public_key():
            raise InputError(
                f"{key.certificate}: its public key is not the one of {key.private_key}",
                hint="give the certificate issued for this private key",
            )
    elif key.chain:
        raise InputError(
            "a certificate chain was given without the signing certificate",
            hint="add --sign-model-cert CERT",
        )
    return private, cert
