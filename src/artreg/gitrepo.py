"""The handful of git operations artreg needs, through git's own CLI.

Why the CLI and not GitPython's object layer: signing (`commit -S`, `tag -s`) and the one-call
tag listing (`for-each-ref`) only exist in git itself, and spawning git directly keeps read
commands free of GitPython's import cost. Every failure becomes a ToolError naming the command.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from artreg.errors import ArtregError, InputError, RemoteUnavailable, ToolError
from artreg.tags import FOR_EACH_REF_FORMAT, TagRecord, parse_for_each_ref

# Keep git's output stable and free of pagers and prompts, whatever the user's configuration.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}


def git(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> str:
    """Run `git -C root args...` and return its stdout; raise ToolError on failure."""
    full_env = {**os.environ, **_GIT_ENV, **(env or {})}
    proc = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        check=False,
    )
    if check and proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip()
        raise ToolError(f"git {' '.join(args[:3])} failed in {root}: {detail}")
    return proc.stdout


def toplevel(start: Path) -> Path:
    """The root of the git work tree that contains `start`."""
    start = start if start.is_dir() else start.parent
    proc = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(
            f"{start}: not inside a git repository",
            hint="run `artreg init` to make a registry here, or cd into one",
        )
    return Path(proc.stdout.strip())


def head(root: Path) -> str | None:
    """The commit HEAD points at, or None in a repository without commits."""
    out = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    return out or None


def current_branch(root: Path) -> str | None:
    out = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return out or None


def list_tags(root: Path, names: Sequence[str] | None = None) -> list[TagRecord]:
    """Every registry tag (or only those of `names`) with its target commit, date, tagger and
    message: one git call. Limiting to names spares git reading thousands of tag objects."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    out = git(root, "for-each-ref", f"--format={FOR_EACH_REF_FORMAT}", *patterns)
    return parse_for_each_ref(out)


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


# What git prints when it cannot talk to a remote at all (as opposed to a refusal).
_UNREACHABLE = (
    "unable to connect",
    "connection refused",
    "could not resolve host",
    "connection timed out",
    "unable to access",
    "could not read from remote repository",
    "the remote end hung up unexpectedly",
)


def unreachable(remote: str, exc: ToolError) -> ArtregError:
    """The error to raise for a failed exchange with `remote`: retryable when it did not answer."""
    if any(marker in exc.message.lower() for marker in _UNREACHABLE):
        return RemoteUnavailable(
            f"git remote {remote} did not answer, so nothing was changed: {exc.message}",
            hint="check the network and the remote's URL (`git remote -v`), then run the command again",
        )
    return exc


def status(root: Path, paths: Sequence[str] = ()) -> str:
    """`git status --porcelain` (optionally limited to paths), for before/after comparisons."""
    args = ["status", "--porcelain=v1", "--untracked-files=all"]
    return git(root, *args, "--", *paths) if paths else git(root, *args)


def add(root: Path, paths: Sequence[str], force: bool = False) -> None:
    if paths:
        git(root, "add", *(["--force"] if force else []), "--", *paths)


def commit(
    root: Path, message: str, paths: Sequence[str], sign: bool = False, allow_empty: bool = False
) -> str:
    """Commit exactly `paths` (other staged changes stay staged) and return the new commit."""
    args = ["commit", "--quiet", "--no-verify", "-m", message]
    if sign:
        args.append("-S")
    if allow_empty:
        args.append("--allow-empty")
    if head(root) is None:
        # `--only` needs a parent; the first commit of a repo takes the index as it is.
        git(root, *args)
    else:
        git(root, *args, "--only", "--", *paths)
    sha = head(root)
    assert sha is not None
    return sha


def create_tag(
    root: Path, tag: str, commit: str, message: str, timestamp: int, sign: bool = False
) -> None:
    """Create an annotated (or signed) tag dated `timestamp`, so tag order is never a tie."""
    env = {"GIT_COMMITTER_DATE": f"{timestamp} +0000"}
    git(root, "tag", "-s" if sign else "-a", "-m", message, tag, commit, env=env)


def delete_tags(root: Path, tags: Sequence[str]) -> None:
    for tag in tags:
        git(root, "tag", "-d", tag, check=False)


def tag_exists(root: Path, tag: str) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False))


def show_file(root: Path, rev: str, path: str) -> bytes | None:
    """A file's bytes at a revision, or None if it does not exist there."""
    proc = subprocess.run(
        ["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


def json_at(root: Path, rev: str, path: str) -> Any:
    """A JSON file as committed at `rev` (parsed strictly), or None if it is not there."""
    from artreg.documents import parse_json

    data = show_file(root, rev, path)
    return None if data is None else parse_json(data.decode("utf-8"), f"{path}@{rev[:12]}")


def identity(root: Path) -> str:
    """'Name <email>' of the configured git user, or a clear error telling how to set it."""
    name = git(root, "config", "user.name", check=False).strip()
    email = git(root, "config", "user.email", check=False).strip()
    if not name or not email:
        raise InputError(
            "git has no user identity configured, and every registry change records who made it",
            hint='run: git config user.name "Your Name" && git config user.email you@example.com',
        )
    return f"{name} <{email}>"


def reset_paths(root: Path, rev: str | None, paths: Sequence[str]) -> None:
    """Make the index entries of `paths` match `rev` (or remove them when there is no rev)."""
    if not paths:
        return
    if rev is None:
        git(root, "rm", "--cached", "--quiet", "-r", "--ignore-unmatch", "--", *paths, check=False)
    else:
        git(root, "reset", "--quiet", rev, "--", *paths, check=False)


def move_head(root: Path, rev: str) -> None:
    """Point the current branch back at `rev`, leaving index and work tree alone."""
    git(root, "update-ref", "-m", "artreg: roll back", "HEAD", rev)


def training_code_state(path: Path) -> dict[str, object] | None:
    """Commit and dirty state of the git repo holding `path` (the training code), if any."""
    start = path if path.is_dir() else path.parent
    proc = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--verify", "--quiet", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(start), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {"commit": proc.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def verify_signature(root: Path, kind: str, ref: str) -> bool:
    """True if git accepts the signature of a tag or commit (`git verify-tag/verify-commit`)."""
    return (
        subprocess.run(
            ["git", "-C", str(root), f"verify-{kind}", ref], capture_output=True, check=False
        ).returncode
        == 0
    )


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    """True if `ancestor` is `descendant` or in its history."""
    return (
        subprocess.run(
            ["git", "-C", str(root), "merge-base", "--is-ancestor", ancestor, descendant],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


# --- a registry named by URL, without a clone (consumers) ----------------------------------
#
# Consumers keep one bare, shallow, partial repository per registry URL in their cache and
# fetch exactly the objects they read: tag objects (with their commits, no trees), then the
# trees along the one path that matters, then a handful of blobs. Fetches name the remote as a
# promisor only on their own command line, so the repository's config never makes git fetch
# missing objects behind our back: a missing object reads as missing, never as a slow fetch.


def _run_bytes(
    args: Sequence[str], *, cwd: Path | None = None, stdin: bytes | None = None
) -> bytes:
    """Run git with `args`; return stdout as bytes, raise ToolError with git's message."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        input=stdin,
        env={**os.environ, **_GIT_ENV},
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise ToolError(
            f"git {' '.join(a for a in args[:3] if not a.startswith('-c'))} failed: {detail}"
        )
    return proc.stdout


def _remote_error(url: str, exc: ToolError) -> ArtregError:
    """A failed exchange with a registry URL: bad input if there is no repository there, else
    retryable if it did not answer."""
    text = exc.message.lower()
    missing = ("does not appear to be a git repository", "repository not found", "not found")
    found = exc if any(m in text for m in missing) else unreachable(url, exc)
    if found is not exc:
        return found
    return InputError(
        f"{url}: not a git repository that can be read ({exc.message})",
        hint="check the registry URL: a path to a repository, file://, ssh:// or https://",
    )


def ls_remote_tags(url: str, patterns: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
    """Every tag of the repository at `url` (or those matching `patterns`), as tag -> (object,
    commit it peels to): one `git ls-remote`, nothing fetched."""
    try:
        out = _run_bytes(["ls-remote", "--tags", url, *patterns]).decode("utf-8", "replace")
    except ToolError as exc:
        raise _remote_error(url, exc) from exc
    found: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        tag = ref.removeprefix("refs/tags/")
        if tag.endswith("^{}"):
            obj = found.get(tag[:-3], (sha, sha))[0]
            found[tag[:-3]] = (obj, sha)
        elif tag not in found:
            found[tag] = (sha, sha)  # a lightweight tag peels to itself
    return found


def init_cache_repo(path: Path, url: str) -> None:
    """A bare repository for one registry URL (idempotent); it never runs gc on its own."""
    if (path / "HEAD").is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _run_bytes(["init", "--bare", "--quiet", str(tmp)])
    for key, value in (("remote.origin.url", url), ("gc.auto", "0"), ("maintenance.auto", "false")):
        _run_bytes(["-C", str(tmp), "config", key, value])
    try:
        os.replace(tmp, path)  # another process may have made it first: either is fine
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def fetch_objects(
    repo: Path,
    url: str,
    wants: Sequence[str],
    *,
    filter_spec: str,
    depth: int | None = None,
) -> None:
    """Fetch `wants` (object ids, or `+src:dst` refspecs) from `url` into the cache repo `repo`,
    with a partial-clone filter, in one `git fetch --stdin`."""
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
        "origin",
        "--stdin",
    ]
    try:
        _run_bytes(args, stdin="".join(f"{w}\n" for w in wants).encode())
    except ToolError as exc:
        raise _remote_error(url, exc) from exc


def read_objects(repo: Path, oids: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """Objects of `repo` by id, as (type, bytes), in one `git cat-file --batch`; absent ones
    are left out (the repository is never allowed to fetch them lazily)."""
    if not oids:
        return {}
    out = _run_bytes(
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
        _run_bytes(["-C", str(repo), "update-ref", "--stdin"], stdin="".join(lines).encode())


def local_tag_objects(repo: Path, names: Sequence[str] | None = None) -> dict[str, str]:
    """tag -> object id of the cache repo's tags (of `names`, or all)."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    out = _run_bytes(
        ["-C", str(repo), "for-each-ref", "--format=%(refname:strip=2) %(objectname)", *patterns]
    ).decode("utf-8", "replace")
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)
