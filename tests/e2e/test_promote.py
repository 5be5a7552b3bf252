"""Promotions raw → validated → production: gates, clean weights, cards, releases, refusals."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from artreg import ArtifactRepository
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, git, run_tool, snapshot
from helpers.modelfiles import write_onnx

PASSING = json.loads((EXAMPLES / "validation_results.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def session(registry: Path, checkpoint_dir: Path) -> Path:
    """A registry holding raw session s1 of `encoder`."""
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    return registry


def results_file(tmp_path: Path, **overrides: object) -> Path:
    path = tmp_path / "validation_results.json"
    path.write_text(json.dumps({**PASSING, **overrides}))
    return path


def release_inputs() -> dict[str, object]:
    return {
        "deployment_config": EXAMPLES / "deployment.yaml",
        "benchmarks": EXAMPLES / "benchmarks.json",
        "resource_usage": EXAMPLES / "resource_usage.json",
        "approved_by": "Release Manager <rm@example.com>",
    }


def test_full_lifecycle_through_the_cli_is_seen_by_gto_and_dvc(
    session: Path, tmp_path: Path, cli, checkpoint_dir: Path
) -> None:
    root = session
    val = cli(
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "epoch_2",
        "--results",
        str(results_file(tmp_path)),
        "--json",
        cwd=root,
    )
    assert val.exit_code == 0, val.stderr
    validated = val.json()
    assert validated["id"] == "s1_epoch_2_validated"
    assert validated["tags"] == ["encoder#validated#2"]
    prod = cli(
        "promote",
        "encoder",
        "s1_epoch_2_validated",
        "--to",
        "production",
        "--version",
        "1.0.0",
        "--benchmarks",
        str(EXAMPLES),
        "--deployment",
        str(EXAMPLES / "deployment.yaml"),
        "--approved-by",
        "rm",
        "--json",
        cwd=root,
    )
    assert prod.exit_code == 0, prod.stderr
    release = prod.json()
    assert release["tags"] == ["encoder@v1.0.0", "encoder#production#3"]
    assert git(root, "status", "--porcelain") == ""

    shown = json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)["encoder"]
    assert shown["version"] == "v1.0.0"
    assert shown["stage"]["production"] == "v1.0.0"
    assert shown["stage"]["validated"] == validated["commit"]

    run_tool("dvc", "push", "--quiet", cwd=root)
    val_model = root / validated["folder"] / "model.pt"
    prod_model = root / release["folder"] / "model.pt"
    for args, expected in (
        (["--stage", "validated"], val_model),
        (["--stage", "production"], prod_model),
        (["--rev", "v1.0.0"], prod_model),
    ):
        out = tmp_path / f"get-{args[1]}"
        out.mkdir()
        run_tool("dvc", "artifacts", "get", str(root), "encoder", *args, cwd=out)
        assert (out / "model.pt").read_bytes() == expected.read_bytes(), args


def test_validated_weights_load_safely_and_hold_exactly_the_models_tensors(
    session: Path, tmp_path: Path, checkpoint_dir: Path
) -> None:
    result = promote_to_validated(session, "encoder", "s1", "best", results_file(tmp_path))
    folder = session / result.folder
    cleaned = torch.load(folder / "model.pt", weights_only=True)
    original = torch.load(checkpoint_dir / "best.pt", weights_only=True)
    assert set(cleaned) == set(original["model_state_dict"])
    for key, tensor in original["model_state_dict"].items():
        assert torch.equal(cleaned[key], tensor), key
    assert "optimizer_state_dict" in original and "optimizer_state_dict" not in cleaned

    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["source"]["sha256"] == sha256(checkpoint_dir / "best.pt")
    assert metadata["model"]["parameter_count"] == sum(t.numel() for t in cleaned.values())
    assert "optimizer_state_dict" in metadata["model"]["dropped_training_state"]
    assert (folder / "model.pt.sha256").read_text() == f"{sha256(folder / 'model.pt')}  model.pt\n"
    card = (folder / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["artreg"]["sha256"] == sha256(folder / "model.pt")
    assert "| coverage | 0.97 | >= 0.95 | ✅ pass |" in card
    assert json.loads((folder / "validation/validation_results.json").read_text()) == PASSING
    assert f"{result.folder}/model.pt" not in git(session, "ls-files").split()


def test_safetensors_format_is_written_beside_model_pt(session: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    result = promote_to_validated(
        session, "encoder", "s1", "best", results_file(tmp_path), formats=("pt", "safetensors")
    )
    folder = session / result.folder
    pt = torch.load(folder / "model.pt", weights_only=True)
    st = load_file(str(folder / "model.safetensors"))
    assert set(pt) == set(st) and all(torch.equal(pt[k], st[k]) for k in pt)
    assert (folder / "model.safetensors.sha256").is_file()


def test_a_failed_gate_refuses_the_promotion_with_the_table_and_changes_nothing(
    session: Path, tmp_path: Path, cli
) -> None:
    """End to end, one gate at its boundary (every boundary is in tests/unit/test_policy.py)."""
    before = snapshot(session)
    result = cli(
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(results_file(tmp_path, entropy_utilization=0.4999)),
        cwd=session,
    )
    assert result.exit_code == 1, result.stderr
    assert "| entropy_utilization | 0.4999 |" in result.stderr
    assert "❌ FAIL" in result.stderr and "gate failed" in result.stderr
    assert snapshot(session) == before


def test_a_missing_metric_fails_its_gate(session: Path, tmp_path: Path, cli) -> None:
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({k: v for k, v in PASSING.items() if k != "coverage"}))
    result = cli(
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(path),
        cwd=session,
    )
    assert result.exit_code == 1
    assert "metric missing" in result.stderr


def test_per_model_override_replaces_the_default_gate(session: Path, tmp_path: Path) -> None:
    params = session / "params.yaml"
    data = yaml.safe_load(params.read_text())
    data["gates"]["overrides"] = {
        "encoder": {"validated": {"coverage": {"op": ">=", "threshold": 0.9}}}
    }
    params.write_text(yaml.safe_dump(data))
    git(session, "commit", "--quiet", "-am", "lower coverage gate for encoder")
    result = promote_to_validated(
        session, "encoder", "s1", "best", results_file(tmp_path, coverage=0.91)
    )
    gate = next(g for g in result.gates or [] if g.metric == "coverage")
    assert gate.threshold == 0.9 and gate.passed


def test_results_folder_is_kept_as_given_and_merged_for_gates(
    session: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "validation"
    folder.mkdir()
    (folder / "coverage_report.json").write_text(json.dumps({"coverage": 0.99}))
    (folder / "test_results.json").write_text(
        json.dumps({k: v for k, v in PASSING.items() if k != "coverage"})
    )
    result = promote_to_validated(session, "encoder", "s1", "best", folder)
    kept = session / result.folder / "validation"
    assert sorted(p.name for p in kept.iterdir()) == ["coverage_report.json", "test_results.json"]
    assert (kept / "coverage_report.json").read_text() == (
        folder / "coverage_report.json"
    ).read_text()


def _validated(session: Path, tmp_path: Path) -> str:
    return promote_to_validated(session, "encoder", "s1", "best", results_file(tmp_path)).id


def test_production_release_pins_the_model_in_docker_and_kubernetes(
    session: Path, tmp_path: Path
) -> None:
    vid = _validated(session, tmp_path)
    result = promote_to_production(session, "encoder", vid, "1.0.0", **release_inputs())
    folder = session / result.folder
    model_sha = sha256(folder / "model.pt")
    assert model_sha == sha256(session / "artifacts/validated/encoder" / vid / "model.pt")

    dockerfile = (folder / "deployment/docker/Dockerfile").read_text()
    instructions = [
        line.split()[0]
        for line in dockerfile.splitlines()
        if line.strip() and not line.startswith(("#", " "))
    ]
    assert set(instructions) <= {"FROM", "LABEL", "ENV", "COPY", "RUN", "EXPOSE", "CMD"}
    assert instructions[0] == "FROM"
    assert f'MODEL_SHA256="{model_sha}"' in dockerfile
    deployment = yaml.safe_load((folder / "deployment/kubernetes/deployment.yaml").read_text())
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 2
    env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MODEL_SHA256"] == model_sha and env["MODEL_VERSION"] == "1.0.0"
    assert (
        yaml.safe_load((folder / "deployment/kubernetes/service.yaml").read_text())["kind"]
        == "Service"
    )

    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["approval"]["approved_by"] == "Release Manager <rm@example.com>"
    assert (
        json.loads((folder / "performance/benchmarks.json").read_text())["latency_p95_ms"] == 31.0
    )
    assert "# Changelog of encoder" in (folder / "CHANGELOG.md").read_text()


def test_second_release_keeps_the_earlier_changelog_entries(session: Path, tmp_path: Path) -> None:
    vid = _validated(session, tmp_path)
    promote_to_production(session, "encoder", vid, "1.0.0", **release_inputs(), notes="first")
    second = promote_to_production(
        session, "encoder", vid, "1.1.0", **release_inputs(), notes="second"
    )
    text = (session / second.folder / "CHANGELOG.md").read_text()
    assert text.index("## v1.1.0") < text.index("## v1.0.0")
    assert "Notes: first" in text and "Notes: second" in text
    shown = json.loads(run_tool("gto", "show", "--json", cwd=session).stdout)["encoder"]
    assert shown["version"] == "v1.1.0" and shown["stage"]["production"] == "v1.1.0"


def test_fp16_optimisation_casts_floating_weights(session: Path, tmp_path: Path) -> None:
    vid = _validated(session, tmp_path)
    result = promote_to_production(
        session, "encoder", vid, "1.0.0", **release_inputs(), optimize="fp16"
    )
    weights = torch.load(session / result.folder / "model.pt", weights_only=True)
    assert all(t.dtype == torch.float16 for t in weights.values() if t.is_floating_point())
    metadata = json.loads((session / result.folder / "metadata.json").read_text())
    assert metadata["model"]["optimization"] == "fp16"


def test_seed_python_calls_work_as_written(
    session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(session)
    monkeypatch.setenv("ARTREG_APPROVED_BY", "ci-approver")
    repo = ArtifactRepository("artifacts", name="encoder")
    repo.promote_to_validated(
        session_id="s1",
        checkpoint_name="epoch_2",
        validation_results=dict(PASSING),
    )
    params = session / "params.yaml"
    data = yaml.safe_load(params.read_text())
    data["gates"]["production"] = {}  # this registry releases without benchmark gates
    params.write_text(yaml.safe_dump(data))
    git(session, "commit", "--quiet", "-am", "no production gates")
    repo.promote_to_production(
        validated_id="s1_epoch_2_validated",
        version="1.0.0",
        deployment_config={"port": 9000, "replicas": 3},
    )
    release = session / "artifacts/production/encoder/v1.0.0"
    assert "EXPOSE 9000" in (release / "deployment/docker/Dockerfile").read_text()
    assert (
        json.loads((release / "metadata.json").read_text())["approval"]["approved_by"]
        == "ci-approver"
    )


def _validated_args(checkpoint: str, results: str, *extra: str) -> list[str]:
    return [
        "promote",
        "encoder",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        checkpoint,
        "--results",
        results,
        *extra,
    ]


def _refusal(session: Path, tmp_path: Path, case: str) -> tuple[list[str], int, str]:
    vid = _validated(session, tmp_path)
    prod = [
        "promote",
        "encoder",
        vid,
        "--to",
        "production",
        "--benchmarks",
        str(EXAMPLES),
        "--deployment",
        str(EXAMPLES / "deployment.yaml"),
        "--approved-by",
        "rm",
    ]
    if case == "no version":
        return prod, 2, "--to production needs --version"
    if case == "no results":
        args = _validated_args("best", "unused")[:-2]
        return args, 2, "--to validated needs --checkpoint and --results"
    if case == "bad semver":
        return [*prod, "--version", "1.0"], 2, "invalid version '1.0'"
    if case == "reused version":
        promote_to_production(session, "encoder", vid, "1.0.0", **release_inputs())
        return [*prod, "--version", "1.0.0"], 2, "released already"
    if case == "lower version":
        promote_to_production(session, "encoder", vid, "2.0.0", **release_inputs())
        return [*prod, "--version", "1.5.0"], 2, "lower than the latest release v2.0.0"
    if case == "no approval":
        return (
            [a for a in prod if a not in ("--approved-by", "rm")] + ["--version", "1.0.0"],
            2,
            "approval",
        )
    if case == "slow model":
        slow = tmp_path / "slow.json"
        slow.write_text(json.dumps({"latency_p95_ms": 250.0, "throughput_rps": 300}))
        args = [*prod, "--version", "1.0.0"]
        args[args.index("--benchmarks") + 1] = str(slow)
        return (
            [*args, "--resources", str(EXAMPLES / "resource_usage.json")],
            1,
            "latency_p95_ms=250.0",
        )
    if case == "benchmarks schema":
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"latency_p95_ms": "fast", "throughput_rps": 1}))
        args = [*prod, "--version", "1.0.0"]
        args[args.index("--benchmarks") + 1] = str(bad)
        return args, 2, "/latency_p95_ms"
    if case == "deployment schema":
        bad = tmp_path / "deploy.yaml"
        bad.write_text("port: 99999\n")
        args = [*prod, "--version", "1.0.0"]
        args[args.index("--deployment") + 1] = str(bad)
        return args, 2, "/port"
    if case == "tampered validated model":
        model = session / "artifacts/validated/encoder" / vid / "model.pt"
        data = bytearray(model.read_bytes())
        data[-1] ^= 1
        model.chmod(0o644)
        model.write_bytes(bytes(data))
        return [*prod, "--version", "1.0.0"], 1, "sha256"
    if case == "unknown validated id":
        args = [*prod, "--version", "1.0.0"]
        args[2] = "nope"
        return args, 2, "no validated artifact 'nope'"
    if case == "validated id exists":
        return (
            _validated_args("best", str(results_file(tmp_path)), "--id", vid),
            2,
            "exists already",
        )
    if case == "unknown checkpoint":
        return _validated_args("epoch_99", str(results_file(tmp_path))), 2, "choose one of"
    if case == "results schema":
        return (
            _validated_args("best", str(results_file(tmp_path, coverage="high")), "--id", "x"),
            2,
            "/coverage",
        )
    if case == "tampered raw checkpoint":
        ckpt = session / "artifacts/raw/encoder/s1/checkpoints/epoch_1.pt"
        ckpt.chmod(0o644)
        ckpt.write_bytes(ckpt.read_bytes() + b"x")
        return _validated_args("epoch_1", str(results_file(tmp_path))), 1, "sha256"
    raise AssertionError(case)


REFUSALS = [
    "no version",
    "no results",
    "bad semver",
    "reused version",
    "lower version",
    "no approval",
    "slow model",
    "benchmarks schema",
    "deployment schema",
    "tampered validated model",
    "unknown validated id",
    "validated id exists",
    "unknown checkpoint",
    "results schema",
    "tampered raw checkpoint",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_refused_promotion_changes_nothing(session: Path, tmp_path: Path, cli, case: str) -> None:
    args, code, message = _refusal(session, tmp_path, case)
    before = snapshot(session)
    result = cli(*args, cwd=session)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(session) == before


def test_onnx_checkpoints_are_copied_as_they_are(registry: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "onnx-run"
    ckpt.mkdir()
    write_onnx(ckpt / "best.onnx")
    register_raw(registry, "detector", "r1", ckpt)
    result = promote_to_validated(registry, "detector", "r1", "best", results_file(tmp_path))
    model = registry / result.folder / "model.onnx"
    assert model.read_bytes() == (ckpt / "best.onnx").read_bytes()
    shutil.rmtree(ckpt)


def test_training_curves_are_drawn_and_shown_in_the_model_cards(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    import struct

    history = tmp_path / "history.json"
    history.write_text(
        json.dumps({"epoch": [1, 2, 3], "loss": [0.9, 0.5, 0.3], "coverage": [0.8, 0.9, 0.97]})
    )
    raw = register_raw(registry, "encoder", "s1", checkpoint_dir, metrics=[history])
    png = registry / raw.folder / "metrics/training_curves.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert 400 <= width <= 3000 and 200 <= height <= 1500
    assert (
        "![training curves](metrics/training_curves.png)"
        in (registry / raw.folder / "README.md").read_text()
    )

    validated = promote_to_validated(registry, "encoder", "s1", "best", results_file(tmp_path))
    card = (registry / validated.folder / "README.md").read_text()
    link = card.split("![training curves](")[1].split(")")[0]
    assert (registry / validated.folder / link).resolve() == png.resolve()
    release = promote_to_production(registry, "encoder", validated.id, "1.0.0", **release_inputs())
    card = (registry / release.folder / "README.md").read_text()
    link = card.split("![training curves](")[1].split(")")[0]
    assert (registry / release.folder / link).resolve() == png.resolve()


def test_dvc_params_diff_shows_a_change_of_gates_in_review(registry: Path) -> None:
    params = registry / "params.yaml"
    data = yaml.safe_load(params.read_text())
    data["gates"]["validated"]["coverage"]["threshold"] = 0.97
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    git(registry, "commit", "--quiet", "-am", "raise the coverage gate")
    out = run_tool("dvc", "params", "diff", "HEAD~1", "--json", cwd=registry).stdout
    change = json.loads(out)["params.yaml"]["gates.validated.coverage.threshold"]
    assert (change["old"], change["new"]) == (0.95, 0.97)
