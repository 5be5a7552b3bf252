"""A registry named by URL, without a clone (consumers), and the tags of a clone's remote.

Consumers keep one bare, shallow, partial repository per registry URL in their cache and
fetch exactly the objects they read: tag objects (with their commits, no trees), then the
trees along the one path that matters, then a handful of blobs. Fetches name the remote as a
promisor only on their own command line, so the repository's config never makes git fetch
missing objects behind our back: a missing object reads as missing, never as a slow fetch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from artreg.adapters.git.run import git, remote_error, run_bytes, run_status
from artreg.errors import ToolError


def remote_tags(root: Path, remote: str, tags: Sequence[str]) -> dict[str, str]:
    """Which of `tags` exist on `remote`, with the commit each points at (one `ls-remote`)."""
    if not tags:
        return {}
    patterns = [f"refs/tags/{t}{peel}" for t in tags for peel in ("", "^{}")]
    out = git(root, "ls-remote", "--tags", remote, *patterns, check=False)
    found: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        tag = ref.removeprefix("refs/tags/")
        if tag.endswith("^{}"):
            found[tag[:-3]] = sha  # the peeled commit wins over the tag object
        else:
            found.setdefault(tag, sha)
    return found


def ls_remote_tags(url: str, patterns: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
    """Every tag of the repository at `url` (or those matching `patterns`), as tag -> (object,
    commit it peels to): one `git ls-remote`, nothing fetched."""
    return _ls_remote(url, ["--tags", url, *patterns])[0]


def ls_remote_head(
    url: str, patterns: Sequence[str]
) -> tuple[dict[str, tuple[str, str]], str | None]:
    """The tags matching `patterns` (as `ls_remote_tags`) and the commit the repository's HEAD
    (its default branch) points at, or None without one: still one `git ls-remote`."""
    return _ls_remote(url, [url, "HEAD", *patterns])


def _ls_remote(url: str, args: Sequence[str]) -> tuple[dict[str, tuple[str, str]], str | None]:
    try:
        out = run_bytes(["ls-remote", *args]).decode("utf-8", "replace")
    except ToolError as exc:
        raise remote_error(url, exc) from exc
    head = None
    found: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == "HEAD":
            head = sha
        elif ref.startswith("refs/tags/"):
            tag = ref.removeprefix("refs/tags/")
            if tag.endswith("^{}"):
                obj = found.get(tag[:-3], (sha, sha))[0]
                found[tag[:-3]] = (obj, sha)
            elif tag not in found:
                found[tag] = (sha, sha)  # a lightweight tag peels to itself
    return found, head


def init_cache_repo(path: Path, url: str) -> None:
    """A bare repository for one registry URL (idempotent); it never runs gc on its own."""
    if (path / "HEAD").is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    run_bytes(["init", "--bare", "--quiet", str(tmp)])
    for key, value in (("remote.origin.url", url), ("gc.auto", "0"), ("maintenance.auto", "false")):
        run_bytes(["-C", str(tmp), "config", key, value])
    try:
        os.replace(tmp, path)  # another process may have made it first: either is fine
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def cache_repo_intact(path: Path) -> bool:
    """git's own check (`fsck`: every object's bytes, and links) of a consumer cache's bare
    repository, read as the partial clone it is: objects a filtered fetch left out are the
    registry's to send, not damage."""
    promisor = ("-c", "extensions.partialClone=origin", "-c", "remote.origin.promisor=true")
    return run_status(path, *promisor, "fsck", "--no-progress", "--no-dangling").returncode == 0


def fetch_objects(
    repo: Path,
    url: str,
    wants: Sequence[str],
    *,
    filter_spec: str,
    depth: int | None = None,
    refetch: bool = False,
) -> None:
    """Fetch `wants` (object ids, or `+src:dst` refspecs) from `url` into the cache repo `repo`,
    with a partial-clone filter, in one `git fetch --stdin`; `refetch`: also what an earlier,
    narrower filter left out of commits the repo has (git's --refetch)."""
    if not wants:
        return
    args = [
        "-C",
        str(repo),
        "-c",
        "remote.origin.promisor=true",
        "-c",
        f"remote.origin.partialclonefilter={filter_spec}",
        "-c",
        "fetch.negotiationAlgorithm=noop",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-auto-gc",
        "--no-write-fetch-head",
        "--recurse-submodules=no",
        f"--filter={filter_spec}",
        *([f"--depth={depth}"] if depth else []),
        *(["--refetch"] if refetch else []),
        "origin",
        "--stdin",
    ]
    try:
        run_bytes(args, stdin="".join(f"{w}\n" for w in wants).encode())
    except ToolError as exc:
        raise remote_error(url, exc) from exc


def read_objects(repo: Path, oids: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """Objects of `repo` by id, as (type, bytes), in one `git cat-file --batch`; absent ones
    are left out (the repository is never allowed to fetch them lazily)."""
    if not oids:
        return {}
    out = run_bytes(
        ["-C", str(repo), "cat-file", "--batch"], stdin="".join(f"{o}\n" for o in oids).encode()
    )
    found: dict[str, tuple[str, bytes]] = {}
    pos = 0
    for oid in oids:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode()
        pos = end + 1
        parts = header.split()
        if len(parts) == 2 and parts[1] == "missing":
            continue
        size = int(parts[2])
        found[oid] = (parts[1], out[pos : pos + size])
        pos += size + 1
    return found


def set_tags(repo: Path, updates: Mapping[str, str], deletes: Sequence[str]) -> None:
    """Create, move or delete tag refs of the cache repo in one `git update-ref --stdin`."""
    lines = [f"update refs/tags/{t} {oid}\n" for t, oid in updates.items()]
    lines += [f"delete refs/tags/{t}\n" for t in deletes]
    if lines:
        run_bytes(["-C", str(repo), "update-ref", "--stdin"], stdin="".join(lines).encode())


def local_tag_objects(repo: Path, names: Sequence[str] | None = None) -> dict[str, str]:
    """tag -> object id of the cache repo's tags (of `names`, or all)."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    out = run_bytes(
        ["-C", str(repo), "for-each-ref", "--format=%(refname:strip=2) %(objectname)", *patterns]
    ).decode("utf-8", "replace")
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)
