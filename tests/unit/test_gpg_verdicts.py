"""gpg's verdicts as artreg reads them from `git verify-tag --raw`: a listed primary key vouches
for its signing subkey, and a refused signature's reason is a sentence, not a status line."""

from __future__ import annotations

from artreg.adapters.git.signatures import parse

PRIMARY, SUBKEY = "A" * 40, "B" * 40
GOOD = f"[GNUPG:] GOODSIG {SUBKEY[-16:]} Dave <dave@example.com>\n"
VALID = f"[GNUPG:] VALIDSIG {SUBKEY} 2026-12-07 1796000000 0 4 0 22 10 00 {PRIMARY}\n"


def test_a_listed_primary_key_vouches_for_its_subkey() -> None:
    verdict = parse(0, GOOD + VALID, {PRIMARY: {"dave@example.com"}})
    assert verdict.verified and verdict.principal == "dave@example.com"
    assert verdict.fingerprint == SUBKEY
    assert not parse(0, GOOD + VALID, {PRIMARY: {"eve@example.com"}}).verified
    # gpg without the primary's field: the signing key itself must be listed.
    short = f"[GNUPG:] VALIDSIG {SUBKEY} 2026-12-07 1796000000\n"
    assert parse(0, GOOD + short, {SUBKEY: {"dave@example.com"}}).verified


def test_a_refused_gpg_signature_says_why() -> None:
    revoked = (
        f"[GNUPG:] NEWSIG\n[GNUPG:] KEY_CONSIDERED {PRIMARY} 0\n"
        f"[GNUPG:] REVKEYSIG {SUBKEY[-16:]} Dave <dave@example.com>\n"
        "[GNUPG:] TRUST_ULTIMATE 0 pgp\n"
    )
    assert parse(1, revoked, {}).detail == f"its GPG key {SUBKEY[-16:]} was revoked"
    missing = f"[GNUPG:] ERRSIG {SUBKEY[-16:]} 22 10 00 1796000000 9 -\n[GNUPG:] NO_PUBKEY x\n"
    assert "no public key" in parse(1, missing, {}).detail
    assert parse(1, "error: something else\n", {}).detail == "error: something else"
