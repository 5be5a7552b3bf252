"""`artreg bundle`: air-gapped bundles (create one here, import one there). Parses, calls artreg.services.bundle, renders; registered on `artreg` by the last line of artreg.cli."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, registry_root, repo_option
from artreg.registry.jsonform import fields_json
from artreg.services.bundle import Created, Imported, create_bundle, import_bundle


@main.group(name="bundle")
def bundle_() -> None:
    """Carry releases, with their history, to a registry that cannot reach this one.

    Example: artreg bundle create encoder@v1.2.0 -o /media/usb/encoder-1.2.0.tar
    """


def _created(done: Created) -> tuple[dict[str, Any], str]:
    data = fields_json(done, path=str(done.path))
    text = (
        f"wrote {done.path} ({done.bytes} bytes): {', '.join(done.releases)}; "
        f"{done.tags} tags, {done.objects} DVC objects"
    )
    return data, text


def _imported(done: Imported) -> tuple[dict[str, Any], str]:
    data = fields_json(done, root=str(done.root))
    lines = [
        f"imported {', '.join(done.releases)} into {done.root}: {len(done.tags_added)} new "
        f"tags, {done.objects_added} new DVC objects"
    ]
    if done.moved:
        lines.append(f"{done.branch}: {done.moved[0][:12] or '(new)'} -> {done.moved[1][:12]}")
    lines += [f"note: {n}" for n in done.notes]
    return data, "\n".join(lines)


@bundle_.command(name="create")
@click.argument("releases", nargs=-1, required=True, metavar="NAME@vX.Y.Z...")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="The bundle to write."
)
@click.option(
    "--branch",
    metavar="NAME",
    help="Carry the releases as this branch (they are on it, not on the default branch); "
    "importing moves that branch only.",
)
@repo_option
@json_option
def bundle_create(
    releases: tuple[str, ...], output: str, branch: str | None, repo_path: str | None, as_json: bool
) -> None:
    """Write one tar of RELEASES and their requirements: a git bundle of their history (tags,
    commits, stage folders, lineage, signatures), their DVC objects, and the sha256 of each.

    Example: artreg bundle create encoder@v1.2.0 -o /media/usb/encoder-1.2.0.tar
    """
    out = Output(as_json)
    root = registry_root(repo_path)
    with out.progress("bundling") as progress:
        done = create_bundle(root, list(releases), Path(output), progress, branch)
    out.emit(*_created(done))


@bundle_.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--init",
    "init_dir",
    type=click.Path(file_okay=False),
    help="Make a new registry in this folder (with its own local DVC remote) from the bundle.",
)
@click.option(
    "--accept-policy-change",
    is_flag=True,
    help="Fast-forward even when params.yaml at the bundle's tip loosens this registry's trust "
    "policy, rights or gates (refused without it).",
)
@repo_option
@json_option
def bundle_import(
    file: str,
    init_dir: str | None,
    accept_policy_change: bool,
    repo_path: str | None,
    as_json: bool,
) -> None:
    """Check FILE whole (every member's sha256, the git bundle, every DVC object against the
    committed manifests, model signatures the trust policy requires), then add its tags,
    history and objects to this registry (its DVC cache and default remote). Refused: nothing
    is written; so is a bundle whose params.yaml loosens this registry's policy, unless
    --accept-policy-change.

    Example: artreg bundle import /media/usb/encoder-1.2.0.tar --init /srv/registry
    """
    out = Output(as_json)
    root = None if init_dir else registry_root(repo_path, history=False)
    with out.progress("checking") as progress:
        done = import_bundle(
            Path(file),
            root=root,
            init=Path(init_dir) if init_dir else None,
            progress=progress,
            accept_policy=accept_policy_change,
        )
    out.emit(*_imported(done))
