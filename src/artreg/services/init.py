"""`artreg init`: make any git repository (or a new folder) a registry. Idempotent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artreg.adapters.dvc import repo as dvcrepo
from artreg.adapters.fastcopy import LINKED_CACHE
from artreg.adapters.files import dump_yaml, read_yaml
from artreg.adapters.git import history as githistory
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.adapters.git import write as gitwrite
from artreg.errors import ArtregError, InputError
from artreg.publishing.ci import CI_SYSTEMS, write_ci_files
from artreg.publishing.serverhook import install_update_hook
from artreg.registry import dvcyaml
from artreg.registry.layout import ARTIFACTS_DIR, DVC_YAML, PARAMS_FILE, REGISTRY_JSON
from artreg.registry.policy import DEFAULT_PARAMS
from artreg.registry.tags import MAX_NAME_LENGTH, validate_name

DEFAULT_REMOTE = "local"
LOCAL_STORAGE = ".dvc-storage"

STAGE_READMES = {
    "raw": (
        "# Raw artifacts\n\n"
        "Direct outputs of training sessions: `raw/<name>/<session_id>/` holds `checkpoints/` "
        "(DVC-tracked: best, latest, epoch_* and their manifest), `metrics/*.json`, `config.yaml`, "
        "`training.log`, `README.md` and `manifest.json` (every file with sha256 and size).\n\n"
        "Rules: written only by `artreg register`; one commit and one `<name>#raw#<N>` tag per "
        "session; never changed afterwards.\n"
    ),
    "validated": (
        "# Validated artifacts\n\n"
        "Models that passed the validated-stage gates of `params.yaml`: "
        "`validated/<name>/<validated_id>/` holds clean weights (`model.pt`, DVC-tracked, no "
        "optimizer state) with `model.pt.sha256`, `config.yaml`, `validation/`, `metadata.json` "
        "and a model card `README.md`.\n\n"
        "Rules: written only by `artreg promote --to validated`; one commit and one "
        "`<name>#validated#<N>` tag each; never changed afterwards.\n"
    ),
    "production": (
        "# Production artifacts\n\n"
        "Approved releases: `production/<name>/v<semver>/` holds the weights (DVC), `config.yaml`, "
        "`performance/`, `deployment/{docker,kubernetes}/`, `metadata.json`, `CHANGELOG.md` and "
        "`README.md`.\n\n"
        "Rules: written only by `artreg promote --to production` (or `register_artifact`) after "
        "the production gates, an approval record and, where required, a security review; one "
        "commit with tags `<name>@v<semver>` and `<name>#production#<N>`; never changed "
        "afterwards.\n"
    ),
}


FALLBACK_NAME = "model"


@dataclass
class InitResult:
    """What `artreg init` found and made."""

    root: Path
    created: list[str] = field(default_factory=list)
    commit: str | None = None
    remote: str | None = None
    default_name: str | None = None


def name_from_folder(folder: str) -> str:
    """A valid artifact name from a folder's name: other characters become '-', the ends are
    trimmed; a folder name with nothing usable (or a reserved one) gives "model"."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder).strip("-_")[:MAX_NAME_LENGTH].strip("-_")
    try:
        return validate_name(name)
    except ArtregError:
        return FALLBACK_NAME


def _existing_default(path: Path) -> Any:
    data = read_yaml(path, "params file") or {}
    section = data.get("artreg") if isinstance(data, dict) else None
    return section.get("default_name") if isinstance(section, dict) else None


def _check_name(path: Path, name: str | None) -> None:
    """Refuse a --name that an existing params.yaml contradicts (init never rewrites it)."""
    if name is None or not path.is_file():
        return
    recorded = _existing_default(path)
    if recorded != name:
        raise InputError(
            f"{path}: exists already and sets /artreg/default_name to {recorded!r}, not {name!r}; "
            "artreg init never rewrites a file it did not create",
            hint=f"set `artreg: {{default_name: {name}}}` in {PARAMS_FILE} and commit it, "
            "or run init without --name",
        )


def _write_new(root: Path, rel: str, text: str, created: list[str]) -> None:
    path = root / rel
    if path.exists():
        return  # never overwrite a user's file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    created.append(rel)


def _ensure_ignored(root: Path, line: str, created: list[str]) -> None:
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if line in text.splitlines():
        return
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")
    created.append(".gitignore")


def _ci_branch(root: Path, ci: str | None) -> str | None:
    """The branch the CI workflows tag on (the repository's default branch), checked before
    anything is written; None without --ci."""
    if ci is None:
        return None

    if ci not in CI_SYSTEMS:
        raise InputError(f"unknown CI system {ci!r}", hint="use --ci github or --ci gitlab")
    branch = githistory.default_branch(root)
    if branch is None:
        raise InputError(
            f"{root}: cannot tell the repository's default branch for the CI workflows "
            "(no origin/HEAD, no init.defaultBranch branch here, and HEAD is detached)",
            hint=f"`git switch BRANCH` to the default branch, then run `artreg init --ci {ci}` again",
        )
    return branch


def init_registry(
    path: Path, remote: str | None = None, ci: str | None = None, name: str | None = None
) -> InitResult:
    """Make `path` a registry; create only what is missing and commit it in one commit.

    A new params.yaml records `artreg.default_name`: `name`, else one made from the folder's
    name, so calls that give no name (the seeds' `register_training_session`) work.
    `ci="github"` also writes the GitHub workflows, a pull-request template and a pre-commit hook;
    `ci="gitlab"` a `.gitlab-ci.yml`, a merge-request template and the pre-commit hook.
    """
    if name is not None:
        validate_name(name, "name (--name)")
    _check_name(path / PARAMS_FILE, name)
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        gitrun.git(path, "init", "--quiet")
    root = gitrun.toplevel(path)
    branch = _ci_branch(root, ci)
    result = InitResult(root)
    created = result.created
    if dvcrepo.init(root, LINKED_CACHE):  # a registry that was DVC's already keeps its links
        created += [".dvc/config", ".dvc/.gitignore", ".dvcignore"]
    for stage, text in STAGE_READMES.items():
        _write_new(root, f"{ARTIFACTS_DIR}/{stage}/README.md", text, created)
    _write_new(root, DVC_YAML, dvcyaml.TEMPLATE, created)
    params = {
        **DEFAULT_PARAMS,
        "artreg": {**DEFAULT_PARAMS["artreg"], "default_name": name or name_from_folder(root.name)},
    }
    _write_new(
        root,
        PARAMS_FILE,
        "# artreg settings and promotion gates (see README).\n" + dump_yaml(params),
        created,
    )
    try:
        result.default_name = _existing_default(root / PARAMS_FILE)
    except ArtregError:
        result.default_name = None  # a user's own params.yaml; commands report what is wrong
    _write_new(root, REGISTRY_JSON, "{}\n", created)

    if branch is not None:
        assert ci is not None
        created += write_ci_files(root, branch, ci)

    configured = dvcrepo.remote_url(root)
    if remote is not None or configured is None:
        if remote is None:
            storage = root / LOCAL_STORAGE
            storage.mkdir(exist_ok=True)
            _ensure_ignored(root, f"/{LOCAL_STORAGE}/", created)
            # Absolute, so that every clone on this machine pushes to and pulls from it.
            remote = str(storage)
        dvcrepo.configure(root, DEFAULT_REMOTE, remote)
        created.append(".dvc/config")
    result.remote = dvcrepo.remote_url(root)

    paths = sorted(set(created))
    if paths and gitread.status(root, paths).strip():
        gitwrite.add(root, paths)
        result.commit = gitwrite.commit(root, "artreg: initialise registry", paths)
    return result


def install_server_hook(bare_repo: Path) -> Path:
    """`artreg init --server-hook`: the tag-protecting update hook in a bare origin."""
    return install_update_hook(bare_repo)
