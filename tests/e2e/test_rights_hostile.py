"""The rights of issue 26 against someone trying to get around them (the hostile review of issue
26): a pull request that slips a key of its own into the allowed-signers file in a form a parser
reads differently from ssh-keygen, a retired key that backdates its signature, a loosening pushed
straight to the default branch, a gate lowered through a per-model override. Real keys made by
ssh-keygen; `git verify-commit` is the oracle of what git itself accepts."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from test_rights import (  # the keys, policy and its writer of issue 26's own tests
    ALICE,
    SIGNERS,
    policy,
    release_args,
    set_policy,
    sign_as,
    validated,
)

from helpers import git, snapshot
from helpers.keys import signer_line, ssh_key

MALLORY = "mallory@example.com"
CI = "ci@example.com"
CAROL = "carol@example.com"
DAY = 24 * 3600


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return {"alice": ssh_key(tmp_path / "keys", "alice")}


@pytest.fixture
def signed(registry: Path, keys: dict[str, Path]) -> Path:
    """A registry whose production needs tags signed by alice (promoter), approved by carol."""
    set_policy(registry, signer_line(ALICE, keys["alice"]), policy(ALICE))
    sign_as(registry, keys["alice"])
    return registry


def commit_as(root: Path, message: str, key: Path | None, date: int | None = None) -> str:
    """Commit everything staged, signed with `key` (None: unsigned), dated `date` if given."""
    env = dict(os.environ)
    if date is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"{date} +0000"
    sign = ["-c", f"user.signingkey={key}", "commit", "-S"] if key else ["commit"]
    subprocess.run(
        ["git", "-C", str(root), *sign, "--quiet", "-am", message],
        env=env,
        check=True,
        capture_output=True,
    )
    return git(root, "rev-parse", "HEAD").strip()


def verify_commit(root: Path, commit: str, signers: bytes) -> subprocess.CompletedProcess[str]:
    """git's own verdict on `commit` with `signers` as the allowed-signers file."""
    path = root / ".git" / "oracle_signers"
    path.write_bytes(signers)
    return subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            f"gpg.ssh.allowedSignersFile={path}",
            "verify-commit",
            commit,
        ],
        capture_output=True,
        text=True,
    )


def pubkey(key: Path) -> str:
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


@pytest.mark.parametrize(
    "how",
    ["tab after the principal", "alice's key quoted inside an option"],
)
def test_a_pull_request_adding_its_own_key_for_alice_is_flagged(
    signed: Path, keys: dict[str, Path], tmp_path: Path, cli, how: str
):
    mallory = ssh_key(tmp_path / "keys", "mallory")
    base_signers = (signed / SIGNERS).read_bytes()
    git(signed, "switch", "--quiet", "-c", "pr")
    if how.startswith("tab"):
        line = f"{ALICE}\t{pubkey(mallory)}\n"
    else:
        line = f'{ALICE} namespaces="git,x {pubkey(keys["alice"])} y" {pubkey(mallory)}\n'
    with (signed / SIGNERS).open("a") as out:
        out.write(line)
    commit = commit_as(signed, "more keys", mallory)
    # git takes mallory's key as alice's with the new file, and not with the base's.
    said = verify_commit(signed, commit, (signed / SIGNERS).read_bytes())
    assert said.returncode == 0 and f'Good "git" signature for {ALICE}' in said.stderr
    assert verify_commit(signed, commit, base_signers).returncode != 0

    checked = cli("verify", "--base", "main", cwd=signed)
    assert checked.exit_code == 1
    assert f"commit {commit[:12]} (more keys) loosens the policy" in checked.stderr
    assert f"allowed signer added: {line.rstrip()[:60]}" in checked.stderr
    assert f"({SIGNERS} line 2, new or changed)" in checked.stderr
    assert "not signed by an allowed signer of main" in checked.stderr
    summary = cli("summary", "--base", "main", cwd=signed)
    assert summary.exit_code == 0, summary.stderr
    assert summary.stdout.startswith("## Policy changes")
    assert "**not authorized**" in summary.stdout


def test_moving_the_allowed_signers_file_is_flagged_even_with_the_same_lines(
    signed: Path, keys: dict[str, Path], cli
):
    git(signed, "switch", "--quiet", "-c", "pr")
    git(signed, "mv", SIGNERS, ".artreg/signers")
    params = yaml.safe_load((signed / "params.yaml").read_text())
    params["rights"]["allowed_signers"] = ".artreg/signers"
    (signed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit_as(signed, "rename", None)
    checked = cli("verify", "--base", "main", cwd=signed)
    assert checked.exit_code == 1
    assert f"rights.allowed_signers changed from {SIGNERS} to .artreg/signers" in checked.stderr


def test_a_retired_key_cannot_authorize_a_change_by_backdating_it(
    registry: Path, keys: dict[str, Path], tmp_path: Path, cli
):
    olda, mallory = ssh_key(tmp_path / "keys", "olda"), ssh_key(tmp_path / "keys", "mallory")
    retired = time.strftime("%Y%m%d", time.gmtime(time.time() - 3 * DAY))
    old_line = signer_line("olda@example.com", olda, f'namespaces="git",valid-before="{retired}"')
    set_policy(registry, signer_line(ALICE, keys["alice"]) + old_line, policy(ALICE))
    sign_as(registry, olda)
    base_signers = (registry / SIGNERS).read_bytes()
    git(registry, "switch", "--quiet", "-c", "pr")
    with (registry / SIGNERS).open("a") as out:
        out.write(signer_line(MALLORY, mallory))
    backdated = commit_as(registry, "add mallory", olda, date=int(time.time()) - 10 * DAY)
    # git accepts it: it checks olda's key at the date olda wrote into the commit.
    assert verify_commit(registry, backdated, base_signers).returncode == 0

    checked = cli("verify", "--base", "main", cwd=registry)
    assert checked.exit_code == 1
    assert f"commit {backdated[:12]} (add mallory) loosens the policy" in checked.stderr
    assert "with a key valid now" in checked.stderr
    summary = cli("summary", "--base", "main", cwd=registry).stdout
    assert "**not authorized**" in summary

    # Merged all the same: the default branch's own check names it (dated before its parent).
    git(registry, "switch", "--quiet", "main")
    git(registry, "merge", "--quiet", "--ff-only", "pr")
    on_main = cli("verify", cwd=registry)
    assert on_main.exit_code == 1
    assert f"commit {backdated[:12]} (add mallory) loosens the rights" in on_main.stderr
    assert "dated before its parent" in on_main.stderr


def test_a_loosening_pushed_to_the_default_branch_is_reported_until_signed(
    signed: Path, keys: dict[str, Path], tmp_path: Path, cli
):
    assert cli("verify", cwd=signed).exit_code == 0
    params = yaml.safe_load((signed / "params.yaml").read_text())
    params["rights"]["signed"] = []
    (signed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    mallory = ssh_key(tmp_path / "keys", "mallory")
    dropped = commit_as(signed, "drop signatures", mallory)
    checked = cli("verify", cwd=signed)
    assert checked.exit_code == 1
    assert (
        f"commit {dropped[:12]} (drop signatures) loosens the rights: rights.signed no longer "
        "lists production" in checked.stderr
    )
    assert "its key is not an allowed signer" in checked.stderr
    # The same change signed by alice, an allowed signer of the policy before it: authorized.
    git(signed, "reset", "--quiet", "--hard", "HEAD~1")
    (signed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sign_as(signed, keys["alice"])
    commit_as(signed, "drop signatures", keys["alice"])
    assert cli("verify", cwd=signed).exit_code == 0


def test_a_gate_lowered_through_an_override_is_a_policy_change(signed: Path, cli):
    git(signed, "switch", "--quiet", "-c", "pr")
    params = yaml.safe_load((signed / "params.yaml").read_text())
    params.setdefault("gates", {})["overrides"] = {
        "encoder": {"production": {"latency_p95_ms": {"op": "<=", "threshold": 100000}}}
    }
    (signed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit = commit_as(signed, "override", None)
    checked = cli("verify", "--base", "main", cwd=signed)
    assert checked.exit_code == 1
    assert f"commit {commit[:12]} (override) loosens the policy" in checked.stderr
    assert (
        "gate production for encoder.latency_p95_ms lowered from <= 100 to <= 100000 "
        "(gates.overrides.encoder)" in checked.stderr
    )
    summary = cli("summary", "--base", "main", cwd=signed).stdout
    assert summary.startswith("## Policy changes") and "gates.overrides.encoder" in summary


def test_a_promotion_backdated_with_git_committer_date_is_refused_before_writing(
    registry: Path, tmp_path: Path, checkpoint_dir: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    olda = ssh_key(tmp_path / "keys", "olda")
    retired = time.strftime("%Y%m%d", time.gmtime(time.time() - 3 * DAY))
    line = signer_line("olda@example.com", olda, f'namespaces="git",valid-before="{retired}"')
    set_policy(registry, line, policy("olda@example.com"))
    sign_as(registry, olda)
    vid = validated(cli, registry, checkpoint_dir)
    before = snapshot(registry)
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(time.time()) - 10 * DAY} +0000")
    refused = cli(*release_args(vid), "--sign", cwd=registry)
    assert refused.exit_code == 2
    assert "is not an allowed signer" in refused.stderr and "not valid then" in refused.stderr
    assert snapshot(registry) == before


def ci_policy(keys: dict[str, Path], four_eyes: bool = True) -> dict:
    rights = policy(ALICE, CI, approvers=(CAROL, CI))
    rights["production"]["four_eyes"] = four_eyes
    return rights


@pytest.fixture
def with_ci(registry: Path, keys: dict[str, Path], tmp_path: Path) -> Path:
    """Production signed; alice and CI (its own key) are promoters, carol and CI approvers."""
    keys["ci"] = ssh_key(tmp_path / "keys", "ci")
    lines = signer_line(ALICE, keys["alice"]) + signer_line(CI, keys["ci"])
    set_policy(registry, lines, ci_policy(keys))
    sign_as(registry, keys["alice"])
    git(registry, "config", "user.email", ALICE)
    return registry


def test_artreg_tag_refuses_a_merged_promotion_no_promoter_signed(
    with_ci: Path, keys: dict[str, Path], tmp_path: Path, checkpoint_dir: Path, cli
):
    root = with_ci
    vid = validated(cli, root, checkpoint_dir)
    branch = cli(*release_args(vid), "--sign", "--branch", "release-1", cwd=root)
    assert branch.exit_code == 0, branch.stderr
    # mallory copies the promotion folder onto main in an unsigned commit of her own.
    git(root, "checkout", "release-1", "--", "artifacts")
    git(root, "config", "user.email", MALLORY)
    laundered = commit_as(root, "promote by hand", None)
    sign_as(root, keys["ci"])
    git(root, "config", "user.email", CI)
    before = snapshot(root)
    refused = cli("tag", cwd=root)
    assert refused.exit_code == 1
    assert f"its promotion commit {laundered[:12]} is not signed by an allowed signer" in (
        refused.stderr
    )
    assert "rights.signed lists production" in refused.stderr
    assert snapshot(root) == before
    # The branch alice signed, merged as it is: tagged by CI, alice still its promoter.
    git(root, "reset", "--quiet", "--hard", "HEAD~1")
    git(root, "merge", "--quiet", "--ff-only", "release-1")
    tagged = cli("tag", cwd=root)
    assert tagged.exit_code == 0, tagged.stderr
    history = cli("history", "encoder", "--stage", "production", cwd=root).stdout
    assert f"<{ALICE}> (tagged by" in history and f"signed by {CI}" in history
    assert cli("verify", cwd=root).exit_code == 0


def test_an_approval_artreg_tag_would_refuse_is_refused_at_the_branch_and_in_the_check(
    with_ci: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    root = with_ci
    vid = validated(cli, root, checkpoint_dir)
    before = snapshot(root)
    refused = cli(*release_args(vid, approver=CI), "--sign", "--branch", "release-1", cwd=root)
    assert refused.exit_code == 2
    rule = f"{CI} may not approve a pull-request promotion into production"
    assert rule in refused.stderr and "rights.production.four_eyes" in refused.stderr
    assert snapshot(root) == before
    assert "release-1" not in git(root, "branch", "--list")
    # Made while four-eyes was off, then four-eyes turned on: the pull-request check says so.
    set_policy(
        root,
        (root / SIGNERS).read_text(),
        ci_policy(keys, four_eyes=False),
        "four-eyes off",
        sign=True,
    )
    made = cli(*release_args(vid, approver=CI), "--sign", "--branch", "release-1", cwd=root)
    assert made.exit_code == 0, made.stderr
    git(root, "switch", "--quiet", "release-1")
    set_policy(root, (root / SIGNERS).read_text(), ci_policy(keys), "four-eyes on", sign=True)
    checked = cli("verify", "--base", "main", cwd=root)
    assert checked.exit_code == 1 and rule in checked.stderr
    git(root, "switch", "--quiet", "main")
    git(root, "merge", "--quiet", "--ff-only", "release-1")
    sign_as(root, keys["ci"])
    tag = cli("tag", cwd=root)
    assert tag.exit_code == 1 and rule in tag.stderr


def test_moving_a_signed_stage_back_is_checked_like_a_promotion(
    signed: Path, keys: dict[str, Path], tmp_path: Path, checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    for version in ("1.0.0", "1.1.0"):
        released = cli(*release_args(vid, version), "--sign", cwd=signed)
        assert released.exit_code == 0, released.stderr
    before = snapshot(signed)
    # Unsigned, each of them would make production fall back to v1.0.0 (or resolve nothing).
    for args in (["unassign", "encoder#production"], ["deprecate", "encoder@v1.1.0"]):
        refused = cli(*args, cwd=signed)
        assert refused.exit_code == 2, refused.stderr
        assert "moves production of encoder" in refused.stderr
        assert "rights.signed lists production" in refused.stderr
        assert snapshot(signed) == before
    # Signed by an allowed signer who is no promoter: refused too, naming the rule.
    mallory = ssh_key(tmp_path / "keys", "mallory")
    set_policy(
        signed,
        (signed / SIGNERS).read_text() + signer_line(MALLORY, mallory),
        policy(ALICE),
        "mallory may sign",
        sign=True,
    )
    sign_as(signed, mallory)
    before = snapshot(signed)
    refused = cli("deprecate", "encoder@v1.1.0", "--sign", cwd=signed)
    assert refused.exit_code == 2
    assert f"{MALLORY} may not promote into production" in refused.stderr
    assert snapshot(signed) == before
    # A version production does not hold moves no stage: no rights needed.
    assert cli("deprecate", "encoder@v1.0.0", cwd=signed).exit_code == 0
    # alice, a promoter, signs the fallback: production no longer resolves to v1.1.0.
    sign_as(signed, keys["alice"])
    done = cli("unassign", "encoder#production", "--sign", cwd=signed)
    assert done.exit_code == 0, done.stderr
    assert cli("resolve", "encoder", cwd=signed).exit_code != 0  # nothing left in production


def test_allowed_signers_file_with_a_byte_that_is_no_utf8_is_bad_input(
    signed: Path, checkpoint_dir: Path, cli
):
    with (signed / SIGNERS).open("ab") as out:
        out.write(b"# caf\xe9 team\n")
    git(signed, "commit", "--quiet", "-S", "-am", "comment")
    vid = validated(cli, signed, checkpoint_dir)
    before = snapshot(signed)
    refused = cli(*release_args(vid), "--sign", cwd=signed)
    assert refused.exit_code == 2, refused.stderr
    assert f"rights.allowed_signers names {SIGNERS}, whose line 2 at" in refused.stderr
    assert "is not UTF-8 text" in refused.stderr and "save" in refused.stderr
    assert snapshot(signed) == before
    checked = cli("verify", cwd=signed)
    assert checked.exit_code == 1 and "is not UTF-8 text" in checked.stderr


def test_allowed_signers_naming_a_folder_is_bad_input_naming_the_field(signed: Path, cli):
    params = yaml.safe_load((signed / "params.yaml").read_text())
    params["rights"]["allowed_signers"] = ".artreg"
    (signed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(signed, "commit", "--quiet", "-S", "-am", "folder")
    checked = cli("verify", cwd=signed)
    assert checked.exit_code == 1
    wanted = "rights.allowed_signers names .artreg, which is a folder at"
    assert wanted in checked.stderr and "cat-file" not in checked.stderr
    assert checked.stderr.count(wanted) == 1  # one problem, said once
    resolved = cli("resolve", "encoder", cwd=signed)
    assert "cat-file" not in resolved.stderr


def test_four_eyes_compares_addresses_case_insensitively(signed: Path, checkpoint_dir: Path, cli):
    rights = policy(ALICE, approvers=(CAROL, "Alice@Example.com"))
    set_policy(signed, (signed / SIGNERS).read_text(), rights, "alice approves", sign=True)
    vid = validated(cli, signed, checkpoint_dir)
    before = snapshot(signed)
    refused = cli(*release_args(vid, approver="Alice@Example.com"), "--sign", cwd=signed)
    assert refused.exit_code == 2
    assert "may not approve their own promotion" in refused.stderr
    assert snapshot(signed) == before


def gpg(*args: str) -> str:
    return subprocess.run(
        ["gpg", "--batch", *args], capture_output=True, text=True, check=True
    ).stdout


def test_gpg_subkey_of_a_listed_key_signs_and_its_revocation_is_seen_at_once(
    registry: Path, tmp_path: Path, checkpoint_dir: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    dave = "dave@example.com"
    gpg("--passphrase", "", "--quick-gen-key", f"Dave <{dave}>", "ed25519", "cert", "never")
    listing = gpg("--with-colons", "--list-secret-keys")
    primary = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    # gpg's usual layout: the primary key certifies, a subkey signs.
    gpg("--passphrase", "", "--quick-add-key", primary, "ed25519", "sign", "never")
    set_policy(registry, f"{dave} gpg {primary}\n", policy(dave))
    sign_as(registry, primary, "openpgp")
    vid = validated(cli, registry, checkpoint_dir)
    released = cli(*release_args(vid), "--sign", cwd=registry)
    assert released.exit_code == 0, released.stderr
    said = subprocess.run(
        ["git", "-C", str(registry), "verify-tag", "--raw", "encoder#production#3"],
        capture_output=True,
        text=True,
    )
    assert said.returncode == 0 and "VALIDSIG" in said.stderr and primary in said.stderr
    assert cli("verify", cwd=registry).exit_code == 0  # its verdicts now known once
    # Revoked in the keyring (its own revocation certificate, as gpg made it): seen at once.
    certificate = (home / "openpgp-revocs.d" / f"{primary}.rev").read_text()
    revocation = tmp_path / "revoke.asc"
    revocation.write_text(certificate.replace(":-----BEGIN", "-----BEGIN"))
    gpg("--import", str(revocation))
    checked = cli("verify", cwd=registry)
    assert checked.exit_code == 1
    assert "was revoked" in checked.stderr and "[GNUPG:]" not in checked.stderr


def test_verify_reports_a_hand_made_unsigned_deregistration_of_production(
    signed: Path, checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    for version in ("1.0.0", "1.1.0"):
        assert cli(*release_args(vid, version), "--sign", cwd=signed).exit_code == 0
    assert cli("verify", cwd=signed).exit_code == 0
    commit = git(signed, "rev-list", "-n1", "encoder@v1.1.0").strip()
    tag = "encoder@v1.1.0!#9"
    later = {**os.environ, "GIT_COMMITTER_DATE": f"{int(time.time()) + 60} +0000"}
    subprocess.run(
        ["git", "-C", str(signed), "tag", "-a", "-m", "Deregistered", tag, commit],
        env=later,  # after artreg's own tags, which may be dated a little ahead
        check=True,
    )
    assert "v1.0.0" in cli("resolve", "encoder", cwd=signed).stdout  # production fell back
    checked = cli("verify", cwd=signed)
    assert checked.exit_code == 1
    assert f"tag {tag}: moves production of encoder and is not signed" in checked.stderr
    # Made with artreg, signed by alice (a promoter): nothing to report.
    git(signed, "tag", "-d", tag)
    done = cli("deprecate", "encoder@v1.1.0", "--sign", cwd=signed)
    assert done.exit_code == 0, done.stderr
    after = cli("verify", cwd=signed)
    assert "moves production" not in after.stderr and after.exit_code == 0, after.stderr
