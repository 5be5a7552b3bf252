"""The README's quickstart, run from the README text itself, in order, in a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_script() -> str:
    text = README.read_text()
    section = text.split("<!-- quickstart:start -->", 1)[1].split("<!-- quickstart:end -->", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README's quickstart has no bash block"
    return "set -euo pipefail\n" + "\n".join(blocks)


def test_readme_quickstart_runs_from_top_to_bottom(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CI": "true"}
    result = subprocess.run(
        ["bash", "-c", quickstart_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    model = tmp_path / "inference-service/artifacts/production/encoder/v1.0.0/model.pt"
    assert f"{model}\n" in result.stdout
    assert model.is_file()
    assert "encoder  v1.0.0" in result.stdout  # artreg list
    assert "production v1.0.0" in result.stdout  # artreg lineage
    assert "registry verified" in result.stdout
