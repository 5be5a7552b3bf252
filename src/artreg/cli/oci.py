"""The CLI of OCI export (`artreg export`): parse, call one core function, render. Reading an
OCI repository back (`artreg get oci://...`) is a registry source (sources/oci.py)."""

from __future__ import annotations

from pathlib import Path

import click

from artreg.adapters import oci as ociclient
from artreg.cli.group import main
from artreg.cli.options import Output, json_option, registry_root, repo_option
from artreg.errors import InputError
from artreg.services import oci_export

plain_http_option = click.option(
    "--plain-http",
    is_flag=True,
    help=f"Talk HTTP without TLS to the OCI registry (one on loopback); or {ociclient.ENV_PLAIN_HTTP}=1.",
)


@main.command()
@click.argument("spec", required=False)
@click.option(
    "--oci",
    metavar="REGISTRY/REPOSITORY[:TAG]",
    help="Push a ModelPack artifact to this OCI repository (TAG default: vX.Y.Z; exporting the "
    "version in production also moves the `production` tag). With --all-production: a "
    "repository prefix, each artifact going to PREFIX/NAME.",
)
@click.option(
    "--oci-layout",
    "layout",
    type=click.Path(file_okay=False),
    help="Write the artifact into this OCI image layout folder (created, or added to).",
)
@click.option(
    "--all-production",
    is_flag=True,
    help="Export every artifact's production version (CI, after a release merges).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a tag that holds another artifact, or the same version with other bytes "
    "(refused otherwise). Never writes `production` for a version git does not hold there.",
)
@plain_http_option
@repo_option
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def export(
    spec: str | None,
    oci: str | None,
    layout: str | None,
    all_production: bool,
    force: bool,
    plain_http: bool,
    repo_path: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Export a release as a CNCF ModelPack OCI artifact, to a registry or an OCI layout.

    One raw layer per file of the release's manifest (its digest: the file's sha256), the
    model config, and model.sig as a referrer of the manifest. Blobs the registry has are not
    sent again; credentials come from ~/.docker/config.json or REGISTRY_AUTH_FILE. Consumers
    read it back with `artreg get oci://REGISTRY/REPOSITORY NAME -o DIR` or
    get_artifact_path(NAME, repo="oci://REGISTRY/REPOSITORY").

    Example: artreg export encoder@v1.2.0 --oci ghcr.io/acme/encoder

    Example: artreg export encoder@v1.2.0 --oci-layout ./encoder-oci

    Example: artreg export --all-production --oci registry.example.com/models
    """
    insecure = ociclient.plain_http(plain_http)
    out = Output(as_json, quiet)
    root = registry_root(repo_path)
    if all_production:
        if spec is not None or layout is not None or oci is None:
            raise InputError(
                "--all-production exports to --oci REGISTRY/PREFIX, without SPEC or --oci-layout",
                hint="artreg export --all-production --oci registry.example.com/models",
            )
        # Each result is printed as it lands: a later failure does not hide what was exported.
        with out.progress("uploading") as progress:
            done = []
            try:
                for exported in oci_export.export_all_production(
                    root, oci, insecure=insecure, progress=progress, force=force
                ):
                    done.append(exported)
                    if not (as_json or quiet):
                        click.echo(exported.summary())
            finally:
                if as_json:
                    out.emit([e.as_dict() for e in done], "")
        if not (done or as_json or quiet):
            click.echo("nothing in production")
        return
    else:
        if spec is None:
            raise InputError(
                "export needs NAME@vX.Y.Z (or --all-production)",
                hint="e.g. artreg export encoder@v1.2.0 --oci ghcr.io/acme/encoder",
            )
        with out.progress("uploading") as progress:
            done = oci_export.export(
                root,
                spec,
                oci=oci,
                layout=Path(layout) if layout else None,
                insecure=insecure,
                progress=progress,
                force=force,
            )
    out.emit([e.as_dict() for e in done], "\n".join(e.summary() for e in done))
