"""Every page of the site from a collected SiteData: the index, the listings, the search index,
and (through the section classes) each name's and each entry's page."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from artreg.errors import ArtregError
from artreg.present.site.base import MUTED_DASH, when
from artreg.present.site.entry_page import EntryPages
from artreg.present.site.model_page import ModelPages
from artreg.present.site.svg import sparkline
from artreg.present.site.templates import render
from artreg.registry.history import who
from artreg.registry.stages import parse_stages
from artreg.registry.tags import STAGES, Action
from artreg.services.site import Model, committed_params, folder_of_record


class Pages(ModelPages, EntryPages):
    """The HTML of every page, built from a collected SiteData."""

    def all(self) -> Iterable[tuple[str, str]]:
        """(path, html) of every page of this registry's names (the index is made apart)."""
        for model in self.r.models.values():
            yield model.page, self.model(model)
            for kind in ("releases", "validated"):
                yield f"models/{model.name}/{kind}/index.html", self.listing(model, kind)
            for entry in model.releases + model.validated:
                yield entry.page, self.entry(model, entry)

    # --- index ---------------------------------------------------------------------------

    @functools.cached_property
    def stages(self) -> tuple[str, ...]:
        """The index's stage columns: the built-in stages, then every extra stage params.yaml
        declares or a tag assigns, in lifecycle order (`staging: {after: validated}` sits
        before production; an undeclared one, e.g. gto's, comes last)."""
        try:
            params, source = committed_params(self.r.root)
            order = parse_stages(params.get("stages"), source).order
        except ArtregError:  # `artreg verify` reports a bad stages section; the site shows tags
            order = STAGES
        held = {
            e.parsed.stage
            for e in self.r.state.tagged_events()
            if e.parsed.action is Action.ASSIGN and e.parsed.stage
        }
        return (*order, *sorted(s for s in held if s not in order))

    def index_row(self, model: Model) -> dict[str, Any]:
        """The index page's row of one name (made where its pages are made, in a worker)."""
        page = "index.html"
        artifact = model.artifact
        stages = artifact.stages()
        cells: list[str] = []
        for stage in self.stages:
            holder = stages.get(stage)
            if holder is None:
                cells.append(MUTED_DASH)
                continue
            folder = folder_of_record(self.r, holder.assignment(stage))
            label = f"v{holder.version}" if holder.registered else None
            cells.append(self.version_link(page, model, label, folder))
        production = stages.get("production")
        since: str = "—"
        person = short = "—"
        if production is not None:
            record = production.assignment("production")
            assert record is not None
            since = when(record.timestamp)
            entry = self.r.entries.get(folder_of_record(self.r, record) or "")
            person = str(entry.metadata.get("created_by") or who(record)) if entry else who(record)
            short = person.split(" <", 1)[0] or person
        latest = artifact.latest()
        return {
            "name": model.name,
            "link": self.link(page, model.page, model.name),
            "deprecated": artifact.deprecated,
            "latest": "v" + latest.version if latest else "—",
            "cells": cells,
            "since": since,
            "person": person,
            "short": short,
            "spark": sparkline(self.r, model),
        }

    def index(self, rows: list[dict[str, Any]], policy: dict[str, Any] | None = None) -> str:
        """index.html: every name's row, after the "Policy changes" (`policy_section`), if any."""
        context = self.frame("index.html", "Models", [("Registry", None)], index=True)
        context["rows"] = rows
        context["stages"] = self.stages
        context["policy"] = policy
        context["metric"] = self.r.metric or "metric"
        return render("index", context)

    def models_listing(self, names: list[str]) -> str:
        """models/index.html: every name (so the folder has a page of its own)."""
        page = "models/index.html"
        context = self.frame(page, "Models", [("Registry", "index.html"), ("Models", None)])
        context["links"] = [self.link(page, f"models/{n}/index.html", n) for n in names]
        return render("models", context)

    def listing(self, model: Model, kind: str) -> str:
        """models/NAME/releases/index.html or .../validated/index.html: links to each page."""
        page = f"models/{model.name}/{kind}/index.html"
        entries = list(reversed(model.releases if kind == "releases" else model.validated))
        title = f"{model.name}: {'releases' if kind == 'releases' else 'validated artifacts'}"
        crumbs = [("Registry", "index.html"), (model.name, model.page), (kind, None)]
        context = self.frame(page, title, crumbs)
        context["items"] = [
            (self.link(page, e.page, e.label), when(e.record.timestamp)) for e in entries
        ]
        return render("listing", context)

    # --- the search index -----------------------------------------------------------------

    def search_index(self) -> list[dict[str, str]]:
        """One document per name, release and validated artifact: what the page's search reads."""
        docs = []
        for name, model in self.r.models.items():
            description = self.r.descriptions.get(name) or {}
            words = [
                name,
                str(description.get("desc") or ""),
                " ".join(map(str, description.get("labels") or [])),
            ]
            if model.artifact.deprecated:
                words.append("deprecated")
            docs.append({"k": "model", "n": name, "l": name, "u": model.page, "t": _text(words)})
            for entry in model.releases + model.validated:
                meta = entry.metadata
                words = [
                    name,
                    entry.label,
                    entry.folder.stage,
                    "release" if entry.folder.stage == "production" else "validated",
                    str(meta.get("created_by") or who(entry.record)),
                    str((meta.get("approval") or {}).get("approved_by") or ""),
                    str(meta.get("notes") or ""),
                    str((meta.get("source") or {}).get("id") or ""),
                    " ".join(self.r.all_metrics(entry)),
                ]
                docs.append(
                    {
                        "k": "release" if entry.folder.stage == "production" else "validated",
                        "n": name,
                        "l": f"{name} {entry.label}",
                        "u": entry.page,
                        "t": _text(words),
                    }
                )
        return docs


def _text(words: Iterable[str]) -> str:
    return " ".join(" ".join(words).lower().split())
