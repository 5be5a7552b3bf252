"""Commands of a consumer's own files: `lock`, `cache`, `trust`."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.cli.group import main
from artreg.cli.options import (
    Output,
    accept_moved_tag_option,
    finite_days,
    json_option,
    lock_file_option,
    registry_source,
)
from artreg.present import consumer
from artreg.present import text as fmt


@main.group()
def lock() -> None:
    """Pin models of registry URLs in a lock file (artreg.lock), check and update the pins.

    Example: artreg lock add https://git.example.com/ml/registry.git encoder#production
    """


@lock.command(name="add")
@click.argument("url")
@click.argument("spec")
@lock_file_option
@accept_moved_tag_option
@json_option
def lock_add(url: str, spec: str, lock_path: str, accept_moved_tag: bool, as_json: bool) -> None:
    """Pin what NAME, NAME#STAGE or NAME@vX.Y.Z resolves to in the registry at URL (a registry
    URL or a clone's path: tag, commit, folder and every file's sha256);
    get_artifact_path(name, lock=...) serves exactly it.

    Example: artreg lock add https://git.example.com/ml/registry.git encoder#production
    """
    from artreg.sources import lock as lockfile

    where = registry_source(url, history=False).address()  # a clone's path or a registry URL
    pin = lockfile.add(Path(lock_path), where, spec, accept_moved_tag=accept_moved_tag)
    Output(as_json).emit(consumer.pin_json(pin), consumer.pinned_text(Path(lock_path), pin))


@lock.command(name="check")
@lock_file_option
@json_option
def lock_check(lock_path: str, as_json: bool) -> None:
    """Exit 1 if a registry has moved on from a pin (a stage promoted anew, a version gone).

    Example: artreg lock check || artreg lock update
    """
    from artreg.sources import lock as lockfile

    moved = lockfile.changes(Path(lock_path))
    if moved:
        if as_json:
            click.echo(fmt.to_json(consumer.lock_changes_json(moved)))
        raise lockfile.out_of_date(lock_path, moved)
    Output(as_json).emit([], f"{lock_path}: every pin is current")


@lock.command(name="update")
@click.argument("specs", nargs=-1)
@lock_file_option
@accept_moved_tag_option
@json_option
def lock_update(
    specs: tuple[str, ...], lock_path: str, accept_moved_tag: bool, as_json: bool
) -> None:
    """Move the pins (all, or SPECS as the lock file names them) to what the registries say now.

    Example: artreg lock update encoder#production
    """
    from artreg.sources import lock as lockfile

    moved = lockfile.update(Path(lock_path), specs, accept_moved_tag=accept_moved_tag)
    Output(as_json).emit(consumer.lock_changes_json(moved), lockfile.summary(lock_path, moved))


@lock.command(name="remove")
@click.argument("spec")
@lock_file_option
def lock_remove(spec: str, lock_path: str) -> None:
    """Drop the pin SPEC (as the lock file names it, e.g. encoder#production).

    Example: artreg lock remove encoder#production
    """
    from artreg.sources import lock as lockfile

    lockfile.remove(Path(lock_path), spec)
    click.echo(f"{lock_path}: {spec} removed")


@main.group(name="cache")
def cache_() -> None:
    """The consumer cache shared by every process on this machine ($ARTREG_CACHE).

    Example: artreg cache prune --keep-last 2
    """


@cache_.command(name="list")
@json_option
def cache_list(as_json: bool) -> None:
    """Every cached name and version with its size, age and last use.

    Example: artreg cache list
    """
    from artreg.reading.cache import Cache

    cache = Cache.open()
    snapshots = cache.snapshots()
    Output(as_json).emit(
        {"root": str(cache.root), "snapshots": snapshots},
        consumer.cache_text(cache.root, snapshots),
    )


@cache_.command(name="prune")
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    help="Keep the N most recently used versions of each name.",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    callback=lambda _ctx, param, value: finite_days(param, value),
    metavar="DAYS",
    help="Remove versions unused for DAYS days.",
)
@json_option
def cache_prune(keep_last: int | None, older_than: float | None, as_json: bool) -> None:
    """Remove cached versions, then every blob no remaining version uses.

    Example: artreg cache prune --older-than 30
    """
    from artreg.reading.cache import Cache

    done = Cache.open().prune(keep_last, older_than)
    Output(as_json).emit(done, consumer.pruned_text(done))


@main.group(name="trust")
def trust_() -> None:
    """The trust policy this machine's consumers apply to each registry (it only tightens).

    Example: artreg trust accept https://git.example.com/ml/registry.git
    """


@trust_.command(name="accept")
@click.argument("registry", required=False)
@json_option
def trust_accept(registry: str | None, as_json: bool) -> None:
    """Accept REGISTRY's trust policy at its HEAD although it is weaker than the one applied
    before (a stage no longer requiring signatures, a trusted key added or replaced,
    params.yaml gone). REGISTRY is a registry URL or a clone (default: the one you stand in).

    Example: artreg trust accept https://git.example.com/ml/registry.git
    """
    accepted = registry_source(registry, history=False).accept_trust()
    Output(as_json).emit(consumer.accepted_json(accepted), consumer.accepted_text(accepted))
