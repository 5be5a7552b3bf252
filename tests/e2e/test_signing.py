"""Signed releases in the OpenSSF model-signing format, checked wherever a model is handed out.

Keys and certificates are made in each test with `cryptography`; the `model_signing` package's own
CLI is the oracle, both ways: it verifies what artreg signs, and what it signs verifies in artreg.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from artreg.api import get_artifact_path, verify_artifact
from artreg.artifacts.signing.keys import SigningKey, fingerprint
from artreg.errors import InputError, IntegrityError, PolicyWeakened
from artreg.present.markdown import summary_markdown
from artreg.registry.layout import production_dir
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.review import summaries
from artreg.services.validate import promote_to_validated

from helpers import (
    BIN,
    EXAMPLES,
    RELEASE_ARGS,
    RELEASE_INPUTS,
    clone_repo,
    git,
    release,
    run_tool,
    serve,
    snapshot,
)
from helpers.keys import make_key
from helpers.modelfiles import write_safetensors

ORACLE = str(BIN / "model_signing")
FOLDER = production_dir("encoder", "1.0.0")


# --- keys, certificates and the trust policy ------------------------------------------------


def _certificate(subject: str, key: Path, issuer: tuple[str, Path] | None, ca: bool) -> bytes:
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    signer = serialization.load_pem_private_key(issuer[1].read_bytes(), None) if issuer else private
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0] if issuer else subject)])
        )
        .public_key(private.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    cert = builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM)


def trust(root: Path, *public_keys: Path, require: tuple[str, ...] = ("production",)) -> None:
    """Commit the public keys under keys/ and a params.yaml trust policy naming them."""
    (root / "keys").mkdir(exist_ok=True)
    names = []
    for pub in public_keys:
        shutil.copy(pub, root / "keys" / pub.name)
        names.append(f"keys/{pub.name}")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["trust"] = {"keys": names, "require_signature": list(require)}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "add", "params.yaml", "keys")
    git(root, "commit", "--quiet", "-m", "trust policy")


def validated(root: Path, ckpt: Path, session: str = "s1") -> str:
    register_raw(root, "encoder", session, ckpt)
    return promote_to_validated(
        root, "encoder", session, "best", EXAMPLES / "validation_results.json"
    ).id


def promote_args(vid: str, version: str = "1.0.0") -> list[str]:
    return [
        "promote",
        "encoder",
        vid,
        "--to",
        "production",
        "--version",
        version,
        *RELEASE_ARGS,
    ]


def oracle(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The model_signing package's own CLI, as a separate process."""
    return subprocess.run(
        [ORACLE, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


def openssl_fingerprint(public_key: Path) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, computed by openssl (an independent oracle)."""
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(public_key), "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    secrets = tmp_path / "secrets"
    return {name: make_key(secrets, name) for name in ("release", "other")}


# --- signing on release, verified by artreg and by model_signing ----------------------------


def test_a_release_signed_with_a_key_verifies_in_artreg_and_with_model_signing(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], cli
) -> None:
    private, public = keys["release"]
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)

    result = cli(*promote_args(vid), "--sign-model", str(private), cwd=registry)
    assert result.exit_code == 0, result.stderr
    expected = openssl_fingerprint(public)
    assert fingerprint(public.read_bytes()) == expected
    assert f"key {expected}" in result.stdout

    folder = FOLDER.path(registry)
    manifest = json.loads((folder / "manifest.json").read_text())
    signed = manifest["files"]["model.sig"]
    assert not signed.get("dvc")  # the signature is a small file in git, not a model file
    assert signed["sha256"] == hashlib.sha256((folder / "model.sig").read_bytes()).hexdigest()
    assert "model.sig" in git(registry, "ls-files", FOLDER.relpath)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["signature"] == {
        "file": "model.sig",
        "kind": "key",
        "fingerprint": expected,
        "subject": None,
        "files": ["model.pt"],
    }

    # The oracle: model_signing's own verification of the whole release folder.
    ok = oracle(
        "verify", "key", folder, "--signature", folder / "model.sig", "--public_key", public
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verification succeeded" in ok.stdout
    wrong = oracle(
        "verify",
        "key",
        folder,
        "--signature",
        folder / "model.sig",
        "--public_key",
        keys["other"][1],
    )
    assert wrong.returncode != 0  # the oracle is not a rubber stamp

    # artreg: every consumer path checks it, and says who signed.
    assert get_artifact_path("encoder", repo=registry) == folder / "model.pt"
    assert get_artifact_path("encoder", pull=False, repo=registry) == folder / "model.pt"
    verified = cli("verify", cwd=registry)
    assert verified.exit_code == 0, verified.stderr
    assert "1 model signatures" in verified.stdout
    shown = cli("show", "encoder@v1.0.0", "--json", cwd=registry)
    assert shown.exit_code == 0, shown.stderr
    signature = shown.json()["signature"]  # type: ignore[index]
    assert signature["status"] == "verified"
    assert (signature["fingerprint"], signature["key"]) == (expected, "keys/release.pub")
    text = cli("show", "encoder@v1.0.0", cwd=registry).stdout
    assert f"signature: model.sig: verified, signed by key {expected}" in text
    summary = summary_markdown(summaries(registry, [FOLDER]))
    assert "### Signature" in summary
    assert f"key `{expected}`, trusted key `keys/release.pub`" in summary


def test_signing_reuses_the_manifest_digests_and_signs_only_the_model(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    """The statement names exactly the model file with the sha256 the manifest records; every
    other entry of the folder (metadata, card, deployment, pointers) is recorded as ignored."""
    import base64

    private, public = keys["release"]
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)
    promote_to_production(registry, "encoder", vid, "1.0.0", sign_key=private, **RELEASE_INPUTS)
    folder = FOLDER.path(registry)
    bundle = json.loads((folder / "model.sig").read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert statement["predicate"]["resources"] == [
        {
            "name": "model.pt",
            "algorithm": "sha256",
            "digest": manifest["files"]["model.pt"]["sha256"],
        }
    ]
    ignored = set(statement["predicate"]["serialization"]["ignore_paths"])
    top_level = {p.name for p in folder.iterdir()} - {"model.pt"}
    assert top_level <= ignored
    assert {"metadata.json", "manifest.json", "deployment", "model.sig"} <= ignored


def test_register_artifact_signs_a_ready_model_file(
    registry: Path, tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    from artreg.api import register_artifact

    private, public = keys["release"]
    trust(registry, public)
    model = tmp_path / "distilled.safetensors"
    write_safetensors(model, 7000)
    register_artifact("distill", model, "1.0.0", repo=registry, sign_key=private, **RELEASE_INPUTS)
    folder = production_dir("distill", "1.0.0").path(registry)
    ok = oracle(
        "verify", "key", folder, "--signature", folder / "model.sig", "--public_key", public
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert get_artifact_path("distill", repo=registry) == folder / "distilled.safetensors"


# --- refusals -------------------------------------------------------------------------------


def test_a_flipped_byte_in_a_signed_release_is_refused(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], cli
) -> None:
    private, public = keys["release"]
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)
    promote_to_production(registry, "encoder", vid, "1.0.0", sign_key=private, **RELEASE_INPUTS)
    folder = FOLDER.path(registry)
    model = folder / "model.pt"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.chmod(0o644)
    model.write_bytes(bytes(data))

    # 1. Only the bytes changed: the manifest's sha256 refuses them, and so does the oracle.
    before = snapshot(registry)
    for args in (["pull", "encoder"], ["resolve", "encoder"]):
        refused = cli(*args, cwd=registry)
        assert refused.exit_code == 1, (args, refused.stdout, refused.stderr)
        assert "model.pt" in refused.stderr
    assert snapshot(registry) == before
    bad = oracle(
        "verify", "key", folder, "--signature", folder / "model.sig", "--public_key", public
    )
    assert bad.returncode == 1 and "model.pt" in bad.stderr + bad.stdout

    # 2. A forged release: bytes, manifest and .sha256 rewritten together in the release commit
    # and its tags moved (what someone with push rights and no key could do). Every sha256
    # agrees now; only the signature tells.
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256(bytes(data)).hexdigest()
    manifest["files"]["model.pt"]["sha256"] = digest
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (folder / "model.pt.sha256").write_text(f"{digest}  model.pt\n")
    git(registry, "add", FOLDER.relpath)
    git(registry, "commit", "--quiet", "--amend", "--no-edit")
    head = git(registry, "rev-parse", "HEAD").strip()
    for tag in ("encoder@v1.0.0", "encoder#production#3"):
        message = git(registry, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
        git(registry, "tag", "-f", "-a", "-m", message, tag, head)

    before = snapshot(registry)
    with pytest.raises(IntegrityError) as caught:
        get_artifact_path("encoder", pull=False, repo=registry)
    message = str(caught.value)
    assert f"{FOLDER.relpath}/model.sig" in message
    assert "keys/release.pub" in message and fingerprint(public.read_bytes()) in message
    assert "model.pt" in message
    refused = cli("resolve", "encoder", cwd=registry)
    assert refused.exit_code == 1 and f"{FOLDER.relpath}/model.sig" in refused.stderr
    report = cli("verify", cwd=registry)
    assert report.exit_code == 1
    assert f"{FOLDER.relpath}/model.sig: made by trusted key keys/release.pub" in report.stderr
    assert snapshot(registry) == before


def test_a_key_not_in_trust_keys_is_refused(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], cli
) -> None:
    trusted_public, (other_private, other_public) = keys["release"][1], keys["other"]
    trust(registry, trusted_public)
    vid = validated(registry, checkpoint_dir)

    # Releasing with an untrusted key where production requires a trusted one: bad input.
    before = snapshot(registry)
    refused = cli(*promote_args(vid), "--sign-model", str(other_private), cwd=registry)
    assert refused.exit_code == 2, refused.stderr
    assert str(other_private) in refused.stderr and "trust.keys" in refused.stderr
    assert fingerprint(other_public.read_bytes()) in refused.stderr
    assert snapshot(registry) == before

    # A release signed by a key that was trusted, then removed from trust.keys (rotation).
    trust(registry, trusted_public, other_public)
    promote_to_production(
        registry, "encoder", vid, "1.0.0", sign_key=other_private, **RELEASE_INPUTS
    )
    assert get_artifact_path("encoder", repo=registry).is_file()
    trust(registry, trusted_public)
    before = snapshot(registry)
    for args in (["pull", "encoder"], ["get", "encoder", "-o", "../out"], ["resolve", "encoder"]):
        result = cli(*args, cwd=registry)
        assert result.exit_code == 1, (args, result.stdout, result.stderr)
        assert f"{FOLDER.relpath}/model.sig" in result.stderr
        assert "trust.keys does not list" in result.stderr
        assert fingerprint(trusted_public.read_bytes()) in result.stderr  # what is trusted
    assert not (registry.parent / "out").exists()  # outside the clone: only the signature refuses
    assert snapshot(registry) == before
    with pytest.raises(IntegrityError, match=r"trust\.keys does not list"):
        get_artifact_path("encoder", repo=registry)
    assert cli("verify", cwd=registry).exit_code == 1
    shown = cli("show", "encoder@v1.0.0", "--json", cwd=registry).json()
    assert shown["signature"]["status"].startswith("REFUSED: ")  # type: ignore[index]


def test_an_unsigned_release_where_a_signature_is_required_is_refused(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")  # before any trust policy
    assert get_artifact_path("encoder", repo=registry).is_file()
    trust(registry, keys["release"][1])
    before = snapshot(registry)
    for args in (["pull", "encoder"], ["get", "encoder", "-o", "../out"], ["resolve", "encoder"]):
        result = cli(*args, cwd=registry)
        assert result.exit_code == 1, (args, result.stdout, result.stderr)
        assert f"{FOLDER.relpath}/model.sig: missing" in result.stderr
        assert "keys/release.pub" in result.stderr
    assert snapshot(registry) == before
    with pytest.raises(IntegrityError, match=r"model\.sig: missing"):
        get_artifact_path("encoder", repo=registry)
    report = cli("verify", cwd=registry)
    assert report.exit_code == 1 and "model.sig: missing" in report.stderr

    # A new release without --sign-model is refused before anything is built.
    vid = validated(registry, checkpoint_dir, "s2")
    before = snapshot(registry)
    refused = cli(*promote_args(vid, "1.1.0"), cwd=registry)
    assert refused.exit_code == 2 and "--sign-model" in refused.stderr
    assert snapshot(registry) == before


def test_a_clone_checks_the_signature_before_it_fetches_a_byte(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], tmp_path: Path, cli
) -> None:
    """An inference service's plain clone: the signed release pulls; an unsigned one, once the
    policy requires signatures, is refused before any object is fetched."""
    private, public = keys["release"]
    release(registry, "encoder", "s0", checkpoint_dir, "0.9.0")  # before the policy
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)
    promote_to_production(registry, "encoder", vid, "1.0.0", sign_key=private, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    clone = clone_repo(registry, tmp_path / "inference")

    path = get_artifact_path("encoder", repo=clone)
    assert path == clone / FOLDER.relpath / "model.pt" and path.is_file()
    shown = cli("show", "encoder@v1.0.0", "--json", cwd=clone).json()
    assert shown["signature"]["key"] == "keys/release.pub"  # type: ignore[index]

    old = production_dir("encoder", "0.9.0")
    before = snapshot(clone)
    refused = cli("pull", "encoder", "--version", "0.9.0", cwd=clone)
    assert refused.exit_code == 1 and f"{old.relpath}/model.sig: missing" in refused.stderr
    assert not (clone / old.relpath / "model.pt").exists()
    assert snapshot(clone) == before


def test_the_committed_policy_counts_not_an_edit_in_the_work_tree(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    trust(registry, keys["release"][1])
    params = yaml.safe_load((registry / "params.yaml").read_text())
    params["trust"]["require_signature"] = []
    (registry / "params.yaml").write_text(yaml.safe_dump(params))  # not committed
    with pytest.raises(IntegrityError, match=r"model\.sig: missing"):
        get_artifact_path("encoder", repo=registry)


# --- interop: a signature made by the oracle tool -------------------------------------------


def test_a_signature_made_by_model_signing_verifies_in_artreg(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], tmp_path: Path, cli
) -> None:
    private, public = keys["release"]
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)
    model = registry / "artifacts" / "validated" / "encoder" / vid / "model.pt"
    bundle = tmp_path / "by-hand.sig"
    made = oracle("sign", "key", model, "--private_key", private, "--signature", bundle)
    assert made.returncode == 0, made.stdout + made.stderr

    # A signature over another file is refused, and nothing changes.
    elsewhere = tmp_path / "other.pt"
    elsewhere.write_bytes(b"not the model")
    wrong = tmp_path / "wrong.sig"
    assert (
        oracle("sign", "key", elsewhere, "--private_key", private, "--signature", wrong).returncode
        == 0
    )
    before = snapshot(registry)
    refused = cli(*promote_args(vid), "--model-signature", str(wrong), cwd=registry)
    assert refused.exit_code == 1, refused.stderr
    assert "model.pt" in refused.stderr and "keys/release.pub" in refused.stderr
    assert snapshot(registry) == before

    result = cli(*promote_args(vid), "--model-signature", str(bundle), cwd=registry)
    assert result.exit_code == 0, result.stderr
    folder = FOLDER.path(registry)
    assert (folder / "model.sig").read_bytes() == bundle.read_bytes()
    assert get_artifact_path("encoder", repo=registry) == folder / "model.pt"
    shown = cli("show", "encoder@v1.0.0", "--json", cwd=registry).json()
    assert shown["signature"]["status"] == "verified"  # type: ignore[index]
    assert shown["signature"]["fingerprint"] == openssl_fingerprint(public)  # type: ignore[index]
    assert cli("verify", cwd=registry).exit_code == 0
    again = oracle(
        "verify",
        "key",
        folder / "model.pt",
        "--signature",
        folder / "model.sig",
        "--public_key",
        public,
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_certificate_signing_is_trusted_through_its_ca(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    secrets = tmp_path / "pki"
    ca_key, _ = make_key(secrets, "ca")
    leaf_key, _ = make_key(secrets, "leaf")
    ca = secrets / "release-ca.crt"
    ca.write_bytes(_certificate("artreg test CA", ca_key, None, ca=True))
    leaf = secrets / "leaf.crt"
    leaf.write_bytes(_certificate("release team", leaf_key, ("artreg test CA", ca_key), ca=False))
    trust(registry, ca)
    vid = validated(registry, checkpoint_dir)
    result = cli(
        *promote_args(vid),
        "--sign-model",
        str(leaf_key),
        "--sign-model-cert",
        str(leaf),
        "--sign-model-chain",
        str(ca),
        cwd=registry,
    )
    assert result.exit_code == 0, result.stderr
    folder = FOLDER.path(registry)
    ok = oracle(
        "verify",
        "certificate",
        folder,
        "--signature",
        folder / "model.sig",
        "--certificate_chain",
        ca,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    shown = cli("show", "encoder@v1.0.0", "--json", cwd=registry).json()
    signature = shown["signature"]  # type: ignore[index]
    assert signature["status"] == "verified" and signature["subject"] == "CN=release team"
    assert signature["key"] == "keys/release-ca.crt"
    assert get_artifact_path("encoder", repo=registry).is_file()


# --- the optional extra ---------------------------------------------------------------------


def test_without_the_extra_the_error_names_it(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    vid = validated(registry, checkpoint_dir)
    code = (
        "import sys\n"
        "sys.modules['model_signing'] = None  # as if artreg[signing] were not installed\n"
        "from artreg.cli import main\n"
        f"main({[*promote_args(vid), '--sign-model', str(keys['release'][0])]!r})\n"
    )
    before = snapshot(registry)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=registry, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert 'pip install "artreg[signing]"' in proc.stderr
    assert snapshot(registry) == before


def test_reading_an_unsigned_registry_never_imports_model_signing(
    registry: Path, checkpoint_dir: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    code = (
        "import sys\n"
        "from artreg.cli import main\n"
        "for args in (['show', 'encoder@v1.0.0'], ['resolve', 'encoder'], ['verify']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, (args, exc.code)\n"
        "print('IMPORTED', 'model_signing' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=registry, capture_output=True, text=True, check=True
    )
    assert "IMPORTED False" in proc.stdout


def test_a_bad_trust_policy_is_named(registry: Path, checkpoint_dir: Path) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    params = yaml.safe_load((registry / "params.yaml").read_text())
    params["trust"] = {"keys": ["keys/missing.pub"], "require_signature": ["production"]}
    (registry / "params.yaml").write_text(yaml.safe_dump(params))
    git(registry, "commit", "--quiet", "-am", "trust a key that is not committed")
    with pytest.raises(InputError, match=r"trust.keys\[0\] \(keys/missing.pub\): not committed"):
        get_artifact_path("encoder", pull=False, repo=registry)
    params["trust"] = {"require_signature": ["raw"]}
    (registry / "params.yaml").write_text(yaml.safe_dump(params))
    git(registry, "commit", "--quiet", "-am", "a stage that cannot be signed")
    with pytest.raises(InputError, match="/trust/require_signature/0"):
        get_artifact_path("encoder", pull=False, repo=registry)


def test_an_encrypted_key_signs_with_its_password(tmp_path: Path) -> None:
    """model_signing 1.1.1's own CLI fails on encrypted keys (it passes a str to cryptography);
    artreg signs with them, and the oracle verifies the result."""
    from artreg.adapters.hashing import hash_file
    from artreg.artifacts.signing.sign import sign_folder

    key = ec.generate_private_key(ec.SECP384R1())
    private, public = tmp_path / "enc.pem", tmp_path / "enc.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\x01" * 4096)
    (folder / "README.md").write_text("not part of the model\n")
    with pytest.raises(InputError, match="not a readable PEM private key"):
        sign_folder(folder, {}, SigningKey(private))  # no password
    model = {"model.safetensors": hash_file(folder / "model.safetensors")}
    raw, signer = sign_folder(folder, model, SigningKey(private, password="s3cret"))
    (folder / "model.sig").write_bytes(raw)
    assert signer.fingerprint == openssl_fingerprint(public)
    ok = oracle(
        "verify", "key", folder, "--signature", folder / "model.sig", "--public_key", public
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_signing_key_must_be_an_ec_private_key(registry: Path, tmp_path: Path) -> None:
    from artreg.artifacts.signing.keys import load_signing_key

    public = make_key(tmp_path, "k")[1]
    with pytest.raises(InputError, match="not a readable PEM private key"):
        load_signing_key(SigningKey(public))


# --- a registry URL: consumers without a clone check the same policy ------------------------
# The registry is served by a real `git daemon` on 127.0.0.1; the trust policy is params.yaml at
# the registry's HEAD, as a clone's is at its HEAD.


def publish(root: Path, bare: Path) -> None:
    """Push main and every tag (moved ones too, as someone with push rights may) and the data."""
    git(root, "push", "--quiet", "--force", str(bare), "main", "--tags")
    run_tool("dvc", "push", "--quiet", cwd=root)


def retag(root: Path, message: str) -> str:
    """Commit the release folder's changes and move every tag of the release onto the new
    commit: what someone with push rights but no trusted key could do. Returns the commit."""
    old = git(root, "rev-list", "-n1", "encoder@v1.0.0").strip()
    git(root, "add", "-A", FOLDER.relpath)
    git(root, "commit", "--quiet", "-m", message)
    head = git(root, "rev-parse", "HEAD").strip()
    for tag in git(root, "tag", "--points-at", old).split():
        contents = git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
        git(root, "tag", "-f", "-a", "-m", contents, tag, head)
    return head


def rewrite_manifest(root: Path, rel: str, data: bytes | None) -> None:
    """Set (or, with None, drop) one file of the release folder and its manifest entry."""
    folder = FOLDER.path(root)
    manifest = json.loads((folder / "manifest.json").read_text())
    target = folder / rel
    if target.exists():
        target.chmod(0o644)
    if data is None:
        target.unlink()
        del manifest["files"][rel]
    else:
        target.write_bytes(data)
        entry = manifest["files"][rel]
        entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def cached_blobs(cache: Path) -> set[str]:
    blobs = cache / "blobs" / "sha256"
    return {p.parent.name + p.name for p in blobs.glob("*/*")} if blobs.is_dir() else set()


@pytest.fixture
def signed_url(
    registry: Path,
    checkpoint_dir: Path,
    keys: dict[str, tuple[Path, Path]],
    cache: Path,
    git_daemon: str,
    tmp_path: Path,
) -> tuple[str, Path]:
    """encoder v1.0.0 released signed by the trusted key, served; returns (URL, bare repo)."""
    private, public = keys["release"]
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)
    promote_to_production(registry, "encoder", vid, "1.0.0", sign_key=private, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = serve(registry, tmp_path)
    return f"{git_daemon}/{bare.name}", bare


WARM_PROBE = """
import sys
from artreg import get_artifact_path
print(get_artifact_path("encoder", repo=sys.argv[1]))
print("IMPORTED", "model_signing" in sys.modules)
"""


def test_a_url_consumer_gets_a_signed_release_and_a_warm_call_reuses_its_verdict(
    registry: Path, signed_url: tuple[str, Path], cache: Path, tmp_path: Path, cli
) -> None:
    url, _ = signed_url
    model = (FOLDER.path(registry) / "model.pt").read_bytes()

    path = get_artifact_path("encoder", repo=url)
    assert path.read_bytes() == model and path.is_relative_to(cache / "snapshots")
    verdicts = list((cache / "signatures").rglob("*.json"))
    assert len(verdicts) == 1
    verdict = json.loads(verdicts[0].read_text())
    assert (verdict["key"], verdict["files"]) == ("keys/release.pub", ["model.pt"])
    assert verdict["fingerprint"] == fingerprint((registry / "keys/release.pub").read_bytes())

    for args in (["get", url, "encoder", "-o"], ["get", "encoder", "--repo", url, "-o"]):
        out = tmp_path / f"out-{len(args)}"
        result = cli(*args, str(out))
        assert result.exit_code == 0, (args, result.stderr)
        assert (out / "model.pt").read_bytes() == model
    # show names the signer and the key, from the URL as in a clone.
    expected = fingerprint((registry / "keys/release.pub").read_bytes())
    line = (
        f"signature of production: model.sig: verified, signed by key {expected} "
        "(trusted key keys/release.pub) over model.pt"
    )
    shown = cli("show", "encoder", "--repo", url)
    assert shown.exit_code == 0, shown.stderr
    assert line in shown.stdout and line in cli("show", "encoder", cwd=registry).stdout
    assert (
        cli("show", "encoder", "--repo", url, "--json").json()
        == cli("show", "encoder", "--json", cwd=registry).json()
    )
    entry = cli("show", "encoder@v1.0.0", "--repo", url, "--json").json()
    assert entry["signature"]["status"] == "verified"  # type: ignore[index]
    assert entry["signature"]["fingerprint"] == expected  # type: ignore[index]
    # Warm, in a new process: the verdict bound to this policy, commit and manifest stands, so
    # model_signing (sigstore, tuf, ...) is not even imported.
    warm = subprocess.run(
        [sys.executable, "-c", WARM_PROBE, url], capture_output=True, text=True, check=True
    )
    assert warm.stdout.splitlines() == [str(path), "IMPORTED False"], warm.stderr


def test_a_url_consumer_refuses_a_forged_release(
    registry: Path, signed_url: tuple[str, Path], cache: Path, tmp_path: Path, cli
) -> None:
    """A flipped byte, with the manifest, the .sha256 and the DVC pointer rewritten to match and
    the tags moved: every sha256 agrees, only the signature tells, before a byte is fetched."""
    url, bare = signed_url
    assert get_artifact_path("encoder", repo=url).is_file()
    folder = FOLDER.path(registry)
    data = bytearray((folder / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0x01
    forged = hashlib.sha256(bytes(data)).hexdigest()
    rewrite_manifest(registry, "model.pt", bytes(data))
    (folder / "model.pt.sha256").write_text(f"{forged}  model.pt\n")
    run_tool("dvc", "commit", "--force", "--quiet", f"{FOLDER.relpath}/model.pt.dvc", cwd=registry)
    retag(registry, "forged")
    publish(registry, bare)

    with pytest.raises(IntegrityError) as caught:
        get_artifact_path("encoder", repo=url)
    message = str(caught.value)
    assert f"{FOLDER.relpath}/model.sig: made by trusted key keys/release.pub" in message
    assert fingerprint((registry / "keys/release.pub").read_bytes()) in message
    assert "model.pt: signed sha256" in message and forged in message
    out = tmp_path / "out"
    refused = cli("get", url, "encoder", "-o", str(out))
    assert refused.exit_code == 1 and f"{FOLDER.relpath}/model.sig" in refused.stderr
    assert not out.exists()
    assert forged not in cached_blobs(cache)  # refused before the forged bytes were fetched


def test_a_url_consumer_refuses_a_key_removed_from_trust_keys(
    registry: Path,
    checkpoint_dir: Path,
    keys: dict[str, tuple[Path, Path]],
    cache: Path,
    git_daemon: str,
    tmp_path: Path,
    cli,
) -> None:
    """Signed by a key that was trusted, then dropped from trust.keys on the default branch:
    the warm consumer, whose tags did not change, reads the new policy and refuses."""
    trusted_public, (other_private, other_public) = keys["release"][1], keys["other"]
    trust(registry, trusted_public, other_public)
    vid = validated(registry, checkpoint_dir)
    promote_to_production(
        registry, "encoder", vid, "1.0.0", sign_key=other_private, **RELEASE_INPUTS
    )
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = serve(registry, tmp_path)
    url = f"{git_daemon}/{bare.name}"
    assert get_artifact_path("encoder", repo=url).is_file()

    trust(registry, trusted_public)
    publish(registry, bare)
    with pytest.raises(IntegrityError) as caught:
        get_artifact_path("encoder", repo=url)
    message = str(caught.value)
    assert f"{FOLDER.relpath}/model.sig: signed by" in message
    assert "trust.keys does not list" in message
    assert fingerprint(trusted_public.read_bytes()) in message  # what is trusted
    refused = cli("resolve", "encoder", "--repo", url)
    assert refused.exit_code == 1 and "trust.keys does not list" in refused.stderr
    assert not verify_artifact("encoder", repo=url)
    shown = cli("show", "encoder", "--repo", url)
    assert shown.exit_code == 0, shown.stderr  # show describes; consumers refuse
    assert "signature of production: model.sig: REFUSED: " in shown.stdout


def test_a_url_consumer_refuses_an_unsigned_release_where_a_signature_is_required(
    registry: Path,
    checkpoint_dir: Path,
    keys: dict[str, tuple[Path, Path]],
    cache: Path,
    git_daemon: str,
    tmp_path: Path,
    cli,
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")  # before any trust policy
    run_tool("dvc", "push", "--quiet", cwd=registry)
    bare = serve(registry, tmp_path)
    url = f"{git_daemon}/{bare.name}"
    assert get_artifact_path("encoder", repo=url).is_file()
    assert not (cache / "signatures").exists()  # nothing required, nothing checked

    trust(registry, keys["release"][1])
    publish(registry, bare)
    with pytest.raises(IntegrityError, match=r"model\.sig: missing") as caught:
        get_artifact_path("encoder", repo=url)
    assert "keys/release.pub" in str(caught.value)
    out = tmp_path / "out"
    for args in (["get", url, "encoder"], ["get", "encoder", "--repo", url]):
        refused = cli(*args, "-o", str(out))
        assert refused.exit_code == 1, (args, refused.stderr)
        assert f"{FOLDER.relpath}/model.sig: missing" in refused.stderr
        assert "keys/release.pub" in refused.stderr
    assert not out.exists()


def test_a_warm_call_refuses_a_signature_replaced_or_removed_in_a_new_commit(
    registry: Path,
    signed_url: tuple[str, Path],
    keys: dict[str, tuple[Path, Path]],
    cache: Path,
    tmp_path: Path,
) -> None:
    url, bare = signed_url
    assert get_artifact_path("encoder", repo=url).is_file()  # the verdict is cached now
    folder = FOLDER.path(registry)

    # Replaced: the same model signed by a key the policy does not trust (by model_signing's
    # own tool), the manifest updated to match, the tags moved.
    replaced = tmp_path / "replaced.sig"
    made = oracle(
        "sign", "key", folder / "model.pt", "--private_key", keys["other"][0],
        "--signature", replaced,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    rewrite_manifest(registry, "model.sig", replaced.read_bytes())
    retag(registry, "signature replaced")
    publish(registry, bare)
    with pytest.raises(IntegrityError, match=r"trust\.keys does not list") as caught:
        get_artifact_path("encoder", repo=url)
    assert f"{FOLDER.relpath}/model.sig" in str(caught.value)

    # Removed: model.sig and its manifest entry gone, the tags moved again.
    rewrite_manifest(registry, "model.sig", None)
    retag(registry, "signature removed")
    publish(registry, bare)
    with pytest.raises(IntegrityError, match=r"model\.sig: missing"):
        get_artifact_path("encoder", repo=url)


# --- visible: show NAME, the pull-request summary and the site ------------------------------


def test_show_the_summary_and_the_site_name_the_signer_and_the_key_fingerprint(
    registry: Path,
    checkpoint_dir: Path,
    keys: dict[str, tuple[Path, Path]],
    tmp_path: Path,
    cli,
) -> None:
    from artreg.present.site.build import build_site

    private, public = keys["release"]
    trust(registry, public)
    vid = validated(registry, checkpoint_dir)
    promote_to_production(registry, "encoder", vid, "1.0.0", sign_key=private, **RELEASE_INPUTS)
    expected = openssl_fingerprint(public)

    # `show NAME`, every stage: the signed production folder names signer and key; the
    # validated folder (unsigned, no signature required) says nothing of signatures.
    text = cli("show", "encoder", cwd=registry)
    assert text.exit_code == 0, text.stderr
    assert (
        f"signature of production: model.sig: verified, signed by key {expected} "
        "(trusted key keys/release.pub) over model.pt"
    ) in text.stdout
    assert "signature of validated" not in text.stdout
    stages = cli("show", "encoder", "--json", cwd=registry).json()["encoder"]["stages"]  # type: ignore[index]
    signed = stages["production"]["signature"]
    assert (signed["status"], signed["fingerprint"], signed["key"]) == (
        "verified",
        expected,
        "keys/release.pub",
    )
    assert "signature" not in stages["validated"]

    # A signature the policy no longer trusts is shown as refused, not hidden.
    other_public = keys["other"][1]
    trust(registry, other_public)
    text = cli("show", "encoder", cwd=registry).stdout
    assert "signature of production: model.sig: REFUSED: " in text
    assert "trust.keys does not list" in text

    # The reviewer's summary (verified against trust.keys) and the site's release page (as
    # recorded at promotion) name the same key.
    trust(registry, public)
    assert f"key `{expected}`, trusted key `keys/release.pub`" in summary_markdown(
        summaries(registry, [FOLDER])
    )
    site = tmp_path / "site"
    build_site(registry, site)
    page = (site / "models/encoder/releases/v1.0.0.html").read_text(encoding="utf-8")
    assert "<dt>Signed by</dt>" in page
    assert f'key <code class="hash">{expected}</code> over <code>model.pt</code>' in page
    unsigned = next((site / "models/encoder").glob("validated/*.html")).read_text(encoding="utf-8")
    assert "Signed by" not in unsigned


def test_a_lock_file_pins_only_a_trusted_release_and_its_warm_calls_keep_the_policy(
    registry: Path,
    signed_url: tuple[str, Path],
    keys: dict[str, tuple[Path, Path]],
    cache: Path,
    tmp_path: Path,
    cli,
) -> None:
    url, bare = signed_url
    consumer = tmp_path / "service"
    consumer.mkdir()
    lock = consumer / "artreg.lock"

    # A lock-only consumer on a fresh machine reads the policy once, and loads the pin.
    assert cli("lock", "add", url, "encoder#production", cwd=consumer).exit_code == 0
    shutil.rmtree(cache)
    model = (FOLDER.path(registry) / "model.pt").read_bytes()
    assert get_artifact_path("encoder", lock=lock).read_bytes() == model

    # The key is revoked on the default branch: `lock check` (online) reads the new policy and
    # refuses the pin; from then on the lock's warm calls refuse it too, without a tag read.
    # (Revoked, not replaced: a key put in its place would be a weaker policy, refused as such.)
    trust(registry)
    publish(registry, bare)
    checked = cli("lock", "check", cwd=consumer)
    assert checked.exit_code == 1 and "trust.keys does not list" in checked.stderr
    with pytest.raises(IntegrityError, match=r"model\.sig: signed by .*trust\.keys does not list"):
        get_artifact_path("encoder", lock=lock)
    # And a release the policy refuses cannot be pinned at all.
    other = tmp_path / "other"
    other.mkdir()
    added = cli("lock", "add", url, "encoder#production", cwd=other)
    assert added.exit_code == 1 and f"{FOLDER.relpath}/model.sig" in added.stderr
    assert not (other / "artreg.lock").exists()


# --- the trust policy ratchets: a weaker policy is refused until accepted ---------------------


def cache_records(cache: Path) -> dict[str, bytes]:
    """What a consumer acts on in its cache: trust records, resolutions, snapshots' metadata,
    blobs and signature verdicts (not git's objects, locks or scratch space)."""
    return {
        str(p.relative_to(cache)): p.read_bytes()
        for p in sorted(cache.rglob("*"))
        if p.is_file() and p.relative_to(cache).parts[0] not in ("git", "locks", "tmp")
    }


def test_a_weakened_trust_policy_is_refused_by_url_lock_and_clone_consumers_until_accepted(
    registry: Path,
    signed_url: tuple[str, Path],
    keys: dict[str, tuple[Path, Path]],
    checkpoint_dir: Path,
    cache: Path,
    tmp_path: Path,
    cli,
) -> None:
    url, bare = signed_url
    signed = (FOLDER.path(registry) / "model.pt").read_bytes()
    # Three consumers of the signed release: by URL, through a lock file, and a clone.
    assert get_artifact_path("encoder", repo=url).read_bytes() == signed
    service = tmp_path / "service"
    service.mkdir()
    lock = service / "artreg.lock"
    assert cli("lock", "add", url, "encoder#production", cwd=service).exit_code == 0
    clone = clone_repo(bare, tmp_path / "inference")
    assert get_artifact_path("encoder", repo=clone).read_bytes() == signed

    # Someone with push rights deletes params.yaml, then releases an unsigned model.
    git(registry, "rm", "--quiet", "params.yaml")
    git(registry, "commit", "--quiet", "-m", "tidy up params")
    weakening = git(registry, "rev-parse", "HEAD").strip()
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    unsigned = (production_dir("encoder", "1.1.0").path(registry) / "model.pt").read_bytes()
    publish(registry, bare)
    git(clone, "pull", "--quiet", "--ff-only")
    git(clone, "fetch", "--quiet", "--tags")
    # A lock file pinning the unsigned release, made on a machine that never saw the policy.
    elsewhere = tmp_path / "elsewhere.lock"
    unsigned_pin = tmp_path / "elsewhere"
    unsigned_pin.mkdir()
    made = cli("lock", "add", url, "encoder@v1.1.0", "--file", str(elsewhere), cwd=unsigned_pin)
    assert made.exit_code == 1  # this machine remembers: refused here too
    from artreg.sources import lock as lockfile

    lockfile.add(elsewhere, url, "encoder@v1.1.0", cache_dir=tmp_path / "fresh-cache")

    records, lock_bytes, clone_state = cache_records(cache), lock.read_bytes(), snapshot(clone)
    change = "production no longer requires a signature (params.yaml is gone)"
    changed_by = f"changed by commit {weakening[:12]} (tidy up params)"

    def refused_here(message: str, where: str) -> None:
        assert where in message and change in message and changed_by in message, message
        assert "artreg trust accept" in message and "accept_policy_change=True" in message

    # The URL consumer: the API and the CLI.
    with pytest.raises(PolicyWeakened) as caught:
        get_artifact_path("encoder", repo=url)
    refused_here(str(caught.value), url)
    out = tmp_path / "out"
    got = cli("get", url, "encoder", "-o", str(out))
    assert got.exit_code == 1 and not out.exists()
    refused_here(got.stderr, url)
    # The lock consumer: moving the pin, or a lock file pinning the unsigned release, is
    # refused (the pin itself still serves the signed bytes it pins: checked below).
    for args in (["lock", "update"], ["lock", "check"]):
        result = cli(*args, cwd=service)
        assert result.exit_code == 1, (args, result.stderr)
        refused_here(result.stderr, url)
    with pytest.raises(PolicyWeakened) as caught:
        get_artifact_path("encoder", version="1.1.0", lock=elsewhere)
    refused_here(str(caught.value), url)
    # The clone: the API and the CLI.
    with pytest.raises(PolicyWeakened) as caught:
        get_artifact_path("encoder", repo=clone)
    refused_here(str(caught.value), str(clone))
    for args in (["pull", "encoder"], ["resolve", "encoder"]):
        result = cli(*args, cwd=clone)
        assert result.exit_code == 1, (args, result.stderr)
        refused_here(result.stderr, str(clone))
    # Nothing changed by the refusals.
    assert cache_records(cache) == records
    assert lock.read_bytes() == lock_bytes
    assert snapshot(clone) == clone_state
    assert get_artifact_path("encoder", lock=lock).read_bytes() == signed

    # Accepted explicitly: by the command for the URL (the lock files' registry too), by the
    # keyword in the clone; then served.
    accepted = cli("trust", "accept", url)
    assert accepted.exit_code == 0, accepted.stderr
    assert f"accepted: {change}" in accepted.stdout
    assert get_artifact_path("encoder", repo=url).read_bytes() == unsigned
    assert get_artifact_path("encoder", version="1.1.0", lock=elsewhere).read_bytes() == unsigned
    assert cli("lock", "update", cwd=service).exit_code == 0
    assert get_artifact_path("encoder", lock=lock).read_bytes() == unsigned
    path = get_artifact_path("encoder", repo=clone, accept_policy_change=True)
    assert path.read_bytes() == unsigned
    assert get_artifact_path("encoder", repo=clone) == path
    # Accepting again (the clone you stand in) accepts nothing new.
    again = cli("trust", "accept", "--json", cwd=clone).json()
    assert again["registry"] == str(clone) and again["weakened"] == []  # type: ignore[index]
    assert again["require_signature"] == []  # type: ignore[index]

    # A stricter policy is adopted silently: production signatures required again, so the
    # unsigned release is refused for what it is, not as a policy change.
    git(registry, "checkout", f"{weakening}^", "--", "params.yaml")
    git(registry, "commit", "--quiet", "-m", "params.yaml back")
    publish(registry, bare)
    with pytest.raises(IntegrityError, match=r"model\.sig: missing") as missing:
        get_artifact_path("encoder", repo=url)
    assert not isinstance(missing.value, PolicyWeakened)
    from artreg.reading.cache import registry_key

    record = json.loads((cache / "trust" / f"{registry_key(url)}.json").read_text())
    assert record["require_signature"] == ["production"]


def test_verify_reports_each_commit_that_weakened_the_trust_policy_until_acknowledged(
    registry: Path, checkpoint_dir: Path, keys: dict[str, tuple[Path, Path]], cli
) -> None:
    release_key, other_key = keys["release"][1], keys["other"][1]
    trust(registry, release_key)
    trust(registry, release_key, require=("production", "validated"))  # stricter: fine
    assert cli("verify", cwd=registry).exit_code == 0
    trust(registry, release_key, other_key, require=("production", "validated"))
    added = git(registry, "rev-parse", "HEAD").strip()
    git(registry, "rm", "--quiet", "params.yaml")
    git(registry, "commit", "--quiet", "-m", "no more params")
    gone = git(registry, "rev-parse", "HEAD").strip()

    report = cli("verify", cwd=registry)
    assert report.exit_code == 1
    assert (
        f"commit {added[:12]} (trust policy) weakens the trust policy: trust.keys adds "
        "keys/other.pub, trusted to sign production, validated"
    ) in report.stderr
    assert (
        f"commit {gone[:12]} (no more params) weakens the trust policy: production no longer "
        "requires a signature (params.yaml is gone); validated no longer requires a signature "
        "(params.yaml is gone)"
    ) in report.stderr
    assert f"list {gone[:12]} under trust.acknowledged in params.yaml" in report.stderr

    # Acknowledged in a reviewed commit: both are meant.
    (registry / "params.yaml").write_text(
        yaml.safe_dump({"trust": {"acknowledged": [added[:12], gone]}})
    )
    git(registry, "add", "params.yaml")
    git(registry, "commit", "--quiet", "-m", "acknowledge the trust changes")
    report = cli("verify", cwd=registry)
    assert report.exit_code == 0, report.stderr


def test_release_takes_the_signing_options_promote_takes(
    registry: Path, tmp_path: Path, keys: dict[str, tuple[Path, Path]], cli
) -> None:
    """`artreg release` of a ready model file: signed with a certificate and its chain, or
    with a bundle `model_signing sign` made elsewhere; both verify in artreg and the oracle."""
    secrets = tmp_path / "pki"
    ca_key, _ = make_key(secrets, "ca")
    leaf_key, _ = make_key(secrets, "leaf")
    ca = secrets / "release-ca.crt"
    ca.write_bytes(_certificate("artreg test CA", ca_key, None, ca=True))
    leaf = secrets / "leaf.crt"
    leaf.write_bytes(_certificate("release team", leaf_key, ("artreg test CA", ca_key), ca=False))
    private, public = keys["release"]
    trust(registry, ca, public)
    model = write_safetensors(tmp_path / "distilled.safetensors", 7000)

    by_cert = cli(
        *("release", "distill", str(model), "--version", "1.0.0", *RELEASE_ARGS),
        *("--sign-model", str(leaf_key), "--sign-model-cert", str(leaf)),
        *("--sign-model-chain", str(ca)),
        cwd=registry,
    )
    assert by_cert.exit_code == 0, by_cert.stderr
    folder = production_dir("distill", "1.0.0").path(registry)
    ok = oracle(
        "verify", "certificate", folder, "--signature", folder / "model.sig",
        "--certificate_chain", ca,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    shown = cli("show", "distill@v1.0.0", "--json", cwd=registry).json()
    assert shown["signature"]["subject"] == "CN=release team"  # type: ignore[index]

    bundle = tmp_path / "by-hand.sig"
    made = oracle("sign", "key", model, "--private_key", private, "--signature", bundle)
    assert made.returncode == 0, made.stdout + made.stderr
    by_bundle = cli(
        *("release", "distill", str(model), "--version", "1.1.0", *RELEASE_ARGS),
        *("--model-signature", str(bundle)),
        cwd=registry,
    )
    assert by_bundle.exit_code == 0, by_bundle.stderr
    folder = production_dir("distill", "1.1.0").path(registry)
    assert (folder / "model.sig").read_bytes() == bundle.read_bytes()
    shown = cli("show", "distill@v1.1.0", "--json", cwd=registry).json()
    assert shown["signature"]["status"] == "verified"  # type: ignore[index]
    assert shown["signature"]["fingerprint"] == openssl_fingerprint(public)  # type: ignore[index]
    assert cli("verify", cwd=registry).exit_code == 0


def test_no_spelling_of_a_registry_url_escapes_its_trust_ratchet(
    registry: Path,
    signed_url: tuple[str, Path],
    checkpoint_dir: Path,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, bare = signed_url  # git://127.0.0.1:PORT/registry.git
    signed = (FOLDER.path(registry) / "model.pt").read_bytes()
    assert get_artifact_path("encoder", repo=url).read_bytes() == signed
    assert get_artifact_path("encoder", repo=bare.as_uri()).read_bytes() == signed

    git(registry, "rm", "--quiet", "params.yaml")  # the policy switched off, then unsigned
    git(registry, "commit", "--quiet", "-m", "tidy up params")
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    publish(registry, bare)

    monkeypatch.chdir(bare.parent)
    # Every other spelling of the same two registries remembers the policy. (127.0.0.1 and
    # localhost are not proven one host without DNS: two registries, each with its own record.)
    spellings = [
        url.removesuffix(".git"),  # git daemon serves x and x.git as one repository
        url + "/",
        str(bare),  # a plain path
        f"../{bare.parent.name}/{bare.name}",  # relative, with ..
        f"file://localhost{bare}",
    ]
    for spelling in spellings:
        with pytest.raises(PolicyWeakened, match="no longer requires a signature"):
            get_artifact_path("encoder", repo=spelling)
    assert len(list((cache / "trust").glob("*.json"))) == 2  # one record per registry
