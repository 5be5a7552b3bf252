"""git's rules, taken from git (issue 12, items 7-10): who made a change, which registry a command
works on, the states of a checkout, and names every platform can check out.

Every situation is met as a user meets it: the `artreg` command line in real repositories, with
git's identity, state and history set up by git itself. After every refusal, HEAD, the tags,
`git status` and every `.dvc` file are as before.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from artreg.api import ArtifactRepository, find_root
from artreg.errors import InputError
from artreg.services.init import init_registry
from artreg.services.register import register_raw

from helpers import git, release, snapshot


def _register(cli, root: Path | None, ckpt: Path, *args: str, cwd: Path | None = None):
    """`artreg register ARGS --from CKPT` from `cwd` (default: the registry root)."""
    return cli("register", *args, "--from", str(ckpt), cwd=cwd or root)


def _tag_by(root: Path, tag: str) -> str:
    message = git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
    return next(line[4:] for line in message.splitlines() if line.startswith("by: "))


def _who_recorded(root: Path, published: dict) -> tuple[str, str, str]:
    """(manifest created_by, the tag's `by:` line, the commit's author) of one registration."""
    manifest = json.loads((root / published["folder"] / "manifest.json").read_text())
    author = git(root, "log", "-1", "--format=%an <%ae>", published["commit"]).strip()
    return manifest["created_by"], _tag_by(root, published["tags"][0]), author


# --- 7. identity: git's own resolution ------------------------------------------------------


@pytest.fixture
def no_config_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """git's global configuration without any user.* (as on a fresh CI runner)."""
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for var in (
        "EMAIL",
        *(f"GIT_{w}_{k}" for w in ("AUTHOR", "COMMITTER") for k in ("NAME", "EMAIL")),
    ):
        monkeypatch.delenv(var, raising=False)
    return empty


def test_identity_only_in_git_environment_variables_is_what_every_record_names(
    registry: Path, checkpoint_dir: Path, no_config_identity: Path, monkeypatch, cli
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "CI Runner")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "runner@ci.example")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "CI Runner")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "runner@ci.example")
    assert git(registry, "config", "user.name", "--default", "").strip() == ""

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--json", cwd=registry)

    assert result.exit_code == 0, result.stderr
    created_by, tag_by, author = _who_recorded(registry, result.json())
    assert created_by == tag_by == author == "CI Runner <runner@ci.example>"
    doctor = cli("doctor", "--json", cwd=registry).json()
    ident = next(c for c in doctor if c["name"] == "git identity")
    assert ident["ok"] and ident["detail"] == "CI Runner <runner@ci.example>"


def test_an_author_in_the_environment_wins_over_config_in_every_record(
    registry: Path, checkpoint_dir: Path, monkeypatch, cli
) -> None:
    # The global config (conftest) says "Test Trainer"; CI exports a different author.
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Release Bot")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "bot@ci.example")

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--json", cwd=registry)

    assert result.exit_code == 0, result.stderr
    published = result.json()
    created_by, tag_by, author = _who_recorded(registry, published)
    assert created_by == tag_by == author == "Release Bot <bot@ci.example>"
    # The tagger is git's committer, as for every annotated tag: here the configured user.
    tag = published["tags"][0]
    tagger = git(
        registry, "for-each-ref", "--format=%(taggername) %(taggeremail)", f"refs/tags/{tag}"
    )
    committer = git(registry, "log", "-1", "--format=%cn <%ce>", published["commit"])
    assert tagger.strip() == committer.strip() == "Test Trainer <trainer@example.com>"


def test_ci_actor_is_added_to_the_same_identity_everywhere(
    registry: Path, checkpoint_dir: Path, monkeypatch, cli
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--json", cwd=registry)
    assert result.exit_code == 0, result.stderr
    created_by, tag_by, author = _who_recorded(registry, result.json())
    assert created_by == tag_by == f"{author} (CI: octocat)"


def test_no_identity_anywhere_is_refused_with_the_fix(
    registry: Path, checkpoint_dir: Path, no_config_identity: Path, cli
) -> None:
    # git would guess user@host on some machines; useConfigOnly is git's way to forbid guessing.
    no_config_identity.write_text("[user]\n\tuseConfigOnly = true\n")
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "encoder", "s1")

    assert result.exit_code == 2
    assert "git cannot tell who the author of a commit is" in result.stderr
    assert 'fix: run: git config user.name "Your Name"' in result.stderr
    assert "GIT_AUTHOR_NAME" in result.stderr
    assert snapshot(registry) == before


def test_an_author_without_a_committer_is_refused_before_anything_is_written(
    registry: Path, checkpoint_dir: Path, no_config_identity: Path, monkeypatch, cli
) -> None:
    no_config_identity.write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "CI Runner")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "runner@ci.example")
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "encoder", "s1")

    assert result.exit_code == 2
    assert "who the committer of a commit is" in result.stderr
    assert "GIT_COMMITTER_NAME" in result.stderr
    assert snapshot(registry) == before


# --- 8. which registry ------------------------------------------------------------------------


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """A second registry, as ARTREG_REPO or --repo would name it."""
    root = tmp_path / "other-registry"
    init_registry(root)
    return root


def test_inside_a_repository_it_wins_over_artreg_repo_and_every_write_names_it(
    registry: Path, other: Path, checkpoint_dir: Path, monkeypatch, cli
) -> None:
    monkeypatch.setenv("ARTREG_REPO", str(other))
    untouched = snapshot(other)
    sub = registry / "artifacts" / "raw"

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=sub)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"registry: {registry.resolve()}"
    assert (registry / "artifacts/raw/encoder/s1/manifest.json").is_file()
    assert snapshot(other) == untouched
    doctor = cli("doctor", "--json", cwd=sub).json()
    where = next(c for c in doctor if c["name"] == "registry")
    assert where["detail"].startswith(f"{registry.resolve()} (from the current repository")
    assert "ARTREG_REPO" in where["detail"] and "only outside a git repository" in where["detail"]

    # --repo wins over both; --json carries the registry as a field and stays valid JSON.
    explicit = cli(
        "register",
        "encoder",
        "s2",
        "--from",
        str(checkpoint_dir),
        "--repo",
        str(other),
        "--json",
        cwd=sub,
    )
    assert explicit.exit_code == 0, explicit.stderr
    assert explicit.json()["registry"] == str(other.resolve())
    assert (other / "artifacts/raw/encoder/s2").is_dir()
    assert not (registry / "artifacts/raw/encoder/s2").exists()


def test_outside_any_repository_artreg_repo_applies_to_writers_and_doctor_alike(
    other: Path, checkpoint_dir: Path, tmp_path: Path, monkeypatch, cli
) -> None:
    outside = tmp_path / "somewhere"
    outside.mkdir()
    assert subprocess.run(["git", "-C", str(outside), "rev-parse"], capture_output=True).returncode
    monkeypatch.setenv("ARTREG_REPO", str(other))

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--json", cwd=outside)

    assert result.exit_code == 0, result.stderr
    assert result.json()["registry"] == str(other.resolve())
    assert (other / "artifacts/raw/encoder/s1").is_dir()
    doctor = cli("doctor", "--json", cwd=outside).json()
    where = next(c for c in doctor if c["name"] == "registry")
    assert where["ok"] and where["detail"] == f"{other.resolve()} (from ARTREG_REPO)"
    deprecated = cli("deprecate", "encoder", cwd=outside)
    assert deprecated.exit_code == 0, deprecated.stderr
    assert deprecated.stdout.splitlines()[0] == f"registry: {other.resolve()}"


def test_a_misspelled_artreg_repo_is_an_error_not_its_nearest_parent(
    other: Path, checkpoint_dir: Path, tmp_path: Path, monkeypatch, cli
) -> None:
    outside = tmp_path / "somewhere"
    outside.mkdir()
    typo = other / "artifacts" / "rwa"
    monkeypatch.setenv("ARTREG_REPO", str(typo))
    before = snapshot(other)

    result = _register(cli, None, checkpoint_dir, "encoder", "s1", cwd=outside)

    assert result.exit_code == 2
    assert f"{typo}: no such folder (given as ARTREG_REPO=" in result.stderr
    assert "fix: check the spelling of ARTREG_REPO" in result.stderr
    assert snapshot(other) == before
    doctor = cli("doctor", cwd=outside)
    assert doctor.exit_code == 1 and f"{typo}: no such folder" in doctor.stdout


def test_a_repo_path_that_does_not_exist_is_an_error(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    typo = registry / "artifcats"
    before = snapshot(registry)

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--repo", str(typo))

    assert result.exit_code == 2
    assert f"{typo}: no such folder (given as --repo)" in result.stderr
    assert snapshot(registry) == before
    with pytest.raises(InputError, match="no such folder"):
        find_root(typo)
    with pytest.raises(InputError, match="no such folder"):
        ArtifactRepository(typo)
    assert find_root(registry / "artifacts") == registry.resolve()


def test_artreg_repo_inside_a_repository_that_is_no_registry_is_refused(
    other: Path, checkpoint_dir: Path, tmp_path: Path, monkeypatch, cli
) -> None:
    training = tmp_path / "training-code"
    training.mkdir()
    git(training, "init", "--quiet")
    monkeypatch.setenv("ARTREG_REPO", str(other))
    before = snapshot(other)

    result = _register(cli, None, checkpoint_dir, "encoder", "s1", cwd=training)

    assert result.exit_code == 2
    assert "is a git repository but not a registry" in result.stderr
    assert f"fix: pass --repo {other}" in result.stderr
    assert snapshot(other) == before
    assert sorted(p.name for p in training.iterdir()) == [".git"]


# --- 9. git states ------------------------------------------------------------------------------


def _dvc_cache(root: Path) -> list[str]:
    from artreg.adapters.dvc.cache import cache_dir

    cache = cache_dir(root)
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())


@pytest.mark.parametrize("command", ["register", "deprecate", "tag"])
def test_a_detached_head_refuses_writes_with_the_fix(
    registry: Path, checkpoint_dir: Path, command: str, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    git(registry, "switch", "--quiet", "--detach", "HEAD")
    before = snapshot(registry)

    args = {
        "register": ["register", "encoder", "s2", "--from", str(checkpoint_dir)],
        "deprecate": ["deprecate", "encoder"],
        "tag": ["tag"],
    }[command]
    result = cli(*args, cwd=registry)

    assert result.exit_code == 2, result.stderr
    assert "HEAD is detached" in result.stderr
    assert "fix: `git switch -c BRANCH`" in result.stderr
    assert "`git switch main`" in result.stderr
    assert snapshot(registry) == before


def _conflicting_history(root: Path) -> None:
    """notes.txt changed one way on `other` and another way on main (a sure conflict)."""
    (root / "notes.txt").write_text("base\n")
    git(root, "add", "notes.txt")
    git(root, "commit", "--quiet", "-m", "notes")
    git(root, "switch", "--quiet", "-c", "other")
    (root / "notes.txt").write_text("other\n")
    git(root, "commit", "--quiet", "-am", "other notes")
    git(root, "switch", "--quiet", "main")
    (root / "notes.txt").write_text("main\n")
    git(root, "commit", "--quiet", "-am", "main notes")


def _fails(root: Path, *args: str) -> None:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert proc.returncode != 0, f"git {args} was meant to stop on a conflict"


def _start(root: Path, operation: str, tmp_path: Path) -> None:
    _conflicting_history(root)
    if operation == "merge":
        _fails(root, "merge", "other")
    elif operation == "rebase":
        _fails(root, "rebase", "other")
    elif operation == "rebase --apply":
        _fails(root, "rebase", "--apply", "other")
    elif operation == "cherry-pick":
        _fails(root, "cherry-pick", "other")
    elif operation == "revert":
        (root / "notes.txt").write_text("later\n")
        git(root, "commit", "--quiet", "-am", "later notes")
        _fails(root, "revert", "--no-edit", "HEAD~1")
    elif operation == "am":
        patch = tmp_path / "other.patch"
        patch.write_text(git(root, "format-patch", "-1", "other", "--stdout"))
        _fails(root, "am", str(patch))
    elif operation == "bisect":
        git(root, "bisect", "start")
    elif operation == "stash pop":
        (root / "notes.txt").write_text("stashed\n")
        git(root, "stash", "--quiet")
        (root / "notes.txt").write_text("committed\n")
        git(root, "commit", "--quiet", "-am", "committed notes")
        _fails(root, "stash", "pop")


@pytest.mark.parametrize(
    ("operation", "named", "fix"),
    [
        ("merge", "a merge is in progress", "git merge --abort"),
        ("rebase", "a rebase is in progress", "git rebase --abort"),
        ("rebase --apply", "a rebase is in progress", "git rebase --abort"),
        ("cherry-pick", "a cherry-pick is in progress", "git cherry-pick --abort"),
        ("revert", "a revert is in progress", "git revert --abort"),
        ("am", "a `git am` is in progress", "git am --abort"),
        ("bisect", "a bisect is in progress", "git bisect reset"),
        ("stash pop", "the index has unmerged paths (notes.txt first)", "git add"),
    ],
)
def test_an_operation_in_progress_is_refused_before_any_data_is_copied(
    registry: Path,
    checkpoint_dir: Path,
    tmp_path: Path,
    operation: str,
    named: str,
    fix: str,
    cli,
) -> None:
    _start(registry, operation, tmp_path)
    before, cache = snapshot(registry), _dvc_cache(registry)

    result = _register(cli, registry, checkpoint_dir, "encoder", "s1")

    assert result.exit_code == 2, result.stderr
    assert named in result.stderr
    assert fix in result.stderr.split("fix:", 1)[1]
    assert snapshot(registry) == before
    assert _dvc_cache(registry) == cache  # refused before a byte went into the DVC cache
    state = Path(git(registry, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    assert not list((state / "artreg").glob("build-*"))


@pytest.fixture
def published_origin(registry: Path, checkpoint_dir: Path, bare_origin: Path) -> Path:
    """origin holding a release of encoder, then a later registration on top of it."""
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    register_raw(registry, "encoder", "s2", checkpoint_dir)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    return bare_origin


def test_a_shallow_clone_says_what_to_fetch_instead_of_nothing_in_production(
    published_origin: Path, tmp_path: Path, cli
) -> None:
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{published_origin}", str(shallow))

    result = cli("resolve", "encoder", "--no-verify", "--no-fetch", cwd=shallow)

    assert result.exit_code == 2
    assert "shallow clone" in result.stderr
    assert "fix: this is a shallow clone" in result.stderr
    assert "run `git fetch --tags --unshallow`" in result.stderr
    listed = cli("list", "--no-fetch", cwd=shallow)
    assert "run `git fetch --tags --unshallow`" in listed.stderr
    # Without --no-fetch the command fetches what it lacks itself (issue 14, item 4).
    fixed = cli("resolve", "encoder", "--no-verify", cwd=shallow)
    assert fixed.exit_code == 0, fixed.stderr
    assert "fetched what it lacks (`git fetch --tags --unshallow origin`)" in fixed.stderr
    assert fixed.stdout.strip().endswith("artifacts/production/encoder/v1.0.0/model.pt")
    assert "git fetch" not in cli("list", cwd=shallow).stderr


def test_a_clone_without_tags_says_to_fetch_them(
    published_origin: Path, tmp_path: Path, cli
) -> None:
    tagless = tmp_path / "tagless"
    git(tmp_path, "clone", "--quiet", "--no-tags", str(published_origin), str(tagless))
    assert git(tagless, "tag") == ""

    result = cli("show", "encoder#production", "--no-fetch", cwd=tagless)
    assert result.exit_code == 2
    assert "no registry tags" in result.stderr
    assert "fix:" in result.stderr and "run `git fetch --tags`" in result.stderr
    listed = cli("list", "--json", "--no-fetch", cwd=tagless)
    assert listed.exit_code == 0 and listed.json() == {}
    assert "run `git fetch --tags`" in listed.stderr
    doctor = cli("doctor", "--json", cwd=tagless).json()
    history = next(c for c in doctor if c["name"] == "history and tags")
    assert not history["ok"] and history["fix"] == "git fetch --tags"

    # Without --no-fetch the command fetches the tags itself (issue 14, item 4).
    assert cli("show", "encoder#production", cwd=tagless).exit_code == 0
    assert git(tagless, "tag")
    assert "git fetch" not in cli("list", cwd=tagless).stderr


@pytest.fixture
def trunk(tmp_path: Path, isolated_env: Path) -> Path:
    """A registry whose default branch is `trunk` (git's init.defaultBranch), with CI files."""
    git(tmp_path, "config", "--global", "init.defaultBranch", "trunk")
    root = tmp_path / "trunk-registry"
    init_registry(root, ci="github")
    return root


def test_ci_workflows_follow_the_default_branch(trunk: Path) -> None:
    from ruamel.yaml import YAML

    from artreg.publishing.ci import MAIN_WORKFLOW_PATH, PR_TEMPLATE_PATH

    assert git(trunk, "branch", "--show-current").strip() == "trunk"
    workflow = YAML(typ="safe", pure=True).load((trunk / MAIN_WORKFLOW_PATH).read_text())
    assert workflow["on"]["push"]["branches"] == ["trunk"]
    assert "CI on `trunk`" in (trunk / PR_TEMPLATE_PATH).read_text()
    assert "main" not in (trunk / MAIN_WORKFLOW_PATH).read_text().replace("artreg-main", "")


def test_summary_compares_with_origins_default_branch(
    trunk: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(trunk, "remote", "add", "origin", str(origin))
    git(trunk, "push", "--quiet", "origin", "trunk")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(origin), str(clone))
    assert git(clone, "symbolic-ref", "refs/remotes/origin/HEAD").strip().endswith("/trunk")
    result = cli(
        "register",
        "encoder",
        "s1",
        "--from",
        str(checkpoint_dir),
        "--branch",
        "promote/s1",
        cwd=clone,
    )
    assert result.exit_code == 0, result.stderr
    git(clone, "switch", "--quiet", "promote/s1")  # the pull request's branch, as CI checks it out

    summary = cli("summary", cwd=clone)

    assert summary.exit_code == 0, summary.stderr
    assert "## encoder: raw `s1`" in summary.stdout


def test_default_branch_is_origins_head_then_init_default_branch_then_the_current_one(
    registry: Path, bare_origin: Path, tmp_path: Path
) -> None:
    from artreg.adapters.git.history import default_base, default_branch

    # No origin/HEAD (origin was added by hand); init.defaultBranch=main exists here.
    git(registry, "switch", "--quiet", "-c", "feature")
    assert default_branch(registry) == "main"
    assert default_base(registry) == "origin/main"
    # init.defaultBranch names a branch this repository does not have: the current branch.
    git(registry, "config", "init.defaultBranch", "nonexistent")
    assert default_branch(registry) == "feature"
    # origin's HEAD, as `git clone` or `git remote set-head` records it, comes first.
    git(registry, "push", "--quiet", "origin", "feature")
    git(registry, "remote", "set-head", "origin", "feature")
    git(registry, "switch", "--quiet", "main")
    assert default_branch(registry) == "feature"
    assert default_base(registry) == "origin/feature"


# --- 10. portable names, end to end -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "session", "named"),
    [
        ("CON", "s1", "invalid artifact name 'CON': CON is a Windows device name"),
        ("lpt1", "s1", "invalid artifact name 'lpt1': LPT1 is a Windows device name"),
        ("encoder", "nul.v1", "invalid session id 'nul.v1': NUL is a Windows device name"),
        ("encoder", "s1.", "invalid session id 's1.': it ends with a dot or a space"),
        ("encoder", "s1 ", "invalid session id 's1 ': it ends with a dot or a space"),
    ],
)
def test_register_refuses_names_windows_cannot_check_out(
    registry: Path, checkpoint_dir: Path, name: str, session: str, named: str, cli
) -> None:
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, name, session)

    assert result.exit_code == 2
    assert named in result.stderr
    assert "fix: a name becomes a folder, and Windows cannot check out" in result.stderr
    assert snapshot(registry) == before


def test_a_name_differing_only_by_case_from_an_existing_artifact_is_refused(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "Encoder", "s2")

    assert result.exit_code == 2
    assert "artifact name 'Encoder' differs only by letter case from the existing 'encoder'" in (
        result.stderr
    )
    assert "fix: use 'encoder' itself" in result.stderr
    assert snapshot(registry) == before


def test_an_artifact_known_only_from_its_tags_counts_as_existing(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    side = registry.parent / "side"
    git(registry, "worktree", "add", "--quiet", "-b", "side", str(side))
    register_raw(side, "encoder", "s1", checkpoint_dir)  # tags are shared with main's checkout
    assert not (registry / "artifacts/raw/encoder").exists()
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "ENCODER", "s1")

    assert result.exit_code == 2
    assert "from the existing 'encoder' (in the registry's tags)" in result.stderr
    assert snapshot(registry) == before


def test_a_session_id_differing_only_by_case_is_refused(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    register_raw(registry, "encoder", "run1", checkpoint_dir)
    before = snapshot(registry)

    result = _register(cli, registry, checkpoint_dir, "encoder", "RUN1")

    assert result.exit_code == 2
    assert (
        "new folder 'RUN1' differs only by letter case from the existing 'run1' "
        "(artifacts/raw/encoder/run1)"
    ) in result.stderr
    assert snapshot(registry) == before
