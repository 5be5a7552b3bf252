"""Pair 15: a release as an OCI ModelPack artifact (issue 27), against Debian's docker-registry on
127.0.0.1 with Debian's `skopeo` as the baseline.

15a. `artreg export NAME@v1.0.0 --oci HOST/REPO` (a new process, as a user runs it) of a release
of four safetensors shards, against `skopeo copy` of the same files laid out as an OCI image
layout (`artreg export --oci-layout`, untimed) to the same kind of registry. Each run pushes
into a registry of its own, started empty (untimed), so neither side finds a blob it sent before
and neither can mount one from another repository.

15b. A version with one shard of four changed, exported to the repository that holds the first:
the bytes uploaded (what `export --json` reports, and what the registry received) must be that
shard's size + at most 1%.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import struct
import sys
from pathlib import Path

import fixtures
from fixtures import ARTREG, artreg_init, remove, sh
from report import Report, Row, log, ratio_row
from timing import Measurement, Stats, alternate, fmt_bytes, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.ociregistry import docker_registry, require

NAME = "big"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHANGED = "model-00002-of-00004.safetensors"


def _release(root: Path, env: dict[str, str], folder: Path, version: str) -> None:
    inputs = [
        "--benchmarks", EXAMPLES / "benchmarks.json",
        "--resources", EXAMPLES / "resource_usage.json",
        "--approved-by", "bench",
    ]  # fmt: skip
    sh([ARTREG, "release", NAME, folder, "--version", version, *inputs, "-q"], root, env)


def _rewrite_data(shard: Path, seed: int) -> None:
    """Other random bytes after the shard's safetensors header (same size, same header)."""
    with open(shard, "r+b") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        fh.seek(8 + length)
        left = shard.stat().st_size - 8 - length
        rng = random.Random(seed)
        while left > 0:
            n = min(left, 4 * fixtures.MiB)
            fh.write(rng.randbytes(n))
            left -= n


def bench_oci(report: Report, work: Path, env: dict[str, str]) -> None:
    """15a/15b: OCI export against skopeo copy, and the re-export of one changed shard."""
    s = report.sizes
    skopeo = require("skopeo")
    require("docker-registry")
    root = artreg_init(work / "oci-reg", env)
    v1 = fixtures.hf_folder(work / "oci-src" / "v1", s.oci_bytes, 4, seed=15)
    v2 = work / "oci-src" / "v2"
    shutil.copytree(v1, v2)
    _rewrite_data(v2 / CHANGED, seed=16)
    shard = (v2 / CHANGED).stat().st_size
    total = fixtures.folder_bytes(v1)
    log(f"15. releasing {fmt_bytes(total)} in four shards, twice (one shard changed) ...")
    _release(root, env, v1, "1.0.0")
    _release(root, env, v2, "1.1.0")
    remove(work / "oci-src")
    layout = work / "oci-layout"
    sh([ARTREG, "export", f"{NAME}@v1.0.0", "--oci-layout", layout], root, env)
    numbers = itertools.count()

    def fresh(side: str) -> Path:
        return work / f"oci-{side}-{next(numbers)}"

    def artreg_side() -> Measurement:
        base = fresh("artreg")
        with docker_registry(base) as served:
            m = run([ARTREG, "export", f"{NAME}@v1.0.0", "--oci", f"{served.host}/models/{NAME}",
                     "--plain-http"], root, env)  # fmt: skip
        remove(base)
        return m

    def skopeo_side() -> Measurement:
        base = fresh("skopeo")
        with docker_registry(base) as served:
            m = run([skopeo, "copy", "--insecure-policy", "--dest-tls-verify=false", "--quiet",
                     f"oci:{layout}:v1.0.0", f"docker://{served.host}/models/{NAME}:v1.0.0"],
                    work, env)  # fmt: skip
        remove(base)
        return m

    log(f"15a. artreg export --oci vs skopeo copy of the OCI layout ({fmt_bytes(total)})")
    a, b = alternate(
        [("artreg export", artreg_side), ("skopeo copy", skopeo_side)], runs=s.slow_runs, log=log
    )
    row = ratio_row(
        "15a",
        f"export a release of four safetensors shards ({fmt_bytes(total)}) to a docker-registry "
        f"on 127.0.0.1: `artreg export {NAME}@v1.0.0 --oci` vs `skopeo copy` of the same files "
        "as an OCI layout",
        a,
        b,
        kind="time ratio (artreg ÷ skopeo)",
        target="≤ 1.2×",
        check=lambda r: r <= 1.2,
    )
    report.rows.append(row)

    log("15b. re-export of a version with one shard of four changed")
    base = work / "oci-reexport"
    with docker_registry(base) as served:
        repo = f"{served.host}/models/{NAME}"
        first = run([ARTREG, "export", f"{NAME}@v1.0.0", "--oci", repo, "--plain-http"], root, env)
        mark = served.mark()
        again = run(
            [ARTREG, "export", f"{NAME}@v1.1.0", "--oci", repo, "--plain-http", "--json"], root, env
        )
        received = served.uploads()[mark:]
    remove(base)
    sent = int(json.loads(again.output)[0]["bytes_uploaded"])
    row = Row(
        "15b",
        f"re-export of a version with one shard of four changed ({fmt_bytes(shard)} shard): "
        "bytes uploaded vs that shard",
        Stats("re-export", [again]),
        Stats("first export", [first]),
        sent / shard,
        "bytes ratio (uploaded ÷ changed shard)",
        "≤ 1.01×",
        sent <= shard * 1.01,
    )
    row.notes.append(
        f"{sent:,} B uploaded for a {shard:,} B shard; the registry completed "
        f"{len(received)} blob uploads (the shard and the version's small files and config); "
        f"times: re-export {again.seconds:.2f} s, first export {first.seconds:.2f} s"
    )
    report.rows.append(row)
    remove(layout)
    remove(root)
    report.sections.append(SECTION.format(size=fmt_bytes(total), name=NAME, runs=s.slow_runs))


SECTION = (
    "### 15. A release as an OCI ModelPack artifact\n\n"
    "A registry (`artreg init`) holding two releases of a Hugging Face-style folder of four "
    "safetensors shards of random bytes ({size} in all), the second with one shard's bytes "
    "changed. 15a: `artreg export {name}@v1.0.0 --oci HOST/models/{name} --plain-http` (a new "
    "process) against `skopeo copy oci:LAYOUT:v1.0.0 docker://HOST/models/{name}:v1.0.0` of the "
    "same artifact written as an OCI image layout by `artreg export --oci-layout` (untimed); "
    "each of the {runs} alternated runs pushes to a docker-registry (Debian's `docker-registry`, "
    "the distribution registry) on 127.0.0.1 started empty for it (untimed), so no blob is "
    "found or mounted from an earlier run. 15b: in a registry holding v1.0.0, the export of "
    "v1.1.0: the bytes `export --json` reports uploaded against the changed shard's size "
    "(target: that shard + 1%), with the registry's own count of completed blob uploads.\n"
)
