"""Structural properties the benchmarks rely on, checked without timing anything: read paths
import neither dvc nor torch, and registration reads each source byte once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import release

PROBE = """
import sys
from artreg.cli import main
try:
    main({args!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("dvc", "torch", "gto", "matplotlib", "onnx") if m in sys.modules)
print("HEAVY", heavy, file=sys.stderr)
"""


@pytest.fixture
def released(registry: Path, checkpoint_dir: Path) -> Path:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    return registry


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--json"],
        ["show", "encoder"],
        ["resolve", "encoder"],
        ["log", "encoder"],
        ["lineage", "encoder@v1.0.0"],
        ["index", "--check"],
        ["verify"],
        ["history", "encoder"],
        ["list", "--as-of", "2999-01-01"],
        ["site", "-o", "../site-out"],
    ],
    ids=" ".join,
)
def test_read_commands_import_neither_dvc_nor_torch(released: Path, args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        cwd=released,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "HEAVY []" in out.stderr, out.stderr


def _bytes_read_registering(root: Path, source: Path, session: str) -> int:
    """Bytes the registering process read (rchar of /proc/self/io), imports included."""
    code = (
        "from artreg.cli import main\n"
        "try:\n"
        f"    main(['register', 'encoder', {session!r}, '--from', {str(source)!r}, '-q'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print([l for l in open('/proc/self/io') if l.startswith('rchar')][0].split()[1])\n"
    )
    env = {**os.environ, "CI": "true"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


def test_registration_reads_each_source_byte_once(registry: Path, tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir()
    big.mkdir()
    (small / "best.pt").write_bytes(b"x" * 1024)
    size = 48 << 20
    with (big / "best.pt").open("wb") as fh:
        for _ in range(size >> 20):
            fh.write(os.urandom(1 << 20))
    overhead = _bytes_read_registering(registry, small, "s-small")
    total = _bytes_read_registering(registry, big, "s-big")
    # One pass over the source; a second read (to hash, or to copy into the DVC cache) would
    # add another 48 MiB.
    assert total - overhead < size * 1.15, (total, overhead)
    assert total - overhead > size * 0.95


def test_write_paths_import_no_verification_helpers() -> None:
    code = (
        "import sys\n"
        "import artreg.features.register, artreg.features.promote, artreg.features.release\n"
        "import artreg.features.housekeeping, artreg.features.review, artreg.publish\n"
        "print(sorted(m for m in sys.modules if m == 'artreg.features.verify'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_the_boundary_modules_run_subprocesses() -> None:
    """ruff's banned-api rule enforces it; this checks the rule is configured as documented."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    lint = config["tool"]["ruff"]["lint"]
    banned = lint["flake8-tidy-imports"]["banned-api"]
    assert {"subprocess", "os.posix_spawn", "os.posix_spawnp", "os.system", "os.popen"} <= set(
        banned
    )
    exempt = {path for path, rules in lint["per-file-ignores"].items() if "TID251" in rules}
    assert {p for p in exempt if p.startswith("src/")} == {
        "src/artreg/gitrepo.py",
        "src/artreg/dvcrepo.py",
        "src/artreg/checkpoints.py",
        "src/artreg/features/demo.py",
        "src/artreg/signing.py",  # the only import of model_signing (banned-api elsewhere)
        "src/artreg/tagstream.py",  # starts `artreg list`'s git before the CLI's imports
    }
    src = Path(__file__).resolve().parents[2] / "src" / "artreg"
    users = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "import subprocess" in p.read_text() or "from subprocess" in p.read_text()
    )
    assert users == ["gitrepo.py"]
    spawners = sorted(
        str(p.relative_to(src)) for p in src.rglob("*.py") if "posix_spawn" in p.read_text()
    )
    assert spawners == ["tagstream.py"]  # `artreg list`'s git, started before subprocess loads
