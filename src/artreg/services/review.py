"""Pull-request promotions: `artreg tag` after the merge, and what the reviewer's summary shows
(data: the CLI renders it as markdown with `render.summary_markdown`).

A promotion made with `--branch` commits only its folder, on a branch, without tags. After the
merge, `artreg tag` on the default branch finds every stage folder that no tag names yet,
commits dvc.yaml and registry.json for it and tags that commit, so it recognises promotions by
content and works after merge commits, squashes and rebases; and since no branch edits the
generated files, promotion branches never conflict in them, whatever the merge order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg.adapters.faults import point
from artreg.adapters.files import read_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.adapters.git.history import default_base
from artreg.adapters.git.read import added_since, creation_commits
from artreg.artifacts.integrity import folder_problems
from artreg.artifacts.signing.verify import describe
from artreg.errors import ArtregError, ConflictError, PushRejected, VerificationFailed
from artreg.publishing import index, merged_promotions, requests
from artreg.publishing.publish import actor, with_pending
from artreg.publishing.rights import check_promotion, rights_at
from artreg.publishing.transaction import PlannedTag, transaction
from artreg.registry import dvcyaml, state, versionorder
from artreg.registry import fold as folding
from artreg.registry.documents import GateResult, Manifest, ManifestFile, Metadata, Source
from artreg.registry.jsonform import fields_json
from artreg.registry.layout import (
    DVC_YAML,
    GENERATED_COMMIT_SUBJECT,
    REGISTRY_JSON,
    StageDir,
    stage_folders,
)
from artreg.registry.policy import load_compatibility
from artreg.registry.records import Event, Registry, requires_line
from artreg.registry.requirements import Status, statuses
from artreg.registry.rights import Rights
from artreg.registry.tags import (
    STAGES,
    Action,
    format_tag,
    next_counter,
    next_tag_time,
    parse_tag,
    tag_message,
)
from artreg.sources.clone_fetch import resolve

# --- tagging merged promotions --------------------------------------------------------------


@dataclass(frozen=True)
class PendingPromotion:
    folder: StageDir
    commit: str


def untagged_promotions(root: Path, registry: Registry | None = None) -> list[PendingPromotion]:
    """Stage folders in HEAD that no tag names, in the order they landed on this branch, with
    the commit that added them."""
    registry = registry or state.load(root, folders="all")
    tagged = registry.tagged_folders()
    created = creation_commits(root)
    order = {sha: i for i, sha in enumerate(reversed(gitrun.git(root, "rev-list", "HEAD").split()))}
    landed = _landing_order(root)
    pending = [
        PendingPromotion(folder, created[folder.relpath])
        for folder in stage_folders(root)
        if folder.relpath not in tagged and folder.relpath in created
    ]
    return sorted(
        pending,
        key=lambda p: (
            landed.get(p.folder.relpath, len(landed)),
            order.get(p.commit, 0),
            STAGES.index(p.folder.stage),
        ),
    )


def _landing_order(root: Path) -> dict[str, int]:
    """Folder → when it landed on this branch (0 first): the position of the commit on HEAD's
    first-parent line that brought it, a merge commit for a merged branch. The order pull
    requests were merged in, which the order their commits were made in is not."""
    out = gitrun.git(
        root,
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--reverse",
        "--diff-filter=A",
        "--name-only",
        "--format=commit %H",
        "--",
        "artifacts/*/*/*/manifest.json",
    )
    landed: dict[str, int] = {}
    position = -1
    for line in out.splitlines():
        if line.startswith("commit "):
            position += 1
        elif line.strip():
            landed.setdefault(line.rsplit("/", 1)[0], position)
    return landed


def _actions(folder: StageDir) -> list[tuple[Action, str | None, str | None]]:
    if folder.stage == "production":
        return [
            (Action.REGISTER, None, folder.entry.removeprefix("v")),
            (Action.ASSIGN, "production", None),
        ]
    return [(Action.ASSIGN, folder.stage, None)]


def _dvc_entry(root: Path, folder: StageDir) -> dict[str, Any]:
    """The dvc.yaml entry of a merged folder, from its committed manifest (as its promotion
    would have written it)."""
    manifest = read_json(folder.path(root) / "manifest.json", f"{folder.relpath}/manifest.json")
    primary = str(manifest["primary"])
    sha = (manifest.get("files") or {}).get(primary, {}).get("sha256")
    return dvcyaml.entry_for(folder.stage, folder.name, folder.entry, folder.relpath, primary, sha)


def _metadata(root: Path, folder: StageDir) -> dict[str, Any] | None:
    """A merged promotion's committed metadata.json (None: a raw session has none)."""
    path = folder.path(root) / "metadata.json"
    if folder.stage == "raw" or not path.is_file():
        return None
    data = read_json(path, f"{folder.relpath}/metadata.json")
    return data if isinstance(data, dict) else None


def _requires(metadata: dict[str, Any] | None) -> str:
    """The `requires:` line of a merged promotion's tags, from its committed metadata.json
    (the tag message is what the registry state reads requirements from)."""
    return requires_line(Metadata.from_json(metadata).requires) if metadata else ""


def _generated_commit(root: Path, parent: str, texts: tuple[str, str], what: str, body: str) -> str:
    """Commit dvc.yaml and registry.json (`texts`) on `parent`, under the subject that
    registry.history knows a generated commit by."""
    dvc_text, registry_text = texts
    files = {DVC_YAML: dvc_text, REGISTRY_JSON: registry_text}
    return gitwrite.commit_files(root, parent, files, f"{GENERATED_COMMIT_SUBJECT}{what}\n\n{body}")


@dataclass(frozen=True)
class HeldBack:
    """A merged release below the latest one, whose promotion did not record
    `--allow-non-monotonic`: registered, but production was not moved to it."""

    name: str
    version: str
    latest: str  # the latest release, which it is below
    production: str | None  # what production holds, left as it was
    folder: str

    @property
    def text(self) -> str:
        """What `artreg tag` says of it."""
        holds = f"v{self.production}" if self.production else "nothing"
        return (
            f"{self.name}@v{self.version} registered, but production left on {holds}: "
            f"{self.version} is lower than the latest release v{self.latest}, and the "
            f"promotion of {self.folder} did not record {versionorder.FLAG} (a direct "
            "promote would have refused it)"
        )

    def as_dict(self) -> dict[str, Any]:
        return fields_json(self, reason=self.text)


@dataclass(frozen=True)
class Tagged:
    """What `artreg tag` did: the tags it made, and the releases it kept out of production."""

    created: list[str]
    held_back: list[HeldBack]

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "held_back": [h.as_dict() for h in self.held_back]}


def tag_merged(
    root: Path, push: bool = False, remote: str = "origin", wait: float = 0.0
) -> list[str]:
    """Create the missing tags of merged promotions (idempotent); optionally push them.
    Returns the tags made (`tag_merged_report` says which releases production skipped)."""
    return tag_merged_report(root, push=push, remote=remote, wait=wait).created


def _promoter_of_record(root: Path, rights: Rights, pending: PendingPromotion, who: str) -> str:
    """The tags' `by:`: in a signed stage the author of the promotion commit a promoter
    signed, with the tagger (CI); elsewhere the tagger, as for every tag."""
    if not rights.requires_signature(pending.folder.stage):
        return who
    return f"{merged_promotions.author_of(root, pending.commit)} (tagged by {who})"


def _version_order(
    events: list[Event], folder: StageDir, metadata: dict[str, Any] | None
) -> HeldBack | None:
    """The direct promotion's version-order rule, for a merged release: below the latest
    release, and no `--allow-non-monotonic` recorded, it is registered without production."""
    if folder.stage != "production":
        return None
    version = folder.entry.removeprefix("v")
    registry = folding.fold(events)
    latest = versionorder.latest_above(version, versionorder.released(registry, folder.name))
    if latest is None or versionorder.allowed(metadata):
        return None
    holder = registry.artifacts[folder.name].stages().get("production")
    production = holder.version if holder is not None and holder.registered else None
    return HeldBack(folder.name, version, latest, production, folder.relpath)


def tag_merged_report(
    root: Path, push: bool = False, remote: str = "origin", wait: float = 0.0
) -> Tagged:
    """Create the missing tags of merged promotions (idempotent); optionally push them.

    Promotion branches carry only their folders; for each merged promotion this commits, on the
    current branch, dvc.yaml pointing at it and registry.json counting its tags, and tags that
    commit, so every tagged commit's dvc.yaml points into the folder its tag promoted. One
    transaction like every other writer: the commits are built aside and the tags journaled
    before HEAD moves or a tag is made, so a crash is completed by `artreg recover`, and a
    failure (a rejected push) undoes both.

    A merge obeys the version order as a direct promotion does: a release merged after a newer
    one is registered, but production stays where it is, unless its promotion recorded
    `--allow-non-monotonic`.
    """
    touched = [DVC_YAML, REGISTRY_JSON]
    with transaction(root, new_dirs=[], touched=touched, wait=wait, tags_only=True) as txn:
        registry = state.load(root, folders="all")
        events = list(registry.events)
        who = actor(root)
        pending_list = untagged_promotions(root, registry)
        # Whoever tags (CI) is the promoter of record: where params.yaml's rights.signed lists
        # a stage, the tags are signed with the runner's key, an allowed signer and promoter.
        rights = rights_at(root, gitrun.head(root))
        merged_requests = [r for r, _ in requests.pending(root, registry)]  # assign/rollback
        stages = [p.folder.stage for p in pending_list] + [r.stage for r in merged_requests]
        sign = any(rights.requires_signature(s) for s in stages)
        approvals = {
            p.folder.relpath: ((_metadata(root, p.folder) or {}).get("approval") or {}).get(
                "approved_by"
            )
            for p in pending_list
        }
        # The promotion commits a promoter signed, approvals the tagger may accept (exit 1).
        merged_promotions.check_merged(
            root, [(p.folder, p.commit) for p in pending_list], approvals
        )
        for pending in pending_list:
            approval = (_metadata(root, pending.folder) or {}).get("approval") or {}
            check_promotion(
                root, [pending.folder.stage], sign=sign, approved_by=approval.get("approved_by")
            )
        for request in merged_requests:
            check_promotion(root, [request.stage], sign=sign, approved_by=request.approved_by)
        problems = [p for pending in pending_list for p in folder_problems(root, pending.folder)]
        if problems:
            raise VerificationFailed(
                f"refusing to tag {len(pending_list)} merged promotion(s): their folders fail verification",
                problems,
            )
        plan: list[PlannedTag] = []
        held_back: list[HeldBack] = []
        head = gitrun.head(root)
        branch = gitrun.current_branch(root)
        assert head is not None and branch is not None  # actor() refuses a detached HEAD
        parent = head
        dvc_path = root / DVC_YAML
        dvc_text = dvc_path.read_text(encoding="utf-8") if dvc_path.is_file() else None
        for number, pending in enumerate(pending_list, 1):
            folder = pending.folder
            name = folder.name
            counter = next_counter(events, name)
            metadata = _metadata(root, folder)
            actions = _actions(folder)
            held = _version_order(events, folder, metadata)
            title = f"artreg: tag merged promotion of {name} to {folder.stage}"
            if held is not None:
                held_back.append(held)
                actions = [a for a in actions if a[0] is Action.REGISTER]
                title = (
                    f"artreg: register merged release {name} v{held.version} "
                    f"(below v{held.latest}: production not moved)"
                )
            message = tag_message(
                title,
                kind=folder.stage,
                folder=folder.relpath,
                by=_promoter_of_record(root, rights, pending, who),
                requires=_requires(metadata),
            )
            tags = [
                format_tag(
                    action, name, stage, version, None if action is Action.REGISTER else counter
                )
                for action, stage, version in actions
            ]
            first = next_tag_time(events)
            new_events = []
            for i, tag in enumerate(tags):
                parsed = parse_tag(tag)
                assert parsed is not None
                # Each promotion's own stand-in for its commit: GTO ties a stage to the version
                # registered on the same commit, so two promotions must not share one.
                stand_in = f"{number:040x}"
                new_events.append(
                    Event(tag, parsed, stand_in, first + i, who, "", message, True, folder)
                )
            before = dvc_text
            dvc_text = dvcyaml.with_artifact(dvc_text, name, _dvc_entry(root, folder))
            registry_text = index.render(root, with_pending(root, events, new_events))
            events += new_events
            parent = _generated_commit(
                root,
                parent,
                (dvc_text, registry_text),
                folder.relpath,
                f"folder: {folder.relpath}\nmerged in: {pending.commit}\ntags: {', '.join(tags)}",
            )
            plan += [PlannedTag(t, parent, message, first + i) for i, t in enumerate(tags)]
            if held is not None and before is not None:
                # The register tag's commit points dvc.yaml at its folder (`dvc artifacts get
                # NAME@vX` reads it there), but production stayed: the next commit puts dvc.yaml
                # back as it was, so the branch's head does not label the held-back release.
                dvc_text = before
                parent = _generated_commit(
                    root,
                    parent,
                    (before, registry_text),
                    f"{name}'s production release again",
                    f"held back: {folder.relpath} (below v{held.latest})",
                )
        parent, assigned = requests.plan(root, events, merged_requests, parent, who)
        plan += assigned
        clash = [p for p in plan if gitread.tag_exists(root, p.tag)]
        if clash:
            # A rollback deletes the planned tags: never plan one that exists already.
            raise ConflictError(
                f"tag {clash[0].tag} exists already (made by hand or by another tool), so the "
                f"merged promotion of {clash[0].message.splitlines()[0]} cannot be given it",
                hint=f"inspect it (`git show {clash[0].tag}`); delete it if it is wrong, then run "
                "`artreg tag` again",
            )
        advance = {"branch": branch, "from": head, "to": parent} if plan else None
        txn.plan_tags(plan, push=remote if push else None, advance=advance, sign=sign)
        point("tag:planned")
        if plan:
            txn.advance()
        created = txn.make_tags()
        point("tag:tagged")
        if push and created:
            # A rejected push raises; the transaction then deletes the tags and moves the
            # branch back, so that local and remote stay alike and a later run finds these
            # promotions untagged again.
            try:
                gitwrite.push(
                    root,
                    remote,
                    [f"HEAD:refs/heads/{branch}", *(f"refs/tags/{t}" for t in created)],
                )
            except PushRejected as exc:
                raise PushRejected(
                    f"push of the tags to {remote} was rejected, so they were removed again: "
                    f"{exc.message}",
                    hint=f"`git pull --tags {remote} {branch}` and run `artreg tag --push` again",
                ) from exc
            point("tag:pushed")
    return Tagged(created, held_back)


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
    signature: dict[str, Any] | None = None  # model.sig as the trust policy sees it
    requires: tuple[Status, ...] = ()  # what it needs, and whether production holds it


def _metrics(root: Path, rev: str, folder: StageDir) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    sub = "performance" if folder.stage == "production" else "validation"
    listing = gitrun.git(
        root, "ls-tree", "--name-only", rev, f"{folder.relpath}/{sub}/", check=False
    )
    for path in listing.split():
        data = gitread.json_at(root, rev, path) or {}
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
        meta = gitread.json_at(root, current.commit, f"{folder.relpath}/metadata.json") or {}
        source = (meta.get("source") or {}).get("id")
        if not source:
            return None
        folder = StageDir("validated", name, source)
    label = f"v{current.version}" if current.version else folder.entry
    return label, _metrics(root, current.commit, folder)


def summaries(root: Path, folders: list[StageDir], rev: str = "HEAD") -> list[PromotionSummary]:
    """What the pull-request description shows of each promoted folder, as committed at `rev`."""
    found = []
    registry: Registry | None = None
    for folder in folders:
        meta_json = gitread.json_at(root, rev, f"{folder.relpath}/metadata.json")
        meta = Metadata.from_json(meta_json) if meta_json else None
        needs: tuple[Status, ...] = ()
        if meta is not None and meta.requires:
            registry = registry or state.load(root, folders="none")
            needs = statuses(registry, meta.requires, load_compatibility(root))
        manifest_json = gitread.json_at(root, rev, f"{folder.relpath}/manifest.json")
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
                signature=None if raw or manifest is None else _signature(root, rev, manifest),
                requires=needs,
            )
        )
    return found


def _signature(root: Path, rev: str, manifest: Manifest) -> dict[str, Any] | None:
    """Who signed the folder's model, checked against the trust policy (None: unsigned, and
    no signature required)."""
    folder = manifest.folder
    return describe(root, rev, folder.relpath, folder.stage, manifest.files, manifest.dvc_files)


def folders_since(root: Path, base: str) -> list[StageDir]:
    """Stage folders added between `base` and HEAD (what a pull request promotes)."""
    added = added_since(root, base, "artifacts/*/*/*/manifest.json")
    found = [StageDir.parse(p.rsplit("/", 1)[0]) for p in added]
    return sorted(
        {f for f in found if f is not None}, key=lambda f: (STAGES.index(f.stage), f.relpath)
    )


def summaries_since(root: Path, base: str | None = None) -> list[PromotionSummary]:
    """`artreg summary`: the promotions between `base` (default: the repository's default
    branch) and HEAD."""
    return summaries(root, folders_since(root, base or default_base(root)))
