"""Dependencies between artifacts: a LoRA adapter that needs its base model in production, a
distilled student that records its teacher, the compatibility policy, what consumers get, and
what retiring a required model does. Real safetensors files, git, DVC; gto as the oracle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from artreg import GateFailed, IntegrityError, RequirementUnmet, get_artifact_path
from artreg.api import register_artifact
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import (
    EXAMPLES,
    RELEASE_ARGS,
    RELEASE_INPUTS,
    flip_byte,
    git,
    release,
    run_tool,
    snapshot,
    tiny_safetensors,
)

BASE = {"embed.weight": (32, 16), "proj.weight": (16, 16)}
LORA = {"proj.lora_A.weight": (4, 16), "proj.lora_B.weight": (16, 4)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def release_base(root: Path, tmp_path: Path, version: str = "1.0.0", seed: int = 0) -> Path:
    """A base model released as a ready safetensors file; returns the file released."""
    model = tiny_safetensors(tmp_path / f"base-{version}" / "base.safetensors", seed, BASE)
    register_artifact("base", model, version, repo=root, **RELEASE_INPUTS)
    return model


@pytest.fixture
def adapter(registry: Path, tmp_path: Path) -> tuple[str, Path]:
    """A LoRA adapter trained against base v1.0.0: registered raw and validated, recording its
    base. Returns the validated id and the adapter file."""
    weights = tiny_safetensors(tmp_path / "lora-run" / "adapter.safetensors", 1, LORA)
    register_raw(registry, "adapter", "run1", weights.parent)
    validated = promote_to_validated(
        registry,
        "adapter",
        "run1",
        "adapter",
        EXAMPLES / "validation_results.json",
        requires=["base@v1.0.0"],
    )
    return validated.id, weights


def _tag_message(root: Path, tag: str) -> list[str]:
    return git(root, "tag", "-l", "--format=%(contents)", tag).splitlines()


def test_an_adapter_is_refused_until_its_base_model_is_in_production(
    registry: Path, tmp_path: Path, adapter: tuple[str, Path], cli
) -> None:
    vid, _ = adapter
    promote = ("promote", "adapter", vid, "--to", "production", "--version", "1.0.0", *RELEASE_ARGS)
    before = snapshot(registry)
    refused = cli(*promote, cwd=registry)
    assert refused.exit_code == 1, refused.stderr
    assert "gate failed" in refused.stderr
    assert "base@v1.0.0: the registry has no artifact base" in refused.stderr
    assert "fix: release base@v1.0.0 to production, or release adapter without that" in (
        refused.stderr
    )
    assert "| requires base | nothing in production | exact v1.0.0 | ❌ FAIL" in refused.stderr
    assert snapshot(registry) == before

    release_base(registry, tmp_path)
    accepted = cli(*promote, cwd=registry)
    assert accepted.exit_code == 0, accepted.stderr
    # What the validated adapter recorded is carried to its release: metadata and both tags.
    folder = registry / "artifacts/production/adapter/v1.0.0"
    assert json.loads((folder / "metadata.json").read_text())["requires"] == [
        {"name": "base", "version": "1.0.0"}
    ]
    for tag in ("adapter@v1.0.0", "adapter#production#3"):
        assert "requires: base@v1.0.0" in _tag_message(registry, tag), tag
    assert "requires: base@v1.0.0" in git(registry, "log", "-1", "--format=%B").splitlines()
    # gto reads our tags as it always did: the requires line is one more line of the message.
    shown = json.loads(run_tool("gto", "show", "--json", cwd=registry).stdout)
    assert shown["adapter"]["version"] == "v1.0.0"
    assert shown["adapter"]["stage"]["production"] == "v1.0.0"
    assert shown["base"]["stage"]["production"] == "v1.0.0"
    ref = json.loads(run_tool("gto", "check-ref", "adapter@v1.0.0", "--json", cwd=registry).stdout)
    assert (ref["event"], ref["version"]) == ("registration", "v1.0.0")
    assert ref["commit_hexsha"] == git(registry, "rev-parse", "adapter@v1.0.0^{commit}").strip()
    assert "requires: base@v1.0.0" in ref["message"].splitlines()
    verified = cli("verify", cwd=registry)
    assert verified.exit_code == 0, verified.stderr


def test_register_artifact_refuses_the_same_way(registry: Path, tmp_path: Path) -> None:
    weights = tiny_safetensors(tmp_path / "adapter.safetensors", 1, LORA)
    before = snapshot(registry)
    with pytest.raises(GateFailed, match=r"base@v1\.0\.0: the registry has no artifact base"):
        register_artifact(
            "adapter", weights, "1.0.0", repo=registry, requires=["base@v1.0.0"], **RELEASE_INPUTS
        )
    assert snapshot(registry) == before
    release_base(registry, tmp_path)
    register_artifact(
        "adapter", weights, "1.0.0", repo=registry, requires=["base@v1.0.0"], **RELEASE_INPUTS
    )
    assert "requires: base@v1.0.0" in _tag_message(registry, "adapter@v1.0.0")


@pytest.mark.parametrize(
    ("requires", "says", "fix"),
    [
        ("base", "malformed requirement 'base': it names no version", "NAME@vX.Y.Z"),
        ("base#production", "it names no version", "NAME@vX.Y.Z"),
        ("base@v1", "'v1' is not a semantic version", "NAME@vX.Y.Z"),
        ("adapter@v0.9.0", "adapter cannot require a version of itself", "the other artifacts"),
    ],
)
def test_a_bad_requirement_is_bad_input_and_changes_nothing(
    registry: Path, adapter: tuple[str, Path], requires: str, says: str, fix: str, cli
) -> None:
    vid, _ = adapter
    before = snapshot(registry)
    for promote in (
        ("promote", "adapter", vid, "--to", "production", "--version", "1.0.0", *RELEASE_ARGS),
        ("promote", "adapter", "run1", "--to", "validated", "--checkpoint", "adapter"),
    ):
        promote += ("--results", str(EXAMPLES / "validation_results.json"), "--id", "again")
        result = cli(*promote, "--requires", requires, cwd=registry)
        assert result.exit_code == 2, result.stderr
        assert says in result.stderr and fix in result.stderr
        assert snapshot(registry) == before


def test_with_requirements_returns_the_adapter_and_its_base_verified(
    registry: Path, tmp_path: Path, adapter: tuple[str, Path], cli
) -> None:
    vid, weights = adapter
    base = release_base(registry, tmp_path)
    promote_to_production(registry, "adapter", vid, "1.0.0", **RELEASE_INPUTS)

    paths = get_artifact_path("adapter", repo=registry, with_requirements=True)
    assert set(paths) == {"adapter", "base"}
    assert paths["adapter"] == get_artifact_path("adapter", repo=registry)
    assert sha256(paths["adapter"]) == sha256(weights)
    assert sha256(paths["base"]) == sha256(base)
    from safetensors.numpy import load_file

    assert set(load_file(paths["adapter"])) == set(LORA)  # a real adapter, not just bytes
    assert set(load_file(paths["base"])) == set(BASE)

    out = tmp_path / "serving"
    got = cli("get", "adapter", "--with-requirements", "-o", str(out), "--json", cwd=registry)
    assert got.exit_code == 0, got.stderr
    written = {entry["name"]: entry["written"] for entry in got.json()}
    assert written == {
        "adapter": [str(out / "adapter" / "model.safetensors")],
        "base": [str(out / "base" / "base.safetensors")],
    }
    assert sha256(out / "adapter" / "model.safetensors") == sha256(weights)
    assert sha256(out / "base" / "base.safetensors") == sha256(base)
    pulled = cli("pull", "adapter", "--with-requirements", "--json", cwd=registry)
    assert pulled.exit_code == 0, pulled.stderr
    assert [entry["verified"] > 0 for entry in pulled.json()] == [True, True]

    # Every path handed out is verified: a flipped byte in the base refuses the adapter's call.
    flip_byte(paths["base"])
    with pytest.raises(IntegrityError, match=r"base\.safetensors"):
        get_artifact_path("adapter", repo=registry, with_requirements=True, pull=False)
    assert get_artifact_path("adapter", repo=registry, pull=False) == paths["adapter"]


def test_a_distilled_student_records_its_teacher(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "teacher", "s1", checkpoint_dir, "1.0.0")
    base = git(registry, "rev-parse", "HEAD").strip()
    student = tiny_safetensors(tmp_path / "threat_student_v1.safetensors", 3, {"fc": (4, 8)})
    register_artifact(
        "student", student, "1.0.0", repo=registry, requires=["teacher@v1.0.0"], **RELEASE_INPUTS
    )
    folder = registry / "artifacts/production/student/v1.0.0"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["requires"] == [{"name": "teacher", "version": "1.0.0"}]
    assert "Requires `teacher@v1.0.0` in production." in (folder / "README.md").read_text()
    assert "- Requires: `teacher@v1.0.0`" in (folder / "CHANGELOG.md").read_text()
    assert "requires: teacher@v1.0.0" in _tag_message(registry, "student@v1.0.0")

    shown = cli("show", "student", "--json", cwd=registry)
    assert shown.json()["student"]["stages"]["production"]["requires"] == ["teacher@v1.0.0"]
    text = cli("show", "student", cwd=registry).stdout
    assert "requires" in text and "teacher@v1.0.0" in text
    one = cli("show", "student@v1.0.0", "--json", cwd=registry)
    assert one.json()["requires"] == ["teacher@v1.0.0"]
    assert "requires: teacher@v1.0.0" in cli("show", "student@v1.0.0", cwd=registry).stdout
    assert (
        "requires"
        not in cli("list", "--json", cwd=registry).json()["teacher"]["stages"]["production"]
    )

    lineage = cli("lineage", "student@v1.0.0", cwd=registry)
    assert "requires teacher@v1.0.0" in lineage.stdout
    assert cli("lineage", "student@v1.0.0", "--json", cwd=registry).json()[0]["requires"] == [
        "teacher@v1.0.0"
    ]
    summary = cli("summary", "--base", base, cwd=registry).stdout
    assert "### Requires" in summary
    assert "| `teacher@v1.0.0` | ✅ production holds v1.0.0 |" in summary


def test_same_major_accepts_a_later_base_that_exact_refuses(
    registry: Path, tmp_path: Path, adapter: tuple[str, Path], cli
) -> None:
    vid, _ = adapter
    release_base(registry, tmp_path, "1.0.0", seed=0)
    newer = release_base(registry, tmp_path, "1.1.0", seed=1)
    before = snapshot(registry)
    with pytest.raises(GateFailed) as refused:
        promote_to_production(registry, "adapter", vid, "1.0.0", **RELEASE_INPUTS)
    assert "production holds v1.1.0, not compatible (exact)" in refused.value.message
    assert "requirements.compatibility: exact" in str(refused.value.hint)
    assert snapshot(registry) == before

    params = registry / "params.yaml"
    params.write_text(params.read_text() + "requirements:\n  compatibility: same-major\n")
    git(registry, "commit", "--quiet", "-am", "adapters may run on a later minor of their base")
    promote_to_production(registry, "adapter", vid, "1.0.0", **RELEASE_INPUTS)
    paths = get_artifact_path("adapter", repo=registry, with_requirements=True)
    assert sha256(paths["base"]) == sha256(newer)  # the production base, v1.1.0

    # A new major is not the same major: verify reports the adapter's broken requirement.
    release_base(registry, tmp_path, "2.0.0", seed=2)
    verified = cli("verify", cwd=registry)
    assert verified.exit_code == 1
    assert (
        "adapter v1.0.0 (production) requires base@v1.0.0: production holds v2.0.0, "
        "not compatible (same-major)"
    ) in verified.stderr
    with pytest.raises(RequirementUnmet, match="not compatible"):
        get_artifact_path("adapter", repo=registry, with_requirements=True)


@pytest.mark.parametrize(
    ("command", "spec", "why"),
    [
        ("deprecate", "base", "base is deprecated"),
        ("deprecate", "base@v1.0.0", "base has nothing in production"),
        ("unassign", "base#production", "base has nothing in production"),
    ],
)
def test_retiring_the_base_warns_naming_the_adapter_and_verify_reports_it(
    registry: Path,
    tmp_path: Path,
    adapter: tuple[str, Path],
    command: str,
    spec: str,
    why: str,
    cli,
) -> None:
    vid, _ = adapter
    release_base(registry, tmp_path)
    promote_to_production(registry, "adapter", vid, "1.0.0", **RELEASE_INPUTS)
    assert cli("verify", cwd=registry).exit_code == 0

    done = cli(command, spec, "--json", cwd=registry)
    assert done.exit_code == 0, done.stderr  # retiring stays possible; it warns
    warning = f"adapter v1.0.0 in production requires base@v1.0.0, which {done.json()['tag']}"
    assert f"artreg: warning: {warning}" in done.stderr
    assert why in done.stderr
    assert done.json()["warnings"] == [done.stderr.split("artreg: warning: ", 1)[1].strip()]

    verified = cli("verify", cwd=registry)
    assert verified.exit_code == 1
    assert f"adapter v1.0.0 (production) requires base@v1.0.0: {why}" in verified.stderr
    # Each way out can be taken: base v1.0.0 was released once and is never released again,
    # and under the `exact` rule no other base version will do.
    for said in (done.stderr, verified.stderr):
        assert "; release adapter without that requirement\n" in said, said
        assert "release base" not in said and "compatible base" not in said
    with pytest.raises(RequirementUnmet) as unmet:
        get_artifact_path("adapter", repo=registry, with_requirements=True)
    assert unmet.value.hint == "release adapter without that requirement"


def test_retiring_what_nothing_requires_warns_nothing(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    done = cli("unassign", "encoder#production", cwd=registry)
    assert done.exit_code == 0 and "warning" not in done.stderr


def test_a_release_that_would_close_a_cycle_is_refused(
    registry: Path, tmp_path: Path, adapter: tuple[str, Path]
) -> None:
    vid, _ = adapter
    release_base(registry, tmp_path)
    promote_to_production(registry, "adapter", vid, "1.0.0", **RELEASE_INPUTS)
    newer = tiny_safetensors(tmp_path / "base-1.1.0.safetensors", 5, BASE)
    before = snapshot(registry)
    with pytest.raises(RequirementUnmet) as refused:
        register_artifact(
            "base", newer, "1.1.0", repo=registry, requires=["adapter@v1.0.0"], **RELEASE_INPUTS
        )
    assert refused.value.exit_code == 1
    assert refused.value.message == "requirements form a cycle: base → adapter → base"
    assert snapshot(registry) == before


def test_a_release_merged_from_a_pull_request_keeps_its_requirements(
    registry: Path, tmp_path: Path, adapter: tuple[str, Path], cli
) -> None:
    vid, _ = adapter
    release_base(registry, tmp_path)
    promote = ("promote", "adapter", vid, "--to", "production", "--version", "1.0.0", *RELEASE_ARGS)
    branched = cli(*promote, "--branch", "release/adapter", cwd=registry)
    assert branched.exit_code == 0, branched.stderr
    git(registry, "switch", "--quiet", "main")
    git(registry, "merge", "--quiet", "--no-ff", "-m", "Merge release/adapter", "release/adapter")
    tagged = cli("tag", "--json", cwd=registry)
    assert tagged.exit_code == 0, tagged.stderr
    assert "adapter@v1.0.0" in tagged.json()["created"]
    assert "requires: base@v1.0.0" in _tag_message(registry, "adapter@v1.0.0")
    shown = cli("show", "adapter", "--json", cwd=registry).json()["adapter"]["stages"]
    assert shown["production"]["requires"] == ["base@v1.0.0"]


def test_the_site_links_an_adapter_to_its_base_and_the_base_to_its_dependants(
    registry: Path, tmp_path: Path, adapter: tuple[str, Path]
) -> None:
    from artreg.present.site.build import build_site

    release_base(registry, tmp_path)
    promote_to_production(registry, "adapter", adapter[0], "0.1.0", **RELEASE_INPUTS)
    out = tmp_path / "site"
    build_site(registry, out, workers=1)

    release_page = (out / "models/adapter/releases/v0.1.0.html").read_text()
    link = '<a href="../../../models/base/releases/v1.0.0.html">base@v1.0.0</a>'
    assert f"<dt>Requires</dt><dd>{link} (met: production holds v1.0.0)</dd>" in release_page
    adapter_page = (out / "models/adapter/index.html").read_text()
    assert "What each release requires" in adapter_page
    assert '<a href="../../models/base/releases/v1.0.0.html">base@v1.0.0</a>' in adapter_page
    base_page = (out / "models/base/index.html").read_text()
    assert "Required by" in base_page
    assert '<a href="../../models/adapter/releases/v0.1.0.html">adapter v0.1.0</a>' in base_page
    assert (out / "models/base/releases/v1.0.0.html").is_file()  # every link has its page

    # once the base leaves production, the adapter's page says the requirement is not met
    run_tool("artreg", "deprecate", "base", cwd=registry)
    build_site(registry, out, workers=1)
    assert "base@v1.0.0</a> (not met: " in (out / "models/adapter/index.html").read_text()
