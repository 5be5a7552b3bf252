"""Rights for extra stages and rollbacks (issue 26 items 2 and 5): `rights.<stage>` and
`rights.signed` apply to `artreg assign` and `artreg rollback` (a rollback needs production's
rights), refused before anything is written; `verify` reports every assignment in history that
broke the rights in force when it was made. Real ssh-keygen keys, `git verify-tag` and
`gto show` as the oracles."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from artreg.publishing.publish import PublishOptions
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, git, run_tool, serve, snapshot
from helpers.keys import signer_line, ssh_key

ALICE, BOB, CAROL = (f"{n}@example.com" for n in ("alice", "bob", "carol"))
SIGNERS = ".artreg/allowed_signers"


def rights(production: list[str], staging: list[str], signed: list[str]) -> dict:
    return {
        "allowed_signers": SIGNERS,
        "signed": signed,
        "production": {"promoters": production, "approvers": [CAROL], "four_eyes": True},
        "staging": {"promoters": staging, "approvers": [CAROL, BOB], "four_eyes": True},
    }


def set_rights(root: Path, section: dict, message: str) -> None:
    """Commit params.yaml's new rights, signed with the configured key (a loosening on the
    default branch needs an allowed signer's signature, or verify reports it)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["rights"] = section
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "commit", "--quiet", "-S", "-am", message)


def sign_as(root: Path, key: Path) -> None:
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingkey", str(key))


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return {who: ssh_key(tmp_path / "keys", who) for who in ("alice", "bob")}


@pytest.fixture
def guarded(registry: Path, checkpoint_dir: Path, keys: dict[str, Path]) -> Path:
    """encoder v1.0.0 and v1.1.0 released, signed by alice and approved by carol; staging
    declared; production and staging signed, alice promotes production, alice or bob staging."""
    (registry / SIGNERS).parent.mkdir()
    (registry / SIGNERS).write_text(
        signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"])
    )
    params = yaml.safe_load((registry / "params.yaml").read_text())
    params["stages"] = {"staging": {"after": "validated"}}
    params["rights"] = rights([ALICE], [ALICE, BOB], ["production", "staging"])
    (registry / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(registry, "add", SIGNERS, "params.yaml")
    git(registry, "commit", "--quiet", "-m", "rights and the staging stage")
    sign_as(registry, keys["alice"])
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    inputs = {**RELEASE_INPUTS, "approved_by": f"Carol <{CAROL}>"}
    for version in ("1.0.0", "1.1.0"):
        promote_to_production(
            registry, "encoder", vid, version, options=PublishOptions(sign=True), **inputs
        )
    return registry


def gto_stages(root: Path) -> dict[str, str]:
    shown = json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)["encoder"]
    return {s: v for s, v in shown["stage"].items() if v and s in ("staging", "production")}


def git_verdict(root: Path, tag: str, kind: str = "tag") -> subprocess.CompletedProcess[str]:
    """`git verify-tag` (or verify-commit) with the committed allowed-signers file, as a user
    would ask it."""
    signers = root / ".git" / "oracle_signers"
    signers.write_text(git(root, "show", f"HEAD:{SIGNERS}"))
    allowed = f"gpg.ssh.allowedSignersFile={signers}"
    return subprocess.run(
        ["git", "-C", str(root), "-c", allowed, f"verify-{kind}", tag],
        capture_output=True,
        text=True,
    )


def test_assign_obeys_the_stage_rights(guarded: Path, keys: dict[str, Path], cli) -> None:
    root = guarded
    assert cli("verify", cwd=root).exit_code == 0
    before = snapshot(root)
    unsigned = cli("assign", "encoder@v1.0.0", "staging", "--approved-by", CAROL, cwd=root)
    assert unsigned.exit_code == 2
    assert "rights.signed lists staging" in unsigned.stderr and "--sign" in unsigned.stderr
    sign_as(root, keys["bob"])
    unapproved = cli("assign", "encoder@v1.0.0", "staging", "--sign", cwd=root)
    assert unapproved.exit_code == 2
    assert "a promotion into staging needs an approver" in unapproved.stderr
    assert f"rights.staging.approvers lists {CAROL}, {BOB}" in unapproved.stderr
    own = cli("assign", "encoder@v1.0.0", "staging", "--sign", "--approved-by", BOB, cwd=root)
    assert own.exit_code == 2
    assert f"{BOB} may not approve their own promotion into staging" in own.stderr
    assert "rights.staging.four_eyes" in own.stderr
    assert snapshot(root) == before

    done = cli(
        "assign", "encoder@v1.0.0", "staging", "--sign", "--approved-by", CAROL, "--json", cwd=root
    )
    assert done.exit_code == 0, done.stderr
    tag = done.json()["tag"]
    assert done.json()["approved_by"] == CAROL
    said = git_verdict(root, tag)
    assert said.returncode == 0 and f'Good "git" signature for {BOB}' in said.stderr
    assert gto_stages(root) == {"production": "v1.1.0", "staging": "v1.0.0"}
    checked = cli("verify", "--json", cwd=root)
    assert checked.exit_code == 0, checked.stderr
    assert checked.json()["checked"]["promotion tags checked against rights"] == 5
    shown = cli("history", "encoder", "--stage", "staging", "--json", cwd=root).json()
    assert shown[-1]["signer"]["principal"] == BOB


def test_rollback_needs_production_rights(guarded: Path, keys: dict[str, Path], cli) -> None:
    root = guarded
    before = snapshot(root)
    sign_as(root, keys["bob"])  # bob may assign staging, not move production
    bob = cli("rollback", "encoder", "--reason", "slow", "--sign", "--approved-by", CAROL, cwd=root)
    assert bob.exit_code == 2
    assert f"{BOB} may not promote into production" in bob.stderr
    assert f"rights.production.promoters lists {ALICE}" in bob.stderr
    sign_as(root, keys["alice"])
    unsigned = cli("rollback", "encoder", "--reason", "slow", "--approved-by", CAROL, cwd=root)
    assert unsigned.exit_code == 2 and "rights.signed lists production" in unsigned.stderr
    own = cli("rollback", "encoder", "--reason", "slow", "--sign", "--approved-by", ALICE, cwd=root)
    assert own.exit_code == 2
    assert f"{ALICE} may not approve a promotion into production" in own.stderr
    assert snapshot(root) == before
    assert gto_stages(root) == {"production": "v1.1.0"}

    done = cli(
        "rollback", "encoder", "--reason", "slow", "--sign", "--approved-by", CAROL, "--json",
        cwd=root,
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert git_verdict(root, done.json()["tag"]).returncode == 0
    assert gto_stages(root) == {"production": "v1.0.0"}
    assert cli("verify", cwd=root).exit_code == 0
    history = cli("history", "encoder", "--stage", "production", cwd=root).stdout
    assert "slow" in history and f"signed by {ALICE}" in history


def test_verify_reports_assignments_that_broke_the_rights_in_force(
    guarded: Path, keys: dict[str, Path], cli
) -> None:
    """Each tag answers to the rights of the commit it was made on: bob's rollback, allowed
    then, stays valid after bob loses the right; one made by hand after that is reported."""
    root = guarded
    set_rights(root, rights([ALICE, BOB], [ALICE, BOB], ["production"]), "bob may release")
    sign_as(root, keys["bob"])
    args = ("rollback", "encoder", "--reason", "slow", "--sign", "--approved-by", CAROL)
    assert cli(*args, cwd=root).exit_code == 0
    set_rights(root, rights([ALICE], [ALICE, BOB], ["production"]), "only alice releases")
    assert cli("verify", cwd=root).exit_code == 0
    # Bob, without the right now, moves production back to v1.1.0 by hand, with a signed tag
    # in GTO's format (so the signature is not what fails): verify names him and the rule.
    counter = max(int(t.rsplit("#", 1)[1]) for t in git(root, "tag", "-l", "encoder#*").split())
    newest = f"encoder#production#{counter + 1}"
    latest = max(map(int, git(root, "tag", "-l", "--format=%(creatordate:unix)").split()))
    subprocess.run(
        ["git", "-C", str(root), "tag", "-s", "-m", "by hand", newest, "encoder@v1.1.0^{commit}"],
        env={**os.environ, "GIT_COMMITTER_DATE": f"@{latest + 1} +0000"},  # after artreg's tags
        check=True,
    )
    assert gto_stages(root) == {"production": "v1.1.0"}
    assert git_verdict(root, newest).returncode == 0
    result = cli("verify", cwd=root)
    assert result.exit_code == 1
    assert f"tag {newest}: {BOB} may not promote into production" in result.stderr
    assert f"rights.production.promoters lists {ALICE}" in result.stderr
    assert result.stderr.count("may not promote") == 1  # the earlier rollback is not blamed


def test_assign_and_rollback_through_pull_requests(
    guarded: Path, keys: dict[str, Path], cli
) -> None:
    """`--branch` commits a request (signed by a promoter) instead of a tag; after the merge,
    `artreg tag` run by a promoter tags it, whatever the merge method, once."""
    root = guarded
    tags_before = git(root, "tag", "-l")
    sign_as(root, keys["bob"])
    asked = cli(
        "assign", "encoder@v1.0.0", "staging", "--sign", "--approved-by", CAROL,
        "--branch", "stage-v1", "--json", cwd=root,
    )  # fmt: skip
    assert asked.exit_code == 0, asked.stderr
    request = asked.json()["request"]
    assert asked.json()["branch"] == "stage-v1" and asked.json()["tag"] == ""
    assert git(root, "tag", "-l") == tags_before  # no tag before the merge
    assert git(root, "branch", "--show-current").strip() == "main"
    said = git_verdict(root, git(root, "rev-parse", "stage-v1").strip(), "commit")
    assert said.returncode == 0 and f'Good "git" signature for {BOB}' in said.stderr
    git(root, "switch", "--quiet", "stage-v1")
    on_branch = cli("verify", cwd=root)
    assert on_branch.exit_code == 0
    assert "artreg tag" not in on_branch.stdout  # tagged after the merge, not before
    summary = cli("summary", "--base", "main", cwd=root).stdout
    assert "## Requested stage moves" in summary
    assert "**encoder**: assign v1.0.0 to staging, asked by" in summary
    assert f"approved by {CAROL}" in summary
    # The same request committed unsigned (by hand) on another branch: verify names it.
    git(root, "switch", "--quiet", "-c", "forged", "main")
    git(root, "checkout", "stage-v1", "--", request)
    git(root, "commit", "--quiet", "-m", "request by hand")
    forged = cli("verify", cwd=root)
    assert forged.exit_code == 1
    assert f"{request}: the commit" in forged.stderr and "is not signed" in forged.stderr
    git(root, "switch", "--quiet", "main")
    git(root, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #7", "stage-v1")
    merged = cli("verify", cwd=root)  # on main, before CI tags it: said which, and how
    assert merged.exit_code == 0, merged.stderr
    assert (
        f"{request}: merged request to assign encoder v1.0.0 to staging, not tagged yet: "
        "run `artreg tag`"
    ) in merged.stdout
    sign_as(root, keys["alice"])  # CI's key: an allowed signer and promoter of both stages
    tagged = cli("tag", "--json", cwd=root)
    assert tagged.exit_code == 0, tagged.stderr
    (tag,) = tagged.json()["created"]
    assert tag.startswith("encoder#staging#")
    assert git_verdict(root, tag).returncode == 0
    assert gto_stages(root) == {"production": "v1.1.0", "staging": "v1.0.0"}
    assert cli("tag", "--json", cwd=root).json()["created"] == []  # once
    tagged_verify = cli("verify", cwd=root)
    assert tagged_verify.exit_code == 0 and "not tagged yet" not in tagged_verify.stdout

    asked = cli(
        "rollback", "encoder", "--reason", "slow", "--sign", "--approved-by", CAROL,
        "--branch", "roll-back", cwd=root,
    )  # fmt: skip
    assert asked.exit_code == 0, asked.stderr
    git(root, "merge", "--quiet", "--squash", "roll-back")
    git(root, "commit", "--quiet", "-m", "roll back (#8)")
    sign_as(root, keys["bob"])  # bob may tag staging, not production
    before = snapshot(root)
    refused = cli("tag", cwd=root)
    assert refused.exit_code == 2 and f"{BOB} may not promote into production" in refused.stderr
    assert snapshot(root) == before
    sign_as(root, keys["alice"])
    assert cli("tag", cwd=root).exit_code == 0
    assert gto_stages(root) == {"production": "v1.0.0", "staging": "v1.0.0"}
    history = cli("history", "encoder", "--stage", "production", cwd=root).stdout
    assert "rollback: slow" in history
    assert cli("verify", cwd=root).exit_code == 0


def fingerprint(root: Path, tag: str) -> str:
    """The key fingerprint `git verify-tag` names for `tag` (the oracle of the signer)."""
    said = git_verdict(root, tag)
    assert said.returncode == 0, said.stderr
    return said.stderr.strip().rsplit(" ", 1)[1]


def production_tag(root: Path) -> str:
    return json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)["encoder"]["stage"][
        "production"
    ]


def newest_tag(root: Path, stage: str) -> str:
    tags = git(root, "tag", "-l", f"encoder#{stage}#*").split()
    return max(tags, key=lambda t: int(t.rsplit("#", 1)[1]))


def test_show_and_history_know_declared_stages_and_each_stage_signer(
    guarded: Path, keys: dict[str, Path], cli, tmp_path: Path, git_daemon: str
) -> None:
    """A declared stage is known before anything is assigned to it; `show NAME` names who
    signed each stage's promotion, and a tag readers refuse on a line of its own."""
    root = guarded
    empty = cli("history", "encoder", "--stage", "staging", cwd=root)
    assert empty.exit_code == 0, empty.stderr
    assert "encoder has never held staging" in empty.stdout
    assert cli("history", "encoder", "--stage", "staging", "--json", cwd=root).json() == []
    typo = cli("history", "encoder", "--stage", "stagin", cwd=root)
    assert typo.exit_code == 2 and "use one of: raw, validated, staging, production" in typo.stderr

    sign_as(root, keys["bob"])
    assigned = cli(
        "assign", "encoder@v1.0.0", "staging", "--sign", "--approved-by", CAROL, "--json", cwd=root
    )
    assert assigned.exit_code == 0, assigned.stderr
    staging_tag, release_tag = assigned.json()["tag"], newest_tag(root, "production")
    assert gto_stages(root) == {"production": "v1.1.0", "staging": "v1.0.0"}
    shown = cli("show", "encoder", cwd=root)
    assert shown.exit_code == 0, shown.stderr
    assert "unknown stage" not in shown.stdout and "signature of" not in shown.stdout
    alice, bob = fingerprint(root, release_tag), fingerprint(root, staging_tag)
    assert f"signer of production: {ALICE} ({alice}), verified" in shown.stdout
    assert f"signer of staging: {BOB} ({bob}), verified" in shown.stdout
    stages = cli("show", "encoder", "--json", cwd=root).json()["encoder"]["stages"]
    assert stages["production"]["signer"] == {
        "principal": ALICE, "fingerprint": alice, "verified": True
    }  # fmt: skip
    assert stages["staging"]["signer"]["principal"] == BOB
    assert "signer" not in stages["raw"]  # raw's tag is not signed, and need not be
    served = serve(root, tmp_path)
    remote = cli("show", "encoder", "--repo", f"{git_daemon}/{served.name}", cwd=tmp_path)
    assert remote.exit_code == 0, remote.stderr
    assert "staging" in remote.stdout and "unknown stage" not in remote.stdout

    # The production tag re-created by hand, annotated but unsigned: readers refuse it, and
    # show says so on the signer's line, not on the model signature's.
    commit = git(root, "rev-parse", f"{release_tag}^{{commit}}").strip()
    latest = max(map(int, git(root, "tag", "-l", "--format=%(creatordate:unix)").split()))
    git(root, "tag", "-d", release_tag)
    subprocess.run(  # dated after every tag, so the order gto reads does not rest on the clock
        ["git", "-C", str(root), "tag", "-a", "-m", "Assigned production", release_tag, commit],
        env={**os.environ, "GIT_COMMITTER_DATE": f"@{latest + 1} +0000"},
        check=True,
    )
    assert production_tag(root) == "v1.1.0"
    assert cli("resolve", "encoder", cwd=root).exit_code == 1
    refused = cli("show", "encoder", cwd=root)
    assert refused.exit_code == 0, refused.stderr
    assert f"signer of production: readers refuse it: tag {release_tag}: not signed" in (
        refused.stdout
    )
    assert "signature of" not in refused.stdout
    production = cli("show", "encoder", "--json", cwd=root).json()["encoder"]["stages"][
        "production"
    ]
    assert production["signer"]["verified"] is False
    assert production["signer"]["refused"].startswith(f"tag {release_tag}: not signed")
    assert "signature" not in production


def test_a_rollback_refusal_says_what_history_shows(guarded: Path, cli) -> None:
    """Rolled back and forward again: both versions held production, and rollback without
    --to says so rather than that only one ever did."""
    root = guarded
    args = ("--sign", "--approved-by", CAROL)
    assert cli("rollback", "encoder", "--reason", "slow", *args, cwd=root).exit_code == 0
    forward = cli("rollback", "encoder", "--to", "v1.1.0", "--reason", "fixed", *args, cwd=root)
    assert forward.exit_code == 0, forward.stderr
    held = cli("history", "encoder", "--stage", "production", "--json", cwd=root).json()
    assert [s["version"] for s in held] == ["v1.0.0", "v1.1.0", "v1.0.0", "v1.1.0"]
    before = snapshot(root)
    again = cli("rollback", "encoder", "--reason", "again", *args, cwd=root)
    assert again.exit_code == 2
    assert "the only version" not in again.stderr
    said = "production held v1.0.0 as well as v1.1.0, and a rollback took it away from it"
    assert said in again.stderr
    assert "--to v1.0.0" in again.stderr
    assert snapshot(root) == before


def test_verify_refuses_a_signed_tag_object_under_another_name(guarded: Path, cli) -> None:
    """alice's signed tag object for one promotion, re-used under a newer tag name: git
    verifies the signature, but it covers the name in the object, not the ref's."""
    root = guarded
    old = min(git(root, "tag", "-l", "encoder#production#*").split())
    replayed = "encoder#production#99"
    git(root, "update-ref", f"refs/tags/{replayed}", git(root, "rev-parse", old).strip())
    assert git_verdict(root, replayed).returncode == 0  # git's signature check passes
    assert f"tag {old}" in git(root, "cat-file", "tag", replayed)
    result = cli("verify", cwd=root)
    assert result.exit_code == 1
    assert f"tag {replayed}: is not verified: its tag object was made as {old}" in result.stderr
    assert result.stderr.count("its tag object was made as") == 1  # the original is fine


@pytest.mark.parametrize("stage", ["production", "validated"])
def test_verify_names_a_lightweight_tag_that_replaced_a_promotion(
    guarded: Path, cli, stage: str
) -> None:
    """GTO and artreg ignore lightweight tags, so one put in place of a promotion tag takes
    that promotion back; verify names it, in every stage, and never advises re-indexing."""
    root = guarded
    tag = newest_tag(root, stage)
    commit = git(root, "rev-parse", f"{tag}^{{commit}}").strip()
    git(root, "tag", "-d", tag)
    git(root, "tag", tag, commit)  # lightweight
    if stage == "production":
        assert production_tag(root) == "v1.0.0"  # GTO fell back a version
    result = cli("verify", cwd=root)
    assert result.exit_code == 1
    assert f"tag {tag}: a lightweight tag, not made by artreg or GTO" in result.stderr
    assert "; run `artreg index`" not in result.stderr  # re-indexing makes it permanent
    if stage == "production":
        assert "do not run `artreg index` over them" in result.stderr
        # Re-indexed anyway and committed: the downgrade is still named.
        assert cli("index", cwd=root).exit_code == 0
        git(root, "commit", "--quiet", "-am", "re-index")
        again = cli("verify", cwd=root)
        assert again.exit_code == 1
        assert f"tag {tag}: a lightweight tag" in again.stderr
