"""Every `ARTREG_*` environment variable artreg reads, each parsed by one function here.

Functions, not module constants: a variable is read when it is asked for (tests set them with
`monkeypatch.setenv`, and nothing happens at import time). Only this module reads `ARTREG_*`
from `os.environ` (tests/e2e/test_structure.py checks it); it imports nothing of artreg but its errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from artreg.errors import InputError


def approved_by() -> str | None:
    """$ARTREG_APPROVED_BY: who approved a release, as CI names them (unparsed; None if unset)."""
    return os.environ.get("ARTREG_APPROVED_BY")


def fault_raise_at() -> str | None:
    """$ARTREG_RAISE_AT: the fault point (artreg.adapters.faults) at which to raise, for tests."""
    return os.environ.get("ARTREG_RAISE_AT")


def fault_raise_errno() -> str | None:
    """$ARTREG_RAISE_ERRNO: the errno name (e.g. ENOSPC) of the OSError to raise there."""
    return os.environ.get("ARTREG_RAISE_ERRNO")


def fault_pause_at() -> tuple[str, int] | None:
    """$ARTREG_PAUSE_AT=<name>[:<n>]: the fault point at which to pause, and at which time the
    process reaches it (default the first); None when unset or empty."""
    target = os.environ.get("ARTREG_PAUSE_AT")
    if not target:
        return None
    wanted, sep, nth = target.rpartition(":")
    if not sep or not nth.isdigit():
        wanted, nth = target, "1"
    return wanted, int(nth or 1)


def fault_pause_file() -> str | None:
    """$ARTREG_PAUSE_FILE: where a paused process writes its pid (None or empty: nowhere)."""
    return os.environ.get("ARTREG_PAUSE_FILE")


_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


def _flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value not in _YES + _NO:  # a typo must not silently mean "off"
        raise InputError(
            f"${name}={os.environ[name]!r}: not a yes/no value",
            hint=f"set {name} to one of {', '.join(_YES)} (on) or {', '.join(_NO[1:])} (off), "
            "or unset it",
        )
    return value in _YES


def oci_plain_http() -> bool:
    """$ARTREG_OCI_PLAIN_HTTP=1: talk HTTP without TLS to OCI registries (one on loopback)."""
    return _flag("ARTREG_OCI_PLAIN_HTTP")


def oci_trusted_keys() -> list[str]:
    """$ARTREG_OCI_TRUSTED_KEYS: PEM public keys (os.pathsep-separated) an `oci://` artifact's
    signature must be made by; empty when unset (no signature required)."""
    raw = os.environ.get("ARTREG_OCI_TRUSTED_KEYS")
    if raw is None:
        return []
    keys = [p for p in raw.split(os.pathsep) if p.strip()]
    if not keys:  # set, yet naming no key: never read as "no signature required"
        raise InputError(
            f"$ARTREG_OCI_TRUSTED_KEYS={raw!r} names no key file",
            hint=f"list PEM public key files separated by {os.pathsep!r}, or unset the variable "
            "to accept unsigned models",
        )
    return keys


def registry_auth_file() -> str | None:
    """$REGISTRY_AUTH_FILE (podman's and skopeo's): a container-registry credentials file read
    beside ~/.docker/config.json; None when unset or empty."""
    return os.environ.get("REGISTRY_AUTH_FILE") or None


def cache_dir() -> Path:
    """The consumer cache folder: $ARTREG_CACHE, else the platform's user cache folder
    (~/.cache/artreg on Linux)."""
    raw = os.environ.get("ARTREG_CACHE")
    if raw:
        return Path(raw).expanduser().absolute()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("artreg", appauthor=False))


def offline() -> bool:
    """$ARTREG_OFFLINE=1: read registries from the consumer cache alone."""
    return _flag("ARTREG_OFFLINE")


def url_ttl() -> str:
    """$ARTREG_URL_TTL as written (stripped; "" when unset): the seconds a URL's last
    `git ls-remote` answers again inside one process. sources.base parses it."""
    return os.environ.get("ARTREG_URL_TTL", "").strip()


def cache_wait() -> str:
    """$ARTREG_CACHE_WAIT as written (stripped; "" when unset): the seconds to wait for another
    process's consumer-cache lock. sources.cache_wait parses it."""
    return os.environ.get("ARTREG_CACHE_WAIT", "").strip()


def repo() -> str | None:
    """$ARTREG_REPO: the registry clone to use when no --repo is given (None when unset)."""
    return os.environ.get("ARTREG_REPO") or None


def model_key_password() -> str | None:
    """$ARTREG_MODEL_KEY_PASSWORD: the password of a `--sign-model` key (None when unset)."""
    return os.environ.get("ARTREG_MODEL_KEY_PASSWORD")


def in_ci() -> bool:
    """$CI set (any CI system sets it): no progress bars, whatever the terminal."""
    return bool(os.environ.get("CI"))


def ci_actor() -> str | None:
    """$GITHUB_ACTOR: who triggered the GitHub Actions run (None elsewhere)."""
    return os.environ.get("GITHUB_ACTOR") or None
