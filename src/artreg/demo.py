"""`artreg demo`: a demonstration registry built from nothing, with a tiny model really trained."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from artreg.adapters.dvc import cache as dvccache
from artreg.adapters.dvc import remote as dvcremote
from artreg.adapters.git import run as gitrun
from artreg.artifacts.checkpoints import import_torch
from artreg.publishing.gatetable import gate_table
from artreg.publishing.release_checks import existing_releases
from artreg.registry import state
from artreg.services.init import init_registry
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

NAME = "encoder"


def train_tiny_model(out: Path, epochs: int, seed: int = 0) -> dict[str, list[float]]:
    """Train a small autoencoder on synthetic data; write epoch_N.pt, best.pt, latest.pt."""
    torch = import_torch("the demo (it trains a tiny model)")
    nn = torch.nn
    torch.manual_seed(seed)
    data = torch.randn(256, 16)
    model = nn.Sequential(nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 16))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    out.mkdir(parents=True, exist_ok=True)
    history: dict[str, list[float]] = {"loss": [], "coverage": []}
    best = float("inf")
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(data), data)
        loss.backward()
        optimizer.step()
        value = float(loss.item())
        with torch.no_grad():
            err = (model(data) - data).abs().mean(dim=1)
            coverage = float((err < 0.9).float().mean().item())
        history["loss"].append(round(value, 6))
        history["coverage"].append(round(coverage, 6))
        checkpoint = {
            "epoch": epoch,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": value,
        }
        torch.save(checkpoint, out / f"epoch_{epoch}.pt")
        torch.save(checkpoint, out / "latest.pt")
        if value < best:
            best = value
            torch.save(checkpoint, out / "best.pt")
    return history


def run_demo(directory: Path | None, epochs: int, echo: Callable[[str], None]) -> Path:
    """Create a registry with its own local remote, train, register, push; print the record."""
    base = directory or Path(tempfile.mkdtemp(prefix="artreg-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    registry = base / "registry"
    registry.mkdir(exist_ok=True)
    if not (registry / ".git").exists():
        gitrun.git(registry, "init", "--quiet", "--initial-branch=main")
    if not gitrun.git(registry, "config", "user.name", check=False).strip():
        gitrun.git(registry, "config", "user.name", "artreg demo")
        gitrun.git(registry, "config", "user.email", "demo@artreg.invalid")
    init = init_registry(registry)
    echo(f"registry: {init.root}  (DVC remote: {init.remote})")

    session = f"demo_{len(state.load(registry, folders='none').events) + 1}"
    training = base / "training" / session
    training.mkdir(parents=True, exist_ok=True)
    (training / "config.yaml").write_text(
        "model: tiny-autoencoder\nlayers: [16, 8, 16]\noptimizer: adam\nlr: 0.01\n"
        f"epochs: {epochs}\n"
    )
    # The training code lives in git too, so the lineage reaches its commit.
    gitrun.git(training, "init", "--quiet")
    (training / ".gitignore").write_text("checkpoints/\n*.json\n*.log\n")
    gitrun.git(training, "add", "config.yaml", ".gitignore")
    gitrun.git(
        training,
        "-c",
        "user.name=artreg demo",
        "-c",
        "user.email=demo@artreg.invalid",
        "commit",
        "--quiet",
        "-m",
        "training configuration",
    )
    history = train_tiny_model(training / "checkpoints", epochs)
    metrics = training / "training_metrics.json"
    metrics.write_text(
        json.dumps({"best_val_loss": min(history["loss"]), "coverage": history["coverage"][-1]})
    )
    coverage = training / "coverage_history.json"
    coverage.write_text(json.dumps({"epoch": list(range(1, epochs + 1)), **history}))
    (training / "training.log").write_text(
        "".join(f"epoch {i + 1}: loss={loss}\n" for i, loss in enumerate(history["loss"]))
    )
    echo(f"trained a tiny autoencoder for {epochs} epochs in {training}")

    raw = register_raw(
        registry,
        NAME,
        session,
        training / "checkpoints",
        config=training / "config.yaml",
        metrics=[metrics, coverage],
        log=training / "training.log",
    )
    echo(f"registered {raw.folder}: commit {raw.commit[:12]}, tag {', '.join(raw.tags)}")
    examples = resources.files("artreg") / "examples"
    validation = base / "inputs" / "validation_results.json"
    validation.parent.mkdir(parents=True, exist_ok=True)
    for fname in (
        "validation_results.json",
        "benchmarks.json",
        "resource_usage.json",
        "deployment.yaml",
    ):
        (base / "inputs" / fname).write_text(examples.joinpath(fname).read_text())
    checkpoint = f"epoch_{epochs}"
    validated = promote_to_validated(registry, NAME, session, checkpoint, validation)
    echo(
        f"\npromoted {session}/{checkpoint} to validated: {validated.folder} ({', '.join(validated.tags)})"
    )
    echo(gate_table(validated.gates or []))
    released = existing_releases(registry, NAME)
    version = _next_version(released)
    production = promote_to_production(
        registry,
        NAME,
        validated.id,
        version,
        deployment_config=base / "inputs" / "deployment.yaml",
        benchmarks=base / "inputs" / "benchmarks.json",
        resource_usage=base / "inputs" / "resource_usage.json",
        approved_by="demo release manager <release@artreg.invalid>",
        notes="First release of the demo encoder.",
    )
    echo(
        f"\nreleased {NAME} v{version} to production: {production.folder} ({', '.join(production.tags)})"
    )
    echo(gate_table(production.gates or []))

    pointers = [
        str(p.relative_to(registry))
        for p in dvccache.pointer_files(registry, registry / "artifacts")
    ]
    pushed = dvcremote.push(registry, pointers)
    echo(f"\npushed {pushed} objects to {init.remote}")
    echo(f"\ngit log:\n{gitrun.git(registry, 'log', '--oneline', '-4').rstrip()}")
    echo(f"git tags: {' '.join(gitrun.git(registry, 'tag', '--list').split())}")
    echo(f"\nthe demo registry is left at {registry} for you to inspect")
    return registry


def _next_version(released: list[str]) -> str:
    if not released:
        return "1.0.0"
    major, minor, _ = (int(x) for x in released[-1].split("-")[0].split("+")[0].split("."))
    return f"{major}.{minor + 1}.0"
