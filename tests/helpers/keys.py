"""Signing keys for tests: a fresh EC key pair written as PEM files (model signatures), and
SSH keys made by `ssh-keygen` with their allowed-signers lines (signed promotion tags)."""

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
    """A fresh ed25519 key made by `ssh-keygen` (no passphrase): the private key's path, the
    public key next to it with `.pub`, as git's `user.signingkey` takes them."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def allowed_signer(principal: str, key: Path, options: str = 'namespaces="git"') -> str:
    """One line of git's allowed-signers file for `key` (its `.pub`)."""
    return f"{principal} {options} {key.with_suffix('.pub').read_text().strip()}\n"
