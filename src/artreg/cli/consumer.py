"""Commands of a consumer's machine: `cache` (the consumer cache) and `trust` (the trust
policies its consumers apply)."""

from __future__ import annotations

import click

from artreg.cli.group import main
from artreg.cli.options import Output, finite_days, json_option
from artreg.cli.read_options import registry_source
from artreg.present import consumer
from artreg.reading.cache import Cache


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
