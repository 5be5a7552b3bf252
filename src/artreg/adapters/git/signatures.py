"""git's own verification of signed tags and commits, against a committed allowed-signers file.

`git verify-tag` / `git verify-commit` decide (SSH through `ssh-keygen -Y verify` with
`gpg.ssh.allowedSignersFile`, GPG through gpg's keyring); artreg only reads their `--raw`
output for the principal and the key's fingerprint. The allowed-signers file is the blob
committed in the registry, written once under the git folder by its object id, so a verdict is
keyed by (signed object id, allowed-signers blob id): both name their content, so a cached
verdict never goes stale, and a repeat `verify` only asks git about objects it has not seen.

GPG signatures are checked by gpg; the principal is the email of the key's user id, and the key
counts as allowed only if the allowed-signers file lists it as `PRINCIPAL gpg FINGERPRINT`
(ssh-keygen skips such a line as not an SSH key).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from artreg.adapters.git import run as gitrun
from artreg.errors import InputError, ToolError

_SSH_GOOD = re.compile(r'^Good "git" signature for (?P<who>.+) with \S+ key (?P<fpr>\S+)$', re.M)
_SSH_KEY = re.compile(r'^Good "git" signature with \S+ key (?P<fpr>\S+)$', re.M)
_GPG_GOOD = re.compile(r"^\[GNUPG:\] GOODSIG \S+ (?P<uid>.*)$", re.M)
# VALIDSIG's first field is the signing (sub)key, its tenth the primary key's fingerprint.
_GPG_VALID = re.compile(
    r"^\[GNUPG:\] VALIDSIG (?P<fpr>[0-9A-F]+)(?: (?:\S+ ){8}(?P<primary>[0-9A-F]+))?", re.M
)
# gpg's status keywords of a signature it does not accept, as a reason a person can read.
_GPG_BAD = {
    "REVKEYSIG": "its GPG key {key} was revoked",
    "KEYREVOKED": "its GPG key was revoked",
    "EXPKEYSIG": "its GPG key {key} has expired",
    "KEYEXPIRED": "its GPG key has expired",
    "EXPSIG": "its GPG signature has expired",
    "BADSIG": "its GPG signature is bad (the signed object was altered)",
    "ERRSIG": "gpg cannot check it (no public key {key} in the keyring?)",
    "NO_PUBKEY": "gpg has no public key {key} in its keyring",
}
_GPG_STATUS = re.compile(r"^\[GNUPG:\] (?P<word>[A-Z_]+)(?: (?P<key>\S+))?", re.M)
_EMAIL = re.compile(r"<([^<>]+)>\s*$")
CACHE_FILE = "tag-signatures.json"
BATCH = 64  # objects per `git verify-tag` process when every signature in it is good


@dataclass(frozen=True)
class Verdict:
    """What git said of one signed object: signed at all, accepted by an allowed signer, who."""

    signed: bool
    verified: bool
    principal: str | None = None
    fingerprint: str | None = None
    detail: str = ""  # why it is not verified, for messages

    def as_json(self) -> dict[str, Any]:
        """The `signer` object of history, show and lineage."""
        return {
            "principal": self.principal,
            "fingerprint": self.fingerprint,
            "verified": self.verified,
        }


UNSIGNED = Verdict(signed=False, verified=False, detail="not signed")


def signers_blob(root: Path, rev: str, path: str) -> str | None:
    """The object id of the allowed-signers file committed at `rev` (None: not committed)."""
    out = gitrun.git(root, "rev-parse", "--verify", "--quiet", f"{rev}:{path}", check=False)
    return out.strip() or None


def _state_dir(root: Path) -> Path:
    return gitrun.common_dir(root) / "artreg"


def materialize(root: Path, blob: str) -> Path:
    """The allowed-signers blob as a file git can be pointed at (written once per blob)."""
    path = _state_dir(root) / "allowed_signers" / blob
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = gitrun.git(root, "cat-file", "blob", blob)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    return path


def gpg_principals(text: str) -> dict[str, set[str]]:
    """The GPG keys the allowed-signers text lists (`PRINCIPAL[,..] gpg FINGERPRINT`): by
    fingerprint, upper case, the principals it may sign as."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not parts[0].startswith("#") and parts[1] == "gpg":
            found.setdefault(parts[2].upper(), set()).update(parts[0].split(","))
    return found


def parse(returncode: int, output: str, gpg_allowed: Mapping[str, set[str]]) -> Verdict:
    """A verdict from `git verify-tag/verify-commit --raw`'s exit status and output."""
    good = _SSH_GOOD.search(output)
    if good:
        verified = returncode == 0
        return Verdict(True, verified, good["who"], good["fpr"], "" if verified else output.strip())
    key = _SSH_KEY.search(output)
    if key:
        reason = "its key is not an allowed signer"
        if "expired" in output or "not yet valid" in output:
            reason = "its key was not valid then (valid-before/valid-after)"
        return Verdict(True, False, None, key["fpr"], reason)
    gpg = _GPG_GOOD.search(output)
    valid = _GPG_VALID.search(output)
    if gpg and valid and returncode == 0:
        email = _EMAIL.search(gpg["uid"])
        principal = email[1] if email else gpg["uid"].strip()
        # A listed primary key vouches for its signing subkeys, as gpg's own key listing shows it.
        keys = {valid["fpr"].upper(), (valid["primary"] or "").upper()} - {""}
        allowed = any(principal in gpg_allowed.get(k, set()) for k in keys)
        reason = "" if allowed else "its GPG key is not an allowed signer"
        return Verdict(True, allowed, principal, valid["fpr"], reason)
    if "no signature found" in output:
        return UNSIGNED
    return Verdict(True, False, None, None, _gpg_reason(output))


def _gpg_reason(output: str) -> str:
    """Why gpg refused a signature, from its status lines (else git's last line)."""
    for status in _GPG_STATUS.finditer(output):
        reason = _GPG_BAD.get(status["word"])
        if reason:
            return reason.format(key=status["key"] or "")
    return output.strip().splitlines()[-1] if output.strip() else "bad signature"


def _verify(root: Path, kind: str, oids: Sequence[str], signers: Path | None) -> tuple[int, str]:
    config = ["-c", f"gpg.ssh.allowedSignersFile={signers}"] if signers else []
    # git's runner that returns the exit status and stderr, which are git's answer here.
    proc = gitrun.run_status(root, *config, f"verify-{kind}", "--raw", *oids)
    return proc.returncode, proc.stdout + proc.stderr


def _verify_batch(
    root: Path, kind: str, oids: Sequence[str], signers: Path | None, gpg: Mapping[str, set[str]]
) -> list[Verdict]:
    """One git for many objects where every SSH signature is good (git then prints one line
    per object, in order); otherwise one git per object, whose output is that object's alone."""
    if len(oids) > 1:
        code, output = _verify(root, kind, oids, signers)
        good = list(_SSH_GOOD.finditer(output))
        if code == 0 and len(good) == len(oids) and len(output.splitlines()) == len(oids):
            return [Verdict(True, True, g["who"], g["fpr"]) for g in good]
    return [parse(*_verify(root, kind, [oid], signers), gpg) for oid in oids]


def _load_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def verify_objects(
    root: Path, kind: str, oids: Sequence[str], blob: str | None
) -> dict[str, Verdict]:
    """Verdicts of git on the tags or commits `oids` against the allowed-signers blob `blob`,
    in parallel, from the cache where known (each verdict stored under (oid, blob))."""
    cache_path = _state_dir(root) / CACHE_FILE
    cache = _load_cache(cache_path)
    key = f"{blob or '-'}"
    verdicts: dict[str, Verdict] = {}
    todo = []
    for oid in dict.fromkeys(oids):
        hit = cache.get(f"{oid}:{key}")
        if hit is not None and _cacheable(Verdict(**hit)):
            verdicts[oid] = Verdict(**hit)
        else:
            todo.append(oid)
    if not todo:
        return verdicts
    signers = materialize(root, blob) if blob else None
    gpg_allowed = gpg_principals(signers.read_text("utf-8")) if signers else {}
    from concurrent.futures import ThreadPoolExecutor  # git and ssh-keygen do the work

    workers = (os.cpu_count() or 1) + 1  # git waits on ssh-keygen: one more than the cores
    size = max(1, min(BATCH, -(-len(todo) // workers)))
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    with ThreadPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        results = pool.map(lambda b: _verify_batch(root, kind, b, signers, gpg_allowed), batches)
        for batch, found in zip(batches, results, strict=True):
            for oid, verdict in zip(batch, found, strict=True):
                verdicts[oid] = verdict
                if _cacheable(verdict):
                    cache[f"{oid}:{key}"] = asdict(verdict)
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, cache_path)
    except OSError:
        pass  # a cache that cannot be written only costs the next run the same work
    return verdicts


def _cacheable(verdict: Verdict) -> bool:
    """Whether a verdict depends only on (object, allowed-signers blob): SSH's and "unsigned"
    do; GPG's also on the keyring (a key revoked there later), so gpg is asked every time."""
    return not verdict.signed or (verdict.fingerprint or "").startswith("SHA256:")


def tag_objects(root: Path, tags: Sequence[str]) -> dict[str, str]:
    """The tag object id of each annotated tag among `tags` (lightweight tags are left out)."""
    return {name: oid for name, (oid, _) in _tag_objects(root, tags).items()}


def _tag_objects(root: Path, tags: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each annotated tag among `tags`: its object id and the name its object was made as."""
    if not tags:
        return {}
    out = gitrun.git(
        root,
        "for-each-ref",
        "--format=%(objecttype) %(objectname) %(tag)%00%(refname:strip=2)",
        *(f"refs/tags/{t}" for t in tags),
    )
    found = {}
    for line in out.splitlines():
        head, _, name = line.partition("\0")
        kind, oid, made_as = [*head.split(" ", 2), "", ""][:3]
        if kind == "tag":
            found[name] = (oid, made_as)
    return found


def verify_tags(root: Path, tags: Sequence[str], blob: str | None) -> dict[str, Verdict]:
    """git's verdict on each annotated tag among `tags` against the allowed-signers blob. A
    tag object made under another name (a signed tag re-used under this ref, which git warns
    of) is not verified here: its signature covers the name in the object, not the ref's."""
    objects = _tag_objects(root, tags)
    found = verify_objects(root, "tag", [oid for oid, _ in objects.values()], blob)
    verdicts = {}
    for name, (oid, made_as) in objects.items():
        verdict = found[oid]
        if made_as != name and verdict.signed:
            verdict = replace(
                verdict,
                verified=False,
                detail=f"its tag object was made as {made_as}, not {name}: its signature does "
                "not cover this tag's name",
            )
        verdicts[name] = verdict
    return verdicts


def probe_signer(root: Path, blob: str | None) -> Verdict:
    """Who the user's git signing key signs as: a signed commit object made and verified
    (never referenced by any branch or tag), so git's own configuration and rules answer."""
    try:
        # Dated now, whatever GIT_COMMITTER_DATE says: the tags are, and git checks a key's
        # valid-before against the date the signature carries.
        now = {"GIT_COMMITTER_DATE": f"{int(time.time())} +0000"}
        oid = gitrun.git(
            root, "commit-tree", "-S", "-m", "artreg: signing probe", "HEAD^{tree}", env=now
        ).strip()
    except ToolError as exc:
        raise InputError(
            f"git cannot sign with your configuration: {exc.message}",
            hint="configure a signing key (git config user.signingkey, and gpg.format ssh for "
            "an SSH key), then run the command again with --sign",
        ) from None
    return verify_objects(root, "commit", [oid], blob)[oid]
