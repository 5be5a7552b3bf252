"""How complete a registry clone's history is, and completing it: a shallow clone, or one
without registry tags although it has committed stage folders, gets what it lacks from its
upstream remote before a command reads the registry (the git side: adapters/git/history)."""

from __future__ import annotations

from pathlib import Path

from artreg.adapters.git.history import fetch_history, is_shallow, upstream_remote
from artreg.adapters.git.run import git
from artreg.registry.tags import parse_tag


def has_registry_tags(root: Path) -> bool:
    """True if any tag of the repository is in the registry's grammar."""
    names = git(root, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags").split("\n")
    return any(parse_tag(name) is not None for name in names if name)


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
