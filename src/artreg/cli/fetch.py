"""Commands that place a model's bytes: `pull` and `get`."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.cli.group import main
from artreg.cli.options import Output, fetching, json_option, no_fetch_option, warn
from artreg.cli.read_options import (
    accept_moved_tag_option,
    lock_option,
    pairs,
    registry_source,
    remote_config_option,
    served_json,
    stage_options,
    with_requirements_option,
)
from artreg.errors import InputError
from artreg.present import queries
from artreg.reading.resolve import target as parse_target
from artreg.sources import clone_fetch, clone_pull
from artreg.sources.base import ServeOptions
from artreg.sources.locate import names_registry


@main.command()
@click.argument("name")
@stage_options
@click.option("--remote", "-r", help="DVC remote to pull from (default: the registry's).")
@click.option(
    "--force", is_flag=True, help="Restore work-tree files that differ from the manifest."
)
@with_requirements_option("pull")
@lock_option
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def pull(
    name: str,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    lock_path: str | None,
    remote: str | None,
    force: bool,
    with_requirements: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Fetch only NAME's files through DVC, then verify every sha256 of its manifest.

    NAME may also be NAME@vX.Y.Z or NAME#STAGE. From a registry URL (or --lock), which has
    no work tree, the files go into the consumer cache, verified, as `resolve` puts them
    (offline reads then answer from it); `get -o DIR` writes a copy elsewhere.

    Example: artreg pull encoder --version 1.2.0

    Example: artreg pull adapter --with-requirements
    """
    name, stage, version = parse_target(name, stage, version)
    out = Output(as_json, quiet)
    source = registry_source(repo_path, lock=lock_path)
    if source.root is None and source.kind == "oci":
        where = f"--lock {source.label}" if lock_path else f"--repo {source.label}"
        raise InputError(
            f"`pull` places a model's files in a clone's work tree, and {source.label} is not "
            "a clone",
            hint=f"use get, which writes a verified copy anywhere: `artreg get {name} {where} "
            "-o DIR`",
        )
    if source.root is None:  # a URL or a lock: into the consumer cache
        with out.progress("downloading") as progress:
            options = ServeOptions(
                remote=remote, with_requirements=with_requirements, progress=progress
            )
            served = source.serve(name, stage, version, options=options)
        warn(source.notes)
        infos = [served_json(each) for each in served.values()]
        lines = [f"{i['path']}\n{i['downloaded']} files downloaded, verified" for i in infos]
        out.emit(infos if with_requirements else infos[0], "\n".join(lines))
        return
    root = source.root
    if with_requirements:
        every = clone_fetch.resolve_with_requirements(root, name, stage=stage, version=version)
    else:
        every = {name: clone_fetch.resolve(root, name, stage=stage, version=version)}
    infos, lines = [], []
    for resolved in every.values():
        repaired: list[str] = []
        with out.progress("verifying") as progress:
            fetched = clone_pull.pull(
                root, resolved, remote=remote, force=force, progress=progress, repaired=repaired
            )
        infos.append(
            {
                **queries.resolved_json(root, resolved),
                "fetched": fetched,
                "verified": len(resolved.files),
                **({"repaired": repaired} if repaired else {}),
            }
        )
        lines.append(
            f"{root / resolved.model}\n{fetched} objects fetched, "
            f"{len(resolved.files)} files verified"
            + "".join(f"\nrepaired: {note}" for note in repaired)
        )
    out.emit(infos if with_requirements else infos[0], "\n".join(lines))


@main.command()
@click.argument("target")
@click.argument("spec", required=False)
@stage_options
@no_fetch_option
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder to write the model into (a model folder's files go into it, as with dvc "
    "artifacts get); not inside the registry's work tree unless git ignores the path.",
)
@click.option(
    "--remote",
    "-r",
    help="DVC remote to read from: a remote's name, or (with a URL) its URL (default: the registry's).",
)
@remote_config_option
@with_requirements_option("export", "; then each goes into OUT/NAME/")
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False),
    help="Serve exactly what this lock file (artreg.lock) pins for NAME, and nothing else.",
)
@accept_moved_tag_option
@json_option
def get(
    target: str,
    spec: str | None,
    stage: str | None,
    version: str | None,
    repo_path: str | None,
    out_dir: str,
    remote: str | None,
    remote_config: tuple[str, ...],
    with_requirements: bool,
    lock_path: str | None,
    accept_moved_tag: bool,
    as_json: bool,
) -> None:
    """Export a verified copy of a model into a folder (like dvc artifacts get).

    Every file is staged inside the folder and renamed only once all are verified: after a
    failure or Ctrl-C no file is left under its final name, and the same command can run again.

    `artreg get NAME` reads the registry you stand in (or --repo); NAME may also be
    NAME@vX.Y.Z or NAME#STAGE. `artreg get URL NAME` (or NAME --repo URL) reads a registry URL
    without a clone, model signatures checked against its trust policy as in a clone: tags
    by `git ls-remote`, a few files of one commit, and the model's objects from the DVC remote,
    through the machine's shared cache ($ARTREG_CACHE; offline with ARTREG_OFFLINE=1).
    `artreg get oci://REGISTRY/REPOSITORY NAME` reads a ModelPack artifact `artreg export --oci`
    wrote (ARTREG_OCI_PLAIN_HTTP=1 for a registry without TLS).

    Example: artreg get encoder --stage production -o /srv/models

    Example: artreg get https://git.example.com/ml/registry.git encoder@v1.2.0 -o /srv/models

    Example: artreg get oci://ghcr.io/acme/encoder encoder@v1.2.0 -o /srv/models

    Example: artreg get adapter --with-requirements -o /srv/models

    Example: artreg get encoder --lock artreg.lock -o /srv/models
    """
    if lock_path is not None and (spec is not None or repo_path is not None):
        raise InputError(
            f"--lock serves what {lock_path} pins, and the lock names the registry",
            hint=f"drop the {'URL' if spec else '--repo'}: artreg get {spec or target} --lock "
            f"{lock_path}",
        )
    if spec is None and names_registry(target):
        raise InputError(
            f"{target} names a registry: name the artifact too",
            hint=f"artreg get {target} NAME[@vX.Y.Z] -o DIR",
        )
    name, stage, version = parse_target(spec or target, stage, version)
    source = registry_source(target if spec is not None else repo_path, lock=lock_path)
    if remote_config and source.root is not None:
        raise InputError(
            "--remote-config applies to `artreg get URL NAME`",
            hint="set it with `dvc remote modify`",
        )
    out = Output(as_json)
    with out.progress("downloading") as progress:
        options = ServeOptions(
            pull=fetching(),
            remote=remote,
            remote_config=pairs(remote_config),
            with_requirements=with_requirements,
            accept_moved_tag=accept_moved_tag,
            progress=progress,
        )
        exported = source.export(name, stage, version, Path(out_dir), options=options)
    warn(source.notes)
    infos = [served_json(served, written) for served, written in exported]
    out.emit(
        infos if with_requirements else infos[0],
        "\n".join(str(p) for _, written in exported for p in written),
    )
