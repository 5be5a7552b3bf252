"""Two source trees of artreg, run side by side on the fixtures of a kept benchmark run.

    python benchmarks/run.py --only list --only site --runs 1 --keep --work /tmp/bw
    python benchmarks/compare_builds.py --work /tmp/bw/run-* --old OLD/src --new src

Each case runs the old and the new tree in turn (old new, new old, …) and reports the median CPU
seconds (user + system of the command and the children it waited for) and wall seconds of each:
CPU time compares two builds of one command fairly on a machine others load, wall time does not.
This is how issue 25's before/after of rows 1 and 12 was measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def run(src: str, cmd: list[str], cwd: Path, home: Path) -> tuple[float, float]:
    """CPU and wall seconds of one run of `cmd` with `src` first on the import path."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "CI": "true",
        "DVC_NO_ANALYTICS": "1",
        "LANG": "C.UTF-8",
        "PYTHONPATH": src,
    }
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd} with {src}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a run folder kept by --keep")
    parser.add_argument("--old", required=True, help="the old tree's src folder")
    parser.add_argument("--new", required=True, help="the new tree's src folder")
    parser.add_argument("--runs", type=int, default=10, help="runs per side (site: a third)")
    args = parser.parse_args()
    work, home = args.work, args.work / "home"
    cases = [
        ("1 list, 10,000 tags, loose refs", ["artreg", "list", "--json"], work / "tags", 1),
        ("1b list, 1,000 tags", ["artreg", "list", "--json"], work / "tags-small", 1),
        ("1c list, 10,000 tags, packed clone", ["artreg", "list", "--json"], work / "tags-clone", 1),
        ("12 site, 4,500 pages", ["artreg", "site", "-o", str(work / "ab-site")], work / "site-registry", 3),
    ]  # fmt: skip
    for label, cmd, cwd, divisor in cases:
        if not cwd.is_dir():
            print(f"{label}: no fixture at {cwd} (run the pair with --keep)")
            continue
        times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
        for i in range(max(1, args.runs // divisor)):
            for side in ("old", "new") if i % 2 == 0 else ("new", "old"):
                times[side].append(run(getattr(args, side), cmd, cwd, home))
        cpu = {s: statistics.median(c for c, _ in t) for s, t in times.items()}
        wall = {s: statistics.median(w for _, w in t) for s, t in times.items()}
        print(
            f"{label}: CPU {cpu['old']:.3f} -> {cpu['new']:.3f} s ({cpu['new'] / cpu['old']:.2f}x); "
            f"wall {wall['old']:.3f} -> {wall['new']:.3f} s; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
