"""`artreg lock`: the lock file (artreg.lock) of the versions a consumer pins."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, lock_file_option
from artreg.cli.read_options import accept_moved_tag_option, registry_source
from artreg.present import consumer
from artreg.present import text as fmt
from artreg.sources import lock as lockfile


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
    moved = lockfile.update(Path(lock_path), specs, accept_moved_tag=accept_moved_tag)
    Output(as_json).emit(consumer.lock_changes_json(moved), lockfile.summary(lock_path, moved))


@lock.command(name="remove")
@click.argument("spec")
@lock_file_option
def lock_remove(spec: str, lock_path: str) -> None:
    """Drop the pin SPEC (as the lock file names it, e.g. encoder#production).

    Example: artreg lock remove encoder#production
    """
    lockfile.remove(Path(lock_path), spec)
    click.echo(f"{lock_path}: {spec} removed")
