"""Signing keys for tests: EC key pairs as PEM files (model signing), ed25519 SSH keys
made by ssh-keygen (git signatures) and their allowed-signers lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def make_key(folder: Path, name: str = "release") -> tuple[Path, Path]:
    """A fresh EC P-256 key pair as PEM files in `folder`: (private key, public key)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def ssh_key(folder: Path, name: str) -> Path:
    """A fresh ed25519 key made by `ssh-keygen` without a passphrase: the private key's path
    (the public key is beside it, `.pub`), as git's `user.signingkey` takes it."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def signer_line(principal: str, key: Path, options: str = 'namespaces="git"') -> str:
    """The line of an allowed-signers file (git's gpg.ssh.allowedSignersFile) for `key`."""
    return f"{principal} {options} {key.with_suffix('.pub').read_text().strip()}\n"
