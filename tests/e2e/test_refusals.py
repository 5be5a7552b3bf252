"""Refusals that say what is really wrong and change nothing: malformed specs never widen an
action, output paths are checked before anything is written, and the smaller refusals of the
checkpoint folder (hard links, empty files, control characters) name their real cause."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from artreg.services.init import init_registry

from helpers import EXAMPLES, git, release, run_tool, snapshot


@pytest.fixture(scope="module")
def released_template(
    tmp_path_factory: pytest.TempPathFactory, _checkpoint_template: Path
) -> Iterator[Path]:
    """A registry holding encoder raw s1, validated s1_best_validated and production v1.0.0."""
    base = tmp_path_factory.mktemp("released")
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Trainer\n\temail = trainer@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        shutil.copytree(_checkpoint_template, base / "ckpt")
        root = base / "registry"
        init_registry(root)
        release(root, "encoder", "s1", base / "ckpt", "1.0.0")
    yield base


@pytest.fixture
def released(released_template: Path, tmp_path: Path) -> Path:
    """A private copy of the released registry (its DVC remote stays the template's)."""
    work = tmp_path / "w"
    shutil.copytree(released_template, work, symlinks=True)
    return work / "registry"


# --- 13: specs never widen -------------------------------------------------------------------

MALFORMED_SPECS = {
    "encoder@": "no version after '@'",
    "encoder#": "no stage after '#'",
    "encoder@v": "'v' is not a semantic version",
    "encoder@1.0": "'1.0' is not a semantic version",
    "encoder@vlatest": "'vlatest' is not a semantic version",
    "encoder@deprecated": "'deprecated' is not a semantic version",
    "encoder#production#": "one '@' or one '#'",
    "encoder#production#3": "one '@' or one '#'",
    "encoder@v1.0.0#x": "one '@' or one '#'",
    "encoder@v1.0.0@v1.1.0": "one '@' or one '#'",
    "@v1.0.0": "no artifact name before '@'",
    "#production": "no artifact name before '#'",
    "encoder#staging": "unknown stage 'staging'",
    "": "it is empty",
    "en coder@v1.0.0": "invalid artifact name",
}


@pytest.mark.parametrize("command", ["deprecate", "unassign"])
@pytest.mark.parametrize("spec", list(MALFORMED_SPECS), ids=lambda s: s or "empty")
def test_a_malformed_spec_is_refused_by_writers_and_changes_nothing(
    released: Path, cli, command: str, spec: str
) -> None:
    before = snapshot(released)
    result = cli(command, spec, cwd=released)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert MALFORMED_SPECS[spec] in result.stderr, result.stderr
    if "invalid artifact name" not in result.stderr:
        assert "NAME@vX.Y.Z for one version" in result.stderr  # the fix: the forms a spec takes
    assert snapshot(released) == before
    assert "deprecated" not in git(released, "tag", "--list")


READERS = {
    "show": lambda spec: ["show", spec],
    "resolve": lambda spec: ["resolve", spec],
    "get": lambda spec: ["get", spec, "-o", "{out}"],
    "pull": lambda spec: ["pull", spec],
    "lineage": lambda spec: ["lineage", spec],
    "diff (first)": lambda spec: ["diff", spec, "encoder#validated"],
    "diff (second)": lambda spec: ["diff", "encoder#validated", spec],
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("spec", list(MALFORMED_SPECS), ids=lambda s: s or "empty")
def test_a_malformed_spec_is_refused_by_readers(
    released: Path, tmp_path: Path, cli, reader: str, spec: str
) -> None:
    out = tmp_path / "out"
    before = snapshot(released)
    args = [a.replace("{out}", str(out)) for a in READERS[reader](spec)]
    result = cli(*args, cwd=released)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert MALFORMED_SPECS[spec] in result.stderr, result.stderr
    assert snapshot(released) == before
    assert not out.exists()


def test_well_formed_specs_act_on_exactly_what_they_name(released: Path, cli) -> None:
    shown = cli("show", "encoder@1.0.0", "--json", cwd=released)  # the 'v' may be left out
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["folder"] == "artifacts/production/encoder/v1.0.0"
    via_spec = cli("resolve", "encoder#validated", "--no-verify", "--json", cwd=released).json()
    via_option = cli(
        "resolve", "encoder", "--stage", "validated", "--no-verify", "--json", cwd=released
    ).json()
    assert via_spec == via_option
    assert via_spec["folder"] == "artifacts/validated/encoder/s1_best_validated"

    done = cli("deprecate", "encoder@v1.0.0", "--json", cwd=released)
    assert done.exit_code == 0, done.stderr
    assert done.json()["tag"].startswith("encoder@v1.0.0!")  # that version only, not the artifact
    assert "encoder@deprecated" not in git(released, "tag", "--list")


def test_a_spec_and_an_option_that_both_name_a_target_are_refused(released: Path, cli) -> None:
    before = snapshot(released)
    result = cli("pull", "encoder@v1.0.0", "--stage", "validated", cwd=released)
    assert result.exit_code == 2
    assert "names a version already, and --stage was given too" in result.stderr
    assert "give the stage or version once" in result.stderr
    bad_version = cli("resolve", "encoder", "--version", "1.0", cwd=released)
    assert bad_version.exit_code == 2 and "invalid version '1.0'" in bad_version.stderr
    assert snapshot(released) == before


def test_unassign_given_a_version_points_to_deprecate(released: Path, cli) -> None:
    before = snapshot(released)
    result = cli("unassign", "encoder@v1.0.0", cwd=released)
    assert result.exit_code == 2
    assert "use `artreg deprecate encoder@v1.0.0`" in result.stderr
    assert snapshot(released) == before


@pytest.mark.parametrize("version", ["", "v", "1.0", "latest"])
def test_resolve_refuses_a_malformed_version_instead_of_matching_none_or_all(
    released: Path, version: str
) -> None:
    from artreg.errors import InputError
    from artreg.sources.clone_fetch import resolve

    with pytest.raises(InputError, match=f"invalid version '{version}'"):
        resolve(released, "encoder", version=version)


# --- 14: nothing is left behind by a failing command -----------------------------------------


def _register(ckpt: Path) -> list[str]:
    return ["register", "encoder", "s2", "--from", str(ckpt)]


def _validate() -> list[str]:
    return [
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "epoch_2",
        "--results",
        str(EXAMPLES / "validation_results.json"),
        "--id",
        "s1_epoch_2_validated",
    ]


def _release() -> list[str]:
    return [
        "promote",
        "encoder",
        "s1_best_validated",
        "--to",
        "production",
        "--version",
        "1.1.0",
        "--benchmarks",
        str(EXAMPLES),
        "--approved-by",
        "rm",
    ]


# (arguments, the path to pass, what the message must say); {tmp} is a scratch folder holding
# a plain file `file`.
BAD_OUTPUTS = {
    "register --summary-md in a missing folder": (
        "register",
        ["--summary-md", "{tmp}/missing/pr.md"],
        "the folder {tmp}/missing does not exist",
        "mkdir -p {tmp}/missing",
    ),
    "register --summary-md through a file": (
        "register",
        ["--summary-md", "{tmp}/file/pr.md"],
        "{tmp}/file is a file, not a folder",
        "give a path that does not pass through a file",
    ),
    "register --summary-md through a dangling link": (
        "register",
        ["--summary-md", "{tmp}/link.md"],
        "the folder {tmp}/gone does not exist",
        "mkdir -p {tmp}/gone",
    ),
    "validated --summary-md in a missing folder": (
        "validate",
        ["--summary-md", "{tmp}/missing/deeper/pr.md"],
        "the folder {tmp}/missing/deeper does not exist",
        "mkdir -p",
    ),
    "production --summary-md in a missing folder": (
        "release",
        ["--summary-md", "{tmp}/missing/pr.md"],
        "the folder {tmp}/missing does not exist",
        "mkdir -p",
    ),
    "production --summary-md is a folder": (
        "release",
        ["--summary-md", "{tmp}"],
        "is a directory",
        "--summary-md",
    ),
    "get -o through a file": (
        "get",
        ["-o", "{tmp}/file/models"],
        "{tmp}/file is a file, not a folder",
        "give a path that does not pass through a file",
    ),
    "get -o is a file": (
        "get",
        ["-o", "{tmp}/file"],
        "is a file",
        "-o",
    ),
}


@pytest.mark.parametrize("case", list(BAD_OUTPUTS))
def test_an_output_path_that_cannot_be_written_is_refused_before_any_change(
    released: Path, checkpoint_dir: Path, tmp_path: Path, cli, case: str
) -> None:
    command, options, message, fix = BAD_OUTPUTS[case]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "file").write_text("a plain file\n")
    (scratch / "link.md").symlink_to(scratch / "gone" / "pr.md")
    args = {
        "register": _register(checkpoint_dir),
        "validate": _validate(),
        "release": _release(),
        "get": ["get", "encoder", "--stage", "validated"],
    }[command] + [o.replace("{tmp}", str(scratch)) for o in options]
    before = snapshot(released)
    scratch_before = sorted(p.name for p in scratch.rglob("*"))

    result = cli(*args, cwd=released)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message.replace("{tmp}", str(scratch)) in result.stderr, result.stderr
    assert fix.replace("{tmp}", str(scratch)) in result.stderr, result.stderr
    assert "internal error" not in result.stderr
    assert snapshot(released) == before
    assert sorted(p.name for p in scratch.rglob("*")) == scratch_before


def test_get_refuses_files_that_exist_before_fetching_or_writing_any(
    released: Path, tmp_path: Path, cli
) -> None:
    model = released / "artifacts/validated/encoder/s1_best_validated/model.pt"
    model.unlink()  # not pulled yet: a get that went ahead would fetch it back
    out = tmp_path / "models"
    out.mkdir()
    (out / "model.pt").write_bytes(b"someone else's file")
    before = snapshot(released)

    result = cli("get", "encoder", "--stage", "validated", "-o", str(out), cwd=released)

    assert result.exit_code == 2
    assert f"{out}/model.pt: exists already" in result.stderr
    assert "remove those files, or choose another output folder" in result.stderr
    assert snapshot(released) == before and not model.exists()
    assert (out / "model.pt").read_bytes() == b"someone else's file"


def test_a_summary_that_cannot_be_written_after_the_commit_is_a_warning(
    released: Path, checkpoint_dir: Path, cli
) -> None:
    # /dev/full passes every check (it exists and is writable) and fails on write: disk full.
    result = cli(*_register(checkpoint_dir), "--summary-md", "/dev/full", cwd=released)

    assert result.exit_code == 0, result.stderr
    assert "registered encoder session s2" in result.stdout
    assert "warning: the change is committed, but --summary-md /dev/full was not written" in (
        result.stderr
    )
    assert "No space left on device" in result.stderr
    assert "artreg summary --base" in result.stderr  # how to write it later
    assert "encoder#raw#4" in git(released, "tag", "--list")
    assert cli("verify", cwd=released).exit_code == 0


# --- 15: verify on other branches' tags -------------------------------------------------------


def test_verify_names_the_folder_of_a_tag_made_on_another_worktrees_branch(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    # Nothing registered on main: the only stage folder lives on the worktree's branch.
    worktree = tmp_path / "experiment"
    git(registry, "worktree", "add", "--quiet", "-b", "experiment", str(worktree))
    made = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=worktree)
    assert made.exit_code == 0, made.stderr
    commit = git(registry, "rev-parse", "encoder#raw#1^{commit}").strip()

    result = cli("verify", cwd=registry)

    assert result.exit_code == 1, result.stderr
    assert "internal error" not in result.stderr
    assert (
        f"artifacts/raw/encoder/s1: tag encoder#raw#1 names it, but the tag's commit "
        f"{commit[:12]} is not on branch 'main'" in result.stderr
    )
    assert f"merge {commit[:12]} into branch 'main'" in result.stderr  # the fix
    assert cli("verify", cwd=worktree).exit_code == 0  # where the folder is, all is well


def test_verify_names_the_folder_of_a_tag_whose_commit_is_on_no_branch(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    assert (
        cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=registry).exit_code == 0
    )
    # What a registration on a detached HEAD leaves: a tagged commit that no branch holds.
    git(registry, "switch", "--quiet", "-c", "scratch")
    assert (
        cli("register", "encoder", "s2", "--from", str(checkpoint_dir), cwd=registry).exit_code == 0
    )
    git(registry, "switch", "--quiet", "main")
    git(registry, "branch", "--quiet", "-D", "scratch")
    git(registry, "switch", "--quiet", "--detach", "main")
    commit = git(registry, "rev-parse", "encoder#raw#2^{commit}").strip()

    result = cli("verify", cwd=registry)

    assert result.exit_code == 1, result.stderr
    assert "internal error" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert [p for p in problems if "tag encoder#raw#" in p] == [
        f"  - artifacts/raw/encoder/s2: tag encoder#raw#2 names it, but the tag's commit "
        f"{commit[:12]} is not on the detached HEAD, so this checkout does not hold the folder; "
        f"merge {commit[:12]} into the detached HEAD, or verify from a checkout of that commit"
    ]
    assert "artifacts/raw/encoder/s1" not in result.stderr  # the folder that is here is fine
    git(registry, "switch", "--quiet", "--detach", commit)
    assert cli("verify", cwd=registry).exit_code == 0


# --- 18: smaller refusals that name the real cause --------------------------------------------


def test_hard_links_between_files_of_the_folder_register_as_two_files(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    (checkpoint_dir / "keep").mkdir()
    os.link(checkpoint_dir / "best.pt", checkpoint_dir / "keep" / "best_copy.pt")

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), "--json", cwd=registry)

    assert result.exit_code == 0, result.stderr
    files = result.json()["files"]
    assert files["checkpoints/keep/best_copy.pt"] == files["checkpoints/best.pt"]
    folder = registry / "artifacts/raw/encoder/s1/checkpoints"
    assert (folder / "keep" / "best_copy.pt").read_bytes() == (folder / "best.pt").read_bytes()
    assert cli("verify", cwd=registry).exit_code == 0
    assert "up to date" in run_tool("dvc", "status", cwd=registry).stdout


def test_a_hard_link_to_a_file_outside_the_folder_is_refused_naming_the_cause(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    os.link(checkpoint_dir / "best.pt", tmp_path / "elsewhere.pt")
    before = snapshot(registry)

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=registry)

    assert result.exit_code == 2
    assert (
        f"{checkpoint_dir}/best.pt: a hard link whose bytes are shared with 1 name(s) outside "
        "the folder" in result.stderr
    )
    assert "copy the file into the folder (cp, not ln)" in result.stderr
    assert snapshot(registry) == before


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("spoil", "message", "fix"),
    [
        (
            lambda p: p.write_bytes(b""),
            "epoch_2.pt: empty file (0 bytes), so there is no model in it",
            "stopped while writing; pick another checkpoint",
        ),
        (
            _truncated,
            "epoch_2.pt: refused to load: not a whole PyTorch checkpoint",
            "check that the file was written completely by torch.save",
        ),
    ],
    ids=["empty", "truncated"],
)
def test_an_empty_or_cut_checkpoint_is_refused_for_what_it_is(
    released: Path, tmp_path: Path, checkpoint_dir: Path, cli, spoil, message: str, fix: str
) -> None:
    spoil(checkpoint_dir / "epoch_2.pt")
    # Raw registration records files as they are (an empty file is a file); loading one is
    # where the checkpoint must be whole.
    made = cli("register", "encoder", "s2", "--from", str(checkpoint_dir), cwd=released)
    assert made.exit_code == 0, made.stderr
    before = snapshot(released)

    result = cli(
        "promote",
        "encoder",
        "s2",
        "--to",
        "validated",
        "--checkpoint",
        "epoch_2",
        "--results",
        str(EXAMPLES / "validation_results.json"),
        cwd=released,
    )

    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and fix in result.stderr
    assert "custom classes" not in result.stderr and "internal error" not in result.stderr
    assert snapshot(released) == before


def _bad_byte_name(folder: Path) -> str:
    name = os.fsdecode(b"best\xff.pt")
    shutil.copy(folder / "best.pt", folder / name)
    return "best\\xff.pt: the name is not valid UTF-8"


def _named(name: str, what: str) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / "best.pt", folder / name)
        return what

    return make


@pytest.mark.parametrize(
    "make",
    [
        _named("bad\nname.pt", "bad\\nname.pt: the name holds a control character ('\\n')"),
        _named("bell\x07.pt", "bell\\x07.pt: the name holds a control character ('\\x07')"),
        _named("tab\tdir/best.pt", "tab\\tdir: the name holds a control character ('\\t')"),
        _named("back\\slash.pt", "back\\slash.pt: the name holds a backslash"),
        _named("CON.txt", "CON.txt: CON is a Windows device name"),
        _named("q?.txt", "q?.txt: the name holds ?, which Windows forbids in names"),
        _named("colon:x", "colon:x: the name holds :, which Windows forbids in names"),
        _named("notes. ", "notes. : it ends with a dot or a space, which Windows drops"),
        _bad_byte_name,
    ],
    ids=[
        "newline",
        "bell",
        "tab-in-folder-name",
        "backslash",
        "device-name",
        "question-mark",
        "colon",
        "trailing-dot-space",
        "not-utf8",
    ],
)
def test_a_file_name_that_is_not_portable_is_refused_up_front(
    registry: Path, checkpoint_dir: Path, cli, make: Callable[[Path], str]
) -> None:
    expected = make(checkpoint_dir)
    before = snapshot(registry)

    result = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=registry)

    assert result.exit_code == 2
    assert f"{checkpoint_dir}/{expected}" in result.stderr, result.stderr
    assert "fix: rename it" in result.stderr
    assert "schema" not in result.stderr and "internal error" not in result.stderr
    if "UTF-8" not in expected:  # the rule is named, with what it refuses
        assert "follow the portable-name rule of artifact names" in result.stderr
        assert "no name in a model folder may hold a control character" in result.stderr
    assert snapshot(registry) == before
