"""One identity per registry, whatever the spelling of its URL.

Every record a consumer keeps about a registry (the trust ratchet, a version's bytes as first
seen, snapshots, retraction verdicts) is keyed by `identity(url)`, so no spelling of one registry
is a new registry that starts with no memory (a policy refused under one spelling must not be
served under another):

- a local repository, named by a path (relative, with `..`, through a symlink), `file:///x` or
  `file://localhost/x`, is `file://` + the realpath of the folder;
- a network URL has its scheme and host lower-cased, the scheme's default port, trailing slashes
  and a `.git` suffix dropped (git hosts and `git daemon` serve `x` and `x.git` as one
  repository); scp-like `[user@]host:path` is read as `ssh://[user@]host/path` (git's rule).

Two hosts (127.0.0.1 and localhost, a name and its address, two names of one server) cannot be
proven to be one registry without asking DNS and trusting the answer, so they stay two
identities: each then ratchets on its own. The path of a network URL keeps its case (servers
differ in whether it matters).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

_SCP_LIKE = re.compile(r"^(?:(?P<user>[\w.+-]+)@)?(?P<host>[\w.-]+):(?!//)(?P<path>.*)$")
_DEFAULT_PORTS = {"git": 9418, "ssh": 22, "git+ssh": 22, "ssh+git": 22, "http": 80, "https": 443}


def local_path(url: str | os.PathLike[str]) -> Path | None:
    """The realpath of the local repository `url` names (a path, `file:///x` or
    `file://localhost/x`), or None when it names a network repository."""
    text = os.fspath(url)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() != "file" or parts.netloc.lower() not in ("", "localhost"):
            return None
        return Path(os.path.realpath(unquote(parts.path) or "/"))
    match = _SCP_LIKE.match(text)
    if match and not Path(text).exists() and not re.match(r"^[A-Za-z]:[\\/]", text):
        return None  # git reads host:path as ssh, unless such a path exists
    return Path(os.path.realpath(Path(text).expanduser()))


def file_url(url: str | os.PathLike[str]) -> str:
    """`url` as an absolute `file://` URL when it names a local repository (the same registry
    from any folder, as a lock file must say it), else unchanged but for trailing slashes."""
    path = local_path(url)
    return path.as_uri() if path is not None else os.fspath(url).rstrip("/")


def identity(url: str | os.PathLike[str]) -> str:
    """The one name of the registry `url` spells (see the module's docstring)."""
    path = local_path(url)
    if path is not None:
        return path.as_uri()
    text = os.fspath(url)
    match = None if "://" in text else _SCP_LIKE.match(text)
    if match:
        user = f"{match['user']}@" if match["user"] else ""
        text = f"ssh://{user}{match['host']}/{match['path'].lstrip('/')}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    user, _, hostport = parts.netloc.rpartition("@")
    host, port = hostport.lower(), None
    if re.search(r":\d+$", host) and not host.endswith("]"):
        host, _, number = host.rpartition(":")
        port = int(number)
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    tail = parts.path.rstrip("/").removesuffix(".git").rstrip("/")
    return f"{scheme}://{user + '@' if user else ''}{host}{tail}"
