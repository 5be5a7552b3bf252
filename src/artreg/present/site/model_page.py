"""A name's page (models/NAME/index.html): stages now, releases, validated artifacts, timeline,
requirements and events, as the context of `model.html.j2`."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from artreg.present.site.base import Layout, badge, code, flatten, fmt, table, when
from artreg.present.site.svg import line_chart, series, stage_timeline
from artreg.present.site.templates import render
from artreg.registry.history import who
from artreg.registry.layout import production_dir
from artreg.registry.tags import STAGES
from artreg.services.site import Model, folder_kind


class ModelPages(Layout):
    """The sections of a name's page."""

    def model(self, model: Model) -> str:
        page = model.page
        artifact = model.artifact
        context = self.frame(page, model.name, [("Registry", "index.html"), (model.name, None)])
        description = self.r.descriptions.get(model.name) or {}
        desc = description.get("desc")
        last = artifact.events[-1] if artifact.deprecated else None
        context.update(
            name=model.name,
            deprecated=(
                {"at": when(last.timestamp), "by": who(last), "tag": last.tag} if last else None
            ),
            desc=desc if isinstance(desc, str) else None,
            stages_now=self.now_section(page, model),
            releases=self.releases_section(page, model),
            validated=self.validated_section(page, model),
            timeline=self.timeline_section(page, model),
            requirements=self.requirements_section(model),
            events=self.events_section(model),
        )
        return render("model", context)

    def now_section(self, page: str, model: Model) -> Markup | None:
        rows: list[list[str]] = [
            [
                span.stage,
                self.version_link(page, model, span.version, span.folder),
                when(span.start),
                span.by,
                self.commit(span.commit),
            ]
            for span in model.spans
            if span.end is None
        ]
        if not rows:
            return None
        return table(
            "What each stage resolves to now", ["stage", "holds", "since", "by", "commit"], rows
        )

    def releases_section(self, page: str, model: Model) -> dict[str, Any] | None:
        if not model.releases:
            return None
        active = model.active
        metric = self.r.metric
        rows: list[list[str]] = []
        for entry in reversed(model.releases):
            meta = entry.metadata
            value = self.r.metric_of(entry)
            rows.append(
                [
                    self.link(page, entry.page, entry.label),
                    when(entry.record.timestamp),
                    str(meta.get("created_by") or who(entry.record)),
                    str((meta.get("approval") or {}).get("approved_by") or "—"),
                    "active" if entry.label in active else badge("deregistered"),
                    fmt(value) if value is not None else "—",
                ]
            )
        chart = None
        points = series(self.r, model)
        if metric and len(points) >= 2:
            summary = ", ".join(f"{label} {fmt(v)}" for label, v in points)
            chart = line_chart(points, 640, 160, f"{metric} across versions: {summary}", axes=True)
        return {
            "chart": chart,
            "metric": metric,
            "table": table(
                "Releases, newest first",
                ["version", "released", "by", "approved by", "status", metric or "metric"],
                rows,
                numeric=[5],
            ),
        }

    def validated_section(self, page: str, model: Model) -> Markup | None:
        if not model.validated:
            return None
        rows: list[list[str]] = []
        for entry in reversed(model.validated):
            meta = entry.metadata
            gates = meta.get("gates") or {}
            source = meta.get("source") or {}
            value = self.r.metric_of(entry)
            rows.append(
                [
                    self.link(page, entry.page, entry.label),
                    when(entry.record.timestamp),
                    str(meta.get("created_by") or who(entry.record)),
                    str(source.get("id") or "—"),
                    "passed" if gates.get("passed") else ("—" if not gates else "FAILED"),
                    fmt(value) if value is not None else "—",
                ]
            )
        return table(
            "Validated artifacts, newest first",
            ["id", "validated", "by", "raw session", "gates", self.r.metric or "metric"],
            rows,
            numeric=[5],
        )

    def timeline_section(self, page: str, model: Model) -> dict[str, Any] | None:
        spans = model.spans
        if not spans:
            return None
        rows: list[list[str]] = [
            [
                s.stage,
                self.version_link(page, model, s.version, s.folder),
                when(s.start),
                when(s.end),
                s.by
                if not s.note
                else escape(s.by) + Markup(' <span class="muted">(') + s.note + Markup(")</span>"),
                self.commit(s.commit),
                self.pull(s.pull_request),
                s.ended or "—",
            ]
            for s in sorted(
                spans, key=lambda s: (s.start, STAGES.index(s.stage) if s.stage in STAGES else 9)
            )
        ]
        return {
            "picture": stage_timeline(spans, self.r.now),
            "table": table(
                "Stage holders over time",
                ["stage", "held by", "from", "until", "by", "commit", "pull request", "ended"],
                rows,
            ),
        }

    def requirements_section(self, model: Model) -> list[Markup]:
        """The tables of the Requirements section (none: no section)."""
        page = model.page
        parts = []
        needs: list[list[str]] = [
            [self.link(page, e.page, e.label), self.requirement_links(page, reqs)]
            for e in model.releases
            if (reqs := self.requires_of(e))
        ]
        if needs:
            parts.append(table("What each release requires", ["release", "requires"], needs))
        # Dependants come from the tag messages of every name (each worker holds the whole
        # state), so a base model's page names the adapters and students built on it.
        users: list[list[str]] = [
            [
                self.link(
                    page,
                    f"models/{name}/{folder_kind(production_dir(name, v.version))}/{v.label}.html",
                    f"{name} {v.label}",
                ),
                code(req),
            ]
            for name, artifact in sorted(self.r.state.artifacts.items())
            for v in artifact.versions
            if v.registered
            for req in v.requires()
            if req.name == model.name
        ]
        if users:
            parts.append(table("Required by", ["release", "requires"], users))
        latest = model.releases[-1] if model.releases else None
        meta = latest.metadata if latest is not None else {}
        runtime = meta.get("requirements")
        if latest is not None and isinstance(runtime, (dict, list)) and runtime:
            rows: list[list[str]] = [[code(k), v] for k, v in flatten(runtime)]
            parts.append(table(f"Requirements of {latest.label}", ["requirement", "value"], rows))
        resources_ = (meta.get("deployment") or {}).get("resources")
        if latest is not None and isinstance(resources_, dict) and resources_:
            rows = [[code(k), v] for k, v in flatten(resources_)]
            parts.append(
                table(f"Deployment resources of {latest.label}", ["resource", "value"], rows)
            )
        return parts

    def events_section(self, model: Model) -> Markup:
        rows: list[list[str]] = [
            [
                when(r.timestamp),
                r.parsed.action.value,
                code(r.tag),
                self.commit(r.commit),
                who(r),
            ]
            for r in reversed(model.artifact.events)
        ]
        return table(
            "Every tag of this name, newest first", ["date", "event", "tag", "commit", "by"], rows
        )
