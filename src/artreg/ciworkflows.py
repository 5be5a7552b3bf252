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

The templates are string constants (not package data) so that no packaging change is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PR_WORKFLOW_PATH = ".github/workflows/artreg-pr.yml"
MAIN_WORKFLOW_PATH = ".github/workflows/artreg-main.yml"
PAGES_WORKFLOW_PATH = ".github/workflows/artreg-pages.yml"
PR_TEMPLATE_PATH = ".github/pull_request_template.md"
PRE_COMMIT_HOOKS_PATH = ".pre-commit-hooks.yaml"
GITLAB_CI_PATH = ".gitlab-ci.yml"
MR_TEMPLATE_PATH = ".gitlab/merge_request_templates/artreg-promotion.md"
CI_SYSTEMS = ("github", "gitlab")

PR_WORKFLOW = """\
# Written by `artreg init --ci github`; yours to edit (artreg never overwrites it).
# Every pull request must leave the registry verifiable: hashes, schemas, immutability of promoted
# directories, and the DVC remote holding every byte the pointers name.
name: artreg verify

on:
  pull_request:

permissions:
  contents: read

# A new push to the same pull request makes the running check obsolete.
concurrency:
  group: artreg-verify-${{ github.ref }}
  cancel-in-progress: true

jobs:
  verify:
    name: artreg verify
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - name: Check out (full history and tags, artreg reads the registry from git tags)
        uses: actions/checkout@v4
        with:
          fetch-depth: 0

      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"

      - name: Install artreg
        run: pip install artreg

      # No `dvc pull`: the whole registry is checked without downloading it (tags, schemas,
      # immutability, every object present on the remote) ...
      - name: Verify the registry (the exit code decides the job)
        run: artreg verify --remote --no-fetch --json
        env:
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}

      # ... and the folders this pull request adds are hashed byte for byte against their
      # manifests; artreg fetches exactly their objects from the DVC remote.
      - name: Verify the bytes of the promoted folders
        run: |
          git diff --name-only -z "origin/$BASE_REF...HEAD" -- artifacts/ |
            xargs -0 --no-run-if-empty artreg verify --changed
        env:
          BASE_REF: ${{ github.base_ref }}
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}

      - name: Promotion summary (gate table, lineage, metric deltas)
        if: always()
        run: artreg summary --base "origin/$BASE_REF" >> "$GITHUB_STEP_SUMMARY"
        env:
          BASE_REF: ${{ github.base_ref }}
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
"""

MAIN_WORKFLOW = """\
# Written by `artreg init --ci github`; yours to edit (artreg never overwrites it).
# After a promotion pull request is merged, its commit has no tags yet: `artreg tag` finds merged
# promotions without tags (by content, so squash, merge and rebase merges all work) and tags them.
name: artreg tag

on:
  push:
    branches:
      - @DEFAULT_BRANCH@

permissions:
  contents: write

# Two merges in quick succession must not race for the same tag counter.
concurrency:
  group: artreg-tag
  cancel-in-progress: false

jobs:
  tag:
    name: artreg tag
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - name: Check out (full history and tags)
        uses: actions/checkout@v4
        with:
          fetch-depth: 0

      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"

      - name: Install artreg
        run: pip install artreg

      - name: Configure the git identity of the bot
        run: |
          git config user.name "artreg-bot"
          git config user.email "artreg-bot@users.noreply.github.com"

      # Checked before tagging: a tag must never name bytes that the DVC remote lacks.
      - name: Check that the DVC remote holds every tracked file
        run: artreg verify --remote --no-fetch
        env:
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}

      - name: Tag merged promotions and push the tags
        run: artreg tag --push
        env:
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
"""

PAGES_WORKFLOW = """\
# Written by `artreg init --ci github`; yours to edit (artreg never overwrites it).
# Publishes the registry's static site (`artreg site`) on GitHub Pages: every name, stage and
# release, their history, gates and lineage. It runs when `artreg tag` has finished on the default
# branch, so the site shows the tags of the promotions just merged. Enable Pages with
# "GitHub Actions" as the source (Settings > Pages) once.
name: artreg site

on:
  workflow_run:
    workflows: ["artreg tag"]
    types: [completed]
    branches:
      - @DEFAULT_BRANCH@
  workflow_dispatch:

permissions:
  contents: read

# One deployment at a time; a newer run waits rather than cancelling one half-way.
concurrency:
  group: artreg-pages
  cancel-in-progress: false

jobs:
  build:
    name: build the site
    # After a successful `artreg tag` run (on the default branch, above), or when started by hand.
    if: github.event_name == 'workflow_dispatch' || github.event.workflow_run.conclusion == 'success'
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - name: Check out the default branch (full history and tags, the site reads both)
        uses: actions/checkout@v4
        with:
          ref: ${{ github.event.repository.default_branch }}
          fetch-depth: 0

      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"

      - name: Install artreg
        run: pip install artreg

      - name: Build the site (from git alone, no DVC remote or credentials needed)
        run: artreg site -o _site

      - name: Upload it as the Pages artifact
        uses: actions/upload-pages-artifact@v3
        with:
          path: _site

  deploy:
    name: deploy to GitHub Pages
    needs: build
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      pages: write
      id-token: write
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - name: Deploy
        id: deployment
        uses: actions/deploy-pages@v4
"""

PR_TEMPLATE = """\
<!-- Written by `artreg init --ci github`; yours to edit. For promotion pull requests
     (`artreg promote ... --branch`). The CI job summary of this pull request shows the output of
     `artreg summary`: metadata diff, gate table, lineage and metric deltas. -->

## Promotion

| | |
| --- | --- |
| Artifact | `NAME` |
| From | `artifacts/<stage>/NAME/<id>` |
| To | `artifacts/<stage>/NAME/<id or v<semver>>` |
| Requested by | @who |

Why this promotion:

## Gates

<!-- Paste or link the gate table from the job summary (`artreg summary`). -->

| gate | threshold | value | result |
| --- | --- | --- | --- |
| | | | |

## Approval checklist

- [ ] I reviewed the metric deltas against the current version of this stage.
- [ ] The lineage is right: the source session / validated id and its training config.
- [ ] The model card (`README.md`) is complete: intended use, limitations, evaluation data.
- [ ] Security review done, if `params.yaml` requires one for this stage.
- [ ] `artreg verify --remote` passed (CI check `artreg verify`).

After the merge, CI on `@DEFAULT_BRANCH_TEXT@` creates the tags of this promotion (`artreg tag --push`).
"""

PRE_COMMIT_HOOKS = """\
# Written by `artreg init --ci github`; yours to edit (artreg never overwrites it).
- id: artreg-verify
  name: artreg verify
  description: Verify changed registry files (hashes, schemas, immutability of promoted stages).
  entry: artreg verify --changed
  language: python
  pass_filenames: true
  files: '^(artifacts/|dvc\\.yaml$|params\\.yaml$)'
"""

GITLAB_CI = """\
# Written by `artreg init --ci gitlab`; yours to edit (artreg never overwrites it).
# Merge requests must leave the registry verifiable (hashes, schemas, immutability of promoted
# directories, the DVC remote holding every byte the pointers name); after a merge, the default
# branch tags the merged promotions (`artreg tag --push`). No job pulls data by hand: artreg
# fetches exactly the objects a command needs.
#
# CI/CD variables (Settings > CI/CD > Variables, masked): AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY for an S3 remote (DVC reads them from the environment), and
# ARTREG_PUSH_TOKEN, a project access token with write_repository, for pushing the tags.

workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH

variables:
  # Full history and every tag: artreg reads the registry from git tags.
  GIT_DEPTH: "0"
  GIT_FETCH_EXTRA_FLAGS: --prune --quiet --tags

default:
  image: python:3.11
  before_script:
    - pip install artreg

artreg-verify:
  stage: test
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  # A new push to the same merge request makes the running check obsolete.
  interruptible: true
  timeout: 30 minutes
  script:
    - git fetch --quiet origin "+refs/heads/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME:refs/remotes/origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
    # The whole registry, without downloading it: tags, schemas, immutability, remote objects.
    - artreg verify --remote --no-fetch --json
    # The folders this merge request adds, byte for byte (fetches exactly their objects).
    - git diff --name-only -z "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME...HEAD" -- artifacts/ | xargs -0 --no-run-if-empty artreg verify --changed
    - artreg summary --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" > artreg-summary.md
  artifacts:
    when: always
    expose_as: artreg promotion summary
    paths:
      - artreg-summary.md

artreg-tag:
  stage: deploy
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  # GitLab's concurrency group: two merges in quick succession must not race for a tag counter.
  resource_group: artreg-tag
  timeout: 30 minutes
  script:
    - git config user.name "artreg-bot"
    - git config user.email "artreg-bot@noreply.$CI_SERVER_HOST"
    # GitLab checks out a detached HEAD; put the default branch back under its own name.
    - git checkout -B "$CI_COMMIT_BRANCH" "$CI_COMMIT_SHA"
    - git remote set-url origin "https://artreg-bot:$ARTREG_PUSH_TOKEN@$CI_SERVER_HOST/$CI_PROJECT_PATH.git"
    # Checked before tagging: a tag must never name bytes that the DVC remote lacks.
    - artreg verify --remote --no-fetch
    - artreg tag --push
"""

_CI_FILES: dict[str, dict[str, str]] = {
    "github": {
        PR_WORKFLOW_PATH: PR_WORKFLOW,
        MAIN_WORKFLOW_PATH: MAIN_WORKFLOW,
        PAGES_WORKFLOW_PATH: PAGES_WORKFLOW,
        PR_TEMPLATE_PATH: PR_TEMPLATE,
        PRE_COMMIT_HOOKS_PATH: PRE_COMMIT_HOOKS,
    },
    "gitlab": {
        GITLAB_CI_PATH: GITLAB_CI,
        MR_TEMPLATE_PATH: PR_TEMPLATE.replace("--ci github", "--ci gitlab")
        .replace("pull requests", "merge requests")
        .replace("pull request", "merge request")
        .replace(
            "CI job summary of this merge request shows", "pipeline of this merge request keeps"
        )
        .replace("the job summary", "the pipeline's artreg-summary.md")
        .replace("(CI check `artreg verify`)", "(CI job `artreg-verify`)"),
        PRE_COMMIT_HOOKS_PATH: PRE_COMMIT_HOOKS.replace("--ci github", "--ci gitlab"),
    },
}


def _branch_filter(branch: str) -> str:
    """`branch` as one item of a workflow's `branches:` list: GitHub's filter characters
    escaped, then quoted as a YAML (JSON) string."""
    return json.dumps(re.sub(r"([*+?!\[\]])", r"\\\1", branch))


def ci_files(default_branch: str, system: str = "github") -> dict[str, str]:
    """Return the CI files (of `system`, github or gitlab) of a registry repo whose default
    branch is `default_branch`: repo-relative POSIX path to file text."""
    return {
        rel: text.replace("@DEFAULT_BRANCH@", _branch_filter(default_branch)).replace(
            "@DEFAULT_BRANCH_TEXT@", default_branch
        )
        for rel, text in _CI_FILES[system].items()
    }


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
