"""Bytes a release writes and reads, which do not swing with the disk as times do.

    python benchmarks/release_bytes.py SIZE {local,push} WORKDIR [CACHE_TYPE]

`artreg init` makes a fresh registry in WORKDIR (CACHE_TYPE, e.g. `copy`, is set with
`dvc config cache.type` and committed, as in a registry made before links), then a new process
releases a random SIZE-byte safetensors file with `register_model_file` (with `push`: to a bare
origin and the registry's local DVC remote). Printed as one JSON line: the block output of that
process tree (`ru_oublock`, counted when a page is dirtied, so the page cache hides nothing),
the process's own /proc/self/io `write_bytes` and `rchar`, and the ratio to SIZE.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import fixtures
from fixtures import ARTREG, DVC

CHILD = """
import json, sys
from importlib import resources
from pathlib import Path
from artreg.services.release import register_model_file
from artreg.publishing.publish import PublishOptions
examples = Path(str(resources.files("artreg") / "examples"))
register_model_file(
    Path(sys.argv[1]), "enc", Path(sys.argv[2]), "1.0.0",
    benchmarks=examples / "benchmarks.json", resource_usage=examples / "resource_usage.json",
    approved_by="Bench Release Manager", options=PublishOptions(push=sys.argv[3] == "push"),
)
io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
print(json.dumps({"write_bytes": int(io["write_bytes"]), "rchar": int(io["rchar"])}))
"""


def main() -> None:
    size, push, work = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    cache_type = sys.argv[4] if len(sys.argv) > 4 else None
    shutil.rmtree(work, ignore_errors=True)
    model = work / "src" / "model.safetensors"
    model.parent.mkdir(parents=True)
    fixtures.write_random_safetensors(model, size, seed=14)
    root = work / "registry"
    subprocess.run([ARTREG, "init", root], check=True, capture_output=True)
    if cache_type:
        subprocess.run([DVC, "config", "cache.type", cache_type], cwd=root, check=True)
        subprocess.run(["git", "commit", "-qm", "cache.type", ".dvc/config"], cwd=root, check=True)
    if push == "push":
        origin = work / "origin.git"
        subprocess.run(["git", "init", "--bare", "-q", origin], check=True)
        subprocess.run(["git", "remote", "add", "origin", origin], cwd=root, check=True)
        subprocess.run(["git", "push", "-q", "-u", "origin", "HEAD"], cwd=root, check=True)
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    out = subprocess.run(
        [sys.executable, "-c", CHILD, root, model, push],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tree = 512 * (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - before)
    own = json.loads(out.splitlines()[-1])
    shown = {"size": size, "push": push == "push", "cache.type": cache_type or "artreg init's"}
    print(json.dumps({**shown, "tree_written": tree, "ratio": round(tree / size, 3), **own}))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
