"""Pair 14: artreg against MLflow's model registry, the registry teams would otherwise pick.

MLflow runs from its own bench-only environment (`benchmarks/mlflow.lock`, made by `make bench`
in `benchmarks/.venv-mlflow`), without a server: its embedded SQLite store and a local artifact
root, as `benchmarks/mlflow_side.py` drives it. Every row alternates the two sides in this one
process tree. Caveats the table repeats: MLflow stores and compares no hash (its consumer copies
and verifies nothing), and keeps no history of who moved an alias.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import resource
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import fixtures
from fixtures import ARTREG, DVC, artreg_init, remove, sh
from report import Report, Row, log, ratio_row
from timing import Measurement, Stats, alternate, fmt_bytes, run

HERE = Path(__file__).resolve().parent
MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
SIDE = HERE / "mlflow_side.py"
EXAMPLES = HERE.parent / "examples"

# artreg's side of the in-call rows: the same shape as mlflow_side.py (one JSON line, imports
# excluded from `in_call`).
ARTREG_RELEASE = """
import json, sys, time
from importlib import resources
from pathlib import Path
from artreg.services.release import register_model_file
from artreg.publishing.publish import PublishOptions
examples = Path(str(resources.files("artreg") / "examples"))
start = time.perf_counter()
register_model_file(
    Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4],
    benchmarks=examples / "benchmarks.json", resource_usage=examples / "resource_usage.json",
    approved_by="Bench Release Manager", options=PublishOptions(push=sys.argv[5] == "push"),
)
print(json.dumps({"in_call": time.perf_counter() - start}))
"""

ARTREG_GET = """
import json, sys, time
from artreg import get_artifact_path
start = time.perf_counter()
path = get_artifact_path(sys.argv[2], repo=sys.argv[1])
print(json.dumps({"in_call": time.perf_counter() - start, "path": str(path)}))
"""

ARTREG_RESOLVE = """
import json, statistics, sys, time
from artreg import get_artifact_path
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    path = get_artifact_path(sys.argv[2], repo=sys.argv[1], pull=False)
    times.append(time.perf_counter() - t)
print(json.dumps({"in_call": statistics.median(times), "path": str(path)}))
"""


def _mlflow_version() -> str:
    for line in (HERE / "mlflow.lock").read_text().splitlines():
        if line.startswith("mlflow=="):
            return line.split("==")[1]
    return "?"


def available() -> bool:
    return MLFLOW_PYTHON.exists()


def _in_call(stats: Stats) -> Stats:
    """The same runs, timed by the process itself (imports and start-up excluded)."""
    inside = Stats(f"{stats.label} (in the call)")
    for m in stats.samples:
        inside.samples.append(Measurement(json.loads(m.output.splitlines()[-1])["in_call"]))
    return inside


def _written(fn: Callable[[], Measurement], into: list[int]) -> Callable[[], Measurement]:
    """Wrap a side so the bytes its process tree wrote (block output of the children it waited
    for, which Linux counts when a page is dirtied, so the page cache hides nothing) are kept."""

    def side() -> Measurement:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
        m = fn()
        into.append(512 * (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before))
        return m

    return side


def _paired(a: Stats, b: Stats) -> list[float]:
    """Run-by-run ratios a ÷ b of alternated runs: drift of this disk hits both sides of a pair."""
    return sorted(x / y for x, y in zip(a.times, b.times, strict=True))


def _row(
    pair: str, what: str, a: Stats, b: Stats, target: str, check: Callable[[float], bool]
) -> Row:
    row = ratio_row(
        pair, what, a, b, kind="time ratio (artreg ÷ MLflow)", target=target, check=check
    )
    if len(a.samples) == len(b.samples) > 1:
        ratios = _paired(a, b)
        row.notes.append(
            f"paired ratios of alternated runs: median {statistics.median(ratios):.2f}× "
            f"({ratios[0]:.2f}–{ratios[-1]:.2f})"
        )
    return row


def _sides(
    sides: Sequence[tuple[str, Callable[[], Measurement]]], runs: int, warmup: int = 0
) -> list[Stats]:
    return alternate(sides, runs=runs, warmup=warmup, log=log)


def bench_mlflow(report: Report, work: Path, env: dict[str, str]) -> None:
    """14a–14h: release, consumer cold and warm, list and resolve, against MLflow."""
    if not available():
        raise RuntimeError(f"{MLFLOW_PYTHON} is missing: `make bench` makes it (mlflow.lock)")
    s = report.sizes
    numbers = itertools.count()
    model = work / "mlflow-src" / "model.safetensors"
    fixtures.write_random_safetensors(model, s.mlflow_bytes, seed=14)
    want = hashlib.sha256(model.read_bytes()).hexdigest()
    size = fmt_bytes(s.mlflow_bytes)

    def mlflow(*args: object, cwd: Path = work) -> Measurement:
        return run([MLFLOW_PYTHON, SIDE, *map(str, args)], cwd, env)

    # --- 14a/b/c: a release, in a new process and in the call, with and without push --------
    def artreg_release(push: bool) -> Callable[[], Measurement]:
        def side() -> Measurement:
            root = work / f"rel-{next(numbers)}"
            artreg_init(root, env)
            if push:
                origin = root.with_name(root.name + ".git")
                sh(["git", "init", "--bare", "--quiet", origin], work, env)
                sh(["git", "remote", "add", "origin", origin], root, env)
                sh(["git", "push", "--quiet", "origin", "main"], root, env)
            os.sync()
            cmd = [sys.executable, "-c", ARTREG_RELEASE, root, "enc", model, "1.0.0"]
            m = run([*cmd, "push" if push else "local"], root, env)
            remove(root)
            remove(root.with_name(root.name + ".git"))
            return m

        return side

    def mlflow_release() -> Measurement:
        folder = work / f"mlf-{next(numbers)}"
        mlflow("init", folder)  # the tracking database exists already where teams use it
        os.sync()
        m = mlflow("release", folder, "enc", model)
        remove(folder)
        return m

    written: dict[str, list[int]] = {"artreg": [], "artreg+push": [], "mlflow": []}
    log(f"14a. release a {size} safetensors file: artreg vs MLflow (log_artifact + version)")
    a, ap, b = _sides(
        [
            ("artreg", _written(artreg_release(False), written["artreg"])),
            ("artreg + push", _written(artreg_release(True), written["artreg+push"])),
            ("mlflow", _written(mlflow_release, written["mlflow"])),
        ],
        runs=s.mlflow_runs,
    )
    row = _row(
        "14a",
        f"release a {size} safetensors file, new process: artreg (`register_model_file`) vs "
        "MLflow (`log_artifact`, `create_model_version`, alias `production`)",
        a,
        b,
        "≤ 1.0×",
        lambda r: r <= 1.0,
    )
    row.notes.append(
        "bytes written (block output of the process tree): artreg "
        f"{fmt_bytes(max(written['artreg']))}, MLflow {fmt_bytes(max(written['mlflow']))} "
        f"(the file: {size})"
    )
    report.rows.append(row)
    report.rows.append(
        _row(
            "14b",
            f"the same {size} release, inside the call",
            _in_call(a),
            _in_call(b),
            "(measured)",
            lambda r: True,
        )
    )
    row = _row(
        "14c",
        "release + push to the local DVC remote (what makes it fetchable elsewhere) vs MLflow's "
        "release (its artifact root is the only copy)",
        ap,
        b,
        "≤ 1.2×",
        lambda r: r <= 1.2,
    )
    row.notes.append(f"bytes written with push: {fmt_bytes(max(written['artreg+push']))}")
    report.rows.append(row)

    # --- 14d/e/f: a consumer, cold then warm -------------------------------------------------
    root = artreg_init(work / "consumer-reg", env)
    sh([sys.executable, "-c", ARTREG_RELEASE, root, "enc", model, "1.0.0", "local"], root, env)
    sh([DVC, "push", "--quiet"], root, env)
    url = fixtures.serve_bare(root, work / "srv" / "consumer.git", env).as_uri()
    store = work / "mlflow-consumer"
    mlflow("init", store)
    mlflow("release", store, "enc", model)

    def artreg_get(cache: Path) -> Measurement:
        m = run(
            [sys.executable, "-c", ARTREG_GET, url, "enc"],
            work,
            {**env, "ARTREG_CACHE": str(cache)},
        )
        got = Path(json.loads(m.output.splitlines()[-1])["path"])
        if hashlib.sha256(got.read_bytes()).hexdigest() != want:
            raise AssertionError("artreg returned other bytes than the release's")
        return m

    def mlflow_get(out: Path) -> Measurement:
        m = mlflow("get", store, "enc", out)
        got = Path(json.loads(m.output.splitlines()[-1])["path"]) / "model.safetensors"
        if hashlib.sha256(got.read_bytes()).hexdigest() != want:
            raise AssertionError("MLflow returned other bytes than the release's")
        return m

    first: dict[str, list[Measurement]] = {"artreg": [], "mlflow": []}

    def cold_artreg() -> Measurement:
        cache = work / f"cache-{next(numbers)}"
        m = artreg_get(cache)
        first["artreg"].append(artreg_get(cache))  # the first warm call, right after
        remove(cache)
        return m

    def cold_mlflow() -> Measurement:
        out = work / f"mlf-out-{next(numbers)}"
        m = mlflow_get(out)
        first["mlflow"].append(mlflow_get(out))  # MLflow has no cache: it copies again
        remove(out)
        return m

    def sha256_alone() -> Measurement:
        return run(["sha256sum", model], work, env)

    log(f"14d. consumer, cold, {size}: artreg get_artifact_path(URL) vs MLflow download_artifacts")
    a, b, c = _sides(
        [("artreg", cold_artreg), ("mlflow", cold_mlflow), ("sha256sum", sha256_alone)],
        runs=s.mlflow_runs,
    )
    row = _row(
        "14d",
        f"consumer, cold, {size}, new process: `get_artifact_path(NAME, repo=URL)` (fetch + "
        "verify) vs MLflow `download_artifacts(models:/NAME@production)` (copy only)",
        a,
        b,
        "≤ 1.2× of sha256sum alone",
        lambda r, a=a, c=c: a.median <= 1.2 * c.median,
    )
    row.notes.append(
        f"sha256sum alone over the same bytes: {c.summary()} s; in the call: artreg "
        f"{_in_call(a).summary()} s, MLflow {_in_call(b).summary()} s"
    )
    report.rows.append(row)
    fa, fb = Stats("artreg", first["artreg"]), Stats("mlflow", first["mlflow"])
    row = _row(
        "14e",
        f"the first warm call after a cold one, {size}, new process",
        fa,
        fb,
        "artreg < 60 ms",
        lambda r, fa=fa: fa.median < 0.06,
    )
    row.notes.append(
        f"in the call: artreg {_in_call(fa).summary()} s, MLflow {_in_call(fb).summary()} s"
    )
    report.rows.append(row)
    cache = work / "warm-cache"
    artreg_get(cache)
    out = work / "warm-mlflow"
    mlflow_get(out)
    log(f"14f. later warm calls, {size}")
    a, b = _sides(
        [("artreg", lambda: artreg_get(cache)), ("mlflow", lambda: mlflow_get(out))],
        runs=s.mlflow_runs,
        warmup=1,
    )
    row = _row("14f", f"later warm calls, {size}, new process", a, b, "< 1.0×", lambda r: r < 1.0)
    row.notes.append(
        f"in the call: artreg {_in_call(a).summary()} s, MLflow {_in_call(b).summary()} s"
    )
    report.rows.append(row)

    # --- 14g/h: list and resolve at names × versions -------------------------------------
    names, versions = s.mlflow_names, s.mlflow_versions
    log(f"14g. building {names} names × {versions} versions in both registries ...")
    reg = fixtures.build_tag_registry(work / "mlflow-tags", env, names, versions, versions)
    listing = work / "mlflow-list"
    mlflow("populate", listing, names, versions)
    a, b = _sides(
        [
            ("artreg", lambda: run([ARTREG, "list", "--json"], reg.root, env)),
            ("mlflow", lambda: mlflow("list", listing)),
        ],
        runs=s.mlflow_runs,
        warmup=1,
    )
    report.rows.append(
        _row(
            "14g",
            f"list {names} names × {versions} versions, new process: `artreg list --json` vs "
            "MLflow `search_registered_models` + `search_model_versions`",
            a,
            b,
            "< 1.0×",
            lambda r: r < 1.0,
        )
    )
    calls = 50
    a, b = _sides(
        [
            (
                "artreg",
                lambda: run(
                    [sys.executable, "-c", ARTREG_RESOLVE, root, "enc", str(calls)], work, env
                ),
            ),
            ("mlflow", lambda: mlflow("resolve", store, "enc", calls)),
        ],
        runs=s.mlflow_runs,
    )
    ia, ib = _in_call(a), _in_call(b)
    report.rows.append(
        _row(
            "14h",
            f"resolve the production model again inside a running process (median of {calls} "
            "calls): `get_artifact_path(pull=False)` in a clone vs MLflow "
            "`get_model_version_by_alias`",
            ia,
            ib,
            "< 1 ms per call",
            lambda r, ia=ia: ia.median < 0.001,
        )
    )
    report.sections.append(
        SECTION.format(mlflow=_mlflow_version(), size=size, names=names, versions=versions)
    )


SECTION = """### 14. artreg against MLflow's model registry

MLflow {mlflow} runs from its own environment (`benchmarks/mlflow.lock`), without a server: its
embedded SQLite store and a local artifact root, driven by `benchmarks/mlflow_side.py`; its
database is made before each timed run, as it exists where teams use it. A release is
`log_artifact` of the {size} safetensors file to a run, `create_model_version` and the alias
`production`; artreg's is `register_model_file` into a fresh registry (`artreg init`), with and
without `push` to its local DVC remote and a bare origin. A consumer is
`download_artifacts("models:/enc@production")` into a new folder against
`get_artifact_path("enc", repo=URL)` with a new `$ARTREG_CACHE` (cold), then the same call again
(the first warm call) and later calls. Listing: {names} names × {versions} versions in each.
Bytes written are the block output Linux counts for the process tree. **Caveats:** MLflow stores
no hash and verifies nothing (its consumer copies the bytes it finds), and keeps no history of
who moved an alias; artreg's times include hashing every byte once and a git commit and tags.
"""
