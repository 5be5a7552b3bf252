"""What `artreg verify` checks of released folders, tags, dvc.yaml and registry.json, and
`artreg bundle import`'s last check before it writes, which runs those same checks.

The bundle's tip, checked out from the private scratch repository, must pass them, so that a
re-summed bundle carrying a forged release (or one whose tip the far side would find out of
date) is refused rather than imported into a registry that then fails `artreg verify`. Both
services (verify, bundle) import them from here, below the services, so neither imports the
other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.artifacts.integrity import Report, check_folder
from artreg.errors import ArtregError, IntegrityError
from artreg.publishing import index
from artreg.registry import dvcyaml, state
from artreg.registry import fold as folding
from artreg.registry.layout import DVC_YAML, REGISTRY_JSON, StageDir
from artreg.registry.records import Registry

_REMAKE = "make the bundle again with `artreg bundle create` in the registry that released it"


def check_tip(scratch: Path, tmp: Path, tip: str, folders: Iterable[str]) -> None:
    """Check `tip` out of the bare `scratch` repository into `tmp` and refuse (IntegrityError,
    exit 1) naming each problem `artreg verify` would report there about the carried release
    `folders` (paths relative to the registry root), the tags, dvc.yaml and registry.json."""
    tree = tmp / "tip"
    gitrun.git(scratch, "worktree", "add", "--quiet", "--detach", str(tree), tip)
    parsed = [StageDir.parse(f) for f in sorted(set(folders))]
    problems = release_problems(tree, [f for f in parsed if f is not None])
    if problems:
        raise IntegrityError(
            f"the bundle's tip {tip[:12]} fails `artreg verify`: " + "; ".join(problems),
            hint=_REMAKE,
        )


# --- what `artreg verify` checks of the tags, registry.json and dvc.yaml -----------------


def check_tags(root: Path, registry: Registry, report: Report) -> None:
    """Each promotion tag's folder is in its commit, where dvc.yaml points its artifact."""
    promoting = [e for e in registry.tagged_events() if e.promotes]
    specs = [f"{e.commit}:{e.folder.relpath}/manifest.json" for e in promoting if e.folder]
    specs += [f"{e.commit}:{DVC_YAML}" for e in promoting]
    blobs = gitread.read_blobs(root, sorted(set(specs)))
    for record in promoting:
        report.count("tags")
        folder = record.folder
        if folder is None:
            report.problems.append(f"tag {record.tag}: cannot tell which folder it promoted")
            continue
        if blobs.get(f"{record.commit}:{folder.relpath}/manifest.json") is None:
            report.problems.append(
                f"tag {record.tag}: its commit {record.commit[:12]} does not hold {folder.relpath}"
            )
            continue
        dvc_yaml = blobs.get(f"{record.commit}:{DVC_YAML}") or b""
        path = dvcyaml.artifact_paths(dvc_yaml, DVC_YAML).get(record.parsed.name, "")
        if not path.startswith(folder.relpath + "/") and path != folder.relpath:
            report.problems.append(
                f"tag {record.tag}: dvc.yaml at {record.commit[:12]} points "
                f"artifacts.{record.parsed.name}.path at {path or 'nothing'}, not into {folder.relpath}"
            )


def check_index_and_dvc_yaml(root: Path, registry: Registry, report: Report) -> None:
    """registry.json is up to date with `registry`, and dvc.yaml names each artifact's folder."""
    try:
        if index.stale(root, registry):
            report.problems.append(
                f"{REGISTRY_JSON}: out of date; run `artreg index` and commit it"
            )
    except ArtregError as exc:
        report.problems.append(exc.message)
    try:
        data = dvcyaml.read(root)
    except (OSError, ArtregError) as exc:
        report.problems.append(f"dvc.yaml: cannot be read: {exc}")
        return
    artifacts = data.get("artifacts") or {}
    for name in registry.artifacts:
        if name not in artifacts:
            report.problems.append(f"dvc.yaml: no artifacts.{name} entry, though tags name it")
    for name, entry in artifacts.items():
        path = str((entry or {}).get("path", ""))
        folder = StageDir.parse(path)
        if folder is None or folder.name != name or not folder.path(root).is_dir():
            report.problems.append(
                f"dvc.yaml: artifacts.{name}.path {path!r} is not a folder of {name}"
            )


def reachable(root: Path, registry: Registry) -> Registry:
    """The registry as this checkout's history knows it: only the tags on commits in HEAD's
    history. On a promotion branch, tags that other merged promotions got on the default branch
    since are not this branch's to write into dvc.yaml or registry.json."""
    merged = set(
        gitrun.git(
            root, "for-each-ref", "--merged", "HEAD", "--format=%(refname:strip=2)", "refs/tags"
        ).split()
    )
    events = [e for e in registry.events if e.tag in merged]
    if len(events) == len(registry.events):
        return registry
    here = folding.fold(events)
    state.complete(root, here)
    return here


def release_problems(root: Path, folders: Iterable[StageDir]) -> list[str]:
    """What `verify` finds at the checkout `root` in `folders` (git-tracked files against their
    committed manifests), in each tag's folder and dvc.yaml path, and in registry.json and
    dvc.yaml against the tags: `bundle import` runs it on a bundle's tip before writing."""
    report = Report()
    registry = state.load(root, folders="all")
    for folder in folders:
        check_folder(root, folder, report)
    check_tags(root, registry, report)
    check_index_and_dvc_yaml(root, reachable(root, registry), report)
    return report.problems
