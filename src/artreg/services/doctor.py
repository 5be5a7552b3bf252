"""`artreg doctor`: is this machine and checkout ready to use the registry? Each problem comes
with its fix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from artreg.adapters import settings
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.dvc import repo as dvcrepo
from artreg.adapters.fastcopy import advice
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.errors import ArtregError
from artreg.publishing.transaction import lock_holder, state_dir
from artreg.registry import clone_history
from artreg.sources.location import ENV_VAR, locate


@dataclass(frozen=True)
class Check:
    """One finding of `artreg doctor`, with its fix when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _git_version() -> Check:
    found = gitrun.version()
    if found is None:
        return Check("git", False, "git is not installed", "install git 2.30 or newer")
    return Check("git", True, found)


def _remote(root: Path) -> list[Check]:
    url = dvcrepo.remote_url(root)
    if not url:
        return [
            Check(
                "DVC remote",
                False,
                "no default remote",
                "artreg init --remote URL, or dvc remote add -d NAME URL",
            )
        ]
    checks = [Check("DVC remote", True, url)]
    if url.startswith("s3://"):
        has_env = bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))
        local = root / ".dvc" / "config.local"
        in_local = local.is_file() and "access_key_id" in local.read_text()
        has_files = Path.home().joinpath(".aws", "credentials").is_file()
        checks.append(
            Check(
                "credentials",
                has_env or in_local or has_files,
                "found" if (has_env or in_local or has_files) else "no AWS credentials found",
                "export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or `dvc remote modify --local NAME access_key_id ...`",
            )
        )
    reachable = _reachable(root, url)
    checks.append(
        Check(
            "remote reachable",
            reachable is None,
            reachable or "yes",
            "check the URL, the network and the credentials" if reachable else "",
        )
    )
    return checks


def _links(root: Path) -> Check:
    """How DVC links the work tree to its cache; a suggestion (never a failure) when it copies."""
    try:
        types = dvcrepo.cache_types(root)
    except ArtregError as exc:
        return Check("DVC cache links", False, exc.message, exc.hint or "")
    found = ",".join(types)
    return Check("DVC cache links", True, advice(types) or f"{found} (one write per byte)")


def _reachable(root: Path, url: str) -> str | None:
    if "://" not in url:
        path = Path(url) if Path(url).is_absolute() else (root / ".dvc" / url).resolve()
        return (
            None if path.is_dir() else f"{path} does not exist (run `dvc push` once to create it)"
        )
    try:
        dvcremote.missing_in_remote(root, [], None)
    except Exception as exc:  # any failure to talk to the remote is the finding itself
        return f"cannot reach it: {str(exc).splitlines()[0][:200]}"
    return dvcremote.remote_problem(root)


def _lock(root: Path) -> list[Check]:
    holder = lock_holder(root)
    checks = [
        Check("lock", True, "free")
        if holder is None
        else Check(
            "lock",
            False,
            f"held by process {holder.get('pid')} on {holder.get('host')}",
            "wait for it, or pass --wait SECONDS",
        )
    ]
    journal = state_dir(root) / "transaction.json"
    checks.append(
        Check(
            "interrupted change",
            not journal.exists(),
            "none" if not journal.exists() else "a change was interrupted",
            "artreg recover",
        )
    )
    return checks


def diagnose(repo: Path | str | None = None) -> list[Check]:
    """Every check, in order, of the registry the writers would use (artreg.sources.location's rule);
    later checks are skipped when the repository itself is missing."""
    checks = [_git_version()]
    try:
        located = locate(repo)
    except ArtregError as exc:
        return [*checks, Check("registry", False, exc.message, exc.hint or "artreg init")]
    root = located.root
    is_registry = (root / "artifacts").is_dir()
    env = settings.repo()
    ignored = ""
    if env and located.source == "--repo":
        ignored = f"; --repo wins over {ENV_VAR}={env}"
    elif env and located.source != ENV_VAR:
        ignored = f"; {ENV_VAR}={env} applies only outside a git repository"
    checks.append(
        Check(
            "registry",
            is_registry,
            f"{root} (from {located.source}{ignored})",
            "" if is_registry else "artreg init",
        )
    )
    try:
        ident = gitrun.identity(root)
        checks.append(Check("git identity", True, ident))
    except ArtregError as exc:
        checks.append(Check("git identity", False, exc.message, exc.hint or ""))
    try:
        gitwrite.check_committable(root)
        checks.append(Check("checkout", True, f"on branch {gitrun.current_branch(root)}"))
    except ArtregError as exc:
        checks.append(Check("checkout", False, exc.message, exc.hint or ""))
    incomplete = clone_history.missing_history(root)
    checks.append(
        Check(
            "history and tags",
            incomplete is None,
            "complete" if incomplete is None else incomplete[0],
            "" if incomplete is None else incomplete[1],
        )
    )
    dvc_ok = (root / ".dvc").is_dir()
    checks.append(
        Check(
            "DVC",
            dvc_ok,
            "initialised" if dvc_ok else "not initialised",
            "" if dvc_ok else "artreg init",
        )
    )
    if dvc_ok:
        checks += [_links(root), *_remote(root)]
    checks += _lock(root)
    return checks
