"""Running commands, timing them side by side, and summarising the runs.

Every measured command is a child process of the benchmark (one process tree). Its wall time is
taken with `time.perf_counter` around the spawn and the wait; where peak memory matters, the
command runs under GNU `time -f %M`, which reports the peak RSS of that command alone (the
largest of it and the processes it waited for), so one command's peak never hides another's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class CommandFailed(RuntimeError):
    """A benchmarked command exited non-zero: the numbers would be meaningless."""


@dataclass(frozen=True)
class Measurement:
    """One timed execution: wall seconds and the peak resident set size in bytes."""

    seconds: float
    max_rss: int = 0
    output: str = ""
    timed_out: bool = False  # killed at the time limit: `seconds` is a lower bound


TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, for a clean peak RSS

# `BENCH_CLOCK=cpu` measures each command's CPU seconds (user + system of it and the children it
# waited for) instead of wall time: on a machine others share, wall time measures their load and
# CPU time still compares two builds of the same command fairly (not two tools: a tool that waits
# on I/O or uses two cores is not charged the same).
CPU_CLOCK = os.environ.get("BENCH_CLOCK", "wall") == "cpu"


def run(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path,
    env: Mapping[str, str],
    check: bool = True,
    timeout: float | None = None,
    rss: bool = False,
) -> Measurement:
    """Run one command, wait for it with `os.wait4`, and return its time (and stdout).

    With `rss`, the command runs under GNU `time -f %M`, which reports the command's peak
    resident set size. (The rusage `os.wait4` returns cannot be used for that: Linux carries the
    parent's high-water RSS into a child across fork and exec, so every child would report at
    least this benchmark process's own size.) Without GNU time, `max_rss` stays 0.

    With `timeout`, a command still running after that many seconds is killed (its whole
    process group) and the measurement is marked `timed_out`: its time is a lower bound.
    """
    argv = [str(c) for c in cmd]
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss_file,
    ):
        if rss and TIME:
            argv = [TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv]
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=err,
            start_new_session=timeout is not None,
        )
        expired = threading.Event()
        timer = None
        if timeout is not None:

            def kill() -> None:
                expired.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill)
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer is not None:
                timer.cancel()
        seconds = time.perf_counter() - start
        if CPU_CLOCK:
            seconds = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        peak = 0
        if rss and TIME:
            text = rss_file.read().strip().splitlines()
            peak = int(text[-1]) * 1024 if text and text[-1].isdigit() else 0  # KiB
        if expired.is_set():
            return Measurement(seconds, peak, stdout, timed_out=True)
        if check and proc.returncode != 0:
            stderr = err.read().decode("utf-8", "replace")
            raise CommandFailed(
                f"{' '.join(argv)} exited {proc.returncode} in {cwd}:\n"
                f"{stderr[-2000:]}{stdout[-1000:]}"
            )
    return Measurement(seconds, peak, stdout)


def run_steps(
    steps: Sequence[Sequence[str | os.PathLike[str]]],
    cwd: Path,
    env: Mapping[str, str],
    rss: bool = False,
) -> Measurement:
    """Run commands one after the other; time the whole sequence, keep the largest peak RSS."""
    start = time.perf_counter()
    peak = 0
    outputs = []
    cpu = 0.0
    for cmd in steps:
        m = run(cmd, cwd, env, rss=rss)
        peak = max(peak, m.max_rss)
        cpu += m.seconds
        outputs.append(m.output)
    seconds = cpu if CPU_CLOCK else time.perf_counter() - start
    return Measurement(seconds, peak, "".join(outputs))


@dataclass
class Stats:
    """The runs of one side of a pair."""

    label: str
    samples: list[Measurement] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def low(self) -> float:
        return min(self.times)

    @property
    def high(self) -> float:
        return max(self.times)

    @property
    def peak_rss(self) -> int:
        return max((s.max_rss for s in self.samples), default=0)

    @property
    def lower_bound(self) -> bool:
        """True when a run was stopped at the time limit (the median is then a lower bound)."""
        return any(s.timed_out for s in self.samples)

    def summary(self) -> str:
        """`median (min–max)` in seconds; `> N` when runs were stopped at a time limit."""
        if self.lower_bound:
            return (
                f"> {fmt_seconds(self.median)} (stopped at the time limit, {len(self.samples)} run)"
            )
        if len(self.samples) == 1:
            return f"{fmt_seconds(self.median)} (1 run)"
        return f"{fmt_seconds(self.median)} ({fmt_seconds(self.low)}–{fmt_seconds(self.high)})"


def fmt_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.3f}"
    if seconds < 100:
        return f"{seconds:.2f}"
    return f"{seconds:.0f}"


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


Side = Callable[[], Measurement]


def alternate(
    sides: Sequence[tuple[str, Side]],
    runs: int,
    warmup: int = 0,
    limits: Mapping[str, int] | None = None,
    log: Callable[[str], None] = print,
) -> list[Stats]:
    """Run the sides in turn, round after round, after `warmup` untimed rounds.

    Each side is a callable that does its own untimed preparation and returns one Measurement.
    Rounds alternate the order (A B, B A, A B, ...), so drift (page cache, CPU frequency, other
    load) spreads evenly over every side instead of favouring whoever goes first. `limits` caps
    the runs of a slow side by label (its runs are spread over the first rounds).
    """
    limits = limits or {}
    for _ in range(warmup):
        for _, side in sides:
            side()
    stats = [Stats(label) for label, _ in sides]
    for i in range(runs):
        order = list(zip(stats, (side for _, side in sides), strict=True))
        if i % 2:
            order.reverse()
        for st, side in order:
            if len(st.samples) >= limits.get(st.label, runs):
                continue
            m = side()
            st.samples.append(m)
            stopped = " (stopped at the time limit)" if m.timed_out else ""
            log(f"    run {i + 1}: {st.label}: {fmt_seconds(m.seconds)} s{stopped}")
    return stats
