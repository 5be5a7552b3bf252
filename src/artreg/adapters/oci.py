"""The OCI distribution protocol, through oras-py (the ORAS project's Python client): the only
module that imports it, and only inside functions, so nothing else pays for its import.

oras-py brings the protocol's parts artreg should not write by hand: credentials from the
docker configuration a user already has (`~/.docker/config.json`, plus `REGISTRY_AUTH_FILE`
when set, as podman and skopeo read it; credential helpers too), the token and basic
authentication handshakes, blob existence checks, monolithic and chunked uploads. artreg
serialises the manifests itself, so the digest it records is the digest of the bytes it sent.

Also here: the OCI image layout writer (`--oci-layout DIR`), which needs no registry.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from artreg.adapters import settings
from artreg.adapters.files import replacing
from artreg.adapters.hashing import copy_and_hash
from artreg.errors import InputError, IntegrityError, NotFoundError, RemoteUnavailable

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
ENV_PLAIN_HTTP = "ARTREG_OCI_PLAIN_HTTP"
ENV_AUTH_FILE = "REGISTRY_AUTH_FILE"
# Larger blobs go up in chunks of this size (PATCH), smaller in one PUT: oras-py holds one
# chunk in memory, and fewer round trips keep the upload near a streamed copy's speed.
CHUNK = 64 << 20
_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        INDEX_MEDIA_TYPE,
    ]
)


@dataclass(frozen=True)
class Blob:
    """A small document (config, manifest, index) as the exact bytes pushed, with its digest."""

    raw: bytes
    media_type: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.raw).hexdigest())

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.raw), **extra}


class Layer(Protocol):
    """A file pushed as one raw layer: its path (for messages), sha256, size and media type."""

    @property
    def path(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def media_type(self) -> str: ...
    @property
    def digest(self) -> str: ...


@dataclass(frozen=True)
class Reference:
    """REGISTRY/REPOSITORY[:TAG], parsed."""

    registry: str
    repository: str
    tag: str | None = None

    @property
    def url(self) -> str:
        return f"oci://{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}" + (f":{self.tag}" if self.tag else "")


# The distribution spec's grammar: a repository is lower-case path components joined by `/`,
# each alphanumerics separated by `.`, `_`, `__` or dashes; a tag is 1-128 word characters,
# dots and dashes, not starting with a dot or a dash.
REPOSITORY_RULE = (
    "lower-case letters and digits, separated by '.', '_', '__' or '-' runs, '/' between parts"
)
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")


def valid_repository(name: str) -> bool:
    """True when `name` is an OCI repository name (the distribution spec's grammar)."""
    return _REPOSITORY.fullmatch(name) is not None


def parse_reference(text: str, what: str = "--oci") -> Reference:
    """`REGISTRY/REPOSITORY[:TAG]` (an `oci://` prefix allowed); InputError naming the fix."""
    body = text.removeprefix("oci://")
    if "://" in body:
        raise InputError(
            f"{what} {text!r}: an OCI reference has no URL scheme ({body.split('://')[0]}://)",
            hint="drop the scheme: REGISTRY/REPOSITORY[:TAG]; for a registry without TLS pass "
            f"--plain-http (or {ENV_PLAIN_HTTP}=1)",
        )
    registry, _, rest = body.partition("/")
    tag = None
    if ":" in rest.rsplit("/", 1)[-1]:
        rest, _, tag = rest.rpartition(":")
    if not registry or not rest or "@" in body or (tag is not None and not tag):
        raise InputError(
            f"{what} {text!r}: not REGISTRY/REPOSITORY[:TAG]",
            hint="e.g. ghcr.io/acme/encoder, or 127.0.0.1:5000/models/encoder:v1.0.0",
        )
    if rest != rest.lower() or any(c.isspace() for c in rest):
        raise InputError(
            f"{what} {text!r}: repository {rest!r} must be lower case, without spaces",
            hint="OCI repository names are lower case: e.g. acme/encoder",
        )
    if not valid_repository(rest):
        raise InputError(
            f"{what} {text!r}: {rest!r} is not an OCI repository name ({REPOSITORY_RULE})",
            hint="e.g. acme/encoder or models/text-encoder",
        )
    host, colon, port = (
        registry.rpartition(":") if not registry.endswith("]") else (registry, "", "")
    )
    if not colon:
        host, port = registry, ""
    if not _HOST.fullmatch(host) or (colon and not (port.isdigit() and 0 < int(port) < 65536)):
        raise InputError(
            f"{what} {text!r}: {registry!r} is not a registry HOST[:PORT] (a port is 1-65535)",
            hint="e.g. ghcr.io or 127.0.0.1:5000",
        )
    if tag is not None and not _TAG.fullmatch(tag):
        raise InputError(
            f"{what} {text!r}: tag {tag!r} is not an OCI tag (up to 128 letters, digits, '_', "
            "'.' and '-', not starting with '.' or '-')",
            hint="e.g. v1.0.0 or production",
        )
    return Reference(registry, rest, tag)


def plain_http(flag: bool) -> bool:
    """HTTP without TLS: the flag, or ARTREG_OCI_PLAIN_HTTP=1 (for a registry on loopback)."""
    return flag or settings.oci_plain_http()


class Client:
    """One repository of one registry."""

    def __init__(self, ref: Reference, *, insecure: bool = False) -> None:
        import oras.auth
        import oras.provider

        self.ref = ref
        self.scheme = "http" if insecure else "https"
        self._oras = oras.provider.Registry(ref.registry, insecure=insecure)
        self._container = self._oras.get_container(f"{ref.registry}/{ref.repository}")
        self.uploaded: list[str] = []  # the digests this client uploaded
        self.skipped: list[str] = []  # the digests the registry had already
        # The version check every client makes first: it says which authentication the
        # registry wants. oras-py's default backend speaks the token protocol (Docker Hub,
        # GHCR, Harbor, ECR); a registry asking for Basic (distribution with htpasswd,
        # Artifactory) gets its basic backend.
        ping = self._request("GET", f"{self.scheme}://{ref.registry}/v2/", auth=False)
        challenge = ping.headers.get("WWW-Authenticate", "")
        if ping.status_code == 401 and challenge.lower().startswith("basic"):
            self._oras.auth = oras.auth.get_auth_backend(
                "basic", self._oras.session, insecure, tls_verify=True
            )
            # Credentials from the docker configuration and REGISTRY_AUTH_FILE only, not the
            # ORAS_USER / ORAS_PASS variables this backend reads as well.
            self._oras.auth._basic_auth = None
        auth = settings.registry_auth_file()
        check_credential_files([auth] if auth else [])
        self._oras.auth.load_configs(self._container, configs=[auth] if auth else None)
        basic = getattr(self._oras.auth, "_basic_auth", None)
        if isinstance(self._oras.auth, oras.auth.BasicAuth) and basic:
            # Sent with every request, so an upload's bytes are not sent once unauthenticated.
            self._oras.session.headers["Authorization"] = f"Basic {basic}"

    def _url(self, path: str) -> str:
        return f"{self.scheme}://{self.ref.registry}/v2/{self.ref.repository}/{path}"

    def _request(self, method: str, url: str, *, auth: bool = True, **kwargs: Any) -> Any:
        import requests

        # oras' retry decorator sleeps 2 + 3**n seconds over five attempts (about two minutes)
        # before giving up, also on refused credentials: call the request once, and let exit 4
        # (retryable) tell CI to try again.
        once = getattr(type(self._oras).do_request, "__wrapped__", type(self._oras).do_request)
        try:
            if not auth:
                response = self._oras.session.request(method, url, verify=True, **kwargs)
            else:
                response = once(self._oras, url, method, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise InputError(
                f"OCI registry {self.ref.registry}: the TLS handshake failed ({exc})",
                hint="a registry without TLS (such as one on loopback) is reached with "
                f"--plain-http (or {ENV_PLAIN_HTTP}=1); otherwise check its certificate",
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RemoteUnavailable(
                f"OCI registry {self.ref.registry} did not answer ({type(exc).__name__})",
                hint="check the address and that the registry runs; with a registry without "
                f"TLS (such as one on loopback) pass --plain-http or set {ENV_PLAIN_HTTP}=1",
            ) from exc
        except ValueError as exc:  # oras: "Cannot respond to request for authentication."
            raise self._refused(str(exc)) from exc
        if auth and response.status_code in (401, 403):
            raise self._refused(f"HTTP {response.status_code}")
        return response

    def _refused(self, why: str) -> InputError:
        return InputError(
            f"OCI registry {self.ref.registry} refused the credentials ({why})",
            hint=f"log in (`docker login {self.ref.registry}`, or a file named by "
            f"{ENV_AUTH_FILE}); artreg never reads credentials from the repository",
        )

    def _failed(self, what: str, response: Any) -> InputError:
        try:
            detail = "; ".join(e.get("message", "") for e in response.json().get("errors", []))
        except ValueError:
            detail = response.text[:200]
        return InputError(
            f"OCI registry {self.ref.registry}: {what} failed: HTTP {response.status_code} "
            f"{detail}".rstrip(),
            hint="check the repository name and that your credentials may push to it",
        )

    # --- blobs ---------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        return int(self._request("HEAD", self._url(f"blobs/{digest}")).status_code) == 200

    def push_file(self, layer: Layer, path: Path) -> bool:
        """Upload `path` as `layer` unless the registry has it (HEAD first); True if uploaded.
        The registry checks the digest of what it receives, so altered bytes are refused."""
        if self.has_blob(layer.digest):
            self.skipped.append(layer.digest)
            return False
        import requests

        descriptor = {"digest": layer.digest, "size": layer.size, "mediaType": layer.media_type}
        container = self._container
        try:
            if layer.size > CHUNK:
                response = self._oras.chunked_upload(str(path), container, descriptor, CHUNK)
            else:
                response = self._oras.put_upload(str(path), container, descriptor)
        except (ValueError, requests.RequestException) as exc:  # oras-py raises ValueError
            raise RemoteUnavailable(
                f"OCI registry {self.ref.registry}: upload of {layer.path} failed ({exc})",
                hint="run the export again",
            ) from exc
        if response.status_code == 400 and "DIGEST_INVALID" in response.text:
            raise IntegrityError(
                f"{layer.path}: the bytes read have another sha256 than the release's manifest "
                f"records ({layer.sha256}); the registry refused them",
                hint="the file was altered after its release: restore it (`artreg pull --force`)",
            )
        if response.status_code not in (200, 201, 202):
            raise self._failed(f"upload of {layer.path}", response)
        self.uploaded.append(layer.digest)
        return True

    def push_bytes(self, blob: Blob) -> bool:
        """Upload a small document as a blob unless the registry has it; True if uploaded."""
        if self.has_blob(blob.digest):
            self.skipped.append(blob.digest)
            return False
        started = self._request(
            "POST", self._url("blobs/uploads/"), headers={"Content-Length": "0"}
        )
        location = started.headers.get("Location", "")
        if started.status_code != 202 or not location:
            raise self._failed("starting an upload", started)
        if not location.startswith("http"):
            location = f"{self.scheme}://{self.ref.registry}{location}"
        sep = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{sep}digest={blob.digest}",
            data=blob.raw,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code not in (200, 201):
            raise self._failed("a blob upload", done)
        self.uploaded.append(blob.digest)
        return True

    @contextlib.contextmanager
    def open_blob(self, digest: str) -> Iterator[IO[bytes]]:
        """A stream of the blob's bytes (the caller hashes them while it stores them)."""
        response = self._request("GET", self._url(f"blobs/{digest}"), stream=True)
        try:
            if response.status_code == 404:
                raise NotFoundError(f"OCI registry {self.ref}: blob {digest} is missing")
            if response.status_code != 200:
                raise self._failed(f"download of {digest}", response)
            response.raw.decode_content = True
            yield response.raw
        finally:
            response.close()

    # --- manifests and tags --------------------------------------------------------------

    def put_manifest(self, blob: Blob, reference: str) -> str:
        """PUT the manifest's exact bytes under `reference` (a tag or its digest); its digest."""
        response = self._request(
            "PUT",
            self._url(f"manifests/{reference}"),
            data=blob.raw,
            headers={"Content-Type": blob.media_type},
        )
        if response.status_code not in (200, 201):
            raise self._failed(f"pushing the manifest {reference}", response)
        return blob.digest

    def get_manifest(self, reference: str) -> bytes | None:
        """The manifest's bytes under a tag or digest (None: no such tag), checked against the
        digest the registry announces (and `reference`, when it is a digest)."""
        response = self._request(
            "GET", self._url(f"manifests/{reference}"), headers={"Accept": _ACCEPT}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._failed(f"reading the manifest {reference}", response)
        raw = bytes(response.content)
        got = f"sha256:{hashlib.sha256(raw).hexdigest()}"
        claimed = [reference] if reference.startswith("sha256:") else []
        claimed += (
            [response.headers["Docker-Content-Digest"]]
            if "Docker-Content-Digest" in response.headers
            else []
        )
        for digest in claimed:
            if digest != got:
                raise IntegrityError(
                    f"OCI registry {self.ref}: manifest {reference} has digest {got}, the "
                    f"registry claims {digest}",
                    hint="the registry or something between serves altered bytes; do not use them",
                )
        return raw

    def read_blob(self, digest: str, limit: int) -> bytes:
        """A small blob's bytes (a config), refused when larger than `limit` (read no further)
        or not of `digest`."""
        with self.open_blob(digest) as stream:
            raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise IntegrityError(
                f"OCI registry {self.ref}: blob {digest} is larger than {limit} B; not read",
                hint="a ModelPack config is a few kilobytes: the artifact was altered, do not use it",
            )
        if f"sha256:{hashlib.sha256(raw).hexdigest()}" != digest:
            raise IntegrityError(
                f"OCI registry {self.ref}: blob {digest} has other bytes than its digest",
                hint="the registry or something between serves altered bytes; do not use them",
            )
        return raw

    def tags(self) -> list[str]:
        response = self._request("GET", self._url("tags/list"))
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise self._failed("listing tags", response)
        return list(response.json().get("tags") or [])


def check_credential_files(extra: Sequence[str]) -> None:
    """Refuse (InputError naming the file and the field) a credentials file oras-py would crash
    on: `extra` (REGISTRY_AUTH_FILE) and ~/.docker/config.json, each read as oras reads it."""
    for name in [*extra, os.path.expanduser("~/.docker/config.json")]:
        path = Path(name)
        if not path.is_file():
            continue
        hint = 'a JSON object such as {"auths": {"HOST": {"auth": "BASE64(user:password)"}}}: ' + (
            "log in again (`docker login HOST`) or fix the file"
        )
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise InputError(
                f"{path}: not a readable JSON credentials file ({exc})", hint=hint
            ) from exc
        if not isinstance(doc, dict):
            raise InputError(f"{path}: a {type(doc).__name__}, not a JSON object", hint=hint)
        auths = doc.get("auths", {})
        if not isinstance(auths, dict):
            raise InputError(
                f"{path}: field auths is a {type(auths).__name__}, not an object", hint=hint
            )
        for host, entry in auths.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("auth", ""), str):
                raise InputError(
                    f"{path}: field auths.{host} is not an object with a string auth", hint=hint
                )
            if entry.get("auth") and not _user_password(entry["auth"]):
                raise InputError(
                    f"{path}: field auths.{host}.auth is not base64 of user:password", hint=hint
                )
        helpers = doc.get("credHelpers", {})
        if not isinstance(helpers, dict) or not all(isinstance(v, str) for v in helpers.values()):
            raise InputError(f"{path}: field credHelpers is not an object of names", hint=hint)
        store = doc.get("credsStore", "")
        if not isinstance(store, str):
            raise InputError(f"{path}: field credsStore is not a name", hint=hint)
        if store and shutil.which(f"docker-credential-{store}") is None:
            raise InputError(
                f"{path}: field credsStore names the credential helper docker-credential-{store}, "
                "which is not installed (not on PATH)",
                hint=f"install docker-credential-{store}, or remove credsStore from {path} and "
                "log in again (`docker login HOST`)",
            )


def _user_password(auth: str) -> bool:
    try:
        return b":" in base64.b64decode(auth, validate=True)
    except ValueError:
        return False


def json_or_none(raw: bytes | None) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


# --- OCI image layout ----------------------------------------------------------------------


_REF_NAME = "org.opencontainers.image.ref.name"


def layout_manifest(out: Path, tag: str) -> bytes | None:
    """The manifest the layout `out` names under `tag` (None: no such ref, or unreadable)."""
    index = json_or_none(
        (out / "index.json").read_bytes() if (out / "index.json").is_file() else None
    )
    for entry in (index or {}).get("manifests", []):
        if isinstance(entry, dict) and (entry.get("annotations") or {}).get(_REF_NAME) == tag:
            blob = out / "blobs" / "sha256" / str(entry.get("digest", "")).removeprefix("sha256:")
            return blob.read_bytes() if blob.is_file() else None
    return None


@dataclass(frozen=True)
class Written:
    """What a layout export wrote: blobs copied (and their bytes), blobs already there."""

    written: list[str]
    bytes_written: int
    kept: list[str]


def write_layout(
    out: Path,
    manifest: Blob,
    documents: Sequence[Blob],
    files: Sequence[tuple[Layer, Path]],
    tag: str,
) -> Written:
    """Write (or add to) the OCI image layout `out`: the blobs, then index.json naming the
    manifest under `tag` beside the refs it held. Each file is hashed while it is copied and
    refused if its sha256 is not the layer's; a blob already there with its size is kept."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    copied, written, kept_blobs = 0, [], []
    for layer, path in files:
        target = blobs / layer.sha256
        if target.is_file() and target.stat().st_size == layer.size:
            kept_blobs.append(layer.digest)
            continue
        copied += _copy_checked(path, target, layer)
        written.append(layer.digest)
    for doc in (*documents, manifest):
        if (blobs / doc.sha256).is_file():
            kept_blobs.append(doc.digest)
            continue
        (blobs / doc.sha256).write_bytes(doc.raw)
        written.append(doc.digest)
        copied += len(doc.raw)
    index_path = out / "index.json"
    index = json_or_none(index_path.read_bytes() if index_path.is_file() else None) or {}
    ref_key = _REF_NAME
    kept = [
        m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(ref_key) != tag
    ]
    kept.append(manifest.descriptor(annotations={ref_key: tag}))
    listing = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": kept}
    tmp = out / ".index.json.tmp"
    tmp.write_text(json.dumps(listing, indent=2) + "\n")
    os.replace(tmp, index_path)
    return Written(written, copied, kept_blobs)


def _copy_checked(source: Path, target: Path, layer: Layer) -> int:
    tmp = target.with_name(f".{target.name}.part")
    tmp.unlink(missing_ok=True)  # a part an interrupted copy left
    with replacing(target, tmp):
        got = copy_and_hash(source, tmp)
        if (got.sha256, got.size) != (layer.sha256, layer.size):
            raise IntegrityError(
                f"{layer.path}: sha256 is {got.sha256} ({got.size} B), the release's manifest "
                f"records {layer.sha256} ({layer.size} B); nothing was written for it",
                hint="the file was altered after its release: restore it (`artreg pull --force`)",
            )
    return got.size
