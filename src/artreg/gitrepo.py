"""The handful of git operations artreg needs, through git's own CLI.

Why the CLI and not GitPython's object layer: signing (`commit -S`, `tag -s`) and the one-call
tag listing (`for-each-ref`) only exist in git itself, and spawning git directly keeps read
commands free of GitPython's import cost. Every failure becomes a ToolError naming the command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from artreg import tagstream
from artreg.errors import ArtregError, InputError, PushRejected, RemoteUnavailable, ToolError
from artreg.registry.tags import parse_tag
from artreg.registry.values import check_line, ident_source

_GIT_ENV = tagstream.GIT_ENV  # git's output stable, with no pager or prompt, whatever the config


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
        raise not_trusted(detail) or ToolError(
            f"git {' '.join(args[:3])} failed in {root}: {detail}"
        )
    return proc.stdout


def not_trusted(detail: str) -> InputError | None:
    """git's refusal of a repository another user owns ("dubious ownership", the
    safe.directory check) as bad input with git's own fix; None for any other failure. Such a
    repository answers nothing, so without this it reads as a network failure or no repository."""
    if "safe.directory" not in detail or not (
        "dubious ownership" in detail or "unsafe repository" in detail  # git >= 2.36, 2.35.2
    ):
        return None
    import re

    command = re.search(r"git config --global --add safe\.directory \S.*", detail)
    where = re.search(
        r"(?:dubious ownership in repository at |unsafe repository \()'([^']+)'", detail
    )
    path = where[1] if where else "the repository"
    fix = command[0].strip() if command else f"git config --global --add safe.directory {path}"
    return InputError(
        f"{path}: git refuses to work in this repository because another user owns it "
        '("dubious ownership")',
        hint=f"if you trust it, run `{fix}` (git's fix), or run as its owner; then run the "
        "command again",
    )


def _run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git -C where args...` whose exit status is the answer (no ToolError)."""
    return subprocess.run(
        ["git", "-C", str(where), *args], capture_output=True, text=True, check=False
    )


def toplevel(start: Path) -> Path:
    """The root of the git work tree that contains `start`."""
    start = start if start.is_dir() else start.parent
    found = work_tree(start)
    if found is None:
        raise InputError(
            f"{start}: not inside a git repository",
            hint="artreg init (to make a registry here), or cd into a registry, or pass --repo PATH",
        )
    return found


def head(root: Path) -> str | None:
    """The commit HEAD points at, or None in a repository without commits."""
    out = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
    return out or None


def current_branch(root: Path) -> str | None:
    out = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return out or None


def for_each_ref(
    root: Path,
    fmt: str,
    names: Sequence[str] | None = None,
    while_waiting: Callable[[], object] | None = None,
) -> str:
    """`git for-each-ref` over every tag (or only those of artifact `names`: that spares git
    reading thousands of tag objects), decoded as `git()` decodes. When the console script
    started this listing already (tagstream), `while_waiting` runs if git has printed nothing
    yet: git reads every ref and tag object before its first line (100 ms at 10,000 loose
    refs), time the caller may spend getting ready for the answer."""
    args = tagstream.args(fmt, names)
    listing = tagstream.take(root, args)
    if listing is None:
        return git(root, *args)
    try:
        if while_waiting is not None and not listing.printing():
            while_waiting()
        out = listing.read_text()
    finally:
        listing.close()
    if listing.returncode != 0:
        git(root, *args)  # asked again for git's message: raises ToolError with it
        raise ToolError(f"git {' '.join(args[:3])} failed in {root} (exit {listing.returncode})")
    return out


def read_blobs(root: Path, specs: Sequence[str]) -> dict[str, bytes | None]:
    """Many `REV:PATH` files through one `git cat-file --batch` process; None where absent."""
    if not specs:
        return {}
    proc = subprocess.run(
        ["git", "-C", str(root), "cat-file", "--batch"],
        input="".join(f"{spec}\n" for spec in specs).encode(),
        capture_output=True,
        env={**os.environ, **_GIT_ENV},
        check=False,
    )
    if proc.returncode != 0:
        raise ToolError(f"git cat-file --batch failed in {root}: {proc.stderr.decode().strip()}")
    out, pos = proc.stdout, 0
    found: dict[str, bytes | None] = {}
    for spec in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].rsplit(b" ", 2)
        pos = end + 1
        if len(header) == 3 and header[2].isdigit():  # "<oid> <type> <size>" then the bytes
            size = int(header[2])
            found[spec] = out[pos : pos + size] if header[1] == b"blob" else None
            pos += size + 1
        else:  # "<spec> missing" / "<spec> ambiguous"
            found[spec] = None
    return found


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


# What git prints when it cannot talk to a remote at all, and when a ref lost a race.
_UNREACHABLE = (
    "unable to connect",
    "connection refused",
    "could not resolve host",
    "connection timed out",
    "unable to access",
    "could not read from remote repository",
    "the remote end hung up unexpectedly",
)
_LOST_RACE = ("rejected", "failed to push some refs", "cannot lock ref", "stale info")


def unreachable(remote: str, exc: ToolError) -> ArtregError:
    """The error to raise for a failed exchange with `remote`: retryable when it did not answer."""
    text = exc.message.lower()
    # git says "could not read from remote repository" also for a remote that does not exist.
    if "does not appear to be a git repository" not in text and any(
        marker in text for marker in _UNREACHABLE
    ):
        return RemoteUnavailable(
            f"git remote {remote} did not answer, so nothing was changed: {exc.message}",
            hint="check the network and the remote's URL (`git remote -v`), then run the command again",
        )
    return exc


def push(root: Path, remote: str, refs: Sequence[str]) -> None:
    """`git push --atomic`: all refs or none. A lost race raises PushRejected (retryable), a
    remote that does not answer RemoteUnavailable, anything else ToolError."""
    try:
        git(root, "push", "--atomic", "--porcelain", remote, *refs)
    except ToolError as exc:
        # A lost race may also say "the remote end hung up": the refusal is the finding.
        if any(m in exc.message.lower() for m in _LOST_RACE):
            raise PushRejected(
                f"another change reached {remote} first ({exc.message.splitlines()[-1]})",
                hint=f"`git pull --rebase --tags {remote}` and run the command again",
            ) from exc
        raise unreachable(remote, exc) from exc


def fetch(root: Path, remote: str, refspecs: Sequence[str], tags: bool = False) -> None:
    """`git fetch` of `refspecs` (and every tag); a remote that does not answer is retryable."""
    try:
        git(root, "fetch", "--quiet", *(["--tags"] if tags else []), remote, *refspecs)
    except ToolError as exc:
        raise unreachable(remote, exc) from exc


def creation_commit(root: Path, rev: str, path: str) -> str | None:
    """The commit in `rev`'s history that added `path`, or None when `rev` does not hold it."""
    out = git(root, "log", "--format=%H", "--diff-filter=A", rev, "--", path, check=False)
    found = out.split()
    return found[-1] if found else None


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


def commit_files(
    root: Path, parent: str, files: Mapping[str, str], message: str, sign: bool = False
) -> str:
    """A new commit on `parent` whose tree is parent's with `files` (path → text) written;
    HEAD, the index and the work tree are left alone (a private index file is used)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="artreg-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "read-tree", parent, env=env)
        for path, text in files.items():
            blob = git(root, "hash-object", "-w", "--stdin", f"--path={path}", stdin=text).strip()
            git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(root, "write-tree", env=env).strip()
    args = ["commit-tree", tree, "-p", parent, "-m", message, *(["-S"] if sign else [])]
    return git(root, *args).strip()


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


class BatchReader:
    """Many files at many revisions through one `git cat-file --batch` process.

    `read` writes every request from a second thread while this one reads the answers, so
    neither pipe fills up and blocks the other however many files are asked for.
    """

    def __init__(self, root: Path, proc: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
        self.root = root
        self._proc = proc
        self._stderr = stderr

    def read(self, specs: Sequence[str]) -> list[bytes | None]:
        """The bytes of each `<rev>:<path>` blob, in order; None where there is no such blob."""
        if not specs:
            return []
        for spec in specs:
            if "\n" in spec or "\r" in spec:
                raise InputError(
                    f"{spec!r}: a path with a line break cannot be read", hint="rename it"
                )
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None

        def write(stdin: IO[bytes] = proc.stdin) -> None:
            with contextlib.suppress(OSError):  # git died: the reader below says so
                stdin.write(b"".join(spec.encode("utf-8") + b"\n" for spec in specs))
                stdin.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        out = proc.stdout
        answers: list[bytes | None] = []
        try:
            for _ in specs:
                header = out.readline()
                if not header:
                    raise ToolError(
                        f"git cat-file --batch ended early in {self.root}: {self._error()}"
                    )
                fields = header.split()
                if len(fields) != 3 or not fields[2].isdigit():
                    answers.append(None)  # "<spec> missing" or "<spec> ambiguous"
                    continue
                data = out.read(int(fields[2]))
                out.read(1)  # the newline after each object
                answers.append(data if fields[1] == b"blob" else None)
        finally:
            writer.join()
        return answers

    def _error(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip() or "no message"


@contextmanager
def batch_reader(root: Path) -> Iterator[BatchReader]:
    """A BatchReader for the repo at `root`; its git process is ended and reaped afterwards."""
    import tempfile

    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            ["git", "-C", str(root), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **_GIT_ENV},
        )
        try:
            yield BatchReader(root, proc, stderr)
        finally:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.wait()


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    timestamp: int  # committer date
    subject: str


def log_commits(root: Path, rev: str = "HEAD") -> list[CommitInfo]:
    """Every commit reachable from `rev`, newest first, with parents, date and subject (one call)."""
    if head(root) is None:
        return []
    out = git(root, "log", "--format=%H%x00%P%x00%ct%x00%s%x1e", rev, "--")
    commits = []
    for chunk in out.split("\x1e"):
        fields = chunk.strip("\n").split("\x00")
        if len(fields) == 4:
            sha, parents, date, subject = fields
            commits.append(CommitInfo(sha, tuple(parents.split()), int(date), subject))
    return commits


def commit_time(root: Path, rev: str) -> tuple[str, int] | None:
    """(full sha, committer date) of the commit `rev` names, or None if it names none."""
    if not rev or rev.startswith("-"):
        return None  # never let a value be read as an option
    out = git(root, "show", "-s", "--format=%H %ct", f"{rev}^{{commit}}", "--", check=False).split()
    return (out[0], int(out[1])) if len(out) == 2 and out[1].isdigit() else None


def json_at(root: Path, rev: str, path: str) -> Any:
    """A JSON file as committed at `rev` (parsed strictly), or None if it is not there."""
    from artreg.adapters.files import parse_json

    data = show_file(root, rev, path)
    return None if data is None else parse_json(data.decode("utf-8"), f"{path}@{rev[:12]}")


def _ident(root: Path, who: str) -> str:
    """'Name <email>' of GIT_AUTHOR_IDENT or GIT_COMMITTER_IDENT, resolved by git as a commit is."""
    proc = subprocess.run(
        ["git", "-C", str(root), "var", f"GIT_{who.upper()}_IDENT"],
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",  # a name that is not UTF-8 is refused below, with its fix
        env={**os.environ, **_GIT_ENV},
        check=False,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("fatal: ") if lines else "git var failed"
        raise InputError(
            f"git cannot tell who the {who} of a commit is ({reason}), and every registry change "
            "records who made it",
            hint='run: git config user.name "Your Name" && git config user.email you@example.com '
            "(in CI, set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and "
            "GIT_COMMITTER_EMAIL)",
        )
    # "Name <email> 1700000000 +0000": drop the timestamp and zone; it lands in commit messages.
    return check_line(proc.stdout.strip().rsplit(" ", 2)[0], *ident_source(who))


def identity(root: Path) -> str:
    """'Name <email>' of the next commit's author; an error with the fix when git has none."""
    author = _ident(root, "author")
    _ident(root, "committer")  # `git commit` and `git tag -a` need it too: refuse now, not later
    return author


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
    proc = _run(start, "rev-parse", "--verify", "--quiet", "HEAD")
    if proc.returncode != 0:
        return None
    dirty = _run(start, "status", "--porcelain", "--untracked-files=no")
    return {"commit": proc.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def verify_signature(root: Path, kind: str, ref: str) -> bool:
    """True if git accepts the signature of a tag or commit (`git verify-tag/verify-commit`)."""
    return _run(root, f"verify-{kind}", ref).returncode == 0


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    """True if `ancestor` is `descendant` or in its history."""
    return _run(root, "merge-base", "--is-ancestor", ancestor, descendant).returncode == 0


def creation_commits(root: Path) -> dict[str, str]:
    """Folder → the commit that added its manifest.json: one `git log` call."""
    out = git(
        root,
        "log",
        "--format=commit %H",
        "--diff-filter=A",
        "--name-only",
        "--",
        "artifacts/*/*/*/manifest.json",
    )
    created: dict[str, str] = {}
    commit = ""
    for line in out.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.strip():
            created[line.rsplit("/", 1)[0]] = commit  # log is newest first: keep the oldest
    return created


def pointer_blobs(root: Path, patterns: Sequence[str] = ("*.dvc",)) -> set[tuple[str, str]]:
    """Every (path, blob id) a `.dvc` file (or a file matching `patterns`) has had in any
    commit reachable from any ref (tags, branches, remote branches), and in the index: one
    `git log` and one `git ls-files`.

    `-m` shows merges against each parent, so a pointer only a merge introduced is listed too;
    both sides of a change are kept (the old side is what an older commit references).
    """
    zero = "0" * 40
    found: set[tuple[str, str]] = set()
    out = git(
        root,
        "log",
        "--all",
        "-m",
        "--no-renames",
        "--raw",
        "--no-abbrev",
        "--format=",
        "--",
        *patterns,
    )
    for line in out.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        parts = meta.split()
        for blob in parts[2:4]:
            if blob.strip("0") and blob != zero:
                found.add((path, blob))
    staged = git(root, "ls-files", "--stage", "-z", "--", *patterns)
    for entry in staged.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3:
            found.add((path, parts[1]))
    return found


def changed_files(root: Path, pattern: str) -> list[str]:
    """Work-tree files matching `pattern` that differ from the index (modified or deleted)
    or that git does not track (and does not ignore): what the index does not already say."""
    out = git(root, "ls-files", "-z", "--modified", "--others", "--exclude-standard", "--", pattern)
    return sorted({p for p in out.split("\0") if p})


def version() -> str | None:
    """`git --version`, or None when git is not installed."""
    import shutil

    if shutil.which("git") is None:
        return None
    return _run(Path.cwd(), "--version").stdout.strip()


def common_dir(repo: Path) -> Path:
    """The git directory a repository (bare or not) keeps its hooks and refs in."""
    proc = _run(repo, "rev-parse", "--git-common-dir")
    if proc.returncode != 0:
        raise InputError(
            f"{repo} is not a git repository: {proc.stderr.strip()}",
            hint="pass the path of the (bare) git repository that the server serves",
        )
    return (repo / proc.stdout.strip()).resolve()


def config_value(repo: Path, key: str) -> str:
    """A git configuration value as git resolves it (every level), or ''."""
    return _run(repo, "config", "--get", key).stdout.strip()


def work_tree(start: Path) -> Path | None:
    """The top level of the git work tree holding `start`, or None outside any."""
    proc = _run(start, "rev-parse", "--show-toplevel")
    refused = not_trusted(proc.stderr) if proc.returncode != 0 else None
    if refused is not None:
        raise refused
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def default_branch(root: Path) -> str | None:
    """The repository's default branch as git knows it: origin's HEAD, else init.defaultBranch
    (when this repository has that branch), else the branch checked out now."""
    origin_head = git(
        root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False
    ).strip()
    if origin_head.startswith("origin/"):
        return origin_head.removeprefix("origin/")
    configured = git(root, "config", "--get", "init.defaultBranch", check=False).strip()
    if configured and any(
        git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
        for ref in (f"refs/heads/{configured}", f"refs/remotes/origin/{configured}")
    ):
        return configured
    return current_branch(root)


def ref_exists(root: Path, ref: str) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip())


# What git itself records while an operation waits for the user, with how to end each one.
# Paths are resolved by `git rev-parse --git-path`, so worktrees and moved git dirs work.
_IN_PROGRESS = (
    ("rebase-merge", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("rebase-apply/applying", "a `git am`", "git am --continue` or `git am --abort"),
    ("rebase-apply", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("MERGE_HEAD", "a merge", "git commit` (to finish it) or `git merge --abort"),
    (
        "CHERRY_PICK_HEAD",
        "a cherry-pick",
        "git cherry-pick --continue` or `git cherry-pick --abort",
    ),
    ("REVERT_HEAD", "a revert", "git revert --continue` or `git revert --abort"),
    ("BISECT_START", "a bisect", "git bisect reset"),
)


def check_committable(root: Path) -> None:
    """Refuse (exit 2, with git's own way out) a checkout where a registry commit would fail or
    land nowhere: an operation in progress, unmerged paths, or a detached HEAD."""
    paths = git(
        root,
        "rev-parse",
        "--path-format=absolute",
        *[arg for name, _, _ in _IN_PROGRESS for arg in ("--git-path", name)],
    ).splitlines()
    for path, (_, what, fix) in zip(paths, _IN_PROGRESS, strict=True):
        if Path(path).exists():
            raise InputError(
                f"{root}: {what} is in progress, and a registry change must not be mixed into it",
                hint=f"finish or abort it first: `{fix}`",
            )
    unmerged = git(root, "ls-files", "--unmerged").splitlines()
    if unmerged:
        path = unmerged[0].split("\t", 1)[-1]
        raise InputError(
            f"{root}: the index has unmerged paths ({path} first), so git cannot commit",
            hint="resolve the conflicts and `git add` the files, or `git restore --staged --worktree` them",
        )
    if current_branch(root) is None:
        branch = default_branch(root)
        back = f" or `git switch {branch}` to go back to {branch}" if branch else ""
        raise InputError(
            f"{root}: HEAD is detached, so a registry commit would be on no branch and easily lost",
            hint=f"`git switch -c BRANCH` to keep working here on a new branch{back}",
        )


def has_registry_tags(root: Path) -> bool:
    """True if any tag of the repository is in the registry's grammar."""
    names = git(root, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags").split("\n")
    return any(parse_tag(name) is not None for name in names if name)


def is_shallow(root: Path) -> bool:
    return git(root, "rev-parse", "--is-shallow-repository", check=False).strip() == "true"


def missing_history(root: Path, check_tags: bool = True) -> tuple[str, str] | None:
    """(what this clone lacks, the git command that fetches it), or None when nothing is
    missing: a shallow clone, or (with `check_tags`) no registry tag although committed stage
    folders exist (cloned or fetched without tags)."""
    if is_shallow(root):
        return (
            "this is a shallow clone, so older registry tags and commits are missing",
            "git fetch --tags --unshallow",
        )
    if not check_tags or has_registry_tags(root):
        return None
    folders = git(root, "ls-files", "--", "artifacts/*/*/*/manifest.json", check=False)
    if folders.strip():
        return (
            "this clone has committed artifacts/ folders but no registry tags "
            "(it was cloned or fetched without tags)",
            "git fetch --tags",
        )
    return None


def complete_history(root: Path, fetch: bool = True, check_tags: bool = True) -> str | None:
    """Fetch what a shallow or (with `check_tags`) tagless clone lacks (registry tags, whole
    history) before a command reads the registry; returns a note saying what was fetched.

    Nothing is fetched when nothing is missing, with `fetch=False`, or without a remote to
    ask; the command's errors then say what to run (`missing_history`).
    """
    missing = missing_history(root, check_tags=check_tags)
    if missing is None or not fetch:
        return None
    remote = upstream_remote(root)
    if remote is None:
        return None
    command = fetch_history(root, remote, unshallow=is_shallow(root))
    return f"{missing[0]}; fetched what it lacks (`{command}`)"


def upstream_remote(root: Path) -> str | None:
    """The remote to fetch registry history from: the current branch's upstream remote, else
    `origin`, else the only remote; None when there is none to ask."""
    branch = current_branch(root)
    tracked = config_value(root, f"branch.{branch}.remote") if branch else ""
    if tracked and tracked != ".":
        return tracked
    remotes = git(root, "remote").split()
    if "origin" in remotes:
        return "origin"
    return remotes[0] if len(remotes) == 1 else None


def fetch_history(root: Path, remote: str, unshallow: bool) -> str:
    """Fetch the registry tags from `remote` and, in a shallow clone, the whole history;
    blob-filtered when the clone is a partial clone already (git allows `--filter` only
    there). Returns the command that ran, for the record."""
    args = ["fetch", "--quiet", "--no-write-fetch-head"]
    if config_value(root, f"remote.{remote}.promisor") == "true":
        args.append("--filter=blob:none")
    if unshallow:
        # Every registry command may read any tagged commit and each folder's creating commit,
        # so a partial deepening (--deepen N) would only move the problem: take it all once.
        args += ["--tags", "--unshallow", remote]
    else:
        # Tags only: remote-tracking branches stay where the user left them. No "+": a local
        # tag that differs from the remote's is refused by git, never overwritten.
        args += [remote, "refs/tags/*:refs/tags/*"]
    try:
        git(root, *args)
    except ToolError as exc:
        raise unreachable(remote, exc) from exc
    return "git " + " ".join(a for a in args if a not in ("--quiet", "--no-write-fetch-head"))


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
        raise not_trusted(detail) or ToolError(
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
    return _ls_remote(url, ["--tags", url, *patterns])[0]


def ls_remote_head(
    url: str, patterns: Sequence[str]
) -> tuple[dict[str, tuple[str, str]], str | None]:
    """The tags matching `patterns` (as `ls_remote_tags`) and the commit the repository's HEAD
    (its default branch) points at, or None without one: still one `git ls-remote`."""
    return _ls_remote(url, [url, "HEAD", *patterns])


def _ls_remote(url: str, args: Sequence[str]) -> tuple[dict[str, tuple[str, str]], str | None]:
    try:
        out = _run_bytes(["ls-remote", *args]).decode("utf-8", "replace")
    except ToolError as exc:
        raise _remote_error(url, exc) from exc
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
    _run_bytes(["init", "--bare", "--quiet", str(tmp)])
    for key, value in (("remote.origin.url", url), ("gc.auto", "0"), ("maintenance.auto", "false")):
        _run_bytes(["-C", str(tmp), "config", key, value])
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
    return _run(path, *promisor, "fsck", "--no-progress", "--no-dangling").returncode == 0


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
