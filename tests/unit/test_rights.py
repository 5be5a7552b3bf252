"""params.yaml's rights without a repository: parsing and its errors, who may promote and
approve, four-eyes (what a change loosens: test_policy_changes.py)."""

from __future__ import annotations

import pytest

from artreg.adapters.git.signatures import UNSIGNED, gpg_principals
from artreg.adapters.git.signatures import parse as parse_git
from artreg.errors import InputError
from artreg.registry.rights import parse, principal

SRC = "params.yaml@1a2b3c4d5e6f"
POLICY = {
    "allowed_signers": ".artreg/allowed_signers",
    "signed": ["production"],
    "production": {
        "promoters": ["alice@example.com", "ci@example.com"],
        "approvers": ["carol@example.com"],
        "four_eyes": True,
    },
}
ALICE_KEY = 'alice@example.com namespaces="git" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice\n'


def test_no_section_means_no_rights() -> None:
    assert not parse(None, SRC).configured
    assert parse(None, SRC).promoter_problem("production", "anyone@example.com") is None


def test_the_issue_example_parses() -> None:
    rights = parse(POLICY, SRC)
    assert rights.configured and rights.requires_signature("production")
    assert not rights.requires_signature("validated")
    assert rights.stage("production").four_eyes
    assert rights.stage("validated").promoters is None  # no rule: anyone


@pytest.mark.parametrize(
    ("section", "message", "fix"),
    [
        ("yes", "rights must be a mapping", "README"),
        ({"signed": ["production"]}, "rights.allowed_signers is missing", "allowed_signers:"),
        ({**POLICY, "allowed_signers": "/etc/keys"}, "rights.allowed_signers must be a path", ""),
        ({**POLICY, "allowed_signers": "../keys"}, "rights.allowed_signers must be a path", ""),
        ({**POLICY, "production": {"promoters": "alice"}}, "promoters must be a list", "[alice"),
        ({**POLICY, "production": {"promoter": []}}, "production.promoter is not a rights key", ""),
        ({**POLICY, "production": {"four_eyes": "yes"}}, "four_eyes must be true or false", ""),
        ({**POLICY, "Prod uction": {}}, "rights.Prod uction is not a stage name", ""),
    ],
)
def test_bad_sections_name_file_field_and_fix(section: object, message: str, fix: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(section, SRC)
    assert caught.value.message.startswith(f"{SRC}: ")
    assert message in caught.value.message
    assert fix in (caught.value.hint or "")


def test_promoters_and_approvers() -> None:
    rights = parse(POLICY, SRC)
    assert rights.promoter_problem("production", "alice@example.com") is None
    refused = rights.promoter_problem("production", "bob@example.com")
    assert refused == (
        f"bob@example.com may not promote into production: {SRC} rights.production.promoters "
        "lists alice@example.com, ci@example.com"
    )
    assert rights.approver_problem("production", "carol@example.com", "alice@example.com") is None
    assert "needs an approver" in str(
        rights.approver_problem("production", None, "alice@example.com")
    )
    assert "dave@example.com may not approve" in str(
        rights.approver_problem("production", "dave@example.com", "alice@example.com")
    )


def test_four_eyes() -> None:
    rights = parse(
        {**POLICY, "production": {"approvers": ["alice@example.com"], "four_eyes": True}}, SRC
    )
    problem = rights.approver_problem("production", "alice@example.com", "alice@example.com")
    assert problem is not None and "their own promotion" in problem and "four_eyes" in problem
    relaxed = parse({**POLICY, "production": {"approvers": ["alice@example.com"]}}, SRC)
    assert relaxed.approver_problem("production", "alice@example.com", "alice@example.com") is None


def test_principal_of_an_identity() -> None:
    assert principal("Carol <carol@example.com>") == "carol@example.com"
    assert principal("carol@example.com") == "carol@example.com"


def test_gpg_keys_of_the_allowed_signers_file() -> None:
    text = "# team\n" + ALICE_KEY + "dave@example.com gpg ABCDEF\n"
    assert gpg_principals(text) == {"ABCDEF": {"dave@example.com"}}


def test_git_verdicts_are_read_from_its_output() -> None:
    good = 'Good "git" signature for alice@example.com with ED25519 key SHA256:abc\n'
    verdict = parse_git(0, good, {})
    assert (verdict.verified, verdict.principal, verdict.fingerprint) == (
        True,
        "alice@example.com",
        "SHA256:abc",
    )
    stranger = parse_git(
        1, 'Good "git" signature with ED25519 key SHA256:def\nNo principal matched.\n', {}
    )
    assert stranger.signed and not stranger.verified and stranger.fingerprint == "SHA256:def"
    expired = 'Good "git" signature with ED25519 key SHA256:abc\nf:1: key has expired: ...\n'
    assert "valid-before" in parse_git(1, expired, {}).detail
    assert parse_git(1, "error: no signature found\n", {}) == UNSIGNED
    gpg = "[GNUPG:] GOODSIG 53834BC2 Carol <carol@example.com>\n[GNUPG:] VALIDSIG ABCD 2026 x\n"
    assert parse_git(0, gpg, {"ABCD": {"carol@example.com"}}).verified
    assert not parse_git(0, gpg, {}).verified
