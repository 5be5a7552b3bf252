"""What every promotion shares: the readers of its inputs, the committed source it starts from,
the verified model file, the check that a source lies outside the registry, and the last step
that writes metadata, model card and manifest and publishes.

Each promotion checks everything first (a failure changes nothing), builds the new folder in a
private place, then hands it to `finish`, which publishes (commits and tags atomically).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg._version import __version__
from artreg.adapters import schemas
from artreg.adapters.files import dump_json, read_json
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.hashing import ProgressFn, sha256_line
from artreg.adapters.values import plain_input
from artreg.artifacts.formats.pytorch import pytorch_info
from artreg.artifacts.formats.safetensors import check_safetensors
from artreg.artifacts.signing import sign as signing
from artreg.artifacts.stagebytes import prefetch, stage_file
from artreg.errors import ArtregError, InputError, IntegrityError, NotFoundError
from artreg.publishing.modelcard import model_card
from artreg.publishing.publish import Published, PublishOptions, leave_branch, publish
from artreg.publishing.stagefolder import StageBuilder
from artreg.registry import dvcyaml, state
from artreg.registry.documents import Manifest, ManifestFile, Metadata, ModelFile
from artreg.registry.formatnames import SAFETENSORS, SUFFIXES, WRITABLE, FormatInfo
from artreg.registry.layout import ARTIFACTS_DIR, StageDir, model_target
from artreg.registry.policy import load_trust
from artreg.registry.records import requires_line
from artreg.registry.tags import Action

if TYPE_CHECKING:
    from artreg.adapters.dvc.repo import RegistryDvc
    from artreg.artifacts.signing.keys import SigningKey
    from artreg.artifacts.signing.sign import SignaturePlan


@dataclass(frozen=True)
class CommittedSource:
    """A promotion's source folder as committed: its manifest and metadata from git, not disk."""

    folder: StageDir
    commit: str
    manifest: Manifest
    metadata: Metadata | None


def committed_source(root: Path, folder: StageDir) -> CommittedSource:
    """The source folder as its tag (or creating commit) recorded it; refuse anything else.

    Reading the manifest from the work tree would let an uncommitted edit vouch for swapped
    bytes, so it comes from git, and the folder must not differ from that commit at all.
    """
    if not folder.path(root).is_dir():
        raise NotFoundError(
            f"{folder.relpath}: no {folder.stage} artifact {folder.entry!r} of {folder.name!r}",
            hint=f"see what exists with `artreg show {folder.name}`",
        )
    registry = state.load(root, folders="all")
    artifact = registry.artifacts.get(folder.name)
    if artifact is not None and artifact.deprecated:
        raise NotFoundError(f"{folder.name} is deprecated", hint="promote another artifact")
    tagged = registry.promotions(folder)
    if tagged:
        commit = tagged[-1].commit
        version = (
            next((v for v in artifact.versions if v.commit == commit), None) if artifact else None
        )
        events = version.stage_events.get(folder.stage, []) if version else []
        if events and events[-1].parsed.action is Action.UNASSIGN:
            raise NotFoundError(
                f"{folder.relpath}: its {folder.stage} stage was unassigned ({events[-1].tag})",
                hint="an unassigned artifact cannot be promoted; choose another",
            )
    else:
        commit = gitread.creation_commits(root).get(folder.relpath, "")
        if not commit:
            raise NotFoundError(
                f"{folder.relpath}: not committed, so not a registered {folder.stage} artifact",
                hint="register or promote it with artreg first",
            )
    changed = gitrun.git(root, "diff", "--name-only", commit, "--", folder.relpath).split()
    changed += [
        line[3:]
        for line in gitread.status(root, [folder.relpath]).splitlines()
        if line.startswith("??")
    ]
    if changed:
        raise IntegrityError(
            f"{folder.relpath}: differs from its promotion in {commit[:12]}: {', '.join(sorted(set(changed)))}",
            hint=f"promoted folders are immutable; `git checkout {commit[:12]} -- {folder.relpath}` "
            "restores it (and remove files that were added)",
        )
    manifest = gitread.json_at(root, commit, f"{folder.relpath}/manifest.json")
    if manifest is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json: missing at {commit[:12]}", hint="run `artreg verify`"
        )
    schemas.validate(manifest, "manifest", f"{folder.relpath}/manifest.json@{commit[:12]}")
    metadata = gitread.json_at(root, commit, f"{folder.relpath}/metadata.json")
    if metadata is not None:
        schemas.validate(metadata, "metadata", f"{folder.relpath}/metadata.json@{commit[:12]}")
    return CommittedSource(
        folder,
        commit,
        Manifest.from_json(manifest),
        Metadata.from_json(metadata) if metadata is not None else None,
    )


def verified_file(
    root: Path,
    folder: StageDir,
    rel: str,
    manifest: Manifest,
    *,
    fetch: bool = True,
    progress: ProgressFn | None = None,
) -> Path:
    """The bytes of `rel` in `folder`, checked against the manifest: the work-tree copy, or
    the DVC cache object, fetched on demand (artifacts.stagebytes.stage_file) unless `fetch` is
    False. Read it, never write it: it may be the cache's object."""
    entry = manifest.files.get(rel)
    if entry is None:
        raise NotFoundError(
            f"{folder.relpath}/manifest.json: lists no file {rel!r}", hint="check the name"
        )
    return stage_file(root, folder, rel, entry, dvc=entry.dvc, fetch=fetch, progress=progress)


def committed_folder(
    root: Path,
    folder: StageDir,
    manifest: Manifest,
    prefix: str,
    *,
    verify: Collection[str] = (),
    fetch: bool = True,
    progress: ProgressFn | None = None,
) -> dict[str, Path]:
    """Where the bytes of every file under `prefix/` of a committed folder are (by path
    relative to `prefix`), fetched on demand. Only files in `verify` are hashed here (they are
    read, not copied); the others must be checked against the manifest by the digests of their
    copies (modelfolder.build's `expected`), so no byte is hashed twice."""
    if fetch:
        members = {rel: f for rel, f in manifest.files.items() if rel.startswith(f"{prefix}/")}
        prefetch(root, folder, members, manifest.dvc_files)
    found: dict[str, Path] = {}
    for rel, entry in manifest.files.items():
        if rel.startswith(f"{prefix}/"):
            inner = rel.removeprefix(f"{prefix}/")
            checked = inner in verify
            found[inner] = stage_file(
                root,
                folder,
                rel,
                entry,
                dvc=entry.dvc,
                fetch=fetch,
                progress=progress if checked else None,
                check=checked,
            )
    return found


def folder_digests(manifest: Manifest, prefix: str) -> dict[str, ManifestFile]:
    """The manifest's records of the files under `prefix/`, by path relative to it."""
    return {
        rel.removeprefix(f"{prefix}/"): f
        for rel, f in manifest.files.items()
        if rel.startswith(f"{prefix}/")
    }


def json_input(
    value: Mapping[str, Any] | Path | str, schema: str, what: str, field: str
) -> dict[str, Any]:
    """A JSON document given as a dict (made plain; errors point at /<field>/...) or a file,
    schema-checked; errors name it."""
    if isinstance(value, Mapping):
        data = plain_input(value, field)
        source = f"{what} (passed in Python as {field}=)"
    else:
        path = Path(value)
        data = read_json(path, what)
        source = str(path)
    if not isinstance(data, dict):
        raise InputError(f"{source}: {what} must be a JSON object", hint="wrap the values in {}")
    schemas.validate(data, schema, source)
    return data


def check_formats(formats: tuple[str, ...]) -> None:
    """Refuse a `--format` artreg cannot write the weights in."""
    unknown = [f for f in formats if f not in WRITABLE]
    if unknown:
        raise InputError(
            f"unknown format {unknown[0]!r}", hint=f"use one of: {', '.join(WRITABLE)}"
        )


def model_files(
    builder: StageBuilder, weights: dict[str, bytes], tensors: Mapping[str, Any]
) -> list[ModelFile]:
    """Write cleaned weights (the bytes of `tensors`, as .pt or .safetensors) as DVC outputs,
    each with its sha256sum-compatible `.sha256` and its format recorded."""
    files = []
    for fname, data in weights.items():
        digest = builder.track_file(fname, data=data)
        # Written just now from `tensors`: the safetensors header is checked (cheap, and proof
        # that what artreg writes passes its own check); the .pt is not loaded a second time.
        written: FormatInfo = (
            FormatInfo(SAFETENSORS, check_safetensors(builder.path / fname).detail)
            if fname.endswith(SUFFIXES[SAFETENSORS])
            else pytorch_info(list(tensors.values()))
        )
        files.append(ModelFile.named(fname, digest.sha256, digest.size, written))
    write_sha256_files(builder, files)
    return files


def write_sha256_files(builder: StageBuilder, files: list[ModelFile]) -> None:
    """Beside each model file, its `sha256sum`-compatible `.sha256` line."""
    for f in files:
        builder.write_text(f"{f.path}.sha256", sha256_line(f.sha256, f.path))


def signature_plan(
    root: Path,
    stage: str,
    sign_key: SigningKey | Path | str | None,
    model_signature: Path | str | None,
) -> SignaturePlan | None:
    """How the promoted model will be signed, checked before anything is built (None: not at
    all, and the trust policy requires no signature for `stage`)."""
    if sign_key is None and model_signature is None and not load_trust(root).require_signature:
        return None  # nothing to sign, nothing required: model_signing is never imported
    return signing.plan(root, stage, sign_key, model_signature)


def finish(
    root: Path,
    builder: StageBuilder,
    metadata: Metadata,
    actions: list[tuple[Action, str | None, str | None]],
    title: str,
    source: str,
    options: PublishOptions | None,
    signature: SignaturePlan | None = None,
) -> Published:
    """metadata.json, model card and manifest, then publish: shared by every promotion."""
    entry = builder.entry
    if signature is not None:
        # Signed before metadata and manifest exist, which therefore are not part of the model;
        # model.sig is listed in the manifest like any other file of the folder.
        metadata = replace(metadata, signature=signature.write(root, builder))
    document = metadata.to_json()
    schemas.validate(document, "metadata", f"{entry.relpath}/metadata.json")
    builder.write_text("metadata.json", dump_json(document))
    builder.write_text("README.md", model_card(document))
    primary = metadata.model.primary
    builder.write_manifest(
        Manifest(
            stage=entry.stage,
            name=entry.name,
            id=entry.entry,
            created_at=metadata.created_at,
            created_by=metadata.created_by,
            primary=primary.path,
            files=builder.manifest_files(),
            provenance={"source": metadata.source.to_json()},
            tool_version=__version__,
        )
    )
    builder.finish_gitignore()
    published = publish(
        root,
        builder,
        actions=actions,
        dvc_entry=dvcyaml.entry_for(
            entry.stage, entry.name, entry.entry, entry.relpath, primary.path, primary.sha256
        ),
        title=title,
        source=source,
        who=metadata.created_by,
        options=options,
        requires=requires_line(metadata.requires),
    )
    published.gates = metadata.gates
    published.model = f"{entry.relpath}/{model_target(entry.stage, primary.path)}"
    published.signature = metadata.signature
    back_to_start(root, published)
    return published


def back_to_start(root: Path, published: Published) -> None:
    """In pull-request mode, once the change is committed (and pushed, inside the transaction):
    back to the branch the command began on. The change is made by then, so a failure here is
    a warning on the result, never the command's failure."""
    try:
        leave_branch(root, published)
    except ArtregError as exc:  # the branch holds the change; only the way back failed
        assert published.started_on is not None
        published.warnings.append(
            f"the change is committed on branch {published.branch}, but switching back to "
            f"{published.started_on[0]} failed: {exc.message}\n"
            f"  fix: `git switch {published.started_on[0]}`"
        )


def check_source_outside_registry(root: Path, source: Path, dvc: RegistryDvc) -> None:
    """Refuse a source that is or contains the registry, or that is, contains or lies inside
    what the registry keeps: its git folder, `.dvc`, DVC cache, stage folders, local remote.

    Any other folder of the work tree stays allowed: a training repository that is its own
    registry keeps its `checkpoints/` there (the README's quickstart).
    """
    src = Path(os.path.realpath(source))
    top = Path(os.path.realpath(root))
    hint = (
        "pass the folder the training run wrote its checkpoints to; it must not hold the "
        "registry, and must stay out of its .git, .dvc, DVC cache and artifacts/ folders"
    )
    if src == top or src in top.parents:
        what = "is" if src == top else "contains"
        raise InputError(
            f"{source}: {what} the registry {top}; registering it would copy the registry's "
            ".git and DVC cache into a stage folder",
            hint=hint,
        )
    git_dirs = gitrun.git(
        root, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir"
    ).split()
    kept = [
        *(("git folder", Path(d)) for d in git_dirs),
        ("DVC folder", root / ".dvc"),
        ("DVC cache", dvc.cache),
        ("stage folders", root / ARTIFACTS_DIR),
        *((("DVC remote", dvc.local_remote),) if dvc.local_remote is not None else ()),
    ]
    for label, area in kept:
        place = Path(os.path.realpath(area))
        if src == place or place in src.parents or src in place.parents:
            what = "is" if src == place else "lies inside" if place in src.parents else "contains"
            raise InputError(f"{source}: {what} the registry's {label} ({place})", hint=hint)
