"""What a change of policy loosens, without a repository: rights, gates and their per-model
overrides, trust and settings, and the allowed-signers file compared byte for byte, line by line
(never parsed); and which allowed-signers lines hold keys valid now."""

from __future__ import annotations

from datetime import UTC, datetime

from artreg.registry.policy_changes import loosenings, valid_now

SIGNERS = ".artreg/allowed_signers"
POLICY = {
    "allowed_signers": SIGNERS,
    "signed": ["production"],
    "production": {
        "promoters": ["alice@example.com", "ci@example.com"],
        "approvers": ["carol@example.com"],
        "four_eyes": True,
    },
}
ALICE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice"
ALICE_KEY = f'alice@example.com namespaces="git" {ALICE} alice\n'
BOB_KEY = "bob@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBob\n"
MALLORY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallory"


def test_every_loosening_is_listed() -> None:
    old = {
        "rights": POLICY,
        "gates": {"production": {"accuracy": {"op": ">=", "threshold": 0.9}}},
        "trust": {"require_signature": ["production"], "keys": ["k1.pem"]},
        "artreg": {"require_approval": True},
    }
    new = {
        "rights": {
            "allowed_signers": SIGNERS,
            "signed": [],
            "production": {
                "promoters": ["alice@example.com", "ci@example.com", "bob@example.com"],
                "approvers": ["carol@example.com", "bob@example.com"],
                "four_eyes": False,
            },
        },
        "gates": {"production": {"accuracy": {"op": ">=", "threshold": 0.5}}},
        "trust": {"require_signature": [], "keys": ["k1.pem", "k2.pem"]},
        "artreg": {"require_approval": False},
    }
    found = loosenings(old, new, ALICE_KEY, ALICE_KEY + BOB_KEY)
    assert found == [
        "rights.signed no longer lists production",
        f"allowed signer added: {BOB_KEY.strip()} ({SIGNERS} line 2, new or changed)",
        "promoter added to rights.production: bob@example.com",
        "approver added to rights.production: bob@example.com",
        "rights.production.four_eyes turned off",
        "gate gates.production.accuracy lowered from >= 0.9 to >= 0.5",
        "trust.require_signature no longer lists production (model signatures)",
        "trust.keys added: k2.pem (model signatures)",
        "artreg.require_approval turned off",
    ]
    assert loosenings(new, old, ALICE_KEY + BOB_KEY, ALICE_KEY) == []  # every change tightens


def test_removed_rules_and_gates_are_loosenings() -> None:
    old = {"rights": POLICY, "gates": {"validated": {"loss": {"op": "<=", "threshold": 1}}}}
    new = {"rights": {"allowed_signers": SIGNERS, "signed": ["production"]}}
    found = loosenings(old, new)
    assert "rights.production.promoters removed (anyone may now)" in found
    assert "gate gates.validated.loss removed (was <= 1)" in found
    assert loosenings({"rights": POLICY}, {"rights": POLICY}) == []


def test_any_changed_byte_of_an_allowed_signers_line_is_a_loosening() -> None:
    """Lines ssh-keygen reads differently from a naive parser: a tab after the principal, a
    quoted option hiding alice's own key before mallory's, a comment turned into a line."""
    rights = {"rights": POLICY}
    for line in (
        f"alice@example.com\t{MALLORY}\n",
        f'alice@example.com namespaces="git,x {ALICE} y" {MALLORY}\n',
        ALICE_KEY.replace("ssh-ed25519", "ssh-ed25519 "),  # one byte more
        ALICE_KEY.rstrip("\n") + "\r\n",
        "# " + BOB_KEY,  # a comment added: any byte counts
    ):
        found = loosenings(rights, rights, ALICE_KEY, ALICE_KEY + line)
        assert len(found) == 1, found
        assert found[0].startswith(f"allowed signer added: {line[:60].rstrip()}")
        assert found[0].endswith(f"({SIGNERS} line 2, new or changed)")
        changed = loosenings(rights, rights, ALICE_KEY, line)
        assert len(changed) == 1 and f"({SIGNERS} line 1, new or changed)" in changed[0]
    # Whole lines removed, reordered, or a blank line added: nothing loosened.
    assert loosenings(rights, rights, ALICE_KEY + BOB_KEY, BOB_KEY + "\n\n" + ALICE_KEY) == []
    assert loosenings(rights, rights, ALICE_KEY + BOB_KEY, BOB_KEY) == []
    # Bytes that are no UTF-8 are compared as bytes and shown escaped.
    found = loosenings(rights, rights, ALICE_KEY.encode(), ALICE_KEY.encode() + b"# caf\xe9\n")
    assert found == [f"allowed signer added: # caf\\xe9 ({SIGNERS} line 2, new or changed)"]


def test_moving_the_allowed_signers_file_is_a_loosening_its_first_file_is_not() -> None:
    moved = {"rights": {**POLICY, "allowed_signers": "keys/signers"}}
    found = loosenings({"rights": POLICY}, moved, ALICE_KEY, ALICE_KEY)
    assert found == [f"rights.allowed_signers changed from {SIGNERS} to keys/signers"]
    assert loosenings({}, {"rights": POLICY}, "", ALICE_KEY + BOB_KEY) == []


def test_a_gate_override_weaker_than_the_gate_it_replaces_is_a_loosening() -> None:
    gates = {"production": {"latency_p95_ms": {"op": "<=", "threshold": 100}}}
    lowered = {
        **gates,
        "overrides": {
            "encoder": {"production": {"latency_p95_ms": {"op": "<=", "threshold": 1e5}}}
        },
    }
    found = loosenings({"gates": gates}, {"gates": lowered})
    assert found == [
        "gate production for encoder.latency_p95_ms lowered from <= 100 to <= 100000.0 "
        "(gates.overrides.encoder)"
    ]
    stricter = {
        **gates,
        "overrides": {"encoder": {"production": {"latency_p95_ms": {"op": "<=", "threshold": 50}}}},
    }
    assert loosenings({"gates": gates}, {"gates": stricter}) == []
    assert loosenings({"gates": stricter}, {"gates": gates}) != []  # dropping a stricter one
    new_metric = {
        **gates,
        "overrides": {"encoder": {"production": {"f1": {"op": ">=", "threshold": 1}}}},
    }
    assert loosenings({"gates": gates}, {"gates": new_metric}) == []


def test_valid_now_leaves_out_keys_retired_or_not_yet_valid() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    retired = b'olda@example.com namespaces="git",valid-before="20261201" ' + MALLORY.encode()
    later = b'newa@example.com valid-before="20300101Z" ' + MALLORY.encode()
    soon = b'next@example.com valid-after="20270101" ' + MALLORY.encode()
    odd = b'odd@example.com valid-before="soon" ' + MALLORY.encode()
    today = b'tday@example.com valid-before="20261207" ' + MALLORY.encode()
    plain = ALICE_KEY.rstrip("\n").encode()
    text = b"\n".join([plain, retired, later, soon, odd, today, b""])
    assert valid_now(text, now) == b"\n".join([plain, later, b""])
    assert valid_now(plain, now) == plain
