"""Signed models in the OpenSSF model-signing format (`model_signing`, the `signing` extra).

What is signed is a stage folder's *model*: the files DVC tracks (model.pt, model.safetensors),
never the metadata, model card or deployment files kept in git. artreg signs the folder the way
`model_signing sign key FOLDER` would with every other entry ignored, so the package's own
`model_signing verify key FOLDER --signature FOLDER/model.sig --public_key KEY` checks a release.
A bundle made elsewhere over the model file alone (its one resource named ".") is accepted too.

The sha256 of every file is computed once, while the folder is built, and reused: model_signing's
default serialization is one sha256 per file, exactly what artreg's manifest records, so the
in-toto statement is built from those digests instead of reading the model again. Verifying
needs no model bytes either: the bundle must verify with a trusted key and its statement must
name the same digests as the committed manifest, whose sha256s the caller checks against the
bytes. model_signing is imported only inside functions; it is optional (`artreg[signing]`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import importlib
import importlib.util
import io
import json
import tempfile
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from artreg.errors import ArtregError, InputError, IntegrityError, NotFoundError
from artreg.hashing import FileDigest, Recorded
from artreg.layout import SIGNATURE_FILE
from artreg.policy import load_trust
from artreg.trust import TrustPolicy

if TYPE_CHECKING:
    from artreg.stagefolder import StageBuilder

EXTRA_HINT = 'install the signing extra: pip install "artreg[signing]"'
# What `model_signing sign` itself leaves out of a folder's signature and records as ignored.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
# Files a stage folder gains after its model is signed (and the signature itself).
WRITTEN_AFTER = ("metadata.json", "README.md", "manifest.json", SIGNATURE_FILE)
CURVES = ("secp256r1", "secp384r1", "secp521r1")  # the curves model_signing accepts


def _require_extra(purpose: str) -> None:
    """Refuse early, naming the extra, when model_signing is not installed (without importing
    it: that alone takes about half a second, for sigstore, tuf and pyOpenSSL)."""
    if not _installed():
        raise InputError(
            f"{purpose} needs the model_signing package, which is not installed",
            hint=EXTRA_HINT,
        )


def _installed() -> bool:
    try:
        return importlib.util.find_spec("model_signing") is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def preload() -> threading.Thread:
    """Import model_signing on a second thread, once per process. A promotion starts this
    before it hashes its source model, which keeps one core busy and releases the GIL, so
    the import costs the release almost nothing; `_load()` waits for it where it is used."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the main thread's own import reports failures
            importlib.import_module("model_signing")

    thread = threading.Thread(target=load, name="artreg-import-model-signing")
    thread.start()
    return thread


def _load(purpose: str) -> None:
    _require_extra(purpose)
    preload().join()


# --- keys -----------------------------------------------------------------------------------


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
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "key": self.key,
            "subject": self.subject,
            "files": list(self.files),
        }


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


def _key_fingerprint(public_key: Any) -> str:
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
    return _key_fingerprint(_public_key(pem, source)[0])


def trusted_keys(root: Path, policy: TrustPolicy) -> list[TrustedKey]:
    """The keys params.yaml trusts, read from git at the policy's commit (not the work tree)."""
    from artreg.adapters.git import read as gitread

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
        found.append(TrustedKey(rel, pem, _key_fingerprint(key), _key_hint(key), is_cert))
    return found


def _trusted_names(trusted: Sequence[TrustedKey]) -> str:
    return ", ".join(f"{k.path} ({k.fingerprint})" for k in trusted) or "none"


def load_signing_key(key: SigningKey) -> tuple[Any, Any | None]:
    """The private key (and certificate) of `key`, checked: readable, EC, matching each other."""
    _require_extra("signing a model")  # before the key: say what is missing first
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


# --- the in-toto statement, from digests already computed -----------------------------------


def _manifest(name: str, digests: Mapping[str, str], ignored: Sequence[str]) -> Any:
    """A model_signing manifest of (file, sha256) pairs, as its file serialization builds one."""
    from model_signing import manifest
    from model_signing._hashing.hashing import Digest

    serialization = manifest.SerializationType.from_args(
        {
            "method": "files",
            "hash_type": "sha256",
            "allow_symlinks": False,
            "ignore_paths": list(ignored),
        }
    )
    items = [
        manifest.FileManifestItem(
            path=PurePosixPath(rel), digest=Digest("sha256", bytes.fromhex(sha))
        )
        for rel, sha in sorted(digests.items())
    ]
    return manifest.Manifest(name, items, serialization)


def _precomputed(built: Any) -> Any:
    """A model_signing hashing configuration that hands out `built` instead of reading files."""
    from model_signing import hashing

    class Precomputed(hashing.Config):
        def hash(self, model_path: Any, *, files_to_hash: Any = None) -> Any:
            return built

    return Precomputed()  # type: ignore[no-untyped-call]  # model_signing leaves __init__ unannotated


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
    _load("signing a model")
    from model_signing import signing

    built = _manifest(
        folder.name, {rel: d.sha256 for rel, d in model.items()}, _ignored(folder, model)
    )
    config = signing.Config().set_hashing_config(_precomputed(built))  # type: ignore[no-untyped-call]
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
        _key_fingerprint(private.public_key()),
        subject=cert.subject.rfc4514_string() if cert is not None else None,
        files=tuple(sorted(model)),
    )
    return bundle, signer


# --- reading and verifying a bundle ---------------------------------------------------------


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


def _actual(
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


def _differences(
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
        pinned = _key_fingerprint(bundle.leaf.public_key())
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
            f"(key {_key_fingerprint(bundle.leaf.public_key())})"
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
    _load("checking a model signature")
    from model_signing import verifying

    bundle = parse_bundle(raw, where)
    expected = _actual(bundle, where, files, model)
    candidates = _candidates(bundle, trusted)
    if not candidates:
        raise IntegrityError(
            f"{where}: signed by {_claimed(bundle)}, which params.yaml trust.keys does not list "
            f"(trusted: {_trusted_names(trusted)})",
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
            built = _manifest(Path(where).parent.name, expected, ())
            config.set_hashing_config(_precomputed(built))
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
                        f"differs from what it signed: {_differences(expected, bundle.resources, model)}",
                        hint="the model was changed after it was signed; do not use it",
                    ) from exc
                failures.append(f"{key.path} ({key.fingerprint}): {reason}")
                continue
        leaf = bundle.leaf
        return Signer(
            "certificate" if leaf is not None else "key",
            _key_fingerprint(leaf.public_key()) if leaf is not None else key.fingerprint,
            key=key.path,
            subject=leaf.subject.rfc4514_string() if leaf is not None else None,
            files=tuple(sorted(model)),
        )
    raise IntegrityError(
        f"{where}: signature does not verify with the trusted key: " + "; ".join(failures),
        hint="the signature or the signed statement was altered, or another key made it; do not use the model",
    )


# --- the policy, where artreg hands out a model ---------------------------------------------


def committed_signature(
    root: Path, rev: str, relpath: str, files: Mapping[str, Recorded]
) -> bytes | None:
    from artreg.adapters.git import read as gitread

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
    from artreg.errors import ArtregError

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
        if not _installed():
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


# --- signing at promotion -------------------------------------------------------------------


@dataclass(frozen=True)
class SignaturePlan:
    """A signature to add to a folder being built: made with a key, or a bundle made elsewhere."""

    key: SigningKey | None = None
    bundle: bytes | None = None
    source: str = ""

    def write(self, root: Path, builder: StageBuilder) -> dict[str, Any]:
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
    expected = _actual(bundle, where, files, model)
    if expected != bundle.resources:
        raise IntegrityError(
            f"{where}: does not sign this model: {_differences(expected, bundle.resources, model)}",
            hint="sign the model file being released: model_signing sign key MODEL_FILE ...",
        )
    leaf = bundle.leaf
    return Signer(
        "certificate" if leaf is not None else "key",
        _key_fingerprint(leaf.public_key()) if leaf is not None else None,
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
        _require_extra("checking a model signature")
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
        mine = _key_fingerprint(private.public_key())
        if not any(k.fingerprint == mine for k in trusted) and not (
            cert is not None and any(k.is_certificate for k in trusted)
        ):
            raise InputError(
                f"{signing_key.private_key}: its public key {mine} is not in params.yaml trust.keys "
                f"(trusted: {_trusted_names(trusted)}), and {stage} requires a trusted signature",
                hint="sign with a trusted key, or add its public key to trust.keys in a reviewed commit",
            )
    preload()
    return SignaturePlan(key=signing_key)
