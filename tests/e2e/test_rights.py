"""Who may move a model (issue 26): signed promotions checked by git's own `verify-tag` against
the committed allowed-signers file, stage rights and four-eyes refused before anything is
written, and a pull request that loosens the policy for itself flagged by `verify --base` and
`summary`. Real keys (ssh-keygen, one gpg key); `git verify-tag` is the oracle."""

from __future__ import annotations

import calendar
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from helpers import RELEASE_ARGS, git, snapshot, validate_args
from helpers.keys import signer_line, ssh_key

ALICE, BOB, CAROL, DAVE = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dave"))
SIGNERS = ".artreg/allowed_signers"
STAGE_TAG = "encoder#production#3"
VERSION_TAG = "encoder@v1.0.0"


def sign_as(root: Path, key: Path | str, fmt: str = "ssh") -> None:
    git(root, "config", "gpg.format", fmt)
    git(root, "config", "user.signingkey", str(key))


def set_policy(
    root: Path, signers: str, rights: dict, message: str = "rights", sign: bool = False
) -> None:
    """Write the allowed-signers file and params.yaml's rights, and commit both (signed with
    the configured key: a loosening on the default branch needs an allowed signer's)."""
    (root / SIGNERS).parent.mkdir(exist_ok=True)
    (root / SIGNERS).write_text(signers)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["rights"] = rights
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "add", SIGNERS, "params.yaml")
    git(root, "commit", "--quiet", *(["-S"] if sign else []), "-m", message)


def policy(*promoters: str, approvers: tuple[str, ...] = (CAROL,)) -> dict:
    return {
        "allowed_signers": SIGNERS,
        "signed": ["production"],
        "production": {
            "promoters": list(promoters),
            "approvers": list(approvers),
            "four_eyes": True,
        },
    }


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return {who: ssh_key(tmp_path / "keys", who) for who in ("alice", "bob")}


@pytest.fixture
def signed(registry: Path, keys: dict[str, Path]) -> Path:
    """A registry whose production needs tags signed by alice (promoter), approved by carol."""
    set_policy(registry, signer_line(ALICE, keys["alice"]), policy(ALICE))
    sign_as(registry, keys["alice"])
    return registry


def validated(cli, root: Path, ckpt: Path) -> str:
    reg = cli("register", "encoder", "s1", "--from", str(ckpt), "--sign", cwd=root)
    assert reg.exit_code == 0, reg.stderr
    val = cli(*validate_args("encoder", "s1", "best", "--sign", "--json"), cwd=root)
    assert val.exit_code == 0, val.stderr
    return str(val.json()["id"])


def release_args(vid: str, version: str = "1.0.0", approver: str = CAROL) -> list[str]:
    args = ["promote", "encoder", vid, "--to", "production", "--version", version]
    args += [a if a != "rm" else approver for a in RELEASE_ARGS]
    return args


def oracle(root: Path, tag: str, kind: str = "tag") -> subprocess.CompletedProcess[str]:
    """git's own verdict with the committed file, as a user would ask it."""
    (root / ".git" / "oracle_signers").write_bytes(
        subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{SIGNERS}"], capture_output=True, check=True
        ).stdout
    )
    return subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "gpg.ssh.allowedSignersFile=.git/oracle_signers",
            f"verify-{kind}",
            tag,
        ],
        capture_output=True,
        text=True,
    )


def retag(root: Path, tag: str, sign: bool) -> None:
    """Replace a tag by one with the same message and date, signed by the current key or not."""
    fmt = "--format=%(contents:subject)%0a%0a%(contents:body)"  # without the signature
    message = git(root, "for-each-ref", fmt, f"refs/tags/{tag}")
    date = git(root, "for-each-ref", "--format=%(taggerdate:raw)", f"refs/tags/{tag}").strip()
    commit = git(root, "rev-parse", f"{tag}^{{commit}}").strip()
    subprocess.run(
        ["git", "-C", str(root), "tag", "-f", "-s" if sign else "-a", "-F", "-", tag, commit],
        input=message,
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_COMMITTER_DATE": date},
    )


def test_signed_release_verifies_with_git_as_oracle(signed: Path, checkpoint_dir: Path, cli):
    vid = validated(cli, signed, checkpoint_dir)
    released = cli(*release_args(vid), "--sign", "--json", cwd=signed)
    assert released.exit_code == 0, released.stderr
    assert released.json()["tags"] == [VERSION_TAG, STAGE_TAG]
    for tag in (VERSION_TAG, STAGE_TAG):
        said = oracle(signed, tag)
        assert said.returncode == 0 and f'Good "git" signature for {ALICE}' in said.stderr
    checked = cli("verify", "--json", cwd=signed)
    assert checked.exit_code == 0, checked.stderr
    assert checked.json()["checked"]["promotion tags checked against rights"] == 2
    # A repeat verify asks git only about tags it has not judged yet (the cache), same answer.
    assert cli("verify", cwd=signed).exit_code == 0
    fingerprint = said.stderr.split()[-1]  # git's SHA256:... of alice's key
    alice = {"principal": ALICE, "fingerprint": fingerprint, "verified": True}
    history = cli("history", "encoder", "--stage", "production", "--json", cwd=signed)
    assert history.json()[-1]["signer"] == alice
    assert f"signed by {ALICE}" in cli("history", "encoder", cwd=signed).stdout
    assert cli("show", "encoder#production", "--json", cwd=signed).json()["signer"] == alice
    assert f"signer: signed by {ALICE}" in cli("show", "encoder#production", cwd=signed).stdout
    lineage = cli("lineage", "encoder@v1.0.0", "--json", cwd=signed).json()
    assert [step.get("signer") for step in lineage[:3]] == [alice] * 3  # release ← validated ← raw
    site = signed.parent / "site"
    assert cli("site", "-o", str(site), cwd=signed).exit_code == 0
    (page,) = (p for p in (site / "models" / "encoder").rglob("v1.0.0.html"))
    html = page.read_text()
    assert "Tags signed by" in html
    assert f"<code>{STAGE_TAG}</code>: {ALICE} (<code>{fingerprint}</code>)" in html


def test_unsigned_production_tag_is_reported(
    signed: Path, checkpoint_dir: Path, tmp_path: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    assert cli(*release_args(vid), "--sign", cwd=signed).exit_code == 0
    retag(signed, STAGE_TAG, sign=False)
    assert oracle(signed, STAGE_TAG).returncode != 0
    result = cli("verify", cwd=signed)
    assert result.exit_code == 1
    assert f"tag {STAGE_TAG}: is not signed" in result.stderr
    assert VERSION_TAG + ":" not in result.stderr  # the version tag is still alice's
    # Readers refuse the stage loudly rather than fall back to an older version.
    export = ["get", "encoder", "-o", str(tmp_path / "out")]
    for reader in (["resolve", "encoder"], ["pull", "encoder"], export):
        refused = cli(*reader, cwd=signed)
        assert refused.exit_code == 1, refused.stderr
        assert f"tag {STAGE_TAG}: not signed; params.yaml@" in refused.stderr
    assert cli("resolve", "encoder", "--stage", "validated", cwd=signed).exit_code == 0
    from artreg.api import get_artifact_path
    from artreg.errors import IntegrityError

    with pytest.raises(IntegrityError, match=r"rights\.signed lists production"):
        get_artifact_path("encoder", repo=signed)


def test_tag_signed_by_a_key_not_in_the_committed_file_is_reported(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    assert cli(*release_args(vid), "--sign", cwd=signed).exit_code == 0
    sign_as(signed, keys["bob"])
    retag(signed, VERSION_TAG, sign=True)
    said = oracle(signed, VERSION_TAG)
    assert said.returncode != 0 and "No principal matched" in said.stderr
    result = cli("verify", cwd=signed)
    assert result.exit_code == 1
    assert f"tag {VERSION_TAG}: is not verified: its key is not an allowed signer" in result.stderr


def test_key_removed_after_the_promotion_is_reported(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    assert cli(*release_args(vid), "--sign", cwd=signed).exit_code == 0
    assert cli("verify", cwd=signed).exit_code == 0
    set_policy(signed, signer_line(BOB, keys["bob"]), policy(ALICE, BOB), "alice leaves")
    assert oracle(signed, STAGE_TAG).returncode != 0
    result = cli("verify", cwd=signed)
    assert result.exit_code == 1
    for tag in (VERSION_TAG, STAGE_TAG):
        assert f"tag {tag}: is not verified" in result.stderr
    refused = cli("resolve", "encoder@v1.0.0", cwd=signed)
    assert refused.exit_code == 1 and "its key is not an allowed signer" in refused.stderr


def test_key_retired_with_valid_before_keeps_earlier_promotions(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    assert cli(*release_args(vid), "--sign", cwd=signed).exit_code == 0
    newest = max(
        int(t)
        for t in git(signed, "for-each-ref", "--format=%(taggerdate:unix)", "refs/tags").split()
    )
    retired_at = newest + 2
    stamp = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(retired_at))
    line = signer_line(ALICE, keys["alice"], f'namespaces="git",valid-before="{stamp}"')
    set_policy(
        signed, line + signer_line(BOB, keys["bob"]), policy(ALICE, BOB), "retire alice", sign=True
    )
    while time.time() <= retired_at + 1:
        time.sleep(0.2)
    assert oracle(signed, STAGE_TAG).returncode == 0  # git: signed before valid-before
    assert cli("verify", cwd=signed).exit_code == 0
    # Anything alice signs from now on is refused, before it is written.
    before = snapshot(signed)
    again = cli(*release_args(vid, "1.1.0"), "--sign", cwd=signed)
    assert again.exit_code == 2
    assert "is not an allowed signer" in again.stderr and "valid-before" in again.stderr
    assert snapshot(signed) == before
    assert calendar.timegm(time.gmtime()) > retired_at


def test_promotion_without_the_right_is_refused_and_changes_nothing(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    set_policy(
        signed, signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"]), policy(ALICE)
    )
    before = snapshot(signed)
    unsigned = cli(*release_args(vid), cwd=signed)
    assert unsigned.exit_code == 2
    assert "rights.signed lists production" in unsigned.stderr and "--sign" in unsigned.stderr
    sign_as(signed, keys["bob"])
    bob = cli(*release_args(vid), "--sign", cwd=signed)
    assert bob.exit_code == 2
    assert f"{BOB} may not promote into production" in bob.stderr
    assert f"rights.production.promoters lists {ALICE}" in bob.stderr
    sign_as(signed, keys["alice"])
    stranger = cli(*release_args(vid, approver="Dave <dave@example.com>"), "--sign", cwd=signed)
    assert stranger.exit_code == 2
    assert f"{DAVE} may not approve a promotion into production" in stranger.stderr
    assert snapshot(signed) == before


def test_four_eyes_refuses_the_promoter_as_approver(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    set_policy(signed, signer_line(ALICE, keys["alice"]), policy(ALICE, approvers=(ALICE, CAROL)))
    before = snapshot(signed)
    own = cli(*release_args(vid, approver="Alice <alice@example.com>"), "--sign", cwd=signed)
    assert own.exit_code == 2
    assert f"{ALICE} may not approve their own promotion into production" in own.stderr
    assert "four_eyes" in own.stderr
    assert snapshot(signed) == before
    assert cli(*release_args(vid), "--sign", cwd=signed).exit_code == 0


def test_gpg_signed_release_verifies(
    registry: Path, tmp_path: Path, checkpoint_dir: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            f"Dave <{DAVE}>",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["gpg", "--with-colons", "--list-secret-keys"], capture_output=True, text=True, check=True
    ).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    set_policy(registry, f"{DAVE} gpg {fpr}\n", policy(DAVE))
    sign_as(registry, fpr, "openpgp")
    vid = validated(cli, registry, checkpoint_dir)
    assert cli(*release_args(vid), "--sign", cwd=registry).exit_code == 0
    said = subprocess.run(
        ["git", "-C", str(registry), "verify-tag", "--raw", STAGE_TAG],
        capture_output=True,
        text=True,
    )
    assert said.returncode == 0 and f"VALIDSIG {fpr}" in said.stderr
    assert cli("verify", cwd=registry).exit_code == 0
    # Dropped from the committed file, the same GPG signature no longer counts.
    set_policy(registry, f"{DAVE} gpg {'0' * 40}\n", policy(DAVE), "dave's key replaced")
    result = cli("verify", cwd=registry)
    assert result.exit_code == 1
    assert (
        f"tag {STAGE_TAG}: is not verified: its GPG key is not an allowed signer" in result.stderr
    )


def test_pull_request_that_authorizes_itself_is_flagged(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    git(signed, "switch", "--quiet", "-c", "bob-policy")
    git(signed, "config", "user.email", BOB)
    set_policy(
        signed,
        signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"]),
        policy(ALICE, BOB),
        "let bob release",
    )
    sign_as(signed, keys["bob"])
    released = cli(*release_args(vid), "--sign", "--branch", "bob-release", cwd=signed)
    assert released.exit_code == 0, released.stderr
    git(signed, "switch", "--quiet", "bob-release")
    checked = cli("verify", "--base", "main", cwd=signed)
    assert checked.exit_code == 1
    assert "(let bob release) loosens the policy" in checked.stderr
    assert f"allowed signer added: {BOB}" in checked.stderr
    assert f"promoter added to rights.production: {BOB}" in checked.stderr
    assert "not signed by an allowed signer of main" in checked.stderr
    summary = cli("summary", "--base", "main", cwd=signed)
    assert summary.exit_code == 0, summary.stderr
    text = summary.stdout
    assert text.startswith("## Policy changes")
    assert f"allowed signer added: {BOB}" in text and "**not authorized**" in text
    assert f"+{BOB} namespaces" in text  # the diff of the allowed-signers file
    assert text.index("## Policy changes") < text.index("encoder")
    assert text.index("```diff") < text.index("v1.0.0")


def test_policy_change_signed_by_a_base_signer_is_authorized(
    signed: Path, keys: dict[str, Path], cli
):
    git(signed, "switch", "--quiet", "-c", "widen")
    (signed / SIGNERS).write_text(signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"]))
    git(signed, "add", SIGNERS)
    git(signed, "commit", "--quiet", "-S", "-m", "alice lets bob sign")
    checked = cli("verify", "--base", "main", cwd=signed)
    assert checked.exit_code == 0, checked.stderr
    summary = cli("summary", "--base", "main", cwd=signed).stdout
    assert f"signed by {ALICE}, an allowed signer of main" in summary


def test_bad_rights_section_names_file_field_and_fix(registry: Path, checkpoint_dir: Path, cli):
    set_policy(registry, "", {"allowed_signers": SIGNERS, "production": {"promoter": [ALICE]}})
    before = snapshot(registry)
    refused = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=registry)
    wanted = "/rights/production: Additional properties are not allowed ('promoter' was unexpected)"
    assert refused.exit_code == 2 and wanted in refused.stderr
    assert "params.yaml@" in refused.stderr
    assert snapshot(registry) == before
    result = cli("verify", cwd=registry)
    assert result.exit_code == 1 and wanted in result.stderr


def test_pull_request_mode_commit_signed_and_tags_signed_by_whoever_tags(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    vid = validated(cli, signed, checkpoint_dir)
    set_policy(
        signed,
        signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"]),
        policy(ALICE),
        "bob may sign, not promote",
        sign=True,
    )
    released = cli(*release_args(vid), "--sign", "--branch", "release-1", cwd=signed)
    assert released.exit_code == 0, released.stderr
    commit = git(signed, "rev-parse", "release-1").strip()
    said = oracle(signed, commit, "commit")
    assert said.returncode == 0 and f'Good "git" signature for {ALICE}' in said.stderr
    git(signed, "merge", "--quiet", "--ff-only", "release-1")
    # CI runs `artreg tag` with its own key; bob's key is allowed, but bob is no promoter.
    sign_as(signed, keys["bob"])
    before = snapshot(signed)
    refused = cli("tag", cwd=signed)
    assert refused.exit_code == 2
    assert f"{BOB} may not promote into production" in refused.stderr
    assert snapshot(signed) == before
    sign_as(signed, keys["alice"])
    tagged = cli("tag", "--json", cwd=signed)
    assert tagged.exit_code == 0, tagged.stderr
    assert set(tagged.json()["created"]) == {VERSION_TAG, STAGE_TAG}
    assert oracle(signed, STAGE_TAG).returncode == 0
    assert cli("verify", cwd=signed).exit_code == 0


def test_batched_verdicts_are_git_verdicts_tag_by_tag(
    signed: Path, keys: dict[str, Path], tmp_path: Path
):
    """verify asks one git about many tags when all are good, else one git per tag: either
    way each tag gets exactly the verdict `git verify-tag` gives it alone."""
    from artreg.adapters.git.signatures import materialize, signers_blob, verify_objects

    carol = ssh_key(tmp_path / "keys", "carol")
    set_policy(
        signed,
        signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"]),
        policy(ALICE, BOB),
    )
    expected = {}
    for i, (key, who) in enumerate(
        [(keys["alice"], ALICE), (keys["bob"], BOB)] * 4 + [(carol, None)]
    ):
        sign_as(signed, key)
        git(signed, "tag", "-s", "-m", f"t{i}", f"t{i}")
        expected[git(signed, "rev-parse", f"t{i}").strip()] = who
    git(signed, "tag", "-a", "-m", "plain", "plain")
    blob = signers_blob(signed, "HEAD", SIGNERS)
    assert blob is not None
    good = [oid for oid, who in expected.items() if who]
    for oid, verdict in verify_objects(signed, "tag", good, blob).items():
        assert (verdict.verified, verdict.principal) == (True, expected[oid])
    (signed / ".git" / "artreg" / "tag-signatures.json").unlink()  # no cached verdicts
    mixed = [*expected, git(signed, "rev-parse", "plain").strip()]
    allowed = materialize(signed, blob)
    for oid, verdict in verify_objects(signed, "tag", mixed, blob).items():
        alone = subprocess.run(
            [
                "git",
                "-C",
                str(signed),
                "-c",
                f"gpg.ssh.allowedSignersFile={allowed}",
                "verify-tag",
                oid,
            ],
            capture_output=True,
            text=True,
        )
        assert verdict.verified == (alone.returncode == 0)
        assert verdict.principal == expected.get(oid)
        assert verdict.signed == ("no signature found" not in alone.stderr)


def test_unsigned_stage_rights_use_the_committer(registry: Path, checkpoint_dir: Path, cli):
    """Where no signature is required, the promoter is the committer's email."""
    set_policy(registry, "", {"allowed_signers": SIGNERS, "raw": {"promoters": [ALICE]}})
    before = snapshot(registry)
    refused = cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=registry)
    assert refused.exit_code == 2
    assert "trainer@example.com may not promote into raw" in refused.stderr
    assert snapshot(registry) == before
    git(registry, "config", "user.email", ALICE)
    assert (
        cli("register", "encoder", "s1", "--from", str(checkpoint_dir), cwd=registry).exit_code == 0
    )
    assert cli("verify", cwd=registry).exit_code == 0


def test_pull_request_promotion_commit_must_be_signed_by_a_promoter(
    signed: Path, keys: dict[str, Path], checkpoint_dir: Path, cli
):
    """On a promotion branch, verify asks `git verify-commit` who made the promotion commit."""
    vid = validated(cli, signed, checkpoint_dir)
    set_policy(
        signed,
        signer_line(ALICE, keys["alice"]) + signer_line(BOB, keys["bob"]),
        policy(ALICE),
        "bob may sign, not promote",
        sign=True,  # adding a signer is a loosening: on the default branch it needs alice's
    )
    released = cli(*release_args(vid), "--sign", "--branch", "release-1", cwd=signed)
    assert released.exit_code == 0, released.stderr
    git(signed, "switch", "--quiet", "release-1")
    checked = cli("verify", cwd=signed)
    assert checked.exit_code == 0, checked.stderr
    sign_as(signed, keys["bob"])  # the same promotion, committed by bob
    git(signed, "commit", "--quiet", "--amend", "--no-edit", "-S")
    by_bob = cli("verify", cwd=signed)
    assert by_bob.exit_code == 1
    assert f"{BOB} may not promote into production" in by_bob.stderr
    git(signed, "commit", "--quiet", "--amend", "--no-edit", "--no-gpg-sign")
    unsigned = cli("verify", cwd=signed)
    assert unsigned.exit_code == 1
    assert "its promotion commit" in unsigned.stderr
    assert "is not signed by an allowed signer" in unsigned.stderr
