"""CI and review scaffolding that `artreg init --ci github` (or `--ci gitlab`) puts into a
registry repo.

A registry is only as trustworthy as the checks that run on it: every promotion pull request must
pass `artreg verify --remote` (hashes, schemas, immutability, bytes present on the DVC remote) and
show its gate table and metric deltas in the job summary, and after the merge the bot on the
repository's default branch (as git knows it when the files are written) creates the GTO tags of
the merged promotions (`artreg tag --push`); once it has, the registry's static site is built
and published on GitHub Pages (`artreg site`). These files are written once
and then belong to the user: `write_ci_files` never overwrites an existing file.

Credentials are never written anywhere: the workflows read them from repository secrets through
`env:` so that DVC's S3 remote picks them up from the environment.

No job pulls data by hand: artreg fetches exactly the objects a command needs (and the tags and
history a shallow clone lacks) itself. The whole-registry check runs with `--no-fetch` (tags,
schemas, immutability, every object present on the remote) so that a pull request does not
download every model of the registry; the folders a pull request changes are then hashed
byte for byte, fetching only their objects.

The files are Jinja2 templates shipped as package data (`artreg/templates/ci/`); this module
only says which template goes to which path and fills in the default branch.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

PR_WORKFLOW_PATH = ".github/workflows/artreg-pr.yml"
MAIN_WORKFLOW_PATH = ".github/workflows/artreg-main.yml"
PAGES_WORKFLOW_PATH = ".github/workflows/artreg-pages.yml"
PR_TEMPLATE_PATH = ".github/pull_request_template.md"
PRE_COMMIT_HOOKS_PATH = ".pre-commit-hooks.yaml"
GITLAB_CI_PATH = ".gitlab-ci.yml"
MR_TEMPLATE_PATH = ".gitlab/merge_request_templates/artreg-promotion.md"
CI_SYSTEMS = ("github", "gitlab")

# Per system: repo-relative path -> template under artreg/templates/ci/, in the order written.
_CI_FILES: dict[str, dict[str, str]] = {
    "github": {
        PR_WORKFLOW_PATH: "artreg-pr.yml.j2",
        MAIN_WORKFLOW_PATH: "artreg-main.yml.j2",
        PAGES_WORKFLOW_PATH: "artreg-pages.yml.j2",
        PR_TEMPLATE_PATH: "pull_request_template.md.j2",
        PRE_COMMIT_HOOKS_PATH: "pre-commit-hooks.yaml.j2",
    },
    "gitlab": {
        GITLAB_CI_PATH: "gitlab-ci.yml.j2",
        MR_TEMPLATE_PATH: "pull_request_template.md.j2",
        PRE_COMMIT_HOOKS_PATH: "pre-commit-hooks.yaml.j2",
    },
}
# What a review is called on each system (the PR/MR template says it).
_REQUEST = {"github": "pull request", "gitlab": "merge request"}


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment of the CI templates (built once; jinja2 is imported only here)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("artreg", "templates/ci"),
        # Jinja's own delimiters collide with the files' contents: `${{ github.ref }}` is a GitHub
        # expression that must reach the file as written, and `${#name}` (shell's length of a
        # variable) would open a Jinja comment. None of `[[`, `[%`, `[#` occurs in the files; a
        # later template that needs one (bash's `[[ ... ]]`) wraps it in `[% raw %]...[% endraw %]`,
        # and forgetting to is loud (a syntax or undefined-variable error, and the golden tests).
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        # YAML and markdown, not HTML: escaping would turn the JSON-quoted branch `"a\"b"` into
        # `&#34;a\&#34;b&#34;`.
        autoescape=False,
        # A variable a template names but the caller did not pass is an error, never "".
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # A `[% if %]` / `[% for %]` line leaves no blank line or indentation behind.
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def _branch_filter(branch: str) -> str:
    """`branch` as one item of a workflow's `branches:` list: GitHub's filter characters
    escaped, then quoted as a YAML (JSON) string."""
    return json.dumps(re.sub(r"([*+?!\[\]])", r"\\\1", branch))


def ci_files(default_branch: str, system: str = "github") -> dict[str, str]:
    """Return the CI files (of `system`, github or gitlab) of a registry repo whose default
    branch is `default_branch`: repo-relative POSIX path to file text. The templates see
    `system`, `request` ("pull request" or "merge request"), `default_branch` and
    `default_branch_filter` (the branch as a YAML item of a GitHub `branches:` filter)."""
    env = _environment()
    context = {
        "system": system,
        "request": _REQUEST[system],
        "default_branch": default_branch,
        "default_branch_filter": _branch_filter(default_branch),
    }
    return {rel: env.get_template(name).render(context) for rel, name in _CI_FILES[system].items()}


def write_ci_files(root: Path, default_branch: str, system: str = "github") -> list[str]:
    """Write the CI files missing under ``root``, never overwriting; return the paths written."""
    written: list[str] = []
    for rel, text in ci_files(default_branch, system).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # "x": create only; an existing file (or symlink) is the user's and stays untouched.
            with target.open("x", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        except FileExistsError:
            continue
        written.append(rel)
    return written
