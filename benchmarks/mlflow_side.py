"""MLflow's side of pair 14, run by the bench-only MLflow environment (benchmarks/mlflow.lock).

    python mlflow_side.py init DIR                 # the tracking database, made once (untimed)
    python mlflow_side.py release DIR NAME FILE    # log FILE, register a version, alias production
    python mlflow_side.py get DIR NAME OUT         # download models:/NAME@production into OUT
    python mlflow_side.py populate DIR NAMES VERSIONS
    python mlflow_side.py list DIR                 # every registered model, its versions, aliases
    python mlflow_side.py resolve DIR NAME CALLS   # the production alias, CALLS times in-process

MLflow runs as teams run it without a server: its embedded SQLite store (`sqlite:///DIR/mlflow.db`)
and a local artifact root (`DIR/mlruns`). Each command prints one JSON line: `in_call`, the seconds
of the work itself with imports and start-up excluded, and what the caller checks.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path


def _client(folder: Path):  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.chdir(folder)  # the default artifact root (./mlruns) lands in the folder
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    return mlflow, MlflowClient()


def _release(mlflow, client, name: str, path: Path) -> str:  # type: ignore[no-untyped-def]
    """What a release is in MLflow: the file logged to a run, a model version, the alias moved."""
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(path), artifact_path="model")
        source = mlflow.get_artifact_uri("model")
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, source=source, run_id=run.info.run_id).version
    client.set_registered_model_alias(name, "production", version)
    return str(version)


def main(argv: list[str]) -> dict[str, object]:
    command, folder = argv[0], Path(argv[1]).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    mlflow, client = _client(folder)
    start = time.perf_counter()
    if command == "init":
        return {"in_call": time.perf_counter() - start}
    if command == "release":
        version = _release(mlflow, client, argv[2], Path(argv[3]).resolve())
        return {"in_call": time.perf_counter() - start, "version": version}
    if command == "get":
        out = Path(argv[3]).resolve()
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{argv[2]}@production", dst_path=str(out)
        )
        return {"in_call": time.perf_counter() - start, "path": path}
    if command == "populate":
        names, versions = int(argv[2]), int(argv[3])
        blob = folder / "weights.bin"
        blob.write_bytes(b"\0" * 4096)
        for n in range(names):
            for _ in range(versions):
                _release(mlflow, client, f"model-{n:03d}", blob)
        return {"in_call": time.perf_counter() - start}
    if command == "list":
        rows = 0
        for model in client.search_registered_models(max_results=1000):
            found = client.search_model_versions(f"name = '{model.name}'", max_results=1000)
            rows += len(found)
        return {"in_call": time.perf_counter() - start, "versions": rows}
    if command == "resolve":
        calls = int(argv[3])
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            version = client.get_model_version_by_alias(argv[2], "production").version
            times.append(time.perf_counter() - t)
        return {"in_call": statistics.median(times), "version": str(version)}
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
