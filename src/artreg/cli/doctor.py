"""`artreg doctor`: check the tools, the remote, credentials and the lock."""

from __future__ import annotations

import sys

from artreg.cli.group import main
from artreg.cli.options import Output, json_option, repo_option
from artreg.present import text as fmt
from artreg.services.doctor import diagnose


@main.command()
@repo_option
@json_option
def doctor(repo_path: str | None, as_json: bool) -> None:
    """Check git, DVC, the remote, credentials and the lock; print the fix for each problem.

    Example: artreg doctor
    """
    checks = diagnose(repo_path)
    Output(as_json).emit(fmt.doctor_json(checks), fmt.doctor_text(checks))
    if not all(c.ok for c in checks):
        sys.exit(1)
