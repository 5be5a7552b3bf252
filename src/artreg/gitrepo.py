"""The handful of git operations artreg needs, through git's own CLI.

Why the CLI and not GitPython's object layer: signing (`commit -S`, `tag -s`) and the one-call
tag listing (`for-each-ref`) only exist in git itself, and spawning git directly keeps read
commands free of GitPython's import cost. Every failure becomes a ToolError naming the command.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from artreg.errors import ArtregError, InputError, PushRejected, RemoteUnavailable, ToolError
from artreg.tags import parse_tag

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


def for_each_ref(root: Path, fmt: str, names: Sequence[str] | None = None) -> str:
    """`git for-each-ref` over every tag (or only those of artifact `names`): one git call.
    Limiting to names spares git reading thousands of tag objects."""
    patterns = [f"refs/tags/{n}{sep}*" for n in names for sep in "#@"] if names else ["refs/tags"]
    return git(root, "for-each-ref", f"--format={fmt}", *patterns)


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
    from artreg.fileio import parse_json

    data = show_file(root, rev, path)
    return None if data is None else parse_json(data.decode("utf-8"), f"{path}@{rev[:12]}")


def _ident(root: Path, who: str) -> str:
    """'Name <email>' of git's GIT_AUTHOR_IDENT or GIT_COMMITTER_IDENT, resolved by git itself
    (GIT_*_NAME/EMAIL, then user.* at every config level, then EMAIL), the way a commit is."""
    proc = subprocess.run(
        ["git", "-C", str(root), "var", f"GIT_{who.upper()}_IDENT"],
        capture_output=True,
        text=True,
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
    # "Name <email> 1700000000 +0000": drop the timestamp and zone.
    return proc.stdout.strip().rsplit(" ", 2)[0]


def identity(root: Path) -> str:
    """'Name <email>' of the author git records on the next commit; a clear error (with the fix)
    when git could not make that commit because the author or the committer is unknown."""
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


def version() -> str | None:
    """`git --version`, or None when git is not installed."""
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
