"""Benchmarks of artreg against gto, dvc and sha256sum, side by side; writes RESULTS.md.

    .venv/bin/python benchmarks/run.py            # full sizes (make bench), under 15 min on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # tiny sizes, a smoke run for CI
    .venv/bin/python benchmarks/run.py --only verify --runs 3 --out /tmp/RESULTS.md

Every pair is run in this one process tree, alternating A and B, several times; the summary
gives the median with the spread (min–max) and the ratio, and says whether each target is met.
The data is built in a temporary folder under benchmarks/.work/ and removed afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixtures
import folder_fetch
import mlflow_pairs
import oci_pairs
import rights_pairs
import timing
from fixtures import ARTREG, DVC, GTO, MiB, artreg_init, remove, sh
from report import Report, Row, log, ratio_row
from timing import Measurement, Stats, alternate, fmt_bytes, fmt_seconds, run, run_steps

from artreg.adapters.git.tagstream import FOR_EACH_REF_FORMAT

HERE = Path(__file__).resolve().parent
GiB = 1 << 30
PAIRS = (
    "list",
    "resolve",
    "gto-list",
    "startup",
    "register",
    "verify",
    "pull",
    "memory",
    "gc",
    "push",
    "sign",
    "consumers",
    "warm",
    "site",
    "folders",
    "mlflow",
    "folder-fetch",
    "rights",
    "oci",
)
EXAMPLES = HERE.parent / "examples"


@dataclass(frozen=True)
class Sizes:
    """Everything that scales: the full run and the --quick smoke run differ only here."""

    names: int = 100
    tags_per_name: int = 100
    commits: int = 300
    scaling_names: int = 10  # a second, smaller tag registry where gto runs to completion
    gto_names: int = 20  # pair 7: a registry whose tags gto wrote (no `folder:` line)
    gto_tags_per_name: int = 100
    runs: int = 5
    rights_tags: int = 1000  # pair 18: signed tags verified
    startup_runs: int = 10
    slow_runs: int = 3  # gto where it finishes
    register_runs: int = 5  # registration is noisy on this kind of VM: more runs
    gto_runs: int = 1  # gto at full size: one run, stopped at gto_timeout
    gto_timeout: float = 60.0
    register_bytes: int = GiB
    small_files: int = 2000
    small_file_size: int = 4096
    verify_bytes: int = 2 * GiB
    memory_sizes: tuple[int, ...] = (GiB, 4 * GiB)
    s3_artifacts: int = 100
    s3_file_size: int = MiB
    checkpoint_file_size: int = 256 * MiB
    sign_bytes: int = GiB  # pair 10: the model released with and without a signature
    warmup: int = 1  # untimed rounds before the slow pairs (register, pull)
    pushers: int = 8  # pair 9: concurrent `--push` promotions into one origin
    push_runs: int = 3
    consumer_fetch_bytes: int = 64 * MiB  # the model fetched cold from a registry URL (11a)
    consumer_warm_bytes: int = GiB  # the model of the warm calls (11b, 11c)
    folder_bytes: int = 4 * GiB  # pair 13: a model folder released and verified
    folder_shards: int = 4
    folder_runs: int = 3
    mlflow_bytes: int = GiB  # pair 14: the model released and consumed by artreg and MLflow
    mlflow_runs: int = 5  # release rows swing with this disk: paired ratios over 5 runs
    mlflow_names: int = 100
    mlflow_versions: int = 20
    folder_fetch_files: int = 10_000  # pair 11d: a model folder fetched cold from a URL
    folder_fetch_file_size: int = 4096
    oci_bytes: int = GiB  # pair 15: a release exported as an OCI artifact (issue 27)


FULL = Sizes()
QUICK = Sizes(
    rights_tags=40,
    names=4,
    tags_per_name=20,
    commits=20,
    scaling_names=0,
    gto_names=3,
    gto_tags_per_name=20,
    runs=2,
    startup_runs=3,
    slow_runs=2,
    register_runs=2,
    gto_runs=2,
    gto_timeout=60.0,
    register_bytes=8 * MiB,
    small_files=40,
    small_file_size=1024,
    verify_bytes=16 * MiB,
    memory_sizes=(8 * MiB,),
    s3_artifacts=4,
    s3_file_size=64 * 1024,
    checkpoint_file_size=2 * MiB,
    sign_bytes=8 * MiB,
    warmup=0,
    pushers=3,
    push_runs=1,
    consumer_fetch_bytes=MiB,
    consumer_warm_bytes=8 * MiB,
    folder_bytes=8 * MiB,
    folder_runs=1,
    mlflow_bytes=8 * MiB,
    mlflow_runs=2,
    mlflow_names=4,
    mlflow_versions=5,
    folder_fetch_files=200,
    folder_fetch_file_size=1024,
    oci_bytes=8 * MiB,
)


# --- pairs 1 and 2: reading a registry of many tags -------------------------------------------


def list_in_a_clone(
    report: Report, pair: str, reg: fixtures.TagRegistry, work: Path, env: dict[str, str]
) -> None:
    """`artreg list --json` in a `git clone` of `reg` (refs packed, as in every clone and after
    `git gc`) against git's own listing of the same tags: what is left is artreg's own cost."""
    clone = work / f"{reg.root.name}-clone"
    sh(["git", "clone", "--quiet", str(reg.root), str(clone)], work, env)
    listing = ["git", "for-each-ref", f"--format={FOR_EACH_REF_FORMAT}", "refs/tags"]
    if json.loads(sh([ARTREG, "list", "--json"], clone, env)) != json.loads(
        sh([ARTREG, "list", "--json"], reg.root, env)
    ):
        raise AssertionError(f"artreg list differs in a clone of {reg.root}")
    log(f"{pair}. list in a clone (packed refs): artreg list --json vs git for-each-ref alone")
    a, b = alternate(
        [
            ("artreg", lambda: run([ARTREG, "list", "--json"], clone, env)),
            ("git", lambda: run(listing, clone, env)),
        ],
        runs=report.sizes.runs,
        warmup=1,
        log=log,
    )
    report.rows.append(
        Row(
            pair,
            f"the same {reg.ntags:,} tags in a `git clone` (refs packed): `artreg list --json` "
            "vs git's `for-each-ref` of those tags alone",
            a,
            b,
            a.median / b.median,
            "time ratio (artreg ÷ git)",
            "artreg < 0.2 s",
            a.median < 0.2,
        )
    )


def bench_tags(report: Report, work: Path, env: dict[str, str], only: set[str]) -> None:
    s = report.sizes
    log(f"building a registry of {s.names} names × {s.tags_per_name} tags ...")
    t0 = time.perf_counter()
    reg = fixtures.build_tag_registry(work / "tags", env, s.names, s.tags_per_name, s.commits)
    build = time.perf_counter() - t0
    name = reg.names[len(reg.names) // 2]
    expect = reg.production[name]
    _check_artreg_list(reg, env)
    desc = (
        f"{len(reg.names)} names, {reg.ntags:,} annotated GTO tags on {reg.ncommits} commits "
        f"(built in {build:.1f} s with one `git fast-import` stream)"
    )
    scaling = None
    if s.scaling_names:
        scaling = fixtures.build_tag_registry(
            work / "tags-small", env, s.scaling_names, s.tags_per_name, s.commits // 3
        )
        _check_against_gto(scaling, env)
    else:
        _check_against_gto(reg, env)
    full_gto = {"gto": s.gto_runs}

    if "list" in only:
        log(f"1. list: artreg list --json vs gto show --json ({reg.ntags:,} tags)")
        a, b = alternate(
            [
                ("artreg", lambda: run([ARTREG, "list", "--json"], reg.root, env)),
                ("gto", lambda: run([GTO, "show", "--json"], reg.root, env, timeout=s.gto_timeout)),
            ],
            runs=s.runs,
            warmup=0,
            limits=full_gto,
            log=log,
        )
        report.rows.append(
            ratio_row(
                "1",
                f"list {len(reg.names)} names, {reg.ntags:,} tags: `artreg list --json` vs `gto show --json`",
                a,
                b,
                kind="speed-up (gto ÷ artreg)",
                target="≥ 20× and artreg < 0.5 s",
                check=lambda r, a=a: r >= 20 and a.median < 0.5,
            )
        )
        if scaling is not None:
            log(f"1b. list at {scaling.ntags:,} tags, where gto finishes")
            a2, b2 = alternate(
                [
                    ("artreg", lambda: run([ARTREG, "list", "--json"], scaling.root, env)),
                    ("gto", lambda: run([GTO, "show", "--json"], scaling.root, env)),
                ],
                runs=s.slow_runs,
                log=log,
            )
            report.rows.append(
                ratio_row(
                    "1b",
                    f"the same at {scaling.ntags:,} tags ({len(scaling.names)} names), gto run to the end",
                    a2,
                    b2,
                    kind="speed-up (gto ÷ artreg)",
                    target="≥ 20× and artreg < 0.5 s",
                    check=lambda r, a=a2: r >= 20 and a.median < 0.5,
                )
            )
        list_in_a_clone(report, "1c", reg, work, env)
        report.sections.append(
            "### 1. Listing the registry\n\n"
            f"Registry: {desc}. Names `model-000`…; per name, rounds of 4–5 raw sessions "
            "(`name#raw#N`), 3–4 validated checkpoints (`name#validated#N`) and one release "
            "(`name@vX.Y.Z` without a counter, as `gto register` writes it, plus "
            "`name#production#N` on the same commit); counters grow per name across actions, as "
            "GTO counts; every tag has a distinct, increasing date. Each commit adds the stage "
            "folders of the promotions it carries (a schema-valid `manifest.json` each) and "
            "the `dvc.yaml` artreg would leave; each tag carries artreg's message (title, blank "
            "line, `kind:`, `folder:`, `source:`, `by:`), so artreg needs no git call beyond its "
            "one `git for-each-ref`. Refs are loose (10,000 files under `.git/refs/tags`, as "
            "`git tag` leaves them before a `git gc`). Promotions are interleaved round-robin "
            "over the names and ~30 share a commit: a real registry has one commit per "
            "promotion, which costs gto more, not less.\n\n"
            f"gto at this size is stopped after {s.gto_timeout:.0f} s "
            f"({s.gto_runs} run): during development it took 20 s for 1,000 tags, 62 s for "
            "2,000 and 299 s for 4,000 (worse than quadratic), so 10,000 tags would take tens "
            "of minutes. The ratio is then a lower bound (marked ≥). Row 1b measures both "
            "tools to the end on a smaller registry of the same shape. artreg's answer is "
            "checked: at full size every name's production must be its last release; on the "
            "smaller registry artreg's stages must equal gto's.\n"
            if scaling is not None
            else f"### 1. Listing the registry\n\nRegistry: {desc} (quick sizes). artreg's "
            "stages are checked against gto's.\n"
        )

    if "resolve" in only:
        log(f"2. resolve {name}: artreg resolve --no-verify vs gto show NAME")
        cmd_a = [ARTREG, "resolve", name, "--no-verify"]
        out = sh(cmd_a, reg.root, env).strip()
        if not out.endswith(f"artifacts/production/{name}/{expect}/model.pt"):
            raise AssertionError(f"artreg resolve {name} printed {out!r}, expected {expect}")
        a, b = alternate(
            [
                ("artreg", lambda: run(cmd_a, reg.root, env)),
                ("gto", lambda: run([GTO, "show", name], reg.root, env, timeout=s.gto_timeout)),
            ],
            runs=s.runs,
            limits=full_gto,
            log=log,
        )
        show = alternate(
            [("artreg show", lambda: run([ARTREG, "show", name, "--json"], reg.root, env))],
            runs=s.runs,
            log=log,
        )[0]
        row = ratio_row(
            "2",
            f"resolve `{name}`'s production version ({reg.ntags:,} tags): "
            f"`artreg resolve {name} --no-verify` vs `gto show {name}`",
            a,
            b,
            kind="speed-up (gto ÷ artreg)",
            target="≥ 20× and artreg < 0.3 s",
            check=lambda r: r >= 20 and a.median < 0.3,
        )
        row.notes.append(
            f"`artreg show {name} --json` (tags only, no manifest read): {show.summary()} s"
        )
        report.rows.append(row)
        if scaling is not None:
            sname = scaling.names[len(scaling.names) // 2]
            a2, b2 = alternate(
                [
                    (
                        "artreg",
                        lambda: run([ARTREG, "resolve", sname, "--no-verify"], scaling.root, env),
                    ),
                    ("gto", lambda: run([GTO, "show", sname], scaling.root, env)),
                ],
                runs=s.slow_runs,
                log=log,
            )
            report.rows.append(
                ratio_row(
                    "2b",
                    f"the same at {scaling.ntags:,} tags, gto run to the end",
                    a2,
                    b2,
                    kind="speed-up (gto ÷ artreg)",
                    target="≥ 20× and artreg < 0.3 s",
                    check=lambda r, a=a2: r >= 20 and a.median < 0.3,
                )
            )
        report.sections.append(
            "### 2. Resolving one name\n\n"
            f"`artreg resolve {name} --no-verify` is used: it reads the tags (with "
            "`git for-each-ref`), then the production folder's `manifest.json` as committed at "
            "the tag (one `git show`), and prints the model's path without hashing it (the "
            "model file itself is not on disk in this synthetic registry, which `--no-verify` "
            f"does not need). Its output is checked to name `{expect}`. `artreg show {name}` "
            "(tags only) is timed as well, in the notes. gto's side is `gto show NAME`, with "
            "the same time limit as in pair 1.\n"
        )

    # The same artreg commands once the refs are packed (as after `git gc` or in a clone).
    sh(["git", "pack-refs", "--all"], reg.root, env)
    for pair, cmd in (
        ("1", [ARTREG, "list", "--json"]),
        ("2", [ARTREG, "resolve", name, "--no-verify"]),
    ):
        rows = [r for r in report.rows if r.pair == pair]
        if rows:
            packed = alternate(
                [("artreg, packed refs", lambda c=cmd: run(c, reg.root, env))], runs=s.runs, log=log
            )[0]
            rows[0].notes.append(
                f"the same artreg command after `git pack-refs --all` (as after `git gc`, or "
                f"in a clone): {packed.summary()} s"
            )


def _check_artreg_list(reg: fixtures.TagRegistry, env: dict[str, str]) -> None:
    data = json.loads(sh([ARTREG, "list", "--json"], reg.root, env))
    if sorted(data) != reg.names:
        raise AssertionError(f"artreg list names {sorted(data)[:3]}…, expected {reg.names[:3]}…")
    for n in reg.names:
        got = data[n]["stages"]["production"]["version"]
        if got != reg.production[n]:
            raise AssertionError(f"artreg list: {n} production {got}, expected {reg.production[n]}")


def _check_against_gto(reg: fixtures.TagRegistry, env: dict[str, str]) -> None:
    """artreg's view of every stage must equal gto's on the same tags."""
    ours = json.loads(sh([ARTREG, "list", "--json"], reg.root, env))
    theirs = json.loads(sh([GTO, "show", "--json"], reg.root, env))
    for n in reg.names:
        for stage, entry in ours[n]["stages"].items():
            want = theirs[n]["stage"].get(stage)
            got = entry["version"] or entry["commit"]
            if got != want:
                raise AssertionError(f"{n}#{stage}: artreg says {got}, gto says {want}")


# --- pair 7: reading a registry whose tags gto wrote --------------------------------------------


def bench_gto_tags(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    log(f"building a gto-written registry of {s.gto_names} names × {s.gto_tags_per_name} tags ...")
    small = fixtures.build_tag_registry(
        work / "gto-tags",
        env,
        s.gto_names,
        s.gto_tags_per_name,
        s.gto_tags_per_name,  # each commit carries at most one promotion per name
        writer="gto",
    )
    _check_artreg_list(small, env)
    _check_against_gto(small, env)
    log(f"7a. list: artreg list --json vs gto show --json ({small.ntags:,} gto-written tags)")
    a, b = alternate(
        [
            ("artreg", lambda: run([ARTREG, "list", "--json"], small.root, env)),
            ("gto", lambda: run([GTO, "show", "--json"], small.root, env)),
        ],
        runs=s.slow_runs,
        log=log,
    )
    report.rows.append(
        ratio_row(
            "7a",
            f"list {len(small.names)} names, {small.ntags:,} tags that gto wrote: "
            "`artreg list --json` vs `gto show --json`",
            a,
            b,
            kind="speed-up (gto ÷ artreg)",
            target="≥ 50×",
            check=lambda r: r >= 50,
        )
    )
    log(f"building a gto-written registry of {s.names} names × {s.tags_per_name} tags ...")
    big = fixtures.build_tag_registry(
        work / "gto-tags-big", env, s.names, s.tags_per_name, s.commits, writer="gto"
    )
    _check_artreg_list(big, env)
    log(f"7b. list at {big.ntags:,} gto-written tags: artreg list --json vs gto show --json")
    a2, b2 = alternate(
        [
            ("artreg", lambda: run([ARTREG, "list", "--json"], big.root, env)),
            ("gto", lambda: run([GTO, "show", "--json"], big.root, env, timeout=s.gto_timeout)),
        ],
        runs=s.runs,
        warmup=0,
        limits={"gto": s.gto_runs},
        log=log,
    )
    report.rows.append(
        ratio_row(
            "7b",
            f"list {len(big.names)} names, {big.ntags:,} tags that gto wrote: "
            "`artreg list --json` vs `gto show --json`",
            a2,
            b2,
            kind="speed-up (gto ÷ artreg)",
            target="artreg < 0.2 s",
            check=lambda r, a=a2: a.median < 0.2,
        )
    )
    list_in_a_clone(report, "7c", big, work, env)
    report.sections.append(
        "### 7. Listing a registry whose tags gto wrote\n\n"
        "The registries of pair 1, but every tag carries the message `gto` writes "
        "(`Registering artifact NAME version vX.Y.Z`, `Assigning stage STAGE to artifact NAME "
        "...`), without artreg's `folder:` line, and the commits change only `dvc.yaml`, as "
        "in a registry made with `gto register` / `gto assign` or Studio. artreg must then read `artifacts.NAME.path` from `dvc.yaml` at "
        "the commit of every tag behind a current stage: it reads them all through one "
        "`git cat-file --batch` process and parses each distinct file once with libyaml. "
        f"7a: {small.ntags:,} tags over {len(small.names)} names on {small.ncommits:,} commits "
        "(at most one promotion of a name per commit); gto runs to the end. 7b: {big.ntags:,} tags "
        f"({big.ncommits} commits); gto is stopped after {s.gto_timeout:.0f} s as in pair 1. "
        "artreg's answer is checked against the fixture (every production version) and, on "
        "the 7a registry, against gto's stages.\n"
    )


# --- pair 3: start-up ---------------------------------------------------------------------------


def bench_startup(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    empty = artreg_init(work / "empty", env)
    python = [sys.executable, "-c", "pass"]
    for pair, label, cmd in (
        ("3a", "`artreg --version`", [ARTREG, "--version"]),
        ("3b", "`artreg list` on an empty registry", [ARTREG, "list"]),
    ):
        log(f"3. start-up: {label} vs python -c pass")
        a, b = alternate(
            [
                ("artreg", lambda c=cmd: run(c, empty, env)),
                ("python", lambda: run(python, empty, env)),
            ],
            runs=s.startup_runs,
            warmup=1,
            log=log,
        )
        report.rows.append(
            Row(
                pair,
                f"start-up: {label} vs `python -c pass`",
                a,
                b,
                a.median / b.median,
                "time ratio (artreg ÷ python)",
                "artreg < 0.25 s",
                a.median < 0.25,
            )
        )
    report.sections.append(
        "### 3. Start-up\n\n"
        "The same interpreter (the project's venv) runs `python -c pass`, so the ratio is "
        "artreg's own import and work on top of Python's start-up. One untimed warm-up round "
        "first. The target is absolute: under 0.25 s.\n"
    )


# --- pair 4: registering a checkpoint folder -----------------------------------------------------


def bench_register(report: Report, work: Path, env: dict[str, str]) -> dict[str, Any]:
    s = report.sizes
    big = fixtures.checkpoint_folder(
        work / "src-big" / "checkpoints",
        s.register_bytes,
        files=max(2, s.register_bytes // s.checkpoint_file_size),
        seed=1,
    )
    small = fixtures.small_files_folder(
        work / "src-small" / "checkpoints", s.small_files, s.small_file_size, seed=2
    )
    os.sync()  # the sources' dirty pages are written back now, not during the first run
    peaks: dict[str, Any] = {}
    entry = "artifacts/raw/model/run1"
    numbers = itertools.count()

    def fresh() -> Path:
        root = work / f"reg-{next(numbers)}"
        remove(root)
        return artreg_init(root, env)

    def finish(root: Path, m: Measurement) -> Measurement:
        remove(root)
        os.sync()  # no dirty pages of this run are written back during the next one
        return m

    for pair, label, source in (
        (
            "4a",
            f"{fmt_bytes(fixtures.folder_bytes(big))} in {len(list(big.iterdir()))} checkpoints",
            big,
        ),
        ("4b", f"{s.small_files:,} small files of {fmt_bytes(s.small_file_size)}", small),
    ):
        log(f"4. register {label}")

        def artreg_side(source: Path = source) -> Measurement:
            root = fresh()
            return finish(
                root,
                run(
                    [ARTREG, "register", "model", "run1", "--from", source, "-q"],
                    root,
                    env,
                    rss=True,
                ),
            )

        def dvc_steps() -> list[list[Any]]:
            return [
                [DVC, "add", "--quiet", f"{entry}/checkpoints"],
                ["git", "add", f"{entry}/checkpoints.dvc", f"{entry}/.gitignore"],
                ["git", "commit", "--quiet", "-m", "add model run1 checkpoints"],
            ]

        def baseline_cp(source: Path = source) -> Measurement:
            root = fresh()
            (root / entry).mkdir(parents=True)
            steps = [["cp", "-r", source, f"{entry}/checkpoints"], *dvc_steps()]
            return finish(root, run_steps(steps, root, env, rss=True))

        def baseline_in_place(source: Path = source) -> Measurement:
            root = fresh()
            (root / entry).mkdir(parents=True)
            sh(["cp", "-r", source, f"{entry}/checkpoints"], root, env)
            os.sync()
            return finish(root, run_steps(dvc_steps(), root, env, rss=True))

        a, b, c = alternate(
            [
                ("artreg", artreg_side),
                ("cp + dvc add + git commit", baseline_cp),
                ("dvc add + git commit", baseline_in_place),
            ],
            runs=s.register_runs,
            warmup=s.warmup,
            log=log,
        )
        row = ratio_row(
            pair,
            f"register {label}: `artreg register` vs `cp -r` + `dvc add` + `git commit`",
            a,
            b,
            kind="time ratio (artreg ÷ baseline)",
            target="≤ 1.15× (baseline with cp)",
            check=lambda r: r <= 1.15,
        )
        row.notes.append(
            f"without the cp (files already in the repo): `dvc add` + `git commit` "
            f"{c.summary()} s, artreg ÷ that = {a.median / c.median:.2f}×"
        )
        row.notes.append(
            f"peak RSS: artreg {fmt_bytes(a.peak_rss)}, dvc add {fmt_bytes(max(b.peak_rss, c.peak_rss))}"
        )
        report.rows.append(row)
        peaks[pair] = (a, b, c)
    report.sections.append(
        "### 4. Registering a checkpoint folder\n\n"
        "Each run gets a fresh registry made by `artreg init` (untimed). artreg copies the "
        "source folder into `artifacts/raw/model/run1/` and the DVC cache in one read, hashing "
        "as it copies, then commits and tags. The baseline does the same job with the stock "
        "tools: `cp -r` of the folder into the repo, `dvc add` of it, `git add` of the pointer "
        "and `.gitignore`, `git commit`. **The target uses this baseline (with the cp)**, since "
        "both start from the same source folder; the notes also give the baseline without the "
        "cp (files copied in untimed), which is DVC's cost alone. After each run the registry is "
        "deleted and `sync` is called (untimed), so no run pays for another's write-back. One "
        "untimed warm-up round first: on this VM, memory touched for the first time is slow "
        "to write (the first runs were up to 2× slower before the warm-up was added), and runs "
        "stay noisy (bimodal at times), hence the spread column. On this VM the baseline "
        "without the cp was not faster than with it, an effect of the page cache we did not "
        "pin down: read it as DVC's own cost only roughly. "
        "The source folders stay in the page cache throughout (RAM is far larger).\n"
    )
    return {"big": big}


# --- pair 5: verifying --------------------------------------------------------------------------


def bench_verify(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    root = artreg_init(work / "verify-reg", env)
    per = s.verify_bytes // 2
    for i in range(2):
        src = fixtures.checkpoint_folder(
            work / f"verify-src-{i}" / "checkpoints",
            per,
            files=max(2, per // s.checkpoint_file_size),
            seed=10 + i,
        )
        sh([ARTREG, "register", "model", f"run{i + 1}", "--from", src, "-q"], root, env)
        remove(src.parent)
    os.sync()
    files = _manifest_files(root)
    total = sum(p.stat().st_size for p in files)
    rel = [str(p.relative_to(root)) for p in files]
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    for pair, cores, prefix in (("5a", "one core", pin), ("5b", "two cores", [])):
        log(f"5. verify {fmt_bytes(total)} on {cores}: artreg verify vs sha256sum")
        a, b = alternate(
            [
                ("artreg", lambda p=prefix: run([*p, ARTREG, "verify"], root, env, rss=True)),
                ("sha256sum", lambda p=prefix: run([*p, "sha256sum", *rel], root, env, rss=True)),
            ],
            runs=s.runs,
            warmup=1,
            log=log,
        )
        mbps = (total / a.median / MiB, total / b.median / MiB)
        if pair == "5a":
            target, check = "≥ 0.9× sha256sum's throughput", (lambda r: r >= 0.9)
        else:
            target, check = "> 1× sha256sum's throughput", (lambda r: r > 1.0)
        row = ratio_row(
            pair,
            f"verify {fmt_bytes(total)} in {len(files)} files on {cores}: `artreg verify` vs `sha256sum`",
            a,
            b,
            kind="throughput (artreg ÷ sha256sum)",
            target=target,
            check=check,
        )
        row.notes.append(f"throughput: artreg {mbps[0]:.0f} MiB/s, sha256sum {mbps[1]:.0f} MiB/s")
        row.notes.append(
            f"peak RSS: artreg {fmt_bytes(a.peak_rss)}, sha256sum {fmt_bytes(b.peak_rss)}"
        )
        if not prefix and pair == "5a":
            row.notes.append("taskset is missing: this run was not pinned")
        report.rows.append(row)
    report.sections.append(
        "### 5. Verifying\n\n"
        f"A registry with two raw sessions registered by artreg ({fmt_bytes(total)} of "
        "checkpoints in the work tree). `artreg verify` runs every check (schemas, every "
        "file's sha256, immutability against git, tags, registry.json, dvc.yaml); sha256sum "
        "hashes exactly the files artreg hashes (every file its manifests list). The page cache "
        "cannot be dropped without root, so one untimed warm-up run of each comes first and "
        "every timed run reads from memory: this compares hashing speed, not the disk. "
        "'One core' pins both commands to CPU 0 with `taskset -c 0`; 'two cores' leaves them "
        "free (sha256sum is single-threaded either way). Note sha256sum here is coreutils' "
        "own C code (it does not link OpenSSL, so no SHA-NI), while Python's hashlib uses "
        "OpenSSL, which uses the CPU's SHA extensions where present.\n"
    )


def _manifest_files(root: Path) -> list[Path]:
    """Every file the registry's manifests list that is present in the work tree."""
    out = []
    for manifest in sorted(root.glob("artifacts/*/*/*/manifest.json")):
        listed = json.loads(manifest.read_text())["files"]
        out += [manifest.parent / rel for rel in listed if (manifest.parent / rel).is_file()]
    return out


# --- peak memory --------------------------------------------------------------------------------


def bench_memory(report: Report, work: Path, env: dict[str, str], big: Path | None) -> None:
    s = report.sizes
    lines = [
        "### Peak memory of register and verify\n",
        "Peak resident set size of the artreg command (GNU `time -f %M`: the largest of the "
        "artreg process and the git processes it runs), one registration of a "
        "checkpoint folder into a fresh registry, then `artreg verify` of that registry (after "
        "one untimed warm-up run). Each time is a single run; pair 4 gives medians.\n",
        "| data | register time | register peak RSS | verify time | verify peak RSS |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in s.memory_sizes:
        free = shutil.disk_usage(work).free
        if free < 3 * size + 2 * GiB:
            lines.append(
                f"| {fmt_bytes(size)} | skipped: {fmt_bytes(free)} free on disk, "
                f"{fmt_bytes(3 * size + 2 * GiB)} needed | | | |"
            )
            continue
        log(f"memory: register and verify {fmt_bytes(size)}")
        made = big is None or fixtures.folder_bytes(big) != size
        src = (
            fixtures.checkpoint_folder(
                work / f"mem-src-{size}" / "checkpoints",
                size,
                files=max(2, size // s.checkpoint_file_size),
                seed=20,
            )
            if made
            else big
        )
        os.sync()
        root = artreg_init(work / f"mem-reg-{size}", env)
        reg = run([ARTREG, "register", "model", "run1", "--from", src, "-q"], root, env, rss=True)
        if made:
            remove(src.parent)
        os.sync()
        run([ARTREG, "verify"], root, env)
        ver = run([ARTREG, "verify"], root, env, rss=True)
        lines.append(
            f"| {fmt_bytes(size)} | {fmt_seconds(reg.seconds)} s | {fmt_bytes(reg.max_rss)} | "
            f"{fmt_seconds(ver.seconds)} s | {fmt_bytes(ver.max_rss)} |"
        )
        remove(root)
    report.sections.append("\n".join(lines) + "\n")


# --- pair 6: pulling from S3 ---------------------------------------------------------------------


def bench_pull(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    bucket = "artreg-bench"
    with fixtures.moto_s3(bucket) as (endpoint, counter):
        root = artreg_init(work / "s3-reg", env, remote=f"s3://{bucket}/registry")
        fixtures.write_endpoint(root, endpoint)
        log(f"6. building a registry of {s.s3_artifacts} artifacts on S3 (moto at {endpoint}) ...")
        src = work / "s3-src"
        for i in range(s.s3_artifacts):
            folder = fixtures.checkpoint_folder(
                src / f"{i}" / "checkpoints", 3 * s.s3_file_size, files=3, seed=100 + i
            )
            sh([ARTREG, "register", f"model-{i:03d}", "run1", "--from", folder, "-q"], root, env)
        remove(src)
        sh([DVC, "push", "--quiet"], root, env)
        pushed = counter.take()
        name = f"model-{s.s3_artifacts // 2:03d}"
        entry = f"artifacts/raw/{name}/run1"
        pointers = sorted(str(p.relative_to(root)) for p in (root / entry).rglob("*.dvc"))
        clones = iter(range(10**6))
        requests: dict[str, list[dict[str, int]]] = {"artreg": [], "dvc": []}

        def clone() -> Path:
            path = work / f"s3-clone-{next(clones)}"
            remove(path)
            sh(["git", "clone", "--quiet", root, path], work, env)
            fixtures.write_endpoint(path, endpoint)
            counter.take()
            return path

        def side(label: str, cmd: list[Any]) -> Callable[[], Measurement]:
            def go() -> Measurement:
                path = clone()
                m = run(cmd, path, env)
                requests[label].append(dict(counter.take()))
                if not all(
                    (path / entry / "checkpoints" / f).is_file() for f in ("best.pt", "latest.pt")
                ):
                    raise AssertionError(f"{label} pull left {entry}/checkpoints incomplete")
                remove(path)
                return m

            return go

        log(f"6. pull {name}: artreg pull vs dvc pull of its .dvc files")
        a, b = alternate(
            [
                ("artreg", side("artreg", [ARTREG, "pull", name, "--stage", "raw", "-q"])),
                ("dvc", side("dvc", [DVC, "pull", "--quiet", *pointers])),
            ],
            runs=s.runs,
            warmup=s.warmup,
            log=log,
        )
        requests = {k: v[s.warmup :] for k, v in requests.items()}  # drop the warm-up rounds
        row = ratio_row(
            "6",
            f"pull one artifact of {s.s3_artifacts} from S3 (moto): `artreg pull` vs `dvc pull <its .dvc files>`",
            a,
            b,
            kind="time ratio (artreg ÷ dvc)",
            target="≤ 1.1×",
            check=lambda r: r <= 1.1,
        )
        for label, runs_ in requests.items():
            last = runs_[-1] if runs_ else {}
            objects = last.pop("objects", 0)
            row.notes.append(
                f"{label}: {objects} objects transferred (distinct keys read); S3 requests "
                "in the last run: " + ", ".join(f"{k} {v}" for k, v in sorted(last.items()))
            )
        report.rows.append(row)
        report.sections.append(
            "### 6. Pulling one artifact from S3\n\n"
            f"A moto S3 server started by run.py on 127.0.0.1 serves the bucket; a registry "
            f"made by `artreg init --remote s3://{bucket}/registry` (endpoint in "
            f"`.dvc/config.local`) holds {s.s3_artifacts} raw artifacts of 3 checkpoints of "
            f"{fmt_bytes(s.s3_file_size)} each, pushed with one `dvc push` "
            f"({pushed.get('PUT', 0)} PUT requests). Every run pulls `{name}` into a fresh "
            "`git clone` (cloned untimed): `artreg pull NAME --stage raw` (resolve from the "
            "tags, fetch only that folder's objects, check out, verify every sha256) against "
            f"`dvc pull {' '.join(pointers)}`. Requests are counted by a WSGI wrapper around "
            "moto's app; objects transferred are the distinct keys read with GET. One untimed "
            "warm-up round first.\n"
        )


# --- pair 9: racing `--push` promotions into one origin ----------------------------------------


def bench_push(report: Report, work: Path, env: dict[str, str]) -> None:
    """N promotions of N different names, each in its own clone, all with `--push` at once (the
    losers of each race rebase, renumber and push again), against the same N one after another
    in one clone (no race at all)."""
    s = report.sizes
    n = s.pushers
    log(f"9. building a registry of {n} raw artifacts and its origin ...")
    template = artreg_init(work / "push-reg", env)
    ckpt = work / "push-ckpt"
    sh(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from artreg.demo import "
            "train_tiny_model; train_tiny_model(Path(sys.argv[1]), epochs=2)",
            ckpt,
        ],
        work,
        env,
    )
    names = [f"model-{i}" for i in range(n)]
    for name in names:
        sh([ARTREG, "register", name, "run1", "--from", ckpt, "-q"], template, env)
    sh([DVC, "push", "--quiet"], template, env)
    origin_template = work / "push-origin-template.git"
    sh(["git", "clone", "--quiet", "--bare", template, origin_template], work, env)
    results = HERE.parent / "examples" / "validation_results.json"
    rounds = iter(range(10**6))

    def promote(name: str) -> list[str | os.PathLike[str]]:
        args: list[str | os.PathLike[str]] = [ARTREG, "promote", name, "run1", "--to", "validated"]
        return [*args, "--checkpoint", "best", "--results", results, "--push", "-q"]

    def fresh_origin() -> tuple[Path, Path]:
        folder = work / f"push-round-{next(rounds)}"
        remove(folder)
        origin = folder / "origin.git"
        sh(["git", "clone", "--quiet", "--bare", origin_template, origin], work, env)
        return folder, origin

    def clone(origin: Path, path: Path) -> Path:
        sh(["git", "clone", "--quiet", origin, path], work, env)
        sh(["git", "fetch", "--quiet", "--tags"], path, env)
        sh([DVC, "pull", "--quiet"], path, env)
        return path

    def check_landed(origin: Path) -> None:
        tags = sh(["git", "tag", "--list", "*#validated#*"], origin, env).split()
        if sorted(tags) != sorted(f"{name}#validated#2" for name in names):
            raise AssertionError(f"not every promotion landed: {tags}")

    def concurrent() -> Measurement:
        folder, origin = fresh_origin()
        clones = [clone(origin, folder / f"clone-{i}") for i in range(n)]
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [str(c) for c in promote(name)],
                cwd=path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for name, path in zip(names, clones, strict=True)
        ]
        errors = [(p.communicate()[1], p.returncode) for p in procs]
        seconds = time.perf_counter() - start
        failed = [err.decode() for err, code in errors if code != 0]
        if failed:
            raise AssertionError(f"{len(failed)} concurrent promotions failed: {failed[0]}")
        check_landed(origin)
        remove(folder)
        return Measurement(seconds)

    def sequential() -> Measurement:
        folder, origin = fresh_origin()
        path = clone(origin, folder / "clone")
        m = run_steps([promote(name) for name in names], path, env)
        check_landed(origin)
        remove(folder)
        return m

    log(f"9. {n} concurrent `--push` promotions vs the same {n} one after another")
    a, b = alternate(
        [("concurrent", concurrent), ("one after another", sequential)],
        runs=s.push_runs,
        warmup=0,
        log=log,
    )
    report.rows.append(
        ratio_row(
            "9",
            f"{n} promotions of different names, each `--push` from its own clone at once "
            "(all land) vs the same one after another",
            a,
            b,
            kind="time ratio (concurrent ÷ one after another)",
            target="all land; ≤ 1.5×",
            check=lambda r: r <= 1.5,
        )
    )
    report.sections.append(
        "### 9. Racing pushers\n\n"
        f"A registry of {n} raw artifacts (tiny real PyTorch checkpoints) and a bare origin "
        f"cloned from it, fresh for every run. Concurrent: {n} clones (made, fetched and "
        "`dvc pull`ed untimed) each run `artreg promote NAME run1 --to validated --push` at "
        "the same moment; a promotion whose push loses the race fetches, rebases onto origin, "
        "renumbers its counter by GTO's rule, re-checks and pushes again (jittered back-off). "
        f"One after another: the same {n} promotions in one up-to-date clone. Both sides "
        f"check that all {n} `NAME#validated#2` tags reached origin. On 2 cores the "
        "concurrent side competes for the CPU, so the ratio shows what the retries cost, "
        "not a parallel speed-up.\n"
    )


# --- pair 10: signing a release ------------------------------------------------------------------


def bench_sign(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    root = artreg_init(work / "sign-reg", env)
    src = work / "sign-src" / "checkpoints"
    fixtures.write_random_safetensors(src / "best.safetensors", s.sign_bytes, seed=70)
    sh([ARTREG, "register", "model", "run1", "--from", src, "-q"], root, env)
    remove(src.parent)
    validate = [ARTREG, "promote", "model", "run1", "--to", "validated", "--checkpoint", "best"]
    sh([*validate, "--results", EXAMPLES / "validation_results.json", "-q"], root, env)
    validated = root / "artifacts" / "validated" / "model" / "run1_best_validated"
    key = fixtures.ec_private_key(work / "sign-keys" / "release.pem")
    base = sh(["git", "rev-parse", "HEAD"], root, env).strip()
    tags = set(sh(["git", "tag", "-l"], root, env).split())
    release = [ARTREG, "promote", "model", "run1_best_validated", "--to", "production"]
    release += ["--version", "1.0.0", "--approved-by", "bench", "-q"]
    release += ["--benchmarks", EXAMPLES / "benchmarks.json"]
    release += ["--resources", EXAMPLES / "resource_usage.json"]

    def undo() -> None:
        """Back to the validated artifact alone, so every run releases into the same state."""
        sh(["git", "reset", "--quiet", "--hard", base], root, env)
        new = set(sh(["git", "tag", "-l"], root, env).split()) - tags
        if new:
            sh(["git", "tag", "-d", *sorted(new)], root, env)
        remove(root / "artifacts" / "production")
        os.sync()

    def side(extra: list[Any]) -> Callable[[], Measurement]:
        def go() -> Measurement:
            m = run([*release, *extra], root, env, rss=True)
            if extra and not (root / "artifacts/production/model/v1.0.0/model.sig").is_file():
                raise AssertionError("the signed release has no model.sig")
            undo()
            return m

        return go

    def rehash() -> Measurement:
        out = work / "sign-keys" / "rehash.sig"
        oracle = [
            fixtures.VENV_BIN / "model_signing",
            "sign",
            "key",
            validated / "model.safetensors",
        ]
        m = run([*oracle, "--private_key", key, "--signature", out], root, env)
        out.unlink()
        return m

    label = fmt_bytes(s.sign_bytes)
    log(f"10. release a {label} model with and without --sign-model")
    a, b, c = alternate(
        [
            ("release --sign-model", side(["--sign-model", key])),
            ("release", side([])),
            ("model_signing sign key (re-hashes the model)", rehash),
        ],
        runs=s.register_runs,
        warmup=s.warmup,
        log=log,
    )
    row = ratio_row(
        "10",
        f"release a {label} model: `artreg promote --to production --sign-model KEY` vs the "
        "same release unsigned",
        a,
        b,
        kind="time ratio (signed ÷ unsigned)",
        target="≤ 1.10×",
        check=lambda r: r <= 1.10,
    )
    row.notes.append(
        f"signing added {a.median - b.median:+.2f} s to a {b.median:.2f} s release "
        f"({(a.median / b.median - 1) * 100:+.1f} %)"
    )
    step = [_signing_step(validated, key, env) for _ in range(s.runs)]
    alone = sorted(step)[len(step) // 2]
    row.notes.append(
        f"the signing step alone, timed inside one process without the overlap (import "
        f"model_signing, build the statement from the manifest's digests, sign, write): "
        f"{alone:.2f} s (median of {len(step)}), {alone / b.median * 100:.1f} % of the unsigned "
        "release: an upper bound of what signing adds that does not depend on the difference "
        "of two noisy release times"
    )
    row.notes.append(
        f"re-hashing instead: `model_signing sign key` on the {label} model file alone takes "
        f"{c.summary()} s, {c.median / b.median * 100:.0f} % of the unsigned release"
    )
    report.rows.append(row)
    report.sections.append(
        "### 10. Signing a release\n\n"
        f"A registry with one validated artifact whose model is {label} of random bytes "
        "(`model.safetensors`, copied as is, so no PyTorch is involved). Each run releases it "
        "as v1.0.0 with `artreg promote --to production` (benchmarks, resource usage, approval), "
        "once with `--sign-model KEY` (an EC P-256 key) and once without; afterwards the "
        "release is undone untimed (`git reset --hard`, its tags deleted, the folder removed, "
        "`sync`), so every run starts from the same state. artreg builds the in-toto statement "
        "from the sha256 it computes while copying the model, so signing reads no model byte "
        "again: what it adds is importing model_signing and one ECDSA signature. For "
        "comparison, `model_signing sign key MODEL_FILE` (the package's own CLI, which hashes "
        "the file again) is timed on the same model. One untimed warm-up round first.\n"
    )


SIGNING_STEP = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from artreg.adapters.hashing import FileDigest
from artreg.artifacts.signing.keys import SigningKey; from artreg.artifacts.signing.sign import sign_folder
folder, key = Path(sys.argv[1]), Path(sys.argv[2])
files = json.loads((folder / "manifest.json").read_text())["files"]
model = {r: FileDigest(e["sha256"], e["size"]) for r, e in files.items() if e.get("dvc")}
raw, _ = sign_folder(folder, model, SigningKey(key))
print(time.perf_counter() - t0)
"""


def _signing_step(folder: Path, key: Path, env: dict[str, str]) -> float:
    """Seconds one process spends signing a folder's model from its manifest (imports included)."""
    out = sh([sys.executable, "-c", SIGNING_STEP, folder, key], folder, env)
    return float(out.split()[-1])


# --- pair 11: consumers without a clone --------------------------------------------------------

RELEASE_FILE = """
import sys
from importlib import resources
from pathlib import Path
from artreg.services.release import register_model_file
examples = Path(str(resources.files("artreg") / "examples"))
register_model_file(
    Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4],
    benchmarks=examples / "benchmarks.json",
    resource_usage=examples / "resource_usage.json",
    approved_by="Bench Release Manager",
)
"""

IMPORT_ONLY = "from artreg import get_artifact_path"

WARM_CALL = """
import sys, time
t0 = time.perf_counter()
from artreg import get_artifact_path
t1 = time.perf_counter()
kwargs = dict(arg.split("=", 1) for arg in sys.argv[3:])
path = get_artifact_path(sys.argv[2], repo=sys.argv[1], **kwargs)
t2 = time.perf_counter()
print(f"{t2 - t1:.6f} {t1 - t0:.6f} {path}")
"""


def _pack_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / "objects" / "pack").glob("*.pack"))


def _inside(stats: Stats) -> list[float]:
    return sorted(float(m.output.split()[0]) for m in stats.samples)


def bench_consumers(report: Report, work: Path, env: dict[str, str]) -> None:
    import hashlib

    s = report.sizes
    log(f"11a. building a registry URL with {s.names} names × {s.tags_per_name} tags ...")
    reg = fixtures.build_tag_registry(
        work / "consumer-tags", env, s.names, s.tags_per_name, s.commits
    )
    name = reg.names[len(reg.names) // 2]
    model = work / "consumer-src" / "model.pt"
    fixtures.write_random_safetensors(model, s.consumer_fetch_bytes, seed=42)
    sh([sys.executable, "-c", RELEASE_FILE, reg.root, name, model, "2.0.0"], reg.root, env)
    want = hashlib.sha256(model.read_bytes()).hexdigest()
    remove(model.parent)
    sh([DVC, "push", "--quiet"], reg.root, env)
    bare = fixtures.serve_bare(reg.root, work / "srv" / "registry.git", env)
    url = bare.as_uri()
    full = work / "full-clone.git"
    sh(["git", "clone", "--mirror", "--no-local", "--quiet", url, full], work, env)
    full_bytes = _pack_bytes(full)
    remove(full)
    ntags = len(sh(["git", "tag"], reg.root, env).split())
    numbers = itertools.count()
    fetched: list[int] = []

    def artreg_side() -> Measurement:
        n = next(numbers)
        cache, out = work / f"consumer-cache-{n}", work / f"consumer-out-{n}"
        m = run([ARTREG, "get", url, name, "-o", out], work, {**env, "ARTREG_CACHE": str(cache)})
        if hashlib.sha256((out / "model.pt").read_bytes()).hexdigest() != want:
            raise AssertionError("artreg get wrote other bytes than the release's")
        fetched.append(sum(_pack_bytes(r) for r in (cache / "git").glob("*.git")))
        remove(cache)
        remove(out)
        return m

    def dvc_side() -> Measurement:
        out = work / f"dvc-out-{next(numbers)}"
        m = run([DVC, "artifacts", "get", url, name, "-o", out], work, env)
        got = out if out.is_file() else out / "model.pt"
        if hashlib.sha256(got.read_bytes()).hexdigest() != want:
            raise AssertionError("dvc artifacts get wrote other bytes than the release's")
        if out.is_file():
            out.unlink()
        remove(out)
        return m

    log(f"11a. cold fetch of {name} from {url}: artreg get vs dvc artifacts get vs gto show")
    a, b, c = alternate(
        [
            ("artreg", artreg_side),
            ("dvc", dvc_side),
            (
                "gto",
                lambda: run([GTO, "show", name, "--repo", url], work, env, timeout=s.gto_timeout),
            ),
        ],
        runs=s.runs,
        limits={"gto": s.gto_runs},
        log=log,
    )
    row = ratio_row(
        "11a",
        f"cold fetch of one production model ({fmt_bytes(s.consumer_fetch_bytes)}) from a registry "
        f"URL with {ntags:,} tags: `artreg get URL {name}` vs `dvc artifacts get URL {name}`",
        a,
        b,
        kind="speed-up (dvc ÷ artreg)",
        target="≥ 10× and git bytes < 5% of a full clone",
        check=lambda r: r >= 10 and max(fetched) < 0.05 * full_bytes,
    )
    row.notes.append(
        f"git bytes into the cache: {fmt_bytes(max(fetched))} vs {fmt_bytes(full_bytes)} for a full "
        f"clone (`git clone --mirror`): {100 * max(fetched) / full_bytes:.1f}%"
    )
    row.notes.append(f"`gto show {name} --repo URL` (clones first): {c.summary()} s")
    report.rows.append(row)
    report.sections.append(
        "### 11a. Cold fetch from a registry URL\n\n"
        f"The tag registry of pair 1 ({ntags:,} tags after one more release), where "
        f"`{name}` gets a real production release of {fmt_bytes(s.consumer_fetch_bytes)} "
        "(`register_artifact`, `dvc push` to its local-folder remote), served as a bare "
        "repository through `file://` with `uploadpack.allowFilter` (as GitHub and GitLab "
        "serve). Each artreg run starts from an empty cache ($ARTREG_CACHE) and a new process: "
        "one `git ls-remote`, the name's tag objects with their commits, the trees along one "
        "path, four blobs, then the model's one DVC object, verified while written, then "
        "copied to `-o`. `dvc artifacts get` clones the registry and reads the model from the "
        "same remote; `gto show NAME --repo URL` clones too (one run, stopped at the time "
        "limit). Both tools' outputs are checked against the release's sha256. Git bytes: the "
        "pack files in the cache's repository after a run, against a `git clone --mirror`.\n"
    )


def bench_folder_fetch(report: Report, work: Path, env: dict[str, str]) -> None:
    """11d: a model folder of many small files, fetched cold from a registry URL."""
    s = report.sizes
    log(f"11d. releasing a model folder of {s.folder_fetch_files:,} files ...")
    served = folder_fetch.serve(work, env, s.folder_fetch_files, s.folder_fetch_file_size)
    log(f"11d. cold fetch of that folder: artreg get vs dvc artifacts get ({served.url})")
    a, b = folder_fetch.measure(served, work, env, s.slow_runs, log)
    row = ratio_row(
        "11d",
        f"cold fetch of a model folder of {served.files:,} files ({fmt_bytes(served.total)}) from "
        f"a registry URL: `artreg get URL {folder_fetch.NAME}` vs `dvc artifacts get URL "
        f"{folder_fetch.NAME}`",
        a,
        b,
        kind="time ratio (artreg ÷ dvc)",
        target="≤ 1.2×",
        check=lambda r: r <= 1.2,
    )
    row.notes.append(f"both at the release's commit {served.commit[:12]}; outputs checked")
    report.rows.append(row)
    report.sections.append(
        folder_fetch.SECTION.format(
            shards=served.files - 3,
            files=served.files,
            size=fmt_bytes(served.total),
            name=folder_fetch.NAME,
        )
    )


def bench_consumer_warm(report: Report, work: Path, env: dict[str, str]) -> None:
    """11b/11c: warm calls on a large model, in a new process each time."""
    s = report.sizes
    root = artreg_init(work / "big-reg", env)
    model = work / "big-src" / "model.pt"
    fixtures.write_random_safetensors(model, s.consumer_warm_bytes, seed=7)
    sh([sys.executable, "-c", RELEASE_FILE, root, "big", model, "1.0.0"], root, env)
    remove(model.parent)
    sh([DVC, "push", "--quiet"], root, env)
    big_url = fixtures.serve_bare(root, work / "srv" / "big.git", env).as_uri()
    cenv = {**env, "ARTREG_CACHE": str(work / "big-cache")}
    sh([ARTREG, "resolve", "big", "--repo", big_url], work, cenv)  # the cold fetch, untimed
    lock = work / "service" / "artreg.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    sh([ARTREG, "lock", "add", big_url, "big#production", "--file", lock], work, cenv)
    clone = work / "big-clone"
    sh(["git", "clone", "--quiet", big_url, clone], work, env)
    sh([ARTREG, "pull", "big", "-q"], clone, cenv)
    time.sleep(2.5)  # past the racy window, so the next call may write its record
    warm = [sys.executable, "-c", WARM_CALL]
    for repo in (big_url, str(clone)):
        sh([*warm, repo, "big"], work, cenv)  # hashes once more and records
    offline_env = {**cenv, "ARTREG_OFFLINE": "1"}
    for pair, repo, where in (
        ("11b", big_url, "from the cache of a registry URL"),
        ("11c", str(clone), "inside a clone"),
    ):
        log(f"{pair}. warm get_artifact_path on {fmt_bytes(s.consumer_warm_bytes)} {where}")
        a, b = alternate(
            [
                ("artreg", lambda r=repo: run([*warm, r, "big"], work, cenv)),
                ("full rehash", lambda r=repo: run([*warm, r, "big", "verify=full"], work, cenv)),
            ],
            runs=s.runs,
            warmup=1,
            log=log,
        )
        inside = _inside(a)
        if pair == "11b":
            python, imported = alternate(
                [
                    ("python -c pass", lambda: run([sys.executable, "-c", "pass"], work, env)),
                    ("import", lambda: run([sys.executable, "-c", IMPORT_ONLY], work, env)),
                ],
                runs=s.runs,
                warmup=1,
                log=log,
            )
        row = ratio_row(
            pair,
            f"warm `get_artifact_path` on a {fmt_bytes(s.consumer_warm_bytes)} model {where}, in a "
            'new process: verification record vs full rehash (`verify="full"`)',
            a,
            b,
            kind="speed-up (rehash ÷ record)",
            target="< 0.1 s end to end, < 5 ms in the call" if pair == "11b" else "(measured)",
            check=lambda r, a=a, inside=inside, p=pair: (
                p != "11b" or (a.median < 0.1 and statistics.median(inside) < 0.005)
            ),
        )
        row.notes.append(
            f"inside the call: {1000 * statistics.median(inside):.2f} ms median "
            f"({1000 * inside[0]:.2f}–{1000 * inside[-1]:.2f}); full rehash "
            f"{1000 * statistics.median(_inside(b)):.0f} ms"
        )
        if pair == "11b":
            row.notes.append(
                f"the same process without the call: `python -c pass` {python.summary()} s, "
                f"`from artreg import get_artifact_path` {imported.summary()} s"
            )
            extra = alternate(
                [
                    ("offline", lambda: run([*warm, big_url, "big"], work, offline_env)),
                    ("lock", lambda: run([*warm, big_url, "big", f"lock={lock}"], work, cenv)),
                ],
                runs=s.runs,
                log=log,
            )
            for st, how in zip(extra, ("`ARTREG_OFFLINE=1`", "`lock=artreg.lock`"), strict=True):
                row.notes.append(
                    f"{st.label} ({how}, no git at all): {st.summary()} s end to end, "
                    f"{1000 * statistics.median(_inside(st)):.2f} ms in the call"
                )
        report.rows.append(row)
    report.sections.append(
        "### 11b/11c. Warm calls\n\n"
        f"A {fmt_bytes(s.consumer_warm_bytes)} model (random bytes) released as `big`, "
        "fetched once into the cache (untimed), cloned and pulled once (untimed); then each "
        'timed run is a new Python process calling `get_artifact_path("big", repo=...)`: the '
        "registry URL (11b: one `git ls-remote`, a stat and a record per file) or the clone (11c: "
        "tags, manifest and pointers read through git, a stat per file). The baseline is the "
        'same call with `verify="full"`, which hashes every byte (before this change a call '
        "in a clone always did, twice). 'Inside the call' is timed by the process itself, "
        "imports excluded; end to end includes Python's start-up, measured alone in the notes "
        "(`python -c pass`, and the import of `artreg.get_artifact_path`). The notes also "
        "give the call offline (`ARTREG_OFFLINE=1`) and from a lock file: no git process.\n"
    )


# --- pair 12: the registry's static site -----------------------------------------------------------


def bench_site(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    log(
        f"12. site: building a registry of {s.names} names × {s.tags_per_name} tags with its files ..."
    )
    reg = fixtures.build_tag_registry(
        work / "site-registry", env, s.names, s.tags_per_name, s.commits, site_files=True
    )
    _check_site(reg, work / "site-check", env)
    # The baseline: git reading what the site reads (the tags, and each promoted folder's
    # manifest, metadata and model card at its tag), with nothing rendered or written.
    specs = work / "site-specs.txt"
    lines = []
    for line in sh(
        ["git", "for-each-ref", "--format=%(*objectname) %(contents)", "refs/tags"], reg.root, env
    ).split("\n"):
        if line.startswith("folder: artifacts/validated/") or line.startswith(
            "folder: artifacts/production/"
        ):
            lines.append(line.removeprefix("folder: "))
    folders = sorted(set(lines))
    specs.write_text(
        "".join(
            f"HEAD:{f}/{name}\n"
            for f in folders
            for name in ("manifest.json", "metadata.json", "README.md")
        )
    )
    floor = [
        "sh",
        "-c",
        f"git for-each-ref --format='%(objectname) %(contents)' refs/tags >/dev/null && "
        f"git cat-file --batch < {specs} >/dev/null",
    ]
    runs = iter(range(1000))

    def artreg_side() -> Measurement:
        out = work / f"site-out-{next(runs)}"
        remove(out)  # untimed: `run` times the command alone
        return run([ARTREG, "site", "-o", out], reg.root, env)

    a, b = alternate(
        [("artreg", artreg_side), ("git reads", lambda: run(floor, reg.root, env))],
        runs=s.runs,
        log=log,
    )
    again = alternate(
        [("rebuild", lambda: run([ARTREG, "site", "-o", work / "site-check"], reg.root, env))],
        runs=s.runs,
        log=log,
    )[0]
    row = Row(
        "12",
        f"static site of {len(reg.names)} names, {reg.ntags:,} tags ({len(folders):,} release and "
        "validated pages): `artreg site -o DIR` vs the git reads alone",
        a,
        b,
        a.median / b.median,
        "time ratio (artreg ÷ git reads)",
        "artreg < 3 s",
        a.median < 3.0,
    )
    row.notes.append(
        f"rebuilding over the site of the previous run (written aside, swapped in, the old one "
        f"removed): {again.summary()} s"
    )
    report.rows.append(row)
    report.sections.append(
        "### 12. The registry's static site\n\n"
        f"The registry of pair 1's shape ({len(reg.names)} names, {reg.ntags:,} tags), with what "
        "artreg leaves in each folder: `metadata.json`, a model card from artreg's own generator, "
        "results files, and a training-curve picture per raw session. `artreg site -o DIR` "
        "writes a new folder each run (as CI does); its output is checked first: every name's "
        "production release on the index. The baseline is the git reading alone, "
        "`git for-each-ref` plus one `git cat-file --batch` of every manifest, metadata file "
        "and model card, nothing rendered or written.\n"
    )


def _check_site(reg: fixtures.TagRegistry, out: Path, env: dict[str, str]) -> None:
    sh([ARTREG, "site", "-o", out], reg.root, env)
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in reg.names:
        row = index.split(f'<tr data-name="{name}">', 1)[1].split("</tr>", 1)[0]
        version = reg.production[name]
        if f">{version}</a>" not in row.split("<td>")[4]:
            raise AssertionError(f"artreg site: {name}'s production is not {version}: {row[:300]}")


# --- the machine and the report -------------------------------------------------------------------


# --- pair 8: planning a gc -------------------------------------------------------------------

GC_POLICY = """
retention:
  raw: {keep_last: 2}
  validated: {keep_last: 3}
  production: {keep: all}
  deprecated_after_days: 90
  min_age_days: 0
"""


def bench_gc(report: Report, work: Path, env: dict[str, str]) -> None:
    """`artreg gc` (dry run) on the tag registry of pair 1, every folder with a `.dvc` pointer,
    against `dvc gc --all-tags --all-branches --workspace --dry` on the same repository."""
    s = report.sizes
    reg = fixtures.build_tag_registry(work / "gc", env, s.names, s.tags_per_name, s.commits)
    folders = sorted({p.parent for p in (reg.root / "artifacts").glob("*/*/*/manifest.json")})
    for folder in folders:  # one DVC output per folder, as a validated or released model has
        md5 = hashlib.md5(str(folder).encode()).hexdigest()
        (folder / "model.pt.dvc").write_text(
            f"outs:\n- md5: {md5}\n  size: 1024\n  hash: md5\n  path: model.pt\n"
        )
    with (reg.root / "params.yaml").open("a") as fh:
        fh.write(GC_POLICY)
    sh(["git", "add", "-A"], reg.root, env)
    sh(["git", "commit", "--quiet", "-m", "pointers and a retention policy"], reg.root, env)
    planned = json.loads(sh([ARTREG, "gc", "--json"], reg.root, env))
    dropped = sum(1 for f in planned["folders"] if not f["keep"])
    assert planned["folders"] and dropped, "the policy drops some folders"
    log(
        f"8. gc: artreg gc (dry run) vs dvc gc --dry ({reg.ntags:,} tags, {len(folders):,} folders)"
    )
    dvc_gc = [DVC, "gc", "--all-tags", "--all-branches", "--workspace", "--dry", "--force"]
    a, b = alternate(
        [
            ("artreg", lambda: run([ARTREG, "gc", "--json"], reg.root, env)),
            ("dvc", lambda: run(dvc_gc, reg.root, env, check=False, timeout=s.gto_timeout)),
        ],
        runs=s.slow_runs,
        limits={"dvc": s.gto_runs},
        log=log,
    )
    report.rows.append(
        ratio_row(
            "8",
            f"plan a gc of {len(reg.names)} names, {reg.ntags:,} tags, {len(folders):,} folders: "
            "`artreg gc` (dry run) vs `dvc gc -T -a -w --dry`",
            a,
            b,
            kind="speed-up (dvc ÷ artreg)",
            target="artreg < 5 s",
            check=lambda r, a=a: a.median < 5,
        )
    )
    report.sections.append(
        "### 8. Planning a gc\n\n"
        f"The registry of pair 1 ({reg.ntags:,} tags on {reg.ncommits} commits), plus one commit "
        f"that gives each of its {len(folders):,} stage folders a `.dvc` pointer and commits a "
        f"retention policy; the plan drops {dropped:,} folders. artreg reads every tag (one "
        "`git for-each-ref`), every pointer any ref reaches (one `git log --raw`, one "
        "`git cat-file --batch` with each folder's manifest and metadata) and plans per name "
        "and stage. `dvc gc --dry` walks every tag and branch, collecting the outputs of each "
        "commit, and decides by commit, not by stage; it is stopped after "
        f"{s.gto_timeout:.0f} s (then the ratio is a lower bound). Neither deletes anything.\n"
    )


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    usable = len(os.sched_getaffinity(0))

    def version(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    free = shutil.disk_usage(HERE).free
    repo = HERE.parent
    commit = version(["git", "-C", str(repo), "log", "-1", "--format=%h %ad %s", "--date=iso"])
    status = ["git", "-C", str(repo), "status", "--porcelain", "--", "src"]
    dirty = bool(subprocess.run(status, capture_output=True, text=True).stdout.strip())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- Load average (1, 5, 15 min) when the run started: {load}",
        f"- CPU: {cpu}, {usable} cores usable by this process ({os.cpu_count()} online)",
        f"- Memory: {fmt_bytes(mem)}; disk: {fmt_bytes(free)} free on the benchmark's file system",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {version(['git', '--version'])}; "
        f"dvc {pkg('dvc')}; gto {pkg('gto')}; artreg {pkg('artreg')}; moto {pkg('moto')}; "
        f"{version(['sha256sum', '--version'])}",
        f"- artreg source: commit {commit}"
        + (" (with uncommitted changes in src/)" if dirty else ""),
        "- Clock: CPU seconds (user + system) of each command, `BENCH_CLOCK=cpu`"
        if timing.CPU_CLOCK
        else "- Clock: wall seconds",
    ]


def render(report: Report, started: datetime, elapsed: float, machine_lines: list[str]) -> str:
    mins, secs = divmod(int(elapsed), 60)
    out = [
        "# artreg benchmarks",
        "",
        f"Generated by `{' '.join(['benchmarks/run.py', *sys.argv[1:]])}` "
        f"({report.mode} sizes) on {started:%Y-%m-%d %H:%M} UTC; the whole run took "
        f"{mins} min {secs} s.",
        "",
        "## Machine",
        "",
        *machine_lines,
        "",
        "## Summary",
        "",
        "Times in seconds: median (min–max) over the runs. A is artreg, B the baseline; the "
        "ratio column says how it is computed. Every pair ran in one process tree, A and B "
        "alternating (A B, B A, …).",
        "",
        "| # | comparison | artreg (A) | baseline (B) | ratio | ratio is | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in report.rows:
        out.append(
            f"| {r.pair} | {r.what} | {r.a.summary()} | {r.b.summary()} | {r.ratio_text()} | "
            f"{r.ratio_kind} | {r.target} | {'yes' if r.met else '**no**'} |"
        )
    notes = [f"- {r.pair}: {n}" for r in report.rows for n in r.notes]
    if notes:
        out += ["", "Notes:", "", *notes]
    if report.failures:
        out += ["", "## Failures", "", *[f"- {f}" for f in report.failures]]
    out += ["", "## Method, per pair", "", *report.sections]
    out += [
        "## Environment of every command",
        "",
        "The project's venv binaries (`.venv/bin/artreg`, `gto`, `dvc`); a private HOME and "
        "git config with a fixed identity; `CI=true` (no progress bars); `DVC_NO_ANALYTICS=1`; "
        "fake AWS credentials for moto. Times are wall-clock (`time.perf_counter` around spawn "
        "and wait); peak RSS comes from GNU `time -f %M` wrapped around that command alone "
        "(for the commands of pairs 4 and 5 and the memory table only, so the 1 ms it adds "
        "never touches the start-up numbers).",
        "",
    ]
    return "\n".join(out)


# --- pair 13: a model folder, released and verified ---------------------------------------------


def bench_folders(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    free = shutil.disk_usage(work).free
    needed = 3 * s.folder_bytes + 2 * GiB  # the source, then one registry: work tree + cache
    if free < needed:
        raise RuntimeError(
            f"pair 13 needs {fmt_bytes(needed)} free under {work}, {fmt_bytes(free)} are: "
            "lower Sizes.folder_bytes"
        )
    source = fixtures.hf_folder(
        work / "folder-src" / "snapshot", s.folder_bytes, s.folder_shards, seed=13
    )
    total = fixtures.folder_bytes(source)
    nfiles = len(list(source.iterdir()))
    os.sync()
    numbers = itertools.count()
    inputs = [
        "--benchmarks", EXAMPLES / "benchmarks.json",
        "--resources", EXAMPLES / "resource_usage.json",
        "--approved-by", "bench",
    ]  # fmt: skip
    entry = "artifacts/production/model/v1.0.0"

    def fresh() -> Path:
        root = work / f"folder-reg-{next(numbers)}"
        remove(root)
        return artreg_init(root, env)

    def done(root: Path, m: Measurement) -> Measurement:
        remove(root)
        os.sync()
        return m

    def artreg_side() -> Measurement:
        root = fresh()
        cmd = [ARTREG, "release", "model", source, "--version", "1.0.0", *inputs, "-q"]
        return done(root, run(cmd, root, env, rss=True))

    def baseline() -> Measurement:
        root = fresh()
        (root / entry).mkdir(parents=True)
        steps = [
            ["cp", "-r", source, f"{entry}/model"],
            [DVC, "add", "--quiet", f"{entry}/model"],
            ["git", "add", f"{entry}/model.dvc", f"{entry}/.gitignore"],
            ["git", "commit", "--quiet", "-m", "add model v1.0.0"],
        ]
        return done(root, run_steps(steps, root, env, rss=True))

    label = (
        f"{fmt_bytes(total)} in {s.folder_shards} safetensors shards (+ index, config, tokenizer)"
    )
    log(f"13. release a model folder of {label}")
    a, b = alternate(
        [("artreg release", artreg_side), ("cp -r + dvc add + git commit", baseline)],
        runs=s.folder_runs,
        warmup=s.warmup,
        log=log,
    )
    row = ratio_row(
        "13a",
        f"register a model folder of {label}: `artreg release` vs `cp -r` + `dvc add` + `git commit`",
        a,
        b,
        kind="time ratio (artreg ÷ baseline)",
        target="≤ 0.6×",
        check=lambda r: r <= 0.6,
    )
    row.notes.append(f"peak RSS: artreg {fmt_bytes(a.peak_rss)}, baseline {fmt_bytes(b.peak_rss)}")
    report.rows.append(row)

    # Verify: one registry holding the release, `artreg verify` against `sha256sum -c`.
    root = work / "folder-verify"
    remove(root)
    artreg_init(root, env)
    sh([ARTREG, "release", "model", source, "--version", "1.0.0", *inputs, "-q"], root, env)
    remove(source.parent)
    os.sync()
    release = root / entry
    a, b = alternate(
        [
            ("artreg verify", lambda: run([ARTREG, "verify"], root, env, rss=True)),
            (
                "sha256sum -c",
                lambda: run(["sha256sum", "-c", "--quiet", "model.sha256"], release, env),
            ),
        ],
        runs=s.runs,
        warmup=1,
        log=log,
    )
    gbps = total / a.median / 1e9
    row = Row(
        "13b",
        f"verify the released folder ({fmt_bytes(total)}, {nfiles} files) on two cores: "
        "`artreg verify` vs `sha256sum -c model.sha256`",
        a,
        b,
        b.median / a.median,
        "throughput (artreg ÷ sha256sum)",
        "artreg ≥ 2.5 GB/s",
        gbps >= 2.5,
    )
    row.notes.append(
        f"throughput: artreg {gbps:.2f} GB/s (the whole `artreg verify`, start-up included), "
        f"sha256sum {total / b.median / 1e9:.2f} GB/s"
    )
    report.rows.append(row)
    remove(root)
    report.sections.append(
        "### 13. A model folder\n\n"
        f"A Hugging Face-style folder: {s.folder_shards} safetensors shards of random bytes "
        "(a valid header each), `model.safetensors.index.json`, `config.json`, "
        "`tokenizer.json`. 13a: each run gets a fresh registry (`artreg init`, untimed); "
        "`artreg release model FOLDER --version 1.0.0` checks the layout and every shard's "
        "header, then copies the folder into `artifacts/production/model/v1.0.0/model/` and "
        "the DVC cache in one read (sha256 and DVC's md5 while copying, files on both cores), "
        "writes `model.sha256`, metadata and model card, commits and tags. The baseline: "
        "`cp -r` of the folder to the same place, `dvc add`, `git add` of pointer and "
        "`.gitignore`, `git commit`. Registry deleted and `sync` after each run (untimed). "
        "13b: `artreg verify` of a registry holding that release (every check, every file "
        "hashed, on both cores) against coreutils' `sha256sum -c --quiet model.sha256` over "
        "the same files; one untimed warm-up run each, so both read from the page cache.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run for CI")
    parser.add_argument(
        "--only", action="append", choices=PAIRS, help="run only this pair (repeatable)"
    )
    parser.add_argument(
        "--skip", action="append", choices=PAIRS, default=[], help="leave this pair out"
    )
    parser.add_argument("--runs", type=int, help="timed runs per side (overrides every default)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "RESULTS.md", help="where to write the results"
    )
    parser.add_argument(
        "--gto-timeout", type=float, help="seconds before a gto run at full size is stopped"
    )
    parser.add_argument("--work", type=Path, help="work folder (default: under benchmarks/.work)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = replace(
            sizes,
            runs=args.runs,
            startup_runs=args.runs,
            slow_runs=args.runs,
            register_runs=args.runs,
            gto_runs=args.runs,
            push_runs=args.runs,
            folder_runs=args.runs,
            mlflow_runs=args.runs,
        )
    if args.gto_timeout:
        sizes = replace(sizes, gto_timeout=args.gto_timeout)
    only = set(args.only or PAIRS) - set(args.skip)
    report = Report("quick" if args.quick else "full", sizes)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    machine_lines = machine()
    base = args.work or HERE / ".work"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    env = fixtures.make_env(work / "home")
    log(f"work folder {work}")

    steps: list[tuple[str, Callable[[], Any]]] = []
    if only & {"list", "resolve"}:
        steps.append(("list/resolve", lambda: bench_tags(report, work, env, only)))
    if "gto-list" in only:
        steps.append(("gto-list", lambda: bench_gto_tags(report, work, env)))
    if "startup" in only:
        steps.append(("startup", lambda: bench_startup(report, work, env)))
    state: dict[str, Any] = {}
    if "register" in only:
        steps.append(("register", lambda: state.update(bench_register(report, work, env))))
    if "verify" in only:
        steps.append(("verify", lambda: bench_verify(report, work, env)))
    if "memory" in only:
        steps.append(("memory", lambda: bench_memory(report, work, env, state.get("big"))))
    if "site" in only:
        steps.append(("site", lambda: bench_site(report, work, env)))
    if "pull" in only:
        steps.append(("pull", lambda: bench_pull(report, work, env)))
    if "gc" in only:
        steps.append(("gc", lambda: bench_gc(report, work, env)))
    if "push" in only:
        steps.append(("push", lambda: bench_push(report, work, env)))
    if "sign" in only:
        steps.append(("sign", lambda: bench_sign(report, work, env)))
    if "consumers" in only:
        steps.append(("consumers", lambda: bench_consumers(report, work, env)))
    if "warm" in only:
        steps.append(("warm", lambda: bench_consumer_warm(report, work, env)))
    if "folder-fetch" in only:
        steps.append(("folder-fetch", lambda: bench_folder_fetch(report, work, env)))
    if "folders" in only:
        steps.append(("folders", lambda: bench_folders(report, work, env)))
    if "mlflow" in only:
        steps.append(("mlflow", lambda: mlflow_pairs.bench_mlflow(report, work, env)))
    if "rights" in only:
        steps.append(("rights", lambda: rights_pairs.bench_rights(report, work, env)))
    if "oci" in only:
        steps.append(("oci", lambda: oci_pairs.bench_oci(report, work, env)))
    try:
        for label, step in steps:
            t1 = time.perf_counter()
            try:
                step()
            except Exception as exc:
                traceback.print_exc()
                report.failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:500]}")
            log(f"  ({label}: {time.perf_counter() - t1:.0f} s)")
    finally:
        if not args.keep:
            remove(work)
    elapsed = time.perf_counter() - t0
    machine_lines.append(
        "- Load average when it ended: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    text = render(report, started, elapsed, machine_lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log("")
    log(text.split("## Method")[0])
    log(f"wrote {args.out} in {elapsed:.0f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
