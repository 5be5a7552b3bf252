"""The CI files of `artreg init --ci github`: valid GitHub workflows, never overwritten, no secrets.

Workflows are checked against check-jsonschema's vendored copy of the SchemaStore GitHub workflow
schema, both in-process (jsonschema) and through the `check-jsonschema` console script, exactly
as a user's pre-commit or CI would run it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from artreg.publishing.ci import (
    GITLAB_CI_PATH,
    MAIN_WORKFLOW_PATH,
    MR_TEMPLATE_PATH,
    PAGES_WORKFLOW_PATH,
    PR_TEMPLATE_PATH,
    PR_WORKFLOW_PATH,
    PRE_COMMIT_HOOKS_PATH,
    ci_files,
    write_ci_files,
)

WORKFLOWS = [PR_WORKFLOW_PATH, MAIN_WORKFLOW_PATH, PAGES_WORKFLOW_PATH]
WITH_CREDENTIALS = [PR_WORKFLOW_PATH, MAIN_WORKFLOW_PATH]  # the Pages build reads git only
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
BUILTIN_SCHEMAS = ["vendor.github-workflows", "custom.github-workflows-require-timeout"]


def load_yaml(path: Path) -> Any:
    # YAML 1.2 (as GitHub and check-jsonschema read it): `on:` stays the string "on", not True.
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def vendored_schema(name: str) -> dict[str, Any]:
    resource = files("check_jsonschema.builtin_schemas.vendor") / f"{name}.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


@pytest.fixture
def written(tmp_path: Path) -> Path:
    paths = write_ci_files(tmp_path, "main")
    assert paths == list(ci_files("main"))
    return tmp_path


@pytest.mark.parametrize("rel", WORKFLOWS)
def test_workflow_validates_against_vendored_schema(written: Path, rel: str) -> None:
    workflow = load_yaml(written / rel)
    schema = vendored_schema("github-workflows")
    validator_cls = jsonschema.validators.validator_for(schema)
    assert validator_cls is jsonschema.Draft7Validator
    validator_cls.check_schema(schema)
    errors = [e.message for e in validator_cls(schema).iter_errors(workflow)]
    assert errors == []
    assert set(workflow) >= {"name", "on", "jobs"}


@pytest.mark.parametrize("schema_name", BUILTIN_SCHEMAS)
def test_check_jsonschema_cli_accepts_workflows(written: Path, schema_name: str) -> None:
    result = subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "--builtin-schema",
            schema_name,
            *(str(written / rel) for rel in WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pr_workflow_content(written: Path) -> None:
    workflow = load_yaml(written / PR_WORKFLOW_PATH)
    assert "pull_request" in workflow["on"]
    steps = workflow["jobs"]["verify"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "3.11"
    runs = [s.get("run", "") for s in steps]
    assert "pip install artreg" in runs
    # No hand-written `dvc pull`: the registry is checked without downloading it, then only
    # the folders the pull request changes are hashed (`verify --fetch` fetches their objects).
    assert not any("dvc pull" in r for r in runs)
    assert "artreg verify --remote --no-fetch --json" in runs
    changed = next(r for r in runs if "artreg verify --fetch --changed" in r)
    assert 'git diff --name-only -z "origin/$BASE_REF...HEAD" -- artifacts/' in changed
    assert workflow["concurrency"]["group"] == "artreg-verify-${{ github.ref }}"
    assert workflow["concurrency"]["cancel-in-progress"] is True
    summary = next(s for s in steps if s.get("run", "").startswith("artreg summary"))
    assert '--base "origin/$BASE_REF"' in summary["run"]
    assert summary["run"].endswith('>> "$GITHUB_STEP_SUMMARY"')
    assert summary["env"]["BASE_REF"] == "${{ github.base_ref }}"


def test_main_workflow_content(written: Path) -> None:
    workflow = load_yaml(written / MAIN_WORKFLOW_PATH)
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["contents"] == "write"
    steps = workflow["jobs"]["tag"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    runs = [s.get("run", "") for s in steps]
    assert any('git config user.name "artreg-bot"' in r for r in runs)
    # The remote is checked before any tag is pushed: a tag never names bytes the remote lacks.
    assert runs.index("artreg verify --remote --no-fetch") < runs.index("artreg tag --push")
    assert not any("dvc pull" in r for r in runs)
    assert workflow["concurrency"] == {"group": "artreg-tag", "cancel-in-progress": False}
    # After the tags are pushed, production versions go to the OCI registry named by a variable.
    publish = next(s for s in steps if "artreg export --all-production" in s.get("run", ""))
    assert runs.index("artreg tag --push") < runs.index(publish["run"])
    assert publish["if"] == "${{ vars.ARTREG_OCI != '' }}"


def test_pages_workflow_builds_the_site_after_artreg_tag_and_deploys_it(written: Path) -> None:
    workflow = load_yaml(written / PAGES_WORKFLOW_PATH)
    main = load_yaml(written / MAIN_WORKFLOW_PATH)
    # It follows the tagging workflow, by that workflow's name, once it has completed.
    assert workflow["on"]["workflow_run"]["workflows"] == [main["name"]]
    assert workflow["on"]["workflow_run"]["types"] == ["completed"]
    assert workflow["on"]["workflow_run"]["branches"] == ["main"]  # the default branch
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}

    build = workflow["jobs"]["build"]
    condition = " ".join(build["if"].split())
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event_name == 'workflow_dispatch'" in condition
    steps = build["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # the site reads every tag
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    runs = [s.get("run", "") for s in steps]
    site = runs.index("artreg site -o _site")
    assert runs.index("pip install artreg") < site
    upload = next(
        s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@")
    )
    assert steps.index(upload) > site and upload["with"]["path"] == "_site"

    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["environment"]["url"] == "${{ steps.deployment.outputs.page_url }}"
    (step,) = deploy["steps"]
    assert step["uses"].startswith("actions/deploy-pages@") and step["id"] == "deployment"
    assert "secrets." not in (written / PAGES_WORKFLOW_PATH).read_text(encoding="utf-8")


def test_init_ci_github_adds_the_pages_workflow(tmp_path: Path) -> None:
    from artreg.services.init import init_registry

    result = init_registry(tmp_path / "reg", ci="github")
    assert PAGES_WORKFLOW_PATH in result.created
    text = (tmp_path / "reg" / PAGES_WORKFLOW_PATH).read_text(encoding="utf-8")
    assert text == ci_files("main")[PAGES_WORKFLOW_PATH]


def test_pre_commit_hook(written: Path) -> None:
    # check-jsonschema vendors no schema for .pre-commit-hooks.yaml: check pre-commit's manifest
    # rules by hand (a list of hooks; id, name, entry, language required).
    hooks = load_yaml(written / PRE_COMMIT_HOOKS_PATH)
    assert isinstance(hooks, list)
    assert len(hooks) == 1
    hook = hooks[0]
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert all(isinstance(hook[key], str) for key in ("id", "name", "entry", "language"))
    assert hook["id"] == "artreg-verify"
    assert hook["name"] == "artreg verify"
    assert hook["entry"] == "artreg verify --fetch --changed"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    assert hook["description"]
    pattern = re.compile(hook["files"])
    for path in ("artifacts/raw/m/s1/manifest.json", "dvc.yaml", "params.yaml"):
        assert pattern.search(path), path
    for path in ("src/x.py", "dvc.yaml.bak", "sub/params.yaml", "dvcXyaml"):
        assert not pattern.search(path), path


def test_pull_request_template(written: Path) -> None:
    text = (written / PR_TEMPLATE_PATH).read_text(encoding="utf-8")
    assert "| gate | threshold | value | result |" in text
    for item in ("metric deltas", "lineage", "model card", "Security review"):
        assert item in text, item
    assert text.count("- [ ]") >= 4


def test_write_twice_writes_nothing_and_keeps_user_edits(tmp_path: Path) -> None:
    first = write_ci_files(tmp_path, "main")
    assert sorted(first) == sorted(ci_files("main"))
    for rel in first:
        assert (tmp_path / rel).read_text(encoding="utf-8") == ci_files("main")[rel]

    user_text = "# my own workflow\nname: mine\non: push\njobs: {}\n"
    (tmp_path / PR_WORKFLOW_PATH).write_text(user_text, encoding="utf-8")
    (tmp_path / MAIN_WORKFLOW_PATH).unlink()

    second = write_ci_files(tmp_path, "main")
    assert second == [MAIN_WORKFLOW_PATH]
    assert (tmp_path / PR_WORKFLOW_PATH).read_text(encoding="utf-8") == user_text
    assert write_ci_files(tmp_path, "main") == []
    assert (tmp_path / PR_WORKFLOW_PATH).read_text(encoding="utf-8") == user_text


def test_ci_files_returns_a_copy() -> None:
    files_ = ci_files("main")
    files_.clear()
    assert ci_files("main")


SECRET_LINE = re.compile(r"^\s*(AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID)\s*:\s*(?P<value>.*)$")


@pytest.mark.parametrize("rel", WITH_CREDENTIALS)
def test_workflows_hold_no_credential_values(written: Path, rel: str) -> None:
    lines = (written / rel).read_text(encoding="utf-8").splitlines()
    credential_lines = [m for m in map(SECRET_LINE.match, lines) if m]
    assert credential_lines, "the workflow should pass the AWS credentials from secrets"
    for match in credential_lines:
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z0-9_]+ \}\}", match["value"]), match.group(0)


# --- GitLab (`artreg init --ci gitlab`) ------------------------------------------------------------


@pytest.fixture
def gitlab(tmp_path: Path) -> Path:
    paths = write_ci_files(tmp_path, "main", "gitlab")
    assert paths == [GITLAB_CI_PATH, MR_TEMPLATE_PATH, PRE_COMMIT_HOOKS_PATH]
    return tmp_path


def _check_gitlab(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.gitlab-ci", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_gitlab_ci_validates_against_check_jsonschemas_gitlab_schema(gitlab: Path) -> None:
    result = _check_gitlab(gitlab / GITLAB_CI_PATH)
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema does reject a broken file: the check above can fail.
    broken = gitlab / "broken.yml"
    broken.write_text(
        (gitlab / GITLAB_CI_PATH).read_text().replace("interruptible: true", "interruptible: maybe")
    )
    assert _check_gitlab(broken).returncode != 0


def test_gitlab_ci_verifies_merge_requests_and_tags_on_the_default_branch(gitlab: Path) -> None:
    ci = load_yaml(gitlab / GITLAB_CI_PATH)
    when = [r["if"] for r in ci["workflow"]["rules"]]
    assert when == [
        '$CI_PIPELINE_SOURCE == "merge_request_event"',
        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
    ]
    # Full history and every tag (GitLab's own variables for the clone it makes).
    assert ci["variables"]["GIT_DEPTH"] == "0"
    assert "--tags" in ci["variables"]["GIT_FETCH_EXTRA_FLAGS"].split()
    verify, tag = ci["artreg-verify"], ci["artreg-tag"]
    assert [r["if"] for r in verify["rules"]] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    assert [r["if"] for r in tag["rules"]] == ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"]
    assert verify["interruptible"] is True
    assert tag["resource_group"] == "artreg-tag"  # one tagging job at a time
    scripts = verify["script"] + tag["script"] + ci["default"]["before_script"]
    assert not any("dvc pull" in line for line in scripts)
    assert "artreg verify --remote --no-fetch --json" in verify["script"]
    assert any(
        "xargs -0 --no-run-if-empty artreg verify --fetch --changed" in s for s in verify["script"]
    )
    assert any(s.startswith("artreg summary --base") for s in verify["script"])
    assert tag["script"].index("artreg verify --remote --no-fetch") < tag["script"].index(
        "artreg tag --push"
    )
    assert 'artreg export --all-production --oci "$ARTREG_OCI"' in tag["script"][-1]
    text = (gitlab / GITLAB_CI_PATH).read_text()
    assert "AWS_SECRET_ACCESS_KEY:" not in text  # credentials are CI/CD variables, never values


def test_gitlab_merge_request_template_and_hook(gitlab: Path) -> None:
    text = (gitlab / MR_TEMPLATE_PATH).read_text(encoding="utf-8")
    assert "--ci gitlab" in text and "github" not in text.lower()
    assert "| gate | threshold | value | result |" in text
    hooks = load_yaml(gitlab / PRE_COMMIT_HOOKS_PATH)
    assert hooks[0]["entry"] == "artreg verify --fetch --changed"


def test_init_ci_gitlab_commits_the_files(tmp_path: Path, cli) -> None:
    result = cli("init", str(tmp_path / "reg"), "--ci", "gitlab", "--json")
    assert result.exit_code == 0, result.stderr
    tracked = subprocess.run(
        ["git", "-C", str(tmp_path / "reg"), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert GITLAB_CI_PATH in tracked and MR_TEMPLATE_PATH in tracked
    assert not (tmp_path / "reg/.github").exists()
