"""Promotion pull requests never conflict: four branches from the same main (different names,
and one name at two stages) merge in any order, by merge commit, squash or rebase, with plain
git as a merge button would; `artreg tag` then leaves a registry that verifies and that gto reads
as artreg does. Two branches releasing the same version: the second one's check names the first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated
from artreg.sources.listing import overview

from helpers import EXAMPLES, clone_repo, git, run_tool

VALIDATE = ["--to", "validated", "--checkpoint", "best"]
VALIDATE += ["--results", str(EXAMPLES / "validation_results.json")]
RELEASE = ["--benchmarks", str(EXAMPLES), "--approved-by", "rm"]


def _release(name: str, source: str, version: str) -> list[str]:
    return [name, source, "--to", "production", "--version", version, *RELEASE]


# The four promotion branches: two names to validated, one name released, and alpha at two
# stages at once (its s1 to validated, its already validated s0 to production).
BRANCHES = {
    "promote/alpha-validated": ["alpha", "s1", *VALIDATE],
    "release/alpha-1.0.0": _release("alpha", "s0_best_validated", "1.0.0"),
    "promote/beta-validated": ["beta", "s1", *VALIDATE],
    "release/gamma-2.0.0": _release("gamma", "s1_best_validated", "2.0.0"),
}


@pytest.fixture
def four_branches(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> Path:
    """origin/main with alpha, beta, gamma registered (alpha s0 and gamma validated), and the
    four promotion branches pushed to origin from one CI clone of that same main."""
    for name, session in [("alpha", "s0"), ("alpha", "s1"), ("beta", "s1"), ("gamma", "s1")]:
        register_raw(registry, name, session, checkpoint_dir)
    for name, session in [("alpha", "s0"), ("gamma", "s1")]:
        promote_to_validated(registry, name, session, "best", EXAMPLES / "validation_results.json")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    ci = clone_repo(bare_origin, tmp_path / "ci")
    run_tool("dvc", "pull", "--quiet", cwd=ci)
    for branch, args in BRANCHES.items():
        git(ci, "switch", "--quiet", "main")
        result = cli("promote", *args, "--branch", branch, "--push", cwd=ci)
        assert result.exit_code == 0, result.stderr
        # The pull request's check, on its branch, passes before the merge, with no tags yet.
        git(ci, "switch", "--quiet", branch)
        checked = cli("verify", "--base", "origin/main", cwd=ci)
        assert checked.exit_code == 0, checked.stdout + checked.stderr
        # The branch carries only the new folder: nothing generated for two branches to clash on.
        changed = git(ci, "diff", "--name-only", "origin/main...HEAD").split()
        assert changed and all(p.startswith(f"artifacts/{_stage(args)}/") for p in changed)
    return bare_origin


def _stage(args: list[str]) -> str:
    return args[args.index("--to") + 1]


def _merge(maintainer: Path, branch: str, how: str) -> None:
    """Merge origin/BRANCH into main as a merge button does; fail on any conflict."""
    git(maintainer, "fetch", "--quiet", "origin")
    if how == "merge":
        git(maintainer, "merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}")
    elif how == "squash":
        git(maintainer, "merge", "--quiet", "--squash", f"origin/{branch}")
        git(maintainer, "commit", "--quiet", "-m", f"{branch} (squashed)")
    else:
        git(maintainer, "switch", "--quiet", "-c", "rebasing", f"origin/{branch}")
        git(maintainer, "rebase", "--quiet", "main")
        git(maintainer, "switch", "--quiet", "main")
        git(maintainer, "merge", "--quiet", "--ff-only", "rebasing")
        git(maintainer, "branch", "--quiet", "-D", "rebasing")
    assert git(maintainer, "status", "--porcelain", "--untracked-files=all") == ""
    git(maintainer, "push", "--quiet", "origin", "main")


ORDERS = {
    "merge, in order": (["merge"] * 4, [0, 1, 2, 3], False),
    "squash, reversed": (["squash"] * 4, [3, 2, 1, 0], False),
    "rebase, alpha's release first": (["rebase"] * 4, [1, 3, 0, 2], False),
    "mixed, tagged after each merge": (["squash", "rebase", "merge", "squash"], [2, 1, 3, 0], True),
}


@pytest.mark.parametrize("scenario", list(ORDERS))
def test_promotion_branches_merge_in_any_order_without_conflict(
    scenario: str, four_branches: Path, tmp_path: Path, cli
) -> None:
    methods, order, tag_each = ORDERS[scenario]
    maintainer = clone_repo(four_branches, tmp_path / "maintainer")
    branches = list(BRANCHES)
    for how, i in zip(methods, order, strict=True):
        _merge(maintainer, branches[i], how)
        if tag_each:  # CI on main after every merge
            tagged = cli("tag", "--push", cwd=maintainer)
            assert tagged.exit_code == 0, tagged.stderr
    if not tag_each:
        tagged = cli("tag", "--push", "--json", cwd=maintainer)
        assert tagged.exit_code == 0, tagged.stderr
        assert len(tagged.json()["created"]) == 6
    assert cli("tag", "--json", cwd=maintainer).json()["created"] == []

    reader = clone_repo(four_branches, tmp_path / "reader")
    run_tool("dvc", "pull", "--quiet", cwd=reader)
    verified = cli("verify", "--remote", cwd=reader)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    tags = git(reader, "tag", "--list").split()
    assert {"alpha@v1.0.0", "gamma@v2.0.0", "beta#validated#2"} <= set(tags)
    alpha = sorted(t for t in tags if t.startswith("alpha#"))
    # alpha had raw#1, raw#2, validated#3; its two merged promotions took 4 and 5, in the
    # order they were merged.
    assert len(alpha) == 5 and {int(t.rsplit("#", 1)[1]) for t in alpha} == {1, 2, 3, 4, 5}
    shown = json.loads(run_tool("gto", "show", "--json", cwd=reader).stdout)
    ours = overview(reader)
    for name in ("alpha", "beta", "gamma"):
        assert shown[name]["version"] == ours[name].latest
        assert {s: v for s, v in shown[name]["stage"].items() if v} == {
            s: e.version or e.commit for s, e in ours[name].stages.items()
        }
    assert ours["alpha"].stages["production"].version == "v1.0.0"
    assert ours["alpha"].stages["validated"].folder == "artifacts/validated/alpha/s1_best_validated"
    # Every tag's commit has dvc.yaml pointing into the folder it promoted: `dvc artifacts get`
    # returns the validated model of alpha, not its release.
    got = run_tool(
        "dvc",
        "artifacts",
        "get",
        str(reader),
        "alpha",
        "--stage",
        "validated",
        "-o",
        str(tmp_path / "alpha-validated.pt"),
        cwd=tmp_path,
        check=False,
    )
    assert got.returncode == 0, got.stderr
    expected = reader / "artifacts/validated/alpha/s1_best_validated/model.pt"
    assert (tmp_path / "alpha-validated.pt").read_bytes() == expected.read_bytes()


def test_a_second_branch_releasing_the_same_version_fails_its_check_naming_the_first(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register_raw(registry, "gamma", "s1", checkpoint_dir)
    register_raw(registry, "gamma", "s2", checkpoint_dir)
    for session in ("s1", "s2"):
        promote_to_validated(
            registry, "gamma", session, "best", EXAMPLES / "validation_results.json"
        )
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    first, second = clone_repo(bare_origin, tmp_path / "a"), clone_repo(bare_origin, tmp_path / "b")
    for clone, source in ((first, "s1_best_validated"), (second, "s2_best_validated")):
        run_tool("dvc", "pull", "--quiet", cwd=clone)
        args = ["gamma", source, "--to", "production", "--version", "1.0.0", *RELEASE]
        result = cli("promote", *args, "--branch", f"release/{clone.name}", "--push", cwd=clone)
        assert result.exit_code == 0, result.stderr
    maintainer = clone_repo(bare_origin, tmp_path / "maintainer")
    _merge(maintainer, "release/a", "squash")
    merged = git(maintainer, "rev-parse", "HEAD").strip()

    # Before `artreg tag`: the base holds the same folder from another promotion.
    git(second, "fetch", "--quiet", "origin")
    git(second, "switch", "--quiet", "release/b")  # the pull request's check, on its branch
    check = cli("verify", "--base", "origin/main", cwd=second)
    assert check.exit_code == 1
    assert (
        f"artifacts/production/gamma/v1.0.0: origin/main already holds it from another "
        f"promotion, commit {merged[:12]} (release/a (squashed))" in check.stderr
    )
    # After `artreg tag` (and a fetch of its tags): the version is taken, by that commit's tag.
    assert cli("tag", "--push", cwd=maintainer).exit_code == 0
    git(second, "fetch", "--quiet", "--tags", "origin")
    check = cli("verify", cwd=second)  # the default base: origin's default branch
    assert check.exit_code == 1
    tagged = git(second, "rev-parse", "gamma@v1.0.0^{commit}").strip()
    assert f"gamma@v1.0.0 was already released by commit {tagged[:12]}" in check.stderr
    assert git(maintainer, "rev-parse", "HEAD~1").strip() == merged  # the tag commit's parent


# --- merged releases obey the version order a direct promote obeys ---------------------------


@pytest.fixture
def two_release_branches(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path, cli
):
    """origin/main with encoder validated; `make(flags)` pushes release/1.1.0 (with `flags`)
    and release/1.2.0, both made from that same main by one release manager's clone."""
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    promote_to_validated(registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    manager = clone_repo(bare_origin, tmp_path / "manager")
    run_tool("dvc", "pull", "--quiet", cwd=manager)

    def make(flags: tuple[str, ...] = ()) -> Path:
        for version, extra in (("1.1.0", flags), ("1.2.0", ())):
            git(manager, "switch", "--quiet", "main")
            args = _release("encoder", "s1_best_validated", version)
            branch = f"release/{version}"
            made = cli("promote", *args, *extra, "--branch", branch, "--push", cwd=manager)
            assert made.exit_code == 0, made.stderr
        return bare_origin

    return make


def _production_everywhere(origin: Path, where: Path, cli) -> dict[str, object]:
    """What production holds as a fresh clone reads it: artreg list and resolve, gto show (the
    oracle) and `dvc artifacts get`; every answer must agree. Returns the clone's overview."""
    reader = clone_repo(origin, where)
    run_tool("dvc", "pull", "--quiet", cwd=reader)
    verified = cli("verify", "--remote", cwd=reader)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    listed = cli("list", "--json", cwd=reader).json()["encoder"]  # type: ignore[index]
    resolved = cli("resolve", "encoder", "--json", cwd=reader).json()
    shown = json.loads(run_tool("gto", "show", "--json", cwd=reader).stdout)["encoder"]
    versions = json.loads(run_tool("gto", "show", "encoder", "--json", cwd=reader).stdout)
    history = cli("history", "encoder", "--stage", "production", "--json", cwd=reader).json()
    out = where.parent / f"{where.name}-production.pt"
    got = run_tool(
        "dvc", "artifacts", "get", str(reader), "encoder", "--stage", "production",
        "-o", str(out), cwd=where.parent, check=False,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    production = listed["stages"]["production"]["version"]
    assert resolved["version"] == production.removeprefix("v")  # type: ignore[index]
    assert shown["stage"]["production"] == production
    assert shown["version"] == listed["latest"] == "v1.2.0"
    registered = {v["version"] for v in versions if v["version"].startswith("v")}
    assert registered == {"v1.1.0", "v1.2.0"}  # the lower release is registered all the same
    folder = reader / "artifacts/production/encoder" / production
    assert out.read_bytes() == (folder / "model.pt").read_bytes()
    # dvc.yaml at the head labels the production release, whatever was merged last.
    head_entry = yaml.safe_load((reader / "dvc.yaml").read_text())["artifacts"]["encoder"]
    assert head_entry["path"] == f"artifacts/production/encoder/{production}/model.pt"
    assert head_entry["labels"] == ["production"]
    return {"production": production, "history": history, "reader": reader}


@pytest.mark.parametrize(
    ("how", "tag_each", "as_json"),
    [("merge", False, True), ("squash", True, False), ("rebase", False, False)],
)
def test_a_lower_release_merged_after_a_higher_one_is_registered_but_not_put_in_production(
    how: str, tag_each: bool, as_json: bool, two_release_branches, tmp_path: Path, cli
) -> None:
    origin = two_release_branches()
    maintainer = clone_repo(origin, tmp_path / "maintainer")
    _merge(maintainer, "release/1.2.0", how)
    if tag_each:
        first = cli("tag", "--push", cwd=maintainer)
        assert first.exit_code == 0, first.stderr
    _merge(maintainer, "release/1.1.0", how)

    tagged = cli("tag", "--push", *(["--json"] if as_json else []), cwd=maintainer)

    assert tagged.exit_code == 0, tagged.stderr
    note = (
        "encoder@v1.1.0 registered, but production left on v1.2.0: 1.1.0 is lower than the "
        "latest release v1.2.0, and the promotion of artifacts/production/encoder/v1.1.0 did "
        "not record --allow-non-monotonic"
    )
    if as_json:
        report = tagged.json()
        assert report["created"] == [  # type: ignore[index]
            "encoder@v1.2.0", "encoder#production#3", "encoder@v1.1.0",
        ]  # fmt: skip
        (held,) = report["held_back"]  # type: ignore[index]
        assert (held["version"], held["latest"], held["production"]) == ("1.1.0", "1.2.0", "1.2.0")
        assert held["reason"].startswith(note)
    else:
        assert tagged.stdout.splitlines()[1:] == [
            *([] if tag_each else ["encoder@v1.2.0", "encoder#production#3"]),
            "encoder@v1.1.0",
            f"note: {note} (a direct promote would have refused it)",
        ]
    assert git(maintainer, "tag", "--list", "encoder#production#*").split() == [
        "encoder#production#3"
    ]

    seen = _production_everywhere(origin, tmp_path / "reader", cli)
    assert seen["production"] == "v1.2.0"
    (interval,) = seen["history"]  # type: ignore[misc]
    assert (interval["label"], interval["end"], interval["end_reason"]) == ("v1.2.0", None, None)
    registered = cli("resolve", "encoder@v1.1.0", "--json", cwd=seen["reader"]).json()  # type: ignore[arg-type]
    assert registered["folder"] == "artifacts/production/encoder/v1.1.0"  # type: ignore[index]
    # The held-back version's own tag still points dvc.yaml at its folder, for `dvc artifacts
    # get encoder@v1.1.0`; the commit after it puts dvc.yaml back on v1.2.0.
    at_tag = yaml.safe_load(git(maintainer, "show", "encoder@v1.1.0:dvc.yaml"))["artifacts"]
    assert at_tag["encoder"]["path"] == "artifacts/production/encoder/v1.1.0/model.pt"
    got = run_tool(
        "dvc", "artifacts", "get", str(seen["reader"]), "encoder", "--rev", "v1.1.0",
        "-o", str(tmp_path / "v110.pt"), cwd=tmp_path, check=False,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "v110.pt").read_bytes() == (
        Path(seen["reader"]) / "artifacts/production/encoder/v1.1.0/model.pt"  # type: ignore[arg-type]
    ).read_bytes()
    assert cli("tag", "--json", cwd=maintainer).json() == {  # idempotent, and nothing to say
        "registry": str(maintainer), "created": [], "held_back": [],
    }  # fmt: skip


def test_a_lower_release_made_with_allow_non_monotonic_takes_production_when_merged_last(
    two_release_branches, tmp_path: Path, cli
) -> None:
    origin = two_release_branches(("--allow-non-monotonic",))
    maintainer = clone_repo(origin, tmp_path / "maintainer")
    _merge(maintainer, "release/1.2.0", "squash")
    _merge(maintainer, "release/1.1.0", "merge")

    tagged = cli("tag", "--push", "--json", cwd=maintainer)

    assert tagged.exit_code == 0, tagged.stderr
    assert tagged.json()["created"] == [  # type: ignore[index]
        "encoder@v1.2.0", "encoder#production#3", "encoder@v1.1.0", "encoder#production#4",
    ]  # fmt: skip
    assert tagged.json()["held_back"] == []  # type: ignore[index]
    seen = _production_everywhere(origin, tmp_path / "reader", cli)
    assert seen["production"] == "v1.1.0"  # as a direct promote with the flag does
    ended, current = seen["history"]  # type: ignore[misc]
    assert (ended["label"], ended["ended"], current["label"]) == (
        "v1.2.0", "replaced by v1.1.0", "v1.1.0",
    )  # fmt: skip
