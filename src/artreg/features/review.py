"""Pull-request promotions: `artreg tag` after the merge, and what the reviewer's summary shows
(rendered as markdown by `render.summary_markdown`).

A promotion made with `--branch` is committed on a branch without tags. After the merge, `artreg
tag` on the default branch finds every stage folder that no tag names yet and tags the commit
that brought it, so it recognises promotions by content and works after merge commits, squashes
and rebases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import gitrepo, state
from artreg.errors import ArtregError, ConflictError, PushRejected, VerificationFailed
from artreg.faults import point
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


def _expected_date(root: Path, pending: PendingPromotion, stage_tag: str) -> int | None:
    """The date the promotion's own registry.json gives its stage tag, if it names that tag.

    A promotion made on a branch writes registry.json as if tagged then; `artreg tag` uses the
    same date so that the file stays true after the merge (it is never rewritten on main)."""
    from datetime import datetime, timezone

    from artreg.errors import ArtregError
    from artreg.layout import REGISTRY_JSON

    try:
        data = gitrepo.json_at(root, pending.commit, REGISTRY_JSON) or {}
        entry = data[pending.folder.name]["stages"][pending.folder.stage]
        if entry["tag"] != stage_tag:
            return None
        when = datetime.strptime(entry["updated"], "%Y-%m-%dT%H:%M:%SZ")
    except (ArtregError, KeyError, TypeError, ValueError):
        return None
    return int(when.replace(tzinfo=timezone.utc).timestamp())


def tag_merged(
    root: Path, push: bool = False, remote: str = "origin", wait: float = 0.0
) -> list[str]:
    """Create the missing tags of merged promotions (idempotent); optionally push them.

    One transaction like every other writer: the tags are journaled before the first is made,
    so a crash is completed by `artreg recover`, and a failure (a rejected push) removes them.
    """
    from artreg.transaction import PlannedTag, transaction

    with transaction(root, new_dirs=[], touched=[], wait=wait, tags_only=True) as txn:
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
        plan: list[PlannedTag] = []
        for pending in pending_list:
            name = pending.folder.name
            counter = counters.get(name) or next_counter(records, name)
            message = tag_message(
                f"artreg: tag merged promotion of {name} to {pending.folder.stage}",
                kind=pending.folder.stage,
                folder=pending.folder.relpath,
                by=who,
            )
            tags = [
                format_tag(
                    action, name, stage, version, None if action is Action.REGISTER else counter
                )
                for action, stage, version in _actions(pending.folder)
            ]
            # Date the tags as the promotion's registry.json expects, so that it stays true;
            # unless that would put them before a tag of the same name (then: now).
            floor = max(
                [r.timestamp for r in records if r.parsed.name == name]
                + [p.stamp for p in plan if p.tag.startswith((f"{name}#", f"{name}@"))],
                default=0,
            )
            last = _expected_date(root, pending, tags[-1])
            if last is None or last - len(tags) < floor:
                last = max(clock, floor + 1) + len(tags) - 1
                clock = last + 1
            first = last - len(tags) + 1
            plan += [PlannedTag(t, pending.commit, message, first + i) for i, t in enumerate(tags)]
            counters[name] = counter + 1
        clash = [p for p in plan if gitrepo.tag_exists(root, p.tag)]
        if clash:
            # A rollback deletes the planned tags: never plan one that exists already.
            raise ConflictError(
                f"tag {clash[0].tag} exists already (made by hand or by another tool), so the "
                f"merged promotion in {clash[0].target[:12]} cannot be given it",
                hint=f"inspect it (`git show {clash[0].tag}`); delete it if it is wrong, then run "
                "`artreg tag` again",
            )
        txn.plan_tags(plan, push=remote if push else None)
        point("tag:planned")
        created = txn.make_tags()
        point("tag:tagged")
        if push and created:
            # A rejected push raises; the transaction then deletes the tags, so that local and
            # remote stay alike and a later run finds these promotions untagged again.
            try:
                gitrepo.push(root, remote, [f"refs/tags/{t}" for t in created])
            except PushRejected as exc:
                raise PushRejected(
                    f"push of the tags to {remote} was rejected, so they were removed again: "
                    f"{exc.message}",
                    hint=f"`git pull --tags {remote}` and run `artreg tag --push` again",
                ) from exc
            point("tag:pushed")
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


def default_base(root: Path) -> str:
    """What a pull request merges into when `--base` is not given: the repository's default
    branch as git knows it (gitrepo.default_branch), on origin when origin has it."""
    from artreg.errors import InputError

    branch = gitrepo.default_branch(root)
    if branch is None:
        raise InputError(
            f"{root}: cannot tell the default branch (no origin/HEAD, no init.defaultBranch "
            "branch here, and HEAD is detached)",
            hint="pass --base REF, e.g. --base origin/main",
        )
    remote = f"origin/{branch}"
    return remote if gitrepo.ref_exists(root, f"refs/remotes/{remote}") else branch


def write_summary(root: Path, folder: str, path: Path) -> None:
    """`--summary-md`: the pull-request description of one promotion, written to `path`."""
    from artreg.render import summary_markdown

    parsed = StageDir.parse(folder)
    assert parsed is not None
    path.write_text(summary_markdown(summaries(root, [parsed])), encoding="utf-8")


def summary(root: Path, base: str | None = None) -> str:
    """`artreg summary`: markdown for the promotions between `base` (default: the repository's
    default branch) and HEAD."""
    from artreg.render import summary_markdown

    return summary_markdown(summaries(root, folders_since(root, base or default_base(root))))
