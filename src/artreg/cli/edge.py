"""What every command that commits a stage folder does at the edge, around its service: the
registry, the publish options, the progress bar, and `--summary-md`, written once the change
is committed. (`artreg promote --to STAGE` chooses its promotion in cli/promote.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artreg.cli.options import Output, registry_root, warn
from artreg.cli.write_options import common_options
from artreg.present import markdown
from artreg.present import text as fmt
from artreg.registry.layout import StageDir
from artreg.services.review import summaries

if TYPE_CHECKING:
    from artreg.adapters.hashing import ProgressFn
    from artreg.publishing.publish import Published, PublishOptions


def after_publish(root: Path, published: Published, summary_md: str | None) -> list[str]:
    """`--summary-md`: the pull-request description of the promotion just committed, written
    to that file; then the result's warnings. The change is made by then, so a failure here
    is a warning, never the command's failure."""
    if summary_md is not None:
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
