"""Training curves drawn from a raw session's metrics, for model cards and pull requests.

matplotlib is imported only here, only when a session's metrics hold per-epoch series.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHART_NAME = "training_curves.png"


def series(metrics_texts: dict[str, str]) -> dict[str, list[float]]:
    """Every numeric list of length ≥ 2 in the metrics files (loss, coverage per epoch...)."""
    found: dict[str, list[float]] = {}
    for fname, text in sorted(metrics_texts.items()):
        try:
            data: Any = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            if (
                key not in ("epoch", "epochs", "step", "steps")
                and isinstance(value, list)
                and len(value) >= 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            ):
                label = key if key not in found else f"{Path(fname).stem}.{key}"
                found[label] = [float(v) for v in value]
    return found


def training_curves_png(curves: dict[str, list[float]], title: str) -> bytes:
    """A PNG with one panel per series, epochs on the x axis."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # headless: no display on CI or training machines
    from matplotlib import pyplot as plt

    panels = list(curves.items())[:6]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3), squeeze=False, dpi=100)
    for ax, (name, values) in zip(axes[0], panels, strict=True):
        ax.plot(range(1, len(values) + 1), values, marker="o", linewidth=1.5)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
