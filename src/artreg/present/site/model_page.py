"""A name's page (models/NAME/index.html): stages now, releases, validated artifacts, timeline, requirements, events."""

from __future__ import annotations

from artreg.features.history import who
from artreg.features.site import (
    Model,
    folder_kind,
)
from artreg.layout import production_dir
from artreg.present.site.base import Layout, flatten, fmt, h, when
from artreg.present.site.svg import line_chart, series, stage_timeline
from artreg.tags import STAGES


class ModelPages(Layout):
    """The sections of a name's page."""

    def model(self, model: Model) -> str:
        page = model.page
        artifact = model.artifact
        parts = [
            f"<h1>{h(model.name)}{' <span class=badge>deprecated</span>' if artifact.deprecated else ''}</h1>"
        ]
        description = self.r.descriptions.get(model.name) or {}
        if isinstance(description.get("desc"), str):
            parts.append(f'<p class="lead">{h(description["desc"])}</p>')
        if artifact.deprecated:
            last = artifact.events[-1]
            parts.append(
                f'<p class="notice">Deprecated on {when(last.timestamp)} by {h(who(last))} '
                f"(tag <code>{h(last.tag)}</code>): no stage resolves until a new promotion.</p>"
            )
        parts.append(self.now_section(page, model))
        parts.append(self.releases_section(page, model))
        parts.append(self.validated_section(page, model))
        parts.append(self.timeline_section(page, model))
        requirements = self.requirements_section(model)
        if requirements:
            parts.append(requirements)
        parts.append(self.events_section(model))
        crumbs = [("Registry", "index.html"), (model.name, None)]
        return self.page(page, model.name, crumbs, "\n".join(parts))

    def now_section(self, page: str, model: Model) -> str:
        rows = []
        for span in model.spans:
            if span.end is None:
                rows.append(
                    [
                        h(span.stage),
                        self.version_link(page, model, span.version, span.folder),
                        when(span.start),
                        h(span.by),
                        self.commit(span.commit),
                    ]
                )
        if not rows:
            return '<section aria-labelledby="now"><h2 id="now">Stages now</h2><p>No stage resolves.</p></section>'
        return (
            '<section aria-labelledby="now"><h2 id="now">Stages now</h2>'
            + self.table(
                "What each stage resolves to now", ["stage", "holds", "since", "by", "commit"], rows
            )
            + "</section>"
        )

    def releases_section(self, page: str, model: Model) -> str:
        if not model.releases:
            return '<section aria-labelledby="releases"><h2 id="releases">Releases</h2><p>None yet.</p></section>'
        active = model.active
        metric = self.r.metric
        rows = []
        for entry in reversed(model.releases):
            meta = entry.metadata
            value = self.r.metric_of(entry)
            rows.append(
                [
                    self.link(page, entry.page, entry.label),
                    when(entry.record.timestamp),
                    h(str(meta.get("created_by") or who(entry.record))),
                    h(str((meta.get("approval") or {}).get("approved_by") or "—")),
                    "active"
                    if entry.label in active
                    else '<span class="badge">deregistered</span>',
                    h(fmt(value)) if value is not None else "—",
                ]
            )
        chart = ""
        points = series(self.r, model)
        if metric and len(points) >= 2:
            summary = ", ".join(f"{label} {fmt(v)}" for label, v in points)
            chart = (
                "<figure>"
                + line_chart(points, 640, 160, f"{metric} across versions: {summary}", axes=True)
                + (f"<figcaption>{h(metric)} across versions (oldest left)</figcaption></figure>")
            )
        return (
            '<section aria-labelledby="releases"><h2 id="releases">Releases</h2>'
            + chart
            + self.table(
                "Releases, newest first",
                ["version", "released", "by", "approved by", "status", metric or "metric"],
                rows,
                numeric=[5],
            )
            + "</section>"
        )

    def validated_section(self, page: str, model: Model) -> str:
        if not model.validated:
            return '<section aria-labelledby="validated"><h2 id="validated">Validated artifacts</h2><p>None yet.</p></section>'
        rows = []
        for entry in reversed(model.validated):
            meta = entry.metadata
            gates = meta.get("gates") or {}
            source = meta.get("source") or {}
            value = self.r.metric_of(entry)
            rows.append(
                [
                    self.link(page, entry.page, entry.label),
                    when(entry.record.timestamp),
                    h(str(meta.get("created_by") or who(entry.record))),
                    h(str(source.get("id") or "—")),
                    "passed" if gates.get("passed") else ("—" if not gates else "FAILED"),
                    h(fmt(value)) if value is not None else "—",
                ]
            )
        return (
            '<section aria-labelledby="validated"><h2 id="validated">Validated artifacts</h2>'
            + self.table(
                "Validated artifacts, newest first",
                ["id", "validated", "by", "raw session", "gates", self.r.metric or "metric"],
                rows,
                numeric=[5],
            )
            + "</section>"
        )

    def timeline_section(self, page: str, model: Model) -> str:
        spans = model.spans
        if not spans:
            return '<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2><p>No stage was ever assigned.</p></section>'
        rows = [
            [
                h(s.stage),
                self.version_link(page, model, s.version, s.folder),
                when(s.start),
                when(s.end),
                h(s.by)
                + (f' <span class="muted">({h(s.began)})</span>' if s.began != "assigned" else ""),
                self.commit(s.commit),
                self.pull(s.pull_request),
                h(s.ended or "—"),
            ]
            for s in sorted(
                spans, key=lambda s: (s.start, STAGES.index(s.stage) if s.stage in STAGES else 9)
            )
        ]
        return (
            '<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2>'
            "<p>Which version held each stage, from when until when, put there by whom, through "
            "which commit and pull request (<code>artreg history "
            f"{h(model.name)}</code>).</p>"
            + stage_timeline(spans, self.r.now)
            + self.table(
                "Stage holders over time",
                ["stage", "held by", "from", "until", "by", "commit", "pull request", "ended"],
                rows,
            )
            + "</section>"
        )

    def requirements_section(self, model: Model) -> str:
        page = model.page
        parts = []
        needs = [
            [self.link(page, e.page, e.label), self.requirement_links(page, reqs)]
            for e in model.releases
            if (reqs := self.requires_of(e))
        ]
        if needs:
            parts.append(self.table("What each release requires", ["release", "requires"], needs))
        # Dependants come from the tag messages of every name (each worker holds the whole
        # state), so a base model's page names the adapters and students built on it.
        users = [
            [
                self.link(
                    page,
                    f"models/{name}/{folder_kind(production_dir(name, v.version))}/{v.label}.html",
                    f"{name} {v.label}",
                ),
                f"<code>{h(str(req))}</code>",
            ]
            for name, artifact in sorted(self.r.state.artifacts.items())
            for v in artifact.versions
            if v.registered
            for req in v.requires()
            if req.name == model.name
        ]
        if users:
            parts.append(self.table("Required by", ["release", "requires"], users))
        latest = model.releases[-1] if model.releases else None
        meta = latest.metadata if latest is not None else {}
        runtime = meta.get("requirements")
        if latest is not None and isinstance(runtime, (dict, list)) and runtime:
            rows = [[f"<code>{h(k)}</code>", h(v)] for k, v in flatten(runtime)]
            parts.append(
                self.table(f"Requirements of {latest.label}", ["requirement", "value"], rows)
            )
        resources_ = (meta.get("deployment") or {}).get("resources")
        if latest is not None and isinstance(resources_, dict) and resources_:
            rows = [[f"<code>{h(k)}</code>", h(v)] for k, v in flatten(resources_)]
            parts.append(
                self.table(f"Deployment resources of {latest.label}", ["resource", "value"], rows)
            )
        if not parts:
            return ""
        return (
            '<section aria-labelledby="requirements"><h2 id="requirements">Requirements</h2>'
            + "".join(parts)
            + "</section>"
        )

    def events_section(self, model: Model) -> str:
        rows = [
            [
                when(r.timestamp),
                h(r.parsed.action.value),
                f"<code>{h(r.tag)}</code>",
                self.commit(r.commit),
                h(who(r)),
            ]
            for r in reversed(model.artifact.events)
        ]
        return (
            '<section aria-labelledby="events"><h2 id="events">Events</h2>'
            + self.table(
                "Every tag of this name, newest first",
                ["date", "event", "tag", "commit", "by"],
                rows,
            )
            + "</section>"
        )
