"""What the write commands do at the edge, around their service: `artreg promote --to STAGE`
choosing its promotion, and `--summary-md`, written once the change is committed.

The services are imported where they are called, so that loading the CLI loads no write side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.cli.options import Output, common_options, registry_root, warn
from artreg.errors import InputError
from artreg.present import markdown
from artreg.present import text as fmt
from artreg.registry.layout import StageDir

if TYPE_CHECKING:
    from artreg.adapters.hashing import ProgressFn
    from artreg.publishing.publish import Published, PublishOptions


def promote(
    root: Path,
    name: str | None,
    source_id: str,
    to: str,
    *,
    checkpoint: str | None = None,
    results: Mapping[str, Any] | Path | str | None = None,
    validated_id: str | None = None,
    version: str | None = None,
    formats: tuple[str, ...] = (),
    release: Mapping[str, Any] | None = None,
    **common: Any,
) -> Published:
    """`artreg promote NAME ID --to STAGE`: the options each stage needs, then its promotion.

    `common` holds the keywords both promotions take (progress, options, fetch, sign_key,
    model_signature, requires), handed on as they are; `release` holds those only a release
    to production takes (deployment_config, benchmarks, approved_by, ...)."""
    if to == "validated":
        if not checkpoint or results is None:
            raise InputError(
                "--to validated needs --checkpoint and --results",
                hint="see artreg promote --help",
            )
        from artreg.services.validate import promote_to_validated

        return promote_to_validated(
            root,
            name,
            source_id,
            checkpoint,
            results,
            validated_id=validated_id,
            formats=tuple(dict.fromkeys(("pt", *formats))),
            **common,
        )
    if to != "production":
        raise InputError(f"cannot promote to {to!r}", hint="use --to validated or --to production")
    if not version:
        raise InputError("--to production needs --version", hint="e.g. --version 1.0.0")
    from artreg.services.release import promote_to_production

    return promote_to_production(
        root, name, source_id, version, formats=formats, **common, **(release or {})
    )


def after_publish(root: Path, published: Published, summary_md: str | None) -> list[str]:
    """`--summary-md`: the pull-request description of the promotion just committed, written
    to that file; then the result's warnings. The change is made by then, so a failure here
    is a warning, never the command's failure."""
    if summary_md is not None:
        from artreg.services.review import summaries

        folder = StageDir.parse(published.folder)
        assert folder is not None
        try:
            # As committed: in pull-request mode the command is back on its first branch now.
            found = summaries(root, [folder], rev=published.commit)
            Path(summary_md).write_text(markdown.summary_markdown(found), encoding="utf-8")
        except Exception as exc:  # the commit and tags stand; say so, and what was not written
            published.warnings.append(
                f"the change is committed, but --summary-md {summary_md} was not "
                f"written: {type(exc).__name__}: {exc}\n  fix: write it later with "
                f"`artreg summary --base {published.commit[:12]}~1 > FILE`"
            )
    return published.warnings


def publish_command(
    write: Callable[[Path, ProgressFn | None, PublishOptions], Published],
    render: Callable[[Published], str],
    repo_path: str | None,
    as_json: bool,
    quiet: bool,
    publishing: dict[str, Any],
) -> None:
    """What every command that commits a stage folder does around its service: the registry,
    the publish options, a progress bar over the copy-and-hash pass; then `--summary-md`, the
    warnings, and the result (JSON, or `render`'s text)."""
    out = Output(as_json, quiet)
    root = registry_root(repo_path)
    with out.progress("copying and hashing") as progress:
        result = write(root, progress, common_options(publishing, root))
    warn(after_publish(root, result, publishing.get("summary_md")))
    out.emit(*fmt.written(root, result.as_dict(), render(result)))
