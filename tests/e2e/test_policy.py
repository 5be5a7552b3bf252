"""The promotion policy has no side doors: gates come from the committed params.yaml, every path
to production (promote, register_artifact) applies the same release policy, values from Python
are made plain or refused by field, and the seeds' calls work as written.

Every refusal asserts the exit code, a message naming the field or keyword and the fix, and an
unchanged repository.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from artreg import (
    ArtifactRepository,
    GateFailed,
    InputError,
    load_registry,
    register_artifact,
    save_registry,
)
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, git, snapshot
from helpers.modelfiles import write_onnx

RESULTS = json.loads((EXAMPLES / "validation_results.json").read_text())
BENCHMARKS = json.loads((EXAMPLES / "benchmarks.json").read_text())
USAGE = json.loads((EXAMPLES / "resource_usage.json").read_text())


def edit_params(root: Path, change, commit: str | None = None) -> None:
    """Apply `change` to params.yaml's data; commit it with message `commit` if given."""
    path = root / "params.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if commit:
        git(root, "commit", "--quiet", "-m", commit, "--", "params.yaml")


def loosen_coverage(data: dict) -> None:
    data["gates"]["validated"]["coverage"]["threshold"] = 0.5


def loosen_latency(data: dict) -> None:
    data["gates"]["production"]["latency_p95_ms"]["threshold"] = 1000


def nothing_required(data: dict) -> None:
    data["gates"]["production"] = {}
    data["artreg"]["require_approval"] = False


def metadata(root: Path, folder: str) -> dict:
    return json.loads((root / folder / "metadata.json").read_text())


@pytest.fixture
def session(registry: Path, checkpoint_dir: Path) -> Path:
    """A registry holding raw session s1 of `encoder`."""
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    return registry


@pytest.fixture
def validated(session: Path) -> str:
    """`encoder` promoted to validated from s1's best checkpoint; returns the validated id."""
    return promote_to_validated(session, "encoder", "s1", "best", dict(RESULTS)).id


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A ready model file outside the registry, as a distillation job leaves it."""
    out = tmp_path / "distill-out"
    out.mkdir()
    path = out / "threat_student_v1.onnx"
    return write_onnx(path)


# --- 11. gates come from the committed params.yaml -------------------------------------------


def _validate_cli(tmp_path: Path, coverage: float) -> list[str]:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({**RESULTS, "coverage": coverage}))
    return [
        *("promote", "encoder", "s1", "--to", "validated", "--checkpoint", "best"),
        *("--results", str(path)),
    ]


def _release_cli(tmp_path: Path, latency: float) -> list[str]:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({**BENCHMARKS, "latency_p95_ms": latency}))
    return [
        "promote",
        "encoder",
        "s1_best_validated",
        "--to",
        "production",
        "--version",
        "1.0.0",
        "--benchmarks",
        str(path),
        "--resources",
        str(EXAMPLES / "resource_usage.json"),
        "--approved-by",
        "rm",
    ]


@pytest.mark.parametrize(
    ("stage", "loosen", "args", "field"),
    [
        (
            "validated",
            loosen_coverage,
            lambda tmp: _validate_cli(tmp, 0.6),
            "/gates/validated/coverage/threshold",
        ),
        (
            "production",
            loosen_latency,
            lambda tmp: _release_cli(tmp, 500.0),
            "/gates/production/latency_p95_ms/threshold",
        ),
    ],
)
def test_a_loosened_uncommitted_gate_is_refused(
    stage: str, loosen, args, field: str, session: Path, tmp_path: Path, cli
) -> None:
    if stage == "production":
        promote_to_validated(session, "encoder", "s1", "best", dict(RESULTS))
    edit_params(session, loosen)
    before = snapshot(session)

    result = cli(*args(tmp_path), cwd=session)

    assert result.exit_code == 2, result.stderr
    assert "params.yaml: artreg's settings and gates are edited and not committed" in result.stderr
    assert field in result.stderr
    assert "commit params.yaml first, so the gates you promote against are reviewed" in (
        result.stderr
    )
    assert snapshot(session) == before


def test_a_deleted_params_yaml_is_refused_not_replaced_by_defaults(
    session: Path, tmp_path: Path, cli
) -> None:
    edit_params(session, nothing_required, commit="this registry releases without gates")
    promote_to_validated(session, "encoder", "s1", "best", dict(RESULTS))
    (session / "params.yaml").unlink()  # the defaults would demand benchmarks and approval
    before = snapshot(session)

    result = cli(
        "promote",
        *("encoder", "s1_best_validated", "--to", "production", "--version", "1.0.0"),
        cwd=session,
    )

    assert result.exit_code == 2, result.stderr
    assert "params.yaml: artreg's settings and gates were deleted from the work tree" in (
        result.stderr
    )
    assert "git checkout HEAD -- params.yaml" in result.stderr
    assert snapshot(session) == before


def test_an_untracked_new_params_yaml_is_refused(session: Path, tmp_path: Path, cli) -> None:
    git(session, "rm", "--quiet", "params.yaml")
    git(session, "commit", "--quiet", "-m", "registry without params.yaml: artreg's defaults")
    (session / "params.yaml").write_text(
        "gates:\n  validated:\n    coverage: {op: '>=', threshold: 0.1}\n"
    )
    before = snapshot(session)

    result = cli(*_validate_cli(tmp_path, 0.2), cwd=session)

    assert result.exit_code == 2, result.stderr
    assert "are new and not committed" in result.stderr
    assert "/gates" in result.stderr and "remove the file" in result.stderr
    assert snapshot(session) == before


def test_the_users_own_keys_in_params_yaml_may_change_freely(session: Path) -> None:
    path = session / "params.yaml"
    path.write_text(path.read_text() + "train:\n  lr: 0.2\n")  # a DVC pipeline's parameter
    published = promote_to_validated(session, "encoder", "s1", "best", dict(RESULTS))
    assert published.tags == ["encoder#validated#2"]


def test_committed_gates_are_used_and_recorded_with_their_commit(
    session: Path, tmp_path: Path, cli
) -> None:
    edit_params(session, loosen_coverage, commit="coverage gate 0.5 for this model family")
    head = git(session, "rev-parse", "HEAD").strip()

    result = cli(*_validate_cli(tmp_path, 0.6), "--json", cwd=session)

    assert result.exit_code == 0, result.stderr
    gates = metadata(session, result.json()["folder"])["gates"]
    assert gates["params_commit"] == head
    coverage = next(g for g in gates["results"] if g["metric"] == "coverage")
    assert (coverage["threshold"], coverage["value"], coverage["passed"]) == (0.5, 0.6, True)
    assert cli("verify", cwd=session).exit_code == 0


def test_verify_keeps_old_promotions_valid_when_gates_tighten_later(
    session: Path, validated: str, cli
) -> None:
    def tighten(data: dict) -> None:
        data["gates"]["validated"]["coverage"]["threshold"] = 0.99  # the promotion had 0.97

    edit_params(session, tighten, commit="stricter coverage from now on")
    result = cli("verify", cwd=session)
    assert result.exit_code == 0, result.stderr


def test_verify_follows_a_rebased_promotion_to_the_gates_it_was_checked_against(
    session: Path, tmp_path: Path, cli
) -> None:
    """A promotion branch rebased onto a main whose gates tightened meanwhile stays valid: the
    gates it passed are those of its recorded params commit, which is in its history."""
    result = cli(*_validate_cli(tmp_path, 0.97), "--branch", "promote-pr", cwd=session)
    assert result.exit_code == 0, result.stderr
    git(session, "switch", "--quiet", "main")

    def tighten(data: dict) -> None:
        data["gates"]["validated"]["coverage"]["threshold"] = 0.99

    edit_params(session, tighten, commit="stricter coverage from now on")
    git(session, "switch", "--quiet", "promote-pr")
    git(session, "rebase", "--quiet", "main")
    git(session, "switch", "--quiet", "main")
    git(session, "merge", "--quiet", "--ff-only", "promote-pr")
    assert cli("tag", cwd=session).exit_code == 0

    result = cli("verify", cwd=session)

    assert result.exit_code == 0, result.stdout + result.stderr


def test_verify_catches_a_promotion_made_against_gates_main_never_committed(
    session: Path, tmp_path: Path, cli
) -> None:
    """The side door: a release branch loosens the gate, promotes there, and only the promotion
    commit is cherry-picked to main. The gate it passed was never committed on main."""
    git(session, "switch", "--quiet", "-c", "loose")
    edit_params(session, loosen_coverage, commit="loosen coverage (never merged)")
    result = cli(*_validate_cli(tmp_path, 0.6), "--branch", "release-pr", cwd=session)
    assert result.exit_code == 0, result.stderr
    promotion = git(session, "rev-parse", "release-pr").strip()
    git(session, "switch", "--quiet", "main")
    git(session, "cherry-pick", "--quiet", promotion)
    picked = git(session, "rev-parse", "HEAD").strip()
    assert cli("tag", cwd=session).exit_code == 0  # commits dvc.yaml and registry.json on it

    result = cli("verify", cwd=session)

    assert result.exit_code == 1, result.stdout + result.stderr
    head = picked  # the gates are read where the folder was created: the cherry-pick
    assert (
        "artifacts/validated/encoder/s1_best_validated/metadata.json: gate coverage is recorded "
        f"as >= 0.5, but params.yaml@{head[:12]} says >= 0.95: it was promoted against gates "
        "nobody committed"
    ) in result.stderr


# --- 12. register_artifact applies the release policy ------------------------------------------


def test_register_artifact_without_benchmarks_names_the_keyword(
    registry: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(model_file.parent)
    monkeypatch.setenv("ARTREG_REPO", str(registry))
    monkeypatch.setenv("ARTREG_APPROVED_BY", "Release Manager <rm@example.com>")
    before = snapshot(registry)

    with pytest.raises(GateFailed) as caught:
        register_artifact("distill", Path("threat_student_v1.onnx"), "1.0.0")  # the seed's call

    error = caught.value
    assert error.exit_code == 1
    assert "3 of 3 production gates of params.yaml@" in str(error)
    assert "latency_p95_ms, throughput_rps, peak_memory_mb missing: pass benchmarks=" in str(error)
    assert "resource_usage=" in str(error)
    assert "approved_by" not in str(error)  # given through ARTREG_APPROVED_BY
    assert snapshot(registry) == before


@pytest.mark.parametrize(
    ("change", "kwargs", "error_class", "words"),
    [
        (None, {**RELEASE_INPUTS, "approved_by": None}, InputError, ["approved_by='Name <email>'"]),
        (None, {**RELEASE_INPUTS, "approved_by": "  "}, InputError, ["approved_by="]),
        (
            lambda d: d["artreg"].update(require_security_review=True),
            dict(RELEASE_INPUTS),
            InputError,
            ["artreg.require_security_review", "security_review=FILE_OR_DICT"],
        ),
        (
            None,
            {**RELEASE_INPUTS, "benchmarks": {**BENCHMARKS, "latency_p95_ms": 500.0}},
            GateFailed,
            ["latency_p95_ms=500.0 (needs <= 100)", "reviewed commit of params.yaml"],
        ),
        (
            None,
            {"approved_by": None},
            GateFailed,
            ["pass benchmarks=", "pass approved_by="],  # everything missing, said at once
        ),
    ],
    ids=["no approval", "blank approval", "security review", "failing number", "nothing"],
)
def test_register_artifact_refusals_name_the_keyword_and_change_nothing(
    change, kwargs, error_class, words, registry: Path, model_file: Path
) -> None:
    if change:
        edit_params(registry, change, commit="policy change")
    before = snapshot(registry)

    with pytest.raises(error_class) as caught:
        register_artifact("distill", model_file, "1.0.0", repo=registry, **kwargs)

    assert caught.value.exit_code == (1 if error_class is GateFailed else 2)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))
    assert snapshot(registry) == before


def test_register_artifact_records_the_same_policy_as_a_promotion(
    registry: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTREG_APPROVED_BY", "ci-approver")
    edit_params(registry, lambda d: d["artreg"].update(require_security_review=True), "review")
    head = git(registry, "rev-parse", "HEAD").strip()

    index = register_artifact(
        "distill",
        model_file,
        "1.0.0",
        repo=registry,
        benchmarks={**BENCHMARKS, "latency_p95_ms": np.float64(22.5)},
        resource_usage={"peak_memory_mb": torch.tensor(300)},
        security_review={"reviewer": "sec-team", "passed": True},
    )

    assert index["distill"]["version"] == "1.0.0"
    folder = registry / "artifacts/production/distill/v1.0.0"
    meta = metadata(registry, "artifacts/production/distill/v1.0.0")
    assert meta["approval"]["approved_by"] == "ci-approver"
    assert meta["security_review"] == {"reviewer": "sec-team", "passed": True}
    assert meta["gates"]["params_commit"] == head
    assert {g["metric"]: g["value"] for g in meta["gates"]["results"]} == {
        "latency_p95_ms": 22.5,
        "throughput_rps": 240.0,
        "peak_memory_mb": 300,
    }
    assert json.loads((folder / "performance/resource_usage.json").read_text()) == {
        "peak_memory_mb": 300
    }
    assert (folder / "security_review.json").is_file()
    assert git(registry, "status", "--porcelain") == ""


def test_register_artifact_as_the_seed_writes_it_when_params_require_nothing(
    registry: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_params(registry, nothing_required, commit="this hub releases without gates")
    monkeypatch.chdir(model_file.parent)
    monkeypatch.setenv("ARTREG_REPO", str(registry))

    index = register_artifact("distill", Path("threat_student_v1.onnx"), "1.0.0")

    assert index["distill"]["version"] == "1.0.0"
    approval = metadata(registry, "artifacts/production/distill/v1.0.0")["approval"]
    assert approval["approved_by"].startswith("not required (params.yaml@")


@pytest.mark.parametrize("path", ["promote --to production", "register_artifact"])
def test_every_path_to_production_refuses_a_lower_version_alike(
    path: str, session: Path, validated: str, model_file: Path
) -> None:
    promote_to_production(session, "encoder", validated, "2.0.0", **RELEASE_INPUTS)
    before = snapshot(session)
    with pytest.raises(
        InputError, match=r"version 1\.5\.0 is lower than the latest release v2\.0\.0"
    ):
        if path == "register_artifact":
            register_artifact("encoder", model_file, "1.5.0", repo=session, **RELEASE_INPUTS)
        else:
            promote_to_production(session, "encoder", validated, "1.5.0", **RELEASE_INPUTS)
    assert snapshot(session) == before


# --- 16. values from Python --------------------------------------------------------------------


def test_numpy_and_torch_scalars_are_numbers_everywhere(
    session: Path, checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(session)
    repo = ArtifactRepository("artifacts", name="encoder")
    raw = repo.register_training_session(
        session_id="s2",
        checkpoint_dir=checkpoint_dir,
        config={"lr": np.float32(0.5), "layers": (np.int64(2), 4)},
        metrics={"best_val_loss": torch.tensor(0.375), "coverage": np.float64(0.99)},
    )
    stored = json.loads((session / raw.folder / "metrics/training_metrics.json").read_text())
    assert stored == {"best_val_loss": 0.375, "coverage": 0.99}
    assert yaml.safe_load((session / raw.folder / "config.yaml").read_text()) == {
        "lr": 0.5,
        "layers": [2, 4],
    }
    val = repo.promote_to_validated(
        session_id="s2",
        checkpoint_name="best",
        validation_results={**RESULTS, "coverage": np.float64(0.99)},
    )
    coverage = next(g.as_dict() for g in val.gates or [] if g.metric == "coverage")
    assert coverage == {
        "metric": "coverage",
        "op": ">=",
        "threshold": 0.95,
        "value": 0.99,
        "passed": True,
    }
    release = repo.promote_to_production(
        validated_id=val.id,
        version="1.0.0",
        deployment_config={"port": np.int64(9000)},
        benchmarks={**BENCHMARKS, "throughput_rps": np.float32(300)},
        resource_usage=dict(USAGE),
        approved_by="rm",
    )
    assert "EXPOSE 9000" in (session / release.folder / "deployment/docker/Dockerfile").read_text()


@pytest.mark.parametrize(
    ("call", "pointer", "fix"),
    [
        (
            lambda repo, ck: repo.register_training_session(
                "s2", ck, metrics={"coverage": float("nan")}
            ),
            "/metrics/coverage",
            "finite number",
        ),
        (
            lambda repo, ck: repo.register_training_session("s2", ck, config={"tags": {"a", "b"}}),
            "/config/tags",
            "sorted(",
        ),
        (
            lambda repo, ck: repo.promote_to_validated(
                "s1", "best", {**RESULTS, "coverage": torch.tensor([0.97, 0.98])}, validated_id="v2"
            ),
            "/validation_results/coverage",
            ".tolist()",
        ),
        (
            lambda repo, ck: repo.promote_to_validated(
                "s1", "best", {**RESULTS, "coverage": np.float64("inf")}, validated_id="v2"
            ),
            "/validation_results/coverage",
            "finite number",
        ),
        (
            lambda repo, ck: repo.promote_to_production(
                "s1_best_validated",
                "1.0.0",
                {"env": {"SEED": object()}},
                **RELEASE_INPUTS,
            ),
            "/deployment_config/env/SEED",
            "convert it",
        ),
        (
            lambda repo, ck: repo.promote_to_production(
                "s1_best_validated",
                "1.0.0",
                benchmarks={**BENCHMARKS, "latency_p95_ms": float("inf")},
                resource_usage=USAGE,
                approved_by="rm",
            ),
            "/benchmarks/latency_p95_ms",
            "finite number",
        ),
    ],
    ids=["NaN metric", "set in config", "tensor result", "inf result", "object", "inf bench"],
)
def test_values_json_cannot_hold_are_input_errors_naming_the_field(
    call, pointer: str, fix: str, session: Path, validated: str, checkpoint_dir: Path, monkeypatch
) -> None:
    registry = session
    monkeypatch.chdir(registry)
    repo = ArtifactRepository("artifacts", name="encoder")
    before = snapshot(registry)

    with pytest.raises(InputError) as caught:
        call(repo, checkpoint_dir)

    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"{pointer}: "), str(caught.value)
    assert fix in str(caught.value)
    assert snapshot(registry) == before


# --- 19. the seeds' calls as written -----------------------------------------------------------


def test_artreg_init_records_a_default_name_so_the_seed_call_needs_none(
    tmp_path: Path, checkpoint_dir: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sentenialx"
    result = cli("init", str(root), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["default_name"] == "sentenialx"
    assert yaml.safe_load((root / "params.yaml").read_text())["artreg"]["default_name"] == (
        "sentenialx"
    )
    monkeypatch.chdir(root)
    config = {"model": "v5_5", "lr": 0.001}

    repo = ArtifactRepository("artifacts")
    repo.register_training_session(
        session_id="v5_5_20251124",
        checkpoint_dir=checkpoint_dir,
        config=config,
        metrics={"best_val_loss": 0.38, "coverage": 0.99},
    )

    assert (root / "artifacts/raw/sentenialx/v5_5_20251124/manifest.json").is_file()
    assert git(root, "tag", "--list").split() == ["sentenialx#raw#1"]


def test_init_name_option_and_folder_names_that_need_sanitising(tmp_path: Path, cli) -> None:
    named = cli("init", str(tmp_path / "anything"), "--name", "encoder", "--json")
    assert named.exit_code == 0, named.stderr
    assert named.json()["default_name"] == "encoder"
    odd = cli("init", str(tmp_path / "my models.v2"), "--json")
    assert odd.exit_code == 0, odd.stderr
    assert odd.json()["default_name"] == "my-models-v2"
    again = cli("init", str(tmp_path / "anything"), "--name", "encoder")
    assert again.exit_code == 0 and "nothing to do" in again.stdout


def test_init_refuses_a_name_that_contradicts_an_existing_params_yaml(registry: Path, cli) -> None:
    before = snapshot(registry)
    result = cli("init", str(registry), "--name", "encoder")
    assert result.exit_code == 2, result.stderr
    assert "params.yaml: exists already and sets /artreg/default_name to 'registry'" in (
        result.stderr
    )
    assert "default_name: encoder" in result.stderr  # the fix
    assert snapshot(registry) == before

    bad = cli("init", str(registry), "--name", "team/encoder")
    assert bad.exit_code == 2 and "invalid artifact name (--name)" in bad.stderr
    assert snapshot(registry) == before


def test_save_registry_writes_only_the_generated_index(
    registry: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(registry)
    register_artifact("distill", model_file, "1.0.0", **RELEASE_INPUTS)
    index_file = registry / "artifacts/registry.json"
    committed = index_file.read_bytes()

    save_registry(load_registry())  # the seed's round trip: a no-op
    assert index_file.read_bytes() == committed
    assert git(registry, "status", "--porcelain") == ""

    index_file.write_text("{}\n")  # stale in the work tree (a bad merge, a hand edit)
    save_registry(json.loads(committed))  # equal to the generated index: written back
    assert index_file.read_bytes() == committed

    data = load_registry()
    data["distill"]["version"] = "2.0.0"
    data["lora"] = {"version": "1.0.0", "file": "lora/lora_weights_v1.bin", "hash": "fed"}
    data["distill"]["hash"] = "abc123deadbeef"
    before = snapshot(registry)

    with pytest.raises(InputError) as caught:
        save_registry(data)

    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "artifacts/registry.json: generated from the tags and folders" in message
    assert "distill: version 1.0.0 → 2.0.0: use register_artifact('distill', path, '2.0.0')" in (
        message
    )
    assert "distill: hash " in message and "a new file is a new version" in message
    assert "lora: not in the registry; add it with register_artifact('lora', path, '1.0.0')" in (
        message
    )
    assert snapshot(registry) == before

    with pytest.raises(InputError, match=r"distill: left out.*artreg deprecate distill"):
        save_registry({})
    assert snapshot(registry) == before


def test_seed_promote_to_production_names_the_keywords_to_add(
    session: Path, validated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = session
    monkeypatch.chdir(registry)
    repo = ArtifactRepository("artifacts", name="encoder")
    before = snapshot(registry)

    with pytest.raises(GateFailed) as gates:
        repo.promote_to_production(
            validated_id=validated, version="1.0.0", deployment_config={"port": 9000}
        )
    assert gates.value.exit_code == 1
    assert "pass benchmarks=" in str(gates.value) and "pass approved_by=" in str(gates.value)
    assert snapshot(registry) == before

    with pytest.raises(InputError) as approval:
        repo.promote_to_production(
            validated_id=validated,
            version="1.0.0",
            deployment_config={"port": 9000},
            benchmarks=BENCHMARKS,
            resource_usage=USAGE,
        )
    assert approval.value.exit_code == 2
    assert "a production release of encoder needs an approval record" in str(approval.value)
    assert "pass approved_by='Name <email>'" in str(approval.value)
    assert snapshot(registry) == before

    monkeypatch.setenv("ARTREG_APPROVED_BY", "ci-approver")
    release = repo.promote_to_production(
        validated_id=validated,
        version="1.0.0",
        deployment_config={"port": 9000},
        benchmarks=BENCHMARKS,
        resource_usage=USAGE,
    )
    assert release.tags == ["encoder@v1.0.0", "encoder#production#3"]
    assert re.fullmatch(r"[0-9a-f]{40}", release.commit)
