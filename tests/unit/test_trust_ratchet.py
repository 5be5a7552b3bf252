"""The pure comparison behind the trust ratchet: is policy B weaker than policy A?"""

from __future__ import annotations

from pathlib import Path

from artreg.reading.trust_ratchet import Applied, read_record, weakenings, write_record
from artreg.registry.trust import IN_PARAMS, NO_PARAMS, NO_SECTION

KEY, OTHER = "a" * 64, "b" * 64

STRICT = Applied(
    require_signature=frozenset({"production"}),
    keys={"keys/release.pub": KEY},
    head="1" * 40,
)


def policy(*stages: str, origin: str = IN_PARAMS, **keys: str | None) -> Applied:
    return Applied(
        frozenset(stages), {f"keys/{k}.pub": v for k, v in keys.items()}, "2" * 40, origin
    )


def test_the_same_or_a_stricter_policy_is_not_weaker() -> None:
    assert weakenings(STRICT, policy("production", release=KEY)) == []
    assert weakenings(STRICT, policy("production", "validated", release=KEY)) == []
    assert weakenings(STRICT, policy("production")) == []  # the key revoked
    # Nothing required before: any policy is at least as strict, keys or not.
    assert weakenings(policy(), policy("production", other=OTHER)) == []
    assert weakenings(policy(release=KEY), policy(other=OTHER)) == []


def test_a_stage_that_no_longer_requires_a_signature_is_weaker() -> None:
    assert weakenings(STRICT, policy(release=KEY)) == [
        "production no longer requires a signature (trust.require_signature no longer lists it)"
    ]
    assert weakenings(STRICT, policy("validated", release=KEY)) == [
        "production no longer requires a signature (trust.require_signature no longer lists it)"
    ]


def test_params_yaml_gone_or_its_trust_section_gone_is_weaker_and_named() -> None:
    assert weakenings(STRICT, policy(origin=NO_PARAMS)) == [
        "production no longer requires a signature (params.yaml is gone)"
    ]
    assert weakenings(STRICT, policy(origin=NO_SECTION)) == [
        "production no longer requires a signature (params.yaml has no trust section)"
    ]


def test_a_trusted_key_added_or_replaced_is_weaker() -> None:
    assert weakenings(STRICT, policy("production", release=KEY, other=OTHER)) == [
        "trust.keys adds keys/other.pub, trusted to sign production"
    ]
    assert weakenings(STRICT, policy("production", other=OTHER)) == [
        "trust.keys adds keys/other.pub, trusted to sign production"
    ]
    assert weakenings(STRICT, policy("production", release=OTHER)) == [
        f"trust.keys keys/release.pub was replaced (sha256 {KEY} → {OTHER}), "
        "trusted to sign production"
    ]
    # A listed key whose file is gone trusts nothing more; a key added while the stage it
    # would sign drops its requirement is reported as the requirement dropped.
    assert weakenings(STRICT, policy("production", release=None)) == []
    assert weakenings(STRICT, policy("validated", other=OTHER)) == [
        "production no longer requires a signature (trust.require_signature no longer lists it)"
    ]


def test_stricter_in_one_way_and_weaker_in_another_is_weaker() -> None:
    mixed = policy("production", "validated", release=KEY, other=OTHER)
    assert weakenings(STRICT, mixed) == [
        "trust.keys adds keys/other.pub, trusted to sign production"
    ]


def test_a_record_round_trips_and_an_old_record_knows_keys_by_path(tmp_path: Path) -> None:
    record = tmp_path / "trust" / "r.json"
    write_record(record, STRICT, {"digest": "d"})
    assert read_record(record) == STRICT
    # A record written before keys' digests were kept: a key is known by its path alone.
    record.write_text(
        '{"head": "%s", "keys": ["keys/release.pub"], "require_signature": ["production"], '
        '"digest": "d"}' % ("1" * 40)
    )
    old = read_record(record)
    assert old is not None and old.keys == {"keys/release.pub": None}
    assert weakenings(old, policy("production", release=OTHER)) == []
    assert weakenings(old, policy("production", other=OTHER)) != []
    record.write_text("not json")
    assert read_record(record) is None
