"""Requirements between artifacts, without git: the grammar, the compatibility policy, the
tag-message and metadata forms, and resolution over a registry state built from tag lines."""

from __future__ import annotations

import sys

import pytest

from artreg.errors import InputError, RequirementUnmet
from artreg.registry.documents import Metadata, ModelFile, ModelInfo, Source
from artreg.registry.fold import fold
from artreg.registry.policy import DEFAULT_PARAMS, compatible, settings_from
from artreg.registry.records import Requirement, requirements
from artreg.registry.requirements import broken, closure, newly_broken, statuses, unmet, way_out
from artreg.registry.state import parse_for_each_ref
from artreg.registry.tags import message_fields, parse_requirement, tag_message

from helpers import ref_line

# --- the grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("base@v1.0.0", ("base", "1.0.0")),
        ("base@1.0.0", ("base", "1.0.0")),
        ("text-encoder_2@v10.2.3-rc.1+build.7", ("text-encoder_2", "10.2.3-rc.1+build.7")),
    ],
)
def test_a_requirement_is_a_name_and_a_semantic_version(text: str, expected: tuple) -> None:
    assert parse_requirement(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("base", "names no version"),
        ("base#production", "names no version"),
        ("base@", "no version after '@'"),
        ("base@v1.0", "not a semantic version"),
        ("@v1.0.0", "no artifact name"),
        ("base@v1.0.0#2", "one '@' or one '#'"),
        ("", "it is empty"),
        ("bad/name@v1.0.0", "invalid artifact name"),
    ],
)
def test_a_malformed_requirement_is_refused_with_the_form_to_write(text: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_requirement(text)
    assert says in caught.value.message
    if "invalid artifact name" not in says:
        assert "requirement" in caught.value.message
        assert "NAME@vX.Y.Z" in str(caught.value.hint)


def test_requirements_are_sorted_and_one_version_per_name() -> None:
    assert requirements(["teacher@v1.0.0", "base@2.0.0"]) == (
        Requirement("base", "2.0.0"),
        Requirement("teacher", "1.0.0"),
    )
    assert requirements(["base@v1.0.0", "base@1.0.0"]) == (Requirement("base", "1.0.0"),)
    with pytest.raises(InputError, match="base is required twice"):
        requirements(["base@v1.0.0", "base@v1.1.0"])
    with pytest.raises(InputError, match="expected a list") as caught:
        requirements("base@v1.0.0")  # a string is not a list of one
    assert 'requires=["encoder@v1.2.0"]' in str(caught.value.hint)
    with pytest.raises(InputError, match="not text"):
        requirements([3])
    assert requirements(None) == () and requirements([]) == ()


# --- where they are recorded -------------------------------------------------------------------


def test_the_tag_message_carries_them_on_one_parsable_line() -> None:
    needs = requirements(["base@v1.0.0", "tok@v0.3.0"])
    message = tag_message("artreg: release", kind="production", requires=", ".join(map(str, needs)))
    assert "requires: base@v1.0.0, tok@v0.3.0" in message.splitlines()
    assert message_fields(message)["requires"] == "base@v1.0.0, tok@v0.3.0"
    (event,) = parse_for_each_ref(ref_line("adapter@v1.0.0", "a" * 40, 1, message))
    assert event.requires == needs
    # Nothing to require: no line at all, so gto's and older messages read as no requirements.
    assert "requires" not in tag_message("artreg: release", kind="production", requires="")


def test_a_hand_edited_requires_line_is_read_as_far_as_it_parses() -> None:
    message = tag_message("x", requires="base@v1.0.0, nonsense, tok@v2")
    (event,) = parse_for_each_ref(ref_line("a@v1.0.0", "a" * 40, 1, message))
    assert event.requires == (Requirement("base", "1.0.0"),)
    assert event.unreadable_requires == ("nonsense", "tok@v2")
    (plain,) = parse_for_each_ref(ref_line("a@v1.0.0", "a" * 40, 1, "gto's message"))
    assert plain.requires == () and plain.unreadable_requires == ()


def test_metadata_records_requirements_and_reads_them_back() -> None:
    metadata = Metadata(
        stage="production",
        name="student",
        id="v1.0.0",
        created_at="2026-01-01T00:00:00Z",
        created_by="Ann",
        source=Source("external", "student.onnx"),
        gates=[],
        model=ModelInfo([ModelFile.named("student.onnx", "0" * 64, 1)]),
        version="1.0.0",
        requires=requirements(["teacher@v1.0.0"]),
    )
    document = metadata.to_json()
    assert document["requires"] == [{"name": "teacher", "version": "1.0.0"}]
    assert Metadata.from_json(document) == metadata
    assert "requires" not in Metadata.from_json({**document, "requires": []}).to_json()


# --- the compatibility policy -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("required", "found", "exact", "same_major"),
    [
        ("1.2.0", "1.2.0", True, True),
        ("1.2.0", "1.2.1", False, True),
        ("1.2.0", "1.9.0", False, True),
        ("1.2.0", "1.1.9", False, False),  # below what it was made with
        ("1.2.0", "2.0.0", False, False),  # another major
        ("1.2.0", "0.9.0", False, False),
        ("1.2.0", "1.3.0-rc.1", False, False),  # a pre-release of another version
        ("1.2.0-rc.1", "1.2.0-rc.2", False, True),
        ("1.2.0-rc.1", "1.2.0", False, True),
        ("1.2.0", "1.2.0-rc.1", False, False),
    ],
)
def test_exact_and_same_major(required: str, found: str, exact: bool, same_major: bool) -> None:
    assert compatible(required, found, "exact") is exact
    assert compatible(required, found, "same-major") is same_major


def test_the_policy_defaults_to_exact_and_reads_params_yaml() -> None:
    assert settings_from({}).compatibility == "exact"
    assert settings_from(dict(DEFAULT_PARAMS)).compatibility == "exact"
    sections = {"requirements": {"compatibility": "same-major"}}
    assert settings_from(sections).compatibility == "same-major"


# --- resolution over one registry state -------------------------------------------------------

A, B, C, D, E = ("a" * 40, "b" * 40, "c" * 40, "d" * 40, "e" * 40)


def _release(name: str, version: str, commit: str, date: int, *needs: str) -> list[str]:
    """The two tags of a release by artreg, with its `requires:` line."""
    message = tag_message(
        f"artreg: release {name}",
        kind="production",
        folder=f"artifacts/production/{name}/v{version}",
        requires=", ".join(needs),
    )
    return [
        ref_line(f"{name}@v{version}", commit, date, message),
        ref_line(f"{name}#production#{date}", commit, date, message),
    ]


def _registry(*releases: list[str], extra: tuple[str, ...] = ()):
    return fold(parse_for_each_ref("".join(line for r in releases for line in r) + "".join(extra)))


def test_unmet_says_why_each_requirement_fails() -> None:
    registry = _registry(_release("base", "1.0.0", A, 10), _release("tok", "2.0.0", B, 11))
    needs = requirements(["base@v1.0.0", "tok@v1.0.0", "ghost@v1.0.0"])
    assert unmet(registry, requirements(["base@v1.0.0"]), "exact") == []
    found = {str(m.requirement): (m.found, m.why) for m in unmet(registry, needs, "exact")}
    assert found == {
        "ghost@v1.0.0": (None, "the registry has no artifact ghost"),
        "tok@v1.0.0": ("v2.0.0", "production holds v2.0.0, not compatible (exact)"),
    }
    assert [s.met for s in statuses(registry, needs, "exact")] == [True, False, False]
    # Under same-major, base@v1.0.0 is met by a later 1.x in production.
    registry = _registry(_release("base", "1.0.0", A, 10), _release("base", "1.4.0", B, 11))
    assert unmet(registry, requirements(["base@v1.0.0"]), "same-major") == []
    assert len(unmet(registry, requirements(["base@v1.0.0"]), "exact")) == 1


def test_unassigned_or_deprecated_requirements_are_not_in_production() -> None:
    base = _release("base", "1.0.0", A, 10)
    needs = requirements(["base@v1.0.0"])
    unassigned = _registry(base, extra=(ref_line("base#production!#3", A, 20, "unassign"),))
    assert unmet(unassigned, needs, "exact")[0].why == "base has nothing in production"
    deprecated = _registry(base, extra=(ref_line("base@deprecated#3", A, 20, "deprecate"),))
    assert unmet(deprecated, needs, "exact")[0].why == "base is deprecated"


def test_the_closure_is_transitive_and_shares_what_two_paths_need() -> None:
    registry = _registry(
        _release("tok", "1.0.0", A, 10),
        _release("base", "2.0.0", B, 11, "tok@v1.0.0"),
        _release("teacher", "1.0.0", C, 12, "tok@v1.0.0"),
        _release("adapter", "1.0.0", D, 13, "base@v2.0.0", "teacher@v1.0.0"),
    )
    adapter = registry.get("adapter").stage("production")
    assert adapter is not None
    found = closure(registry, "adapter", adapter.requires("production"), "exact")
    assert {n: v.version for n, v in found.items()} == {
        "base": "2.0.0",
        "tok": "1.0.0",
        "teacher": "1.0.0",
    }
    assert closure(registry, "tok", (), "exact") == {}


def test_a_cycle_is_named_from_where_it_closes() -> None:
    # a requires b, b requires c, c requires b: made by hand (artreg refuses to release it).
    registry = _registry(
        _release("c", "1.0.0", A, 10, "b@v1.0.0"),
        _release("b", "1.0.0", B, 11, "c@v1.0.0"),
        _release("a", "1.0.0", C, 12, "b@v1.0.0"),
    )
    with pytest.raises(RequirementUnmet) as caught:
        closure(registry, "a", requirements(["b@v1.0.0"]), "exact")
    assert caught.value.message == "requirements form a cycle: b → c → b (reached from a)"
    assert caught.value.exit_code == 1
    # Releasing b v2 requiring a, while a requires b: the cycle runs through the release.
    with pytest.raises(RequirementUnmet, match=r"cycle: b → a → b"):
        closure(registry, "b", requirements(["a@v1.0.0"]), "exact")


def test_an_unmet_requirement_deep_in_the_closure_is_named() -> None:
    registry = _registry(
        _release("tok", "1.0.0", A, 10),
        _release("base", "1.0.0", B, 11, "tok@v1.0.0"),
        extra=(ref_line("tok@v1.0.0!#9", A, 20, "deregister"),),
    )
    with pytest.raises(RequirementUnmet, match=r"base requires tok@v1\.0\.0: tok has nothing"):
        closure(registry, "adapter", requirements(["base@v1.0.0"]), "exact")


def test_broken_and_newly_broken_name_the_dependants() -> None:
    releases = (
        _release("base", "1.0.0", A, 10),
        _release("adapter", "1.0.0", B, 11, "base@v1.0.0"),
        _release("other", "1.0.0", C, 12),
    )
    before = _registry(*releases)
    assert broken(before, "exact") == []
    after = _registry(*releases, extra=(ref_line("base#production!#5", A, 30, "unassign"),))
    (problem,) = newly_broken(before, after, "exact")
    assert str(problem) == (
        "adapter v1.0.0 (production) requires base@v1.0.0: base has nothing in production"
    )
    # Retiring what nobody requires breaks nothing; what was broken already is not news.
    quiet = _registry(*releases, extra=(ref_line("other@deprecated#5", C, 30, "deprecate"),))
    assert newly_broken(before, quiet, "exact") == []
    worse = _registry(
        *releases, extra=(ref_line("base#production!#5", A, 30, ""), ref_line("x@v1.0.0", E, 31))
    )
    assert newly_broken(after, worse, "exact") == []


def test_a_chain_deeper_than_pythons_stack_resolves() -> None:
    depth = 2 * sys.getrecursionlimit()
    registry = _registry(
        *(
            _release(f"m{i}", "1.0.0", f"{i:040x}", i, *([f"m{i - 1}@v1.0.0"] if i else []))
            for i in range(depth)
        )
    )
    top = f"m{depth - 1}"
    found = closure(registry, top, requirements([f"m{depth - 2}@v1.0.0"]), "exact")
    assert len(found) == depth - 1 and "m0" in found


def test_the_way_out_of_an_unmet_requirement_names_only_releases_that_can_be_made() -> None:
    tags = [ref_line("base@v1.0.0", "a" * 40, 1), ref_line("base#production#1", "a" * 40, 2)]
    registry = fold(parse_for_each_ref("".join(tags)))
    assert way_out(registry, Requirement("base", "2.0.0"), "exact", "adapter") == (
        "release base@v2.0.0 to production, or release adapter without that requirement"
    )
    released = Requirement("base", "1.0.0")  # released once: never released again
    assert way_out(registry, released, "exact", "adapter") == (
        "release adapter without that requirement"
    )
    assert way_out(registry, released, "same-major", "adapter") == (
        "release a newer base version compatible with v1.0.0 (same-major) to production, "
        "or release adapter without that requirement"
    )
    deprecated = fold(
        parse_for_each_ref("".join([*tags, ref_line("base@deprecated", "a" * 40, 3)]))
    )
    assert way_out(deprecated, Requirement("base", "2.0.0"), "same-major", "adapter") == (
        "release adapter without that requirement"
    )
