"""Changes of policy and who authorized them: the pull-request check (`verify --base`, the
"Policy changes" of `summary`) and, on the default branch, every commit in history that loosened
`rights:` (`artreg verify`).

A change is authorized when git verifies the commit against the allowed-signers file of the
policy before it (for a pull request: the base's; a pull request cannot authorize itself). In a
pull request only keys valid now count (registry/policy_changes.valid_now): git checks a key
against the date the commit claims, which a retired key can backdate at will. In history, where
a key retired since must keep what it authorized then, git's verdict at the commit's date holds,
but a commit dated before its parent, or in the future, is not believed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import signatures
from artreg.adapters.git.signatures import Verdict
from artreg.errors import ArtregError, ToolError
from artreg.publishing.rights import rights_at, signers_blob
from artreg.registry.layout import PARAMS_FILE
from artreg.registry.policy import committed_sections, may_set, sections_of
from artreg.registry.policy_changes import loosenings, rights_loosenings, valid_now
from artreg.registry.rights import Rights, parse

_FUTURE = 24 * 3600  # seconds a commit may be dated ahead of this machine's clock


@dataclass(frozen=True)
class PolicyChange:
    """A commit that loosens a rule, and whether it is authorized (signed by an allowed signer
    of the policy before it: the base branch's, for a pull request)."""

    commit: str
    subject: str
    loosened: list[str]
    signer: Verdict

    @property
    def authorized(self) -> bool:
        return self.signer.verified

    def as_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "subject": self.subject,
            "loosened": self.loosened,
            "signer": self.signer.as_json(),
            "authorized": self.authorized,
        }


def _signers_bytes(root: Path, rev: str, rights: Rights) -> bytes:
    if not rights.allowed_signers:
        return b""
    return gitread.show_file(root, rev, rights.allowed_signers) or b""


def valid_now_blob(root: Path, rev: str, rights: Rights) -> str | None:
    """The object id of the allowed-signers file at `rev` without the keys not valid now
    (stored as a git object when that leaves a line out; None: the rights name no file)."""
    blob = signers_blob(root, rev, rights)
    if blob is None:
        return None
    text = _signers_bytes(root, rev, rights)
    kept = valid_now(text, datetime.now(UTC))
    if kept == text:
        return blob
    proc = gitrun.run_bytes_in(root, "hash-object", "-w", "--stdin", stdin=kept)
    if proc.returncode != 0:
        raise ToolError(f"git hash-object failed: {proc.stderr.decode('utf-8', 'replace')}")
    return proc.stdout.decode().strip()


def _files(root: Path, *rights: Rights) -> list[str]:
    return sorted({PARAMS_FILE, *(r.allowed_signers for r in rights if r.allowed_signers)})


def policy_changes(root: Path, base: str) -> tuple[list[PolicyChange], str]:
    """The commits of base..HEAD that loosen params.yaml's rules or the allowed signers, and the
    diff of those files from the merge base to HEAD (for the summary)."""
    merge_base = gitrun.git(root, "merge-base", base, "HEAD").strip()
    base_rights = rights_at(root, merge_base)
    head_rights = rights_at(root, gitrun.head(root))
    files = _files(root, base_rights, head_rights)
    log = gitrun.git(
        root, "log", "--reverse", "--format=%H %P%x00%s", f"{merge_base}..HEAD", "--", *files
    )
    authority = valid_now_blob(root, merge_base, base_rights)
    changes: list[PolicyChange] = []
    for line in log.splitlines():
        ids, _, subject = line.partition("\0")
        commit, *parents = ids.split()
        parent = parents[0] if parents else merge_base
        before, after = rights_at(root, parent), rights_at(root, commit)
        found = loosenings(
            committed_sections(root, parent),
            committed_sections(root, commit),
            _signers_bytes(root, parent, before),
            _signers_bytes(root, commit, after),
        )
        if not found:
            continue
        signer = signatures.verify_objects(root, "commit", [commit], authority)[commit]
        changes.append(PolicyChange(commit, subject, found, signer))
    diff = gitrun.git(root, "diff", f"{merge_base}..HEAD", "--", *files) if changes else ""
    return changes, diff


def policy_problems(changes: Sequence[PolicyChange], base: str) -> list[str]:
    """`verify --base`'s problems: each loosening commit not signed by an allowed signer of
    the base branch's file (a pull request cannot authorize itself)."""
    return [
        f"commit {c.commit[:12]} ({c.subject}) loosens the policy: {'; '.join(c.loosened)}; "
        f"it is not signed by an allowed signer of {base}'s allowed-signers file with a key "
        f"valid now ({c.signer.detail or 'unknown signer'})"
        for c in changes
        if not c.authorized
    ]


# --- the default branch's history ---------------------------------------------------------------


class _Policies:
    """params.yaml's rights, and the allowed-signers bytes, at many commits: read
    through one `git cat-file --batch` each, every distinct params.yaml parsed once."""

    def __init__(
        self,
        root: Path,
        revs: Sequence[str],
        blobs: Mapping[str, bytes | None] | None = None,
        signers: bool = True,
    ) -> None:
        self.root = root
        if blobs is None:
            blobs = gitread.read_blobs(root, [f"{r}:{PARAMS_FILE}" for r in revs])
        parsed: dict[bytes | None, Rights | None] = {}
        self.at: dict[str, Rights | None] = {}
        for rev in revs:
            blob = blobs[f"{rev}:{PARAMS_FILE}"]
            if blob not in parsed:
                parsed[blob] = self._parse(blob, rev)
            self.at[rev] = parsed[blob]
        specs = [f"{r}:{f.allowed_signers}" for r, f in self.at.items() if f and f.allowed_signers]
        self.signers = gitread.read_blobs(root, specs) if signers else {}

    @staticmethod
    def _parse(blob: bytes | None, rev: str) -> Rights | None:
        try:
            return parse(sections_of(blob, rev).get("rights"))
        except ArtregError:
            return None  # verify reports an unreadable params.yaml on its own

    def loosened(self, commit: str, parents: Sequence[str]) -> list[str]:
        """What `commit` loosened in `rights:` against its first parent; [] for a merge that
        takes its policy from one of its parents (the commits that made it are judged)."""
        after = self.at[commit]
        if after is None or not parents:
            return []
        found: list[list[str]] = []
        for parent in parents:
            before = self.at[parent]
            if before is None:
                return []
            lines = rights_loosenings(
                before,
                after,
                self.signers.get(f"{parent}:{before.allowed_signers}") or b"",
                self.signers.get(f"{commit}:{after.allowed_signers}") or b"",
            )
            if not lines:
                return []
            found.append(lines)
        return found[0]


def history_problems(root: Path, tip: str | None = None) -> tuple[int, list[str]]:
    """Every commit reachable from `tip` (default HEAD) that loosened `rights:` or the allowed
    signers without git verifying its signature against the allowed signers of its parent:
    (how many loosened, the problems). One `git log` and one batch read when params.yaml never
    had rights (the common case)."""
    tip = tip or gitrun.head(root)
    if tip is None:
        return 0, []
    ever = gitrun.git(root, "log", "--format=%H", tip, "--", PARAMS_FILE).split()
    blobs = gitread.read_blobs(root, [f"{c}:{PARAMS_FILE}" for c in ever])
    if not any(may_set(b, "rights") for b in blobs.values()):
        return 0, []
    named = (f.allowed_signers for f in _Policies(root, ever, blobs, False).at.values() if f)
    paths = sorted({path for path in named if path})
    log = gitrun.git(root, "log", "--format=%H %P%x00%s", tip, "--", PARAMS_FILE, *paths)
    entries = [
        (ids.split(), subject) for ids, _, subject in (x.partition("\0") for x in log.splitlines())
    ]
    revs = sorted({rev for ids, _ in entries for rev in ids})
    policies = _Policies(root, revs)
    count, problems = 0, []
    for (commit, *parents), subject in entries:
        found = policies.loosened(commit, parents)
        if not found:
            continue
        count += 1
        why = _unauthorized(root, commit, parents)
        if why:
            problems.append(
                f"commit {commit[:12]} ({subject}) loosens the rights: {'; '.join(found)}; "
                f"{why} (a loosening must be signed by an allowed signer of the policy before it)"
            )
    return count, problems


def _dates(root: Path, commits: Sequence[str]) -> dict[str, int]:
    out = gitrun.git(root, "show", "--no-patch", "--format=%H %ct", *commits)
    return {c: int(t) for c, t in (line.split() for line in out.splitlines() if line)}


def _unauthorized(root: Path, commit: str, parents: list[str]) -> str | None:
    """Why `commit` is not authorized by its first parent's allowed signers (None: it is)."""
    parent = parents[0]
    rights = rights_at(root, parent)
    blob = signers_blob(root, parent, rights)
    if blob is None:
        return f"{rights.source} names no allowed-signers file to authorize it"
    verdict = signatures.verify_objects(root, "commit", [commit], blob)[commit]
    if not verdict.verified:
        return f"it is not signed by an allowed signer of {parent[:12]} ({verdict.detail})"
    dates = _dates(root, [commit, *parents])
    if any(dates[commit] < dates[p] for p in parents):
        return (
            f"it is signed by {verdict.principal}, but dated before its parent: a retired key "
            "can sign with any date"
        )
    if dates[commit] > time.time() + _FUTURE:
        return f"it is signed by {verdict.principal}, but dated in the future"
    return None


def check(root: Path, report: Any, base: str | None) -> None:
    """verify's checks of policy changes, into its report: with `base` (a pull request's
    check), each loosening of base..HEAD not signed by a key of the base's allowed signers valid
    now; and each commit before (all of HEAD's history without `base`) that loosened `rights:`
    without a signature by an allowed signer of its parent."""
    try:
        tip = None
        if base is not None:
            changes, _ = policy_changes(root, base)
            report.count("commits loosening the policy", len(changes))
            report.problems += policy_problems(changes, base)
            tip = gitrun.git(root, "merge-base", base, "HEAD").strip()
        count, problems = history_problems(root, tip)
        if count:
            report.count("commits loosening the rights in history", count)
        report.problems += problems
    except ArtregError as exc:
        report.problems.append(exc.message)
