"""The site's pictures, drawn as inline SVG: the metric charts, sparklines and the stage timeline.

Each is returned as `Markup` for the templates; every value from the registry in it (labels,
versions, stage names) goes through `h`, markupsafe's escape.
"""

from __future__ import annotations

from markupsafe import Markup
from markupsafe import escape as h

from artreg.present.site.base import MUTED_DASH, fmt, iso
from artreg.registry.history import Interval
from artreg.registry.tags import STAGES
from artreg.services.site import Model, SiteData


def sparkline(data: SiteData, model: Model, width: int = 96, height: int = 32) -> str:
    """The index row's small chart of the metric across a name's versions."""
    points = series(data, model)
    if data.metric is None or not points:
        return MUTED_DASH
    summary = ", ".join(f"{label} {fmt(value)}" for label, value in points)
    drawn = line_chart(
        points,
        width,
        height,
        f"{data.metric} across {len(points)} version{'s' if len(points) != 1 else ''}: {summary}",
        axes=False,
    )
    return Markup(
        f'<span class="spark">{drawn}<span class="value">{h(fmt(points[-1][1]))}</span></span>'
    )


def series(data: SiteData, model: Model) -> list[tuple[str, float]]:
    """(label, metric) of a name's releases (else its validated artifacts), the last 30."""
    chosen = model.releases or model.validated
    found = []
    for entry in chosen:
        value = data.metric_of(entry)
        if value is not None:
            found.append((entry.label, value))
    return found[-30:]


def line_chart(
    points: list[tuple[str, float]], width: int, height: int, label: str, axes: bool
) -> str:
    """A line chart of values in order; `label` is what a screen reader hears."""
    pad_x, pad_y = (48, 18) if axes else (4, 5)
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or (abs(high) or 1.0)
    if high == low:
        low -= span / 2
        high += span / 2
        span = high - low
    inner_w, inner_h = width - 2 * pad_x, height - 2 * pad_y
    step = inner_w / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad_x + i * step  # a single point sits at the left, where a series would start
        return round(x, 1), round(pad_y + inner_h * (1 - (v - low) / span), 1)

    coords = [xy(i, v) for i, v in enumerate(values)]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="{3 if axes else 2}"><title>{h(lbl)}: {h(fmt(v))}</title></circle>'
        for (x, y), (lbl, v) in zip(coords, points, strict=True)
    )
    extra = ""
    if axes:
        extra = (
            f'<text x="{pad_x - 6}" y="{pad_y + 4}" text-anchor="end">{h(fmt(high))}</text>'
            f'<text x="{pad_x - 6}" y="{height - pad_y + 4}" text-anchor="end">{h(fmt(low))}</text>'
            f'<line class="axis" x1="{pad_x}" y1="{height - pad_y}" x2="{width - pad_x}" y2="{height - pad_y}"/>'
            f'<text x="{pad_x}" y="{height - 2}">{h(points[0][0])}</text>'
            f'<text x="{width - pad_x}" y="{height - 2}" text-anchor="end">{h(points[-1][0])}</text>'
        )
    return Markup(
        f'<svg class="chart" role="img" aria-label="{h(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{extra}<polyline points="{line}"/>{dots}</svg>'
    )


def stage_timeline(spans: list[Interval], now: int) -> str:
    """Bars per stage over time (the table after it holds the same data, for everyone)."""
    start = min(s.start for s in spans)
    end = max([now, *(s.end or now for s in spans)])
    total = max(end - start, 1)
    stages = [s for s in STAGES if any(x.stage == s for x in spans)]
    stages += sorted({x.stage for x in spans} - set(stages))
    width, left, row = 720, 90, 26
    height = row * len(stages) + 24
    parts = []
    for i, stage in enumerate(stages):
        y = i * row + 4
        parts.append(f'<text x="0" y="{y + 15}">{h(stage)}</text>')
        for span in (s for s in spans if s.stage == stage):
            x0 = left + (width - left - 4) * (span.start - start) / total
            x1 = left + (width - left - 4) * ((span.end or end) - start) / total
            w = max(x1 - x0, 2)
            tip = f"{span.label}: {iso(span.start)} until {iso(span.end) if span.end else 'now'}"
            parts.append(
                f'<rect class="bar {h(stage)}" x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{row - 8}">'
                f"<title>{h(tip)}</title></rect>"
            )
            if w > 8 * len(span.label) + 6:
                parts.append(
                    f'<text class="in-bar" x="{x0 + 4:.1f}" y="{y + 13}">{h(span.label)}</text>'
                )
    axis_y = row * len(stages) + 18
    parts.append(f'<text x="{left}" y="{axis_y}">{iso(start)[:10]}</text>')
    parts.append(f'<text x="{width - 4}" y="{axis_y}" text-anchor="end">{iso(end)[:10]}</text>')
    label = f"Timeline of {len(spans)} stage assignments from {iso(start)[:10]} to {iso(end)[:10]}; the table below lists them."
    return Markup(
        f'<figure><svg class="timeline" role="img" aria-label="{h(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{"".join(parts)}</svg></figure>'
    )
