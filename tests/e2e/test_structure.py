"""Structural properties the benchmarks rely on, checked without timing anything: read paths
import neither dvc nor torch, and registration reads each source byte once."""

from __future__ import annotations

import json
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


WARM = """
import sys
from artreg import get_artifact_path
get_artifact_path("encoder", repo={repo!r})
print(sorted(m for m in sys.modules if m.split(".")[0] in ("jsonschema", "yaml", "dvc")
      or m.startswith(("artreg.publishing.publish", "artreg.publishing.transaction", "artreg.publishing.stagefolder",
                       "artreg.sources.clone_fetch", "artreg.adapters.dvc", "artreg.signing", "artreg.model"))))
"""


def test_a_warm_read_in_a_clone_loads_no_schema_and_no_write_side(
    released: Path, cache: Path
) -> None:
    """The clone's last answer (its tags by one for-each-ref, the recorded answer, the cached
    trust record) serves a warm `get_artifact_path` as a URL's cache does: nothing of the
    schema checks, the fold, the DVC layer or the write side is imported."""
    call = [sys.executable, "-c", WARM.format(repo=str(released))]
    cold = subprocess.run(call, capture_output=True, text=True, check=True)
    assert "artreg.sources.clone_fetch" in cold.stdout  # the first call resolved in full
    warm = subprocess.run(call, capture_output=True, text=True, check=True)
    assert warm.stdout.strip() == "[]", warm.stdout


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
        "import artreg.services.register, artreg.services.validate, artreg.services.release\n"
        "import artreg.services.housekeeping, artreg.services.review, artreg.publishing.publish\n"
        "print(sorted(m for m in sys.modules if m.startswith('artreg.services.verify')))\n"
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
        "src/artreg/adapters/git/run.py",
        "src/artreg/adapters/git/tagstream.py",  # starts `artreg list`'s git before the imports
        # the only imports of model_signing (banned-api elsewhere)
        "src/artreg/artifacts/signing/*.py",
        "src/artreg/adapters/dvc/*.py",
        "src/artreg/artifacts/checkpoints.py",
        "src/artreg/demo.py",
    }
    src = Path(__file__).resolve().parents[2] / "src" / "artreg"
    users = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "import subprocess" in p.read_text() or "from subprocess" in p.read_text()
    )
    assert users == ["adapters/git/run.py"]
    spawners = sorted(
        str(p.relative_to(src)) for p in src.rglob("*.py") if "posix_spawn" in p.read_text()
    )
    # `artreg list`'s git, started before subprocess loads
    assert spawners == ["adapters/git/tagstream.py"]


# --- the redesign's ratchets (issue 25): numbers may go down, never up ---------------------------

SRC = Path(__file__).resolve().parents[2] / "src" / "artreg"
LIMIT = 600
# Imports of artreg's own modules inside functions, which hide the real dependencies (import-
# linter sees them; a reader does not). Only those that exist for start-up time remain, held
# per module (numbers may go down, never up):
INNER_IMPORTS = {
    "entry.py": 2,  # main's head start: git lists the tags before the CLI is imported
    "__init__.py": 2,  # the package's lazy public API (artreg.__getattr__)
    # what a warm get_artifact_path must not load: the sources' read path, the services
    "api.py": 11,
    "sources/locate.py": 4,  # loads only the variant it chooses (lock, OCI, offline, URL)
    # the clone's full read path, only when the warm answer does not stand, and of it only the
    # part the command runs (listing, showing, serving bytes, the last answer of a read that
    # serves bytes): start-up time of `artreg list`
    "sources/clone.py": 4,
    # the transaction journal (the write side), only to explain a name not found mid-change
    "sources/clone_fetch.py": 1,
    # --version loads neither registry.values (each command's argument check) nor git's
    # runner (a not-found error's hint), and no command the registry's documents (a failed
    # gate's table)
    "cli/group.py": 3,
    # gc's result type (services/retention.Applied): `artreg list` loads present/consumer.py,
    # and retention would bring the write side; goes when the result types move below present/
    "present/consumer.py": 2,
}  # fmt: skip

# Modules that still read ARTREG_* variables from the environment themselves. Every such read
# moves into adapters/settings.py (plan section 5), one function per variable; a module that no
# longer reads any leaves this set.
ENV_READERS: set[str] = set()


def _modules() -> dict[str, str]:
    return {str(p.relative_to(SRC)): p.read_text() for p in sorted(SRC.rglob("*.py"))}


def test_no_module_is_over_600_lines() -> None:
    sizes = {rel: len(text.splitlines()) for rel, text in _modules().items()}
    over = {rel: n for rel, n in sizes.items() if n > LIMIT}
    assert not over, f"over {LIMIT} lines: {over}; split the module where its jobs part"


def _inner_artreg_imports(text: str) -> int:
    import ast

    inner = {
        id(sub)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for sub in ast.walk(node)
        if (isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("artreg"))
        or (isinstance(sub, ast.Import) and any(a.name.startswith("artreg") for a in sub.names))
    }  # by node: an import in a nested function counts once
    return len(inner)


def test_artreg_imports_move_to_the_top_of_modules() -> None:
    counts = {rel: _inner_artreg_imports(text) for rel, text in _modules().items()}
    more = {rel: n for rel, n in counts.items() if n > INNER_IMPORTS.get(rel, 0)}
    assert not more, (
        f"imports of artreg modules inside functions, beyond INNER_IMPORTS: {more}; import "
        "at the top of the module (only heavy third-party packages stay inside functions)"
    )


def test_environment_read_in_settings_only() -> None:
    import re

    reads = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\benviron\.get\b")
    readers = {
        rel
        for rel, text in _modules().items()
        if rel != "adapters/settings.py" and "ARTREG_" in text and reads.search(text)
    }
    assert readers <= ENV_READERS, (
        f"ARTREG_* variables read outside adapters/settings.py: {sorted(readers - ENV_READERS)}; "
        "add a function there and call it"
    )
    gone = sorted(ENV_READERS - readers)
    assert not gone, f"no longer read the environment: delete from ENV_READERS: {gone}"


def test_one_place_decides_the_source() -> None:
    """Whether a registry is a clone, a URL, a lock file or the cache alone is decided in
    sources/locate.py only: no read command or API function branches on it again."""
    import ast

    callers = sorted(
        {
            rel
            for rel, text in _modules().items()
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "is_registry_url"
        }
    )
    assert callers == ["sources/locate.py"], callers
    for rel, text in _modules().items():
        for gone in ("_is_url", "offline_mode", "fetch_url"):
            assert gone not in text, f"{rel} still names {gone}"
    # An OCI repository is a source too (sources/oci.py): nothing outside sources/ branches on
    # an oci:// reference (outside docstrings and messages, which may name one).
    branching = sorted(
        rel
        for rel, text in _modules().items()
        if not rel.startswith("sources/")
        for node in ast.walk(ast.parse(text))
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "startswith"
            and any(isinstance(a, ast.Constant) and a.value == "oci://" for a in node.args)
        )
        or (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Constant)
            and node.left.value == "oci://"
        )
    )
    assert not branching, f"branch on oci:// outside sources/: {branching}"
    # Nor does the CLI or the API test a string for "://" (a URL): sources.locate says.
    url_tests = sorted(
        rel
        for rel, text in _modules().items()
        if rel.startswith("cli/") or rel == "api.py"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Compare)
        and any(
            isinstance(n, ast.Constant) and n.value == "://" for n in [node.left, *node.comparators]
        )
    )
    assert not url_tests, f"a URL test outside sources/: {url_tests}"


def test_every_command_is_registered_by_the_module_the_lazy_group_names() -> None:
    """`artreg.cli.group.COMMANDS` says which module defines each command (only that module
    is imported when the command runs): each one must register exactly the commands the table
    gives it, and every module of cli/ that registers commands must be in the table."""
    code = (
        "import importlib, json\n"
        "from artreg.cli.group import COMMANDS, main\n"
        "for module in sorted(set(COMMANDS.values())):\n"
        "    importlib.import_module('artreg.cli.' + module)\n"
        "found = {n: c.callback.__module__.rpartition('.')[2] for n, c in main.commands.items()}\n"
        "print(json.dumps([found, COMMANDS]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found, table = json.loads(out.stdout)
    assert found == table
    registering = {
        p.stem
        for p in (SRC / "cli").glob("*.py")
        if "@main.command" in p.read_text() or "@main.group" in p.read_text()
    }
    assert registering == set(table.values())
