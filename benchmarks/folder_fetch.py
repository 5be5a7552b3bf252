"""Pair 11d: a model folder of many small files, fetched cold from a registry URL.

One release of a Hugging Face-style folder (`files - 3` small safetensors shards, their index,
config and tokenizer) in a registry served as a bare repository, its objects pushed to a
local-folder DVC remote. `artreg get URL NAME -o OUT` (a new process, an empty $ARTREG_CACHE
each run) against `dvc artifacts get URL NAME -o OUT` of the same release at the same commit;
both outputs are checked file by file against the folder that was released.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fixtures
from fixtures import ARTREG, DVC, artreg_init, remove, sh
from timing import Measurement, Stats, alternate, run

NAME = "model"
VERSION = "1.0.0"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Served:
    """The released folder as a consumer sees it: where to ask, and what must arrive."""

    url: str
    commit: str
    files: int
    total: int
    tree: str  # `tree_digest` of the folder that was released


def tree_digest(folder: Path) -> str:
    """One sha256 over every file's path (relative to `folder`) and bytes: two folders hold
    the same files exactly when their digests are equal."""
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0")
        sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


def serve(work: Path, env: dict[str, str], files: int, file_size: int) -> Served:
    """Release a folder of `files` files (about `file_size` bytes each), push its objects to
    the registry's DVC remote and serve the registry as a bare repository (untimed)."""
    shards = files - 3  # + the weight index, config.json and tokenizer.json
    source = fixtures.hf_folder(
        work / "folder-fetch-src" / "snapshot", shards * file_size, shards, seed=14
    )
    nfiles = sum(1 for p in source.rglob("*") if p.is_file())
    assert nfiles == files, (nfiles, files)
    tree, total = tree_digest(source), fixtures.folder_bytes(source)
    root = artreg_init(work / "folder-fetch-reg", env, remote=str(work / "folder-fetch-storage"))
    inputs = [
        "--benchmarks", EXAMPLES / "benchmarks.json",
        "--resources", EXAMPLES / "resource_usage.json",
        "--approved-by", "bench",
    ]  # fmt: skip
    sh([ARTREG, "release", NAME, source, "--version", VERSION, *inputs, "-q"], root, env)
    sh([DVC, "push", "--quiet"], root, env)
    remove(source.parent)
    commit = sh(["git", "rev-list", "-n", "1", f"{NAME}@v{VERSION}"], root, env).strip()
    head = sh(["git", "rev-parse", "HEAD"], root, env).strip()
    assert head == commit, "dvc artifacts get reads HEAD: it must be the release's commit"
    bare = fixtures.serve_bare(root, work / "srv" / "folder-fetch.git", env)
    return Served(bare.as_uri(), commit, files, total, tree)


def measure(
    served: Served, work: Path, env: dict[str, str], runs: int, log: Callable[[str], None]
) -> tuple[Stats, Stats]:
    """`artreg get` and `dvc artifacts get` of the served folder, alternating, each run cold
    (a new process; artreg with an empty cache) and its output checked."""
    numbers = itertools.count()

    def check(got: Path, tool: str) -> None:
        if tree_digest(got) != served.tree:
            raise AssertionError(f"{tool} wrote other files than the release's into {got}")

    def artreg_side() -> Measurement:
        n = next(numbers)
        cache, out = work / f"folder-fetch-cache-{n}", work / f"folder-fetch-out-{n}"
        cmd = [ARTREG, "get", served.url, NAME, "-o", out]
        m = run(cmd, work, {**env, "ARTREG_CACHE": str(cache)})
        check(out, "artreg get")  # a model folder's files go into OUT, as dvc writes them
        remove(cache)
        remove(out)
        return m

    def dvc_side() -> Measurement:
        out = work / f"folder-fetch-dvc-{next(numbers)}"
        m = run([DVC, "artifacts", "get", served.url, NAME, "-o", out], work, env)
        check(out, "dvc artifacts get")
        remove(out)
        return m

    a, b = alternate(
        [("artreg get", artreg_side), ("dvc artifacts get", dvc_side)], runs=runs, log=log
    )
    return a, b


SECTION = (
    "### 11d. Cold fetch of a model folder of many files from a registry URL\n\n"
    "A registry (`artreg init` with a local-folder DVC remote) holding one release of a "
    "Hugging Face-style folder: {shards:,} small safetensors shards (a valid header each, "
    "random bytes) with their `model.safetensors.index.json`, `config.json` and "
    "`tokenizer.json`, {files:,} files in all ({size}), released by `artreg release` and "
    "pushed with `dvc push`, then served as a bare repository through `file://` with "
    "`uploadpack.allowFilter`. Each artreg run is a new process with an empty cache "
    "($ARTREG_CACHE): the name's tags, the trees along the folder's path, its manifest and "
    "pointer, then the folder's `.dir` listing (read, hashed and parsed once) and every file's "
    "object, each verified against the manifest's sha256 while written, then copied to `-o`. "
    "`dvc artifacts get URL {name} -o OUT` clones the registry and reads the same objects "
    "from the same remote; the registry's HEAD is the release's commit, so both read the same "
    "commit. Each output is checked, every file's path and bytes, against the folder that was "
    "released, and removed (untimed).\n"
)
