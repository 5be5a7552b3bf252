"""Pull-request promotions: the reviewer's summary, and `artreg tag` after the merge.

A promotion made with `--branch` is committed on a branch without tags. After the merge, `artreg
tag` on main finds every stage folder that no tag names yet and tags the commit that brought it,
so it recognises promotions by content and works after merge commits, squashes and rebases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artreg import gitrepo, index
from artreg.errors import ArtregError, VerificationFailed
from artreg.gates import GateResult, format_table
from artreg.layout import STAGES, StageDir
from artreg.publish import actor
from artreg.registry import RegistryState, load_state, tag_message
from artreg.tags import Action, format_tag, next_counter
from artreg.verify import creation_commits, folder_problems, stage_folders

# --- tagging merged promotions --------------------------------------------------------------


@dataclass(frozen=True)
class PendingPromotion:
    folder: StageDir
    commit: str


def untagged_promotions(root: Path, state: RegistryState | None = None) -> list[PendingPromotion]:
    """Stage folders in HEAD that no tag names, oldest first, with the commit that added them."""
    state = state or load_state(root)
    tagged = {
        folder.relpath
        for artifact in state.artifacts.values()
        for record in artifact.events
        if (folder := index.folder_of(root, record)) is not None
    }
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
        records = gitrepo.list_tags(root)
        state = load_state(root)
        who = actor(root)
        clock = max(int(time.time()), max((r.timestamp for r in records), default=0) + 1)
        counters: dict[str, int] = {}
        pending_list = untagged_promotions(root, state)
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
    from artreg.consume import resolve
    from artreg.errors import ArtregError
    from artreg.layout import semver_key

    name = folder_under_review.name
    try:
        current = resolve(root, name, stage="production")
    except ArtregError:
        return None
    if current.folder == folder_under_review:
        artifact = load_state(root, [name]).get(name)
        older = sorted(
            (
                v
                for v in artifact.active_versions()
                if v.registered and v.version != current.version
            ),
            key=lambda v: semver_key(v.version),
        )
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


def summary_markdown(root: Path, folders: list[StageDir], rev: str = "HEAD") -> str:
    """The pull-request description of promotions: source, gates, deltas, lineage, files."""
    parts = []
    for folder in folders:
        meta = gitrepo.json_at(root, rev, f"{folder.relpath}/metadata.json") or {}
        manifest = gitrepo.json_at(root, rev, f"{folder.relpath}/manifest.json") or {}
        source = meta.get("source") or (manifest.get("provenance") or {})
        title = f"## {folder.name}: {folder.stage} `{folder.entry}`"
        lines = [title, ""]
        if folder.stage == "raw":
            code = (manifest.get("provenance") or {}).get("training_code") or {}
            lines.append(
                f"Registers training session `{folder.entry}` (training code commit `{code.get('commit')}`)."
            )
        else:
            lines.append(
                f"Promotes {source.get('stage')} `{source.get('id')}` → {folder.stage} `{folder.entry}`"
                + (
                    f", approved by {meta['approval']['approved_by']}"
                    if meta.get("approval")
                    else ""
                )
                + "."
            )
            gates = [GateResult(**g) for g in (meta.get("gates") or {}).get("results", [])]
            lines += [
                "",
                "### Gates",
                "",
                format_table(gates) if gates else "No gates for this stage.",
            ]
            baseline = _production_baseline(root, folder)
            new = _metrics(root, rev, folder)
            if baseline and new:
                label, old = baseline
                rows = [
                    f"| {k} | {old[k]} | {v} | {v - old[k]:+.6g} |"
                    for k, v in sorted(new.items())
                    if k in old
                ]
                if rows:
                    lines += [
                        "",
                        f"### Metric deltas against production {label}",
                        "",
                        "| metric | production | this | delta |",
                        "| --- | ---: | ---: | ---: |",
                        *rows,
                    ]
            chain = [f"{folder.stage} `{folder.entry}`"]
            if source.get("id"):
                chain.append(f"{source.get('stage')} `{source['id']}`")
            if source.get("checkpoint"):
                chain.append(f"checkpoint `{source['checkpoint']}`")
            if source.get("commit"):
                chain.append(f"training code `{str(source['commit'])[:12]}`")
            lines += ["", "### Lineage", "", " ← ".join(chain)]
            lines += _signature_lines(root, rev, folder, manifest)
            if meta.get("training_curves"):
                lines += ["", f"![training curves]({meta['training_curves']})"]
        files = manifest.get("files") or {}
        lines += [
            "",
            "### Files",
            "",
            "| file | bytes | sha256 | stored in |",
            "| --- | ---: | --- | --- |",
        ]
        lines += [
            f"| `{rel}` | {f['size']:,} | `{f['sha256']}` | {'DVC' if f.get('dvc') else 'git'} |"
            for rel, f in files.items()
        ]
        parts.append("\n".join(lines))
    return (
        "# artreg promotion summary\n\n" + "\n\n".join(parts) + "\n"
        if parts
        else "No promotions.\n"
    )


def _signature_lines(root: Path, rev: str, folder: StageDir, manifest: dict[str, Any]) -> list[str]:
    """Who signed the model, checked against the trust policy; nothing for an unsigned folder
    whose stage needs no signature."""
    from artreg.hashing import FileDigest
    from artreg.signing import describe

    entries = manifest.get("files") or {}
    files = {rel: FileDigest(e["sha256"], e["size"]) for rel, e in entries.items()}
    model = [rel for rel, e in entries.items() if e.get("dvc")]
    info = describe(root, rev, folder.relpath, folder.stage, files, model)
    if info is None:
        return []
    if info["status"] == "verified":
        who = f"{info['subject']}, " if info.get("subject") else ""
        text = (
            f"`{info['file']}` signs {', '.join(f'`{f}`' for f in info['files'])}: signed by "
            f"{who}key `{info['fingerprint']}`, trusted key `{info['key']}` "
            f"(params.yaml at `{str(info['trusted_keys_at'])[:12]}`)."
        )
    else:
        text = f"**`{info['file']}`: {info['status']}**"
    return ["", "### Signature", "", text]


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
