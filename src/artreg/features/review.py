"""Pull-request promotions: `artreg tag` after the merge, and what the reviewer's summary shows
(rendered as markdown by `render.summary_markdown`).

A promotion made with `--branch` is committed on a branch without tags. After the merge, `artreg
tag` on main finds every stage folder that no tag names yet and tags the commit that brought it,
so it recognises promotions by content and works after merge commits, squashes and rebases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import gitrepo, state
from artreg.errors import ArtregError, VerificationFailed
from artreg.features.fetch import resolve
from artreg.gitrepo import creation_commits
from artreg.integrity import folder_problems
from artreg.layout import StageDir, stage_folders
from artreg.model import GateResult, Manifest, ManifestFile, Metadata, Registry, Source
from artreg.publish import actor
from artreg.tags import STAGES, Action, format_tag, next_counter, next_tag_time, tag_message

# --- tagging merged promotions --------------------------------------------------------------


@dataclass(frozen=True)
class PendingPromotion:
    folder: StageDir
    commit: str


def untagged_promotions(root: Path, registry: Registry | None = None) -> list[PendingPromotion]:
    """Stage folders in HEAD that no tag names, oldest first, with the commit that added them."""
    registry = registry or state.load(root, folders="all")
    tagged = registry.tagged_folders()
    created = creation_commits(root)
    order = {
        sha: i for i, sha in enumerate(reversed(gitrepo.git(root, "rev-list", "HEAD").split()))
    }
    pending = [
        PendingPromotion(folder, created[folder.relpath])
        for folder in stage_folders(root)
        if folder.relpath not in tagged and folder.relpath in created
    ]
    return sorted(pending, key=lambda p: (order.get(p.commit, 0), STAGES.index(p.folder.stage)))


def _actions(folder: StageDir) -> list[tuple[Action, str | None, str | None]]:
    if folder.stage == "production":
        return [
            (Action.REGISTER, None, folder.entry.removeprefix("v")),
            (Action.ASSIGN, "production", None),
        ]
    return [(Action.ASSIGN, folder.stage, None)]


def tag_merged(
    root: Path, push: bool = False, remote: str = "origin", wait: float = 0.0
) -> list[str]:
    """Create the missing tags of merged promotions (idempotent); optionally push them."""
    from artreg.transaction import repo_lock

    created: list[str] = []
    with repo_lock(root, wait=wait):
        registry = state.load(root, folders="all")
        records = registry.events
        who = actor(root)
        clock = next_tag_time(records)
        counters: dict[str, int] = {}
        pending_list = untagged_promotions(root, registry)
        problems = [p for pending in pending_list for p in folder_problems(root, pending.folder)]
        if problems:
            raise VerificationFailed(
                f"refusing to tag {len(pending_list)} merged promotion(s): their folders fail verification",
                problems,
            )
        try:
            for pending in pending_list:
                name = pending.folder.name
                counter = counters.get(name) or next_counter(records, name)
                message = tag_message(
                    f"artreg: tag merged promotion of {name} to {pending.folder.stage}",
                    kind=pending.folder.stage,
                    folder=pending.folder.relpath,
                    by=who,
                )
                for action, stage, version in _actions(pending.folder):
                    tag = format_tag(
                        action, name, stage, version, None if action is Action.REGISTER else counter
                    )
                    gitrepo.create_tag(root, tag, pending.commit, message, clock)
                    created.append(tag)
                    clock += 1
                counters[name] = counter + 1
        except BaseException:
            gitrepo.delete_tags(root, created)
            raise
        if push and created:
            try:
                gitrepo.git(root, "push", "--atomic", remote, *[f"refs/tags/{t}" for t in created])
            except ArtregError:
                # Keep local and remote alike: a later run must find these promotions untagged.
                gitrepo.delete_tags(root, created)
                raise
    return created


# --- the reviewer's summary -----------------------------------------------------------------


@dataclass(frozen=True)
class PromotionSummary:
    """What a reviewer sees of one promotion: source, gates, metric deltas, lineage, files."""

    folder: StageDir
    training_commit: str | None  # raw: the training code's commit
    source: Source | None
    approved_by: str | None
    gates: list[GateResult]
    metrics: dict[str, Any]
    baseline: tuple[str, dict[str, Any]] | None  # (label, metrics) of production to compare
    training_curves: str | None
    files: dict[str, ManifestFile]


def _metrics(root: Path, rev: str, folder: StageDir) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    sub = "performance" if folder.stage == "production" else "validation"
    listing = gitrepo.git(
        root, "ls-tree", "--name-only", rev, f"{folder.relpath}/{sub}/", check=False
    )
    for path in listing.split():
        data = gitrepo.json_at(root, rev, path) or {}
        metrics.update(
            {
                k: v
                for k, v in data.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
        )
    return metrics


def _production_baseline(
    root: Path, folder_under_review: StageDir
) -> tuple[str, dict[str, Any]] | None:
    """Metrics of the production release to compare with (for a validated artifact, those of
    the validated artifact behind it). Once the reviewed release is itself in production (the
    summary is read after the merge), the comparison is with the release before it."""
    name = folder_under_review.name
    try:
        current = resolve(root, name, stage="production")
    except ArtregError:
        return None
    if current.folder == folder_under_review:
        artifact = state.load(root, [name], folders="none").get(name)
        older = [v for v in artifact.released() if v.version != current.version]
        if not older:
            return None
        try:
            current = resolve(root, name, version=older[-1].version)
        except ArtregError:
            return None
    folder = current.folder
    if folder_under_review.stage == "validated":
        meta = gitrepo.json_at(root, current.commit, f"{folder.relpath}/metadata.json") or {}
        source = (meta.get("source") or {}).get("id")
        if not source:
            return None
        folder = StageDir("validated", name, source)
    label = f"v{current.version}" if current.version else folder.entry
    return label, _metrics(root, current.commit, folder)


def summaries(root: Path, folders: list[StageDir], rev: str = "HEAD") -> list[PromotionSummary]:
    """What the pull-request description shows of each promoted folder."""
    found = []
    for folder in folders:
        meta_json = gitrepo.json_at(root, rev, f"{folder.relpath}/metadata.json")
        meta = Metadata.from_json(meta_json) if meta_json else None
        manifest_json = gitrepo.json_at(root, rev, f"{folder.relpath}/manifest.json")
        manifest = Manifest.from_json(manifest_json) if manifest_json else None
        raw = folder.stage == "raw"
        found.append(
            PromotionSummary(
                folder=folder,
                training_commit=manifest.training_code.get("commit") if manifest else None,
                source=meta.source if meta else None,
                approved_by=meta.approval.approved_by if meta and meta.approval else None,
                gates=meta.gates if meta else [],
                metrics={} if raw else _metrics(root, rev, folder),
                baseline=None if raw else _production_baseline(root, folder),
                training_curves=meta.training_curves if meta else None,
                files=manifest.files if manifest else {},
            )
        )
    return found


def folders_since(root: Path, base: str) -> list[StageDir]:
    """Stage folders added between `base` and HEAD (what a pull request promotes)."""
    out = gitrepo.git(
        root,
        "diff",
        "--name-only",
        "--diff-filter=A",
        f"{base}...HEAD",
        "--",
        "artifacts/*/*/*/manifest.json",
    )
    found = [StageDir.parse(p.rsplit("/", 1)[0]) for p in out.split()]
    return sorted(
        {f for f in found if f is not None}, key=lambda f: (STAGES.index(f.stage), f.relpath)
    )


def write_summary(root: Path, folder: str, path: Path) -> None:
    """`--summary-md`: the pull-request description of one promotion, written to `path`."""
    from artreg.render import summary_markdown

    parsed = StageDir.parse(folder)
    assert parsed is not None
    path.write_text(summary_markdown(summaries(root, [parsed])), encoding="utf-8")


def summary(root: Path, base: str) -> str:
    """`artreg summary`: markdown for the promotions between `base` and HEAD."""
    from artreg.render import summary_markdown

    return summary_markdown(summaries(root, folders_since(root, base)))
