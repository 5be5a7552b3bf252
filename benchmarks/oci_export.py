"""OCI export against skopeo (issue 27), standalone until it joins run.py's pairs:

    .venv/bin/python benchmarks/oci_export.py [MiB]      # default 1024

A release of four safetensors shards (MiB in all) is exported to Debian's docker-registry on
loopback (`artreg export --oci`, a fresh process as a user runs it) and, as the baseline, the same
artifact laid out as an OCI image layout is copied to another repository of that registry by
`skopeo copy` (target: export ≤ 1.2× skopeo). Then a version with one shard changed is exported
to the first repository: the bytes uploaded must be that shard + at most 1%.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from artreg.services.init import init_registry  # noqa: E402

from helpers import RELEASE_ARGS  # noqa: E402
from helpers.ociregistry import docker_registry, skopeo  # noqa: E402

ARTREG = str(Path(sys.executable).parent / "artreg")
MiB = 1 << 20


def shards(folder: Path, total: int, changed: int | None = None) -> Path:
    """Four float32 safetensors shards of `total` bytes in all (shard `changed` other bytes),
    with their index and config."""
    folder.mkdir(parents=True)
    weight_map = {}
    for i in range(1, 5):
        count = total // 4 // 4
        header = json.dumps({f"w{i}": {"dtype": "F32", "shape": [count],
                                       "data_offsets": [0, count * 4]}}).encode()  # fmt: skip
        header += b" " * (-len(header) % 8)
        block = random.Random(i + (100 if i == changed else 0)).randbytes(MiB)
        with open(folder / f"model-{i:05d}-of-00004.safetensors", "wb") as fh:
            fh.write(struct.pack("<Q", len(header)) + header)
            for _ in range(count * 4 // MiB):
                fh.write(block)
        weight_map[f"w{i}"] = f"model-{i:05d}-of-00004.safetensors"
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    (folder / "config.json").write_text("{}")
    return folder


def timed(root: Path, *args: str) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run([ARTREG, *args], cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"artreg {' '.join(args)}: {done.stderr}")
    return done.stdout, elapsed


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="oci-bench-"))
    os.environ["HOME"] = str(base)
    os.environ["GIT_CONFIG_GLOBAL"] = str(base / "gitconfig")
    (base / "gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    try:
        measure(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure(base: Path) -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    root = base / "registry"
    init_registry(root)
    timed(root, "release", "big", str(shards(base / "v1", mib * MiB)), "--version", "1.0.0",
          *RELEASE_ARGS)  # fmt: skip
    with docker_registry(base / "oci") as served:
        _, export = timed(root, "export", "big@v1.0.0", "--oci", f"{served.host}/a/big",
                          "--plain-http")  # fmt: skip
        timed(root, "export", "big@v1.0.0", "--oci-layout", str(base / "layout"))
        start = time.perf_counter()
        skopeo("copy", "--insecure-policy", "--dest-tls-verify=false",
               f"oci:{base / 'layout'}:v1.0.0", f"docker://{served.host}/b/big:v1.0.0")  # fmt: skip
        copy = time.perf_counter() - start
        print(f"{mib} MiB: artreg export {export:.2f} s, skopeo copy of the layout "
              f"{copy:.2f} s: {export / copy:.2f}x (target <= 1.2x)")  # fmt: skip
        timed(root, "release", "big", str(shards(base / "v2", mib * MiB, changed=2)),
              "--version", "1.1.0", *RELEASE_ARGS)  # fmt: skip
        out, _ = timed(root, "export", "big@v1.1.0", "--oci", f"{served.host}/a/big",
                       "--plain-http", "--json")  # fmt: skip
        sent = json.loads(out)[0]["bytes_uploaded"]
        shard = (base / "v2" / "model-00002-of-00004.safetensors").stat().st_size
        print(f"one shard of four changed: {sent} B uploaded for a {shard} B shard: "
              f"{sent / shard:.4f}x (target <= 1.01x)")  # fmt: skip


if __name__ == "__main__":
    main()
