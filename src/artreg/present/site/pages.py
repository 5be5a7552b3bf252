"""Every page of the site from a collected SiteData: the index, the listings, the search index, and (through the section classes) each name's and each entry's page."""

from __future__ import annotations

from collections.abc import Iterable

from artreg.features.history import who
from artreg.features.site import (
    Model,
    folder_of_record,
)
from artreg.present.site.base import h, when
from artreg.present.site.entry_page import EntryPages
from artreg.present.site.model_page import ModelPages
from artreg.present.site.svg import sparkline
from artreg.tags import STAGES


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

    def index_row(self, model: Model) -> str:
        """The index page's row of one name (made where its pages are made)."""
        page = "index.html"
        artifact = model.artifact
        stages = artifact.stages()
        cells = []
        for stage in STAGES:
            holder = stages.get(stage)
            if holder is None:
                cells.append('<span class="muted">—</span>')
                continue
            folder = folder_of_record(self.r, holder.assignment(stage))
            label = f"v{holder.version}" if holder.registered else None
            cells.append(self.version_link(page, model, label, folder))
        production = stages.get("production")
        since = by = "—"
        if production is not None:
            record = production.assignment("production")
            assert record is not None
            since = when(record.timestamp)
            entry = self.r.entries.get(folder_of_record(self.r, record) or "")
            person = str(entry.metadata.get("created_by") or who(record)) if entry else who(record)
            short = person.split(" <", 1)[0] or person
            by = f'<span title="{h(person)}">{h(short)}</span>' if short != person else h(person)
        latest = artifact.latest()
        status = ' <span class="badge">deprecated</span>' if artifact.deprecated else ""
        name = model.name
        return (
            f'<tr data-name="{h(name)}"><th scope="row">{self.link(page, model.page, name)}{status}</th>'
            f"<td>{h('v' + latest.version) if latest else '—'}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td>{since}</td><td>{by}</td><td>{sparkline(self.r, model)}</td></tr>"
        )

    def index(self, rows: list[str]) -> str:
        page = "index.html"
        metric = h(self.r.metric) if self.r.metric else "metric"
        head = "".join(
            f'<th scope="col">{x}</th>'
            for x in [
                "name",
                "latest",
                "raw",
                "validated",
                "production",
                "in production since",
                "released by",
                metric,
            ]
        )
        count = len(rows)
        body = f"""<h1>{h(self.config.title)}</h1>
<p class="lead">{count} model{"s" if count != 1 else ""}: what each stage holds now, the latest
release, and {metric} across versions. The search box filters this table by name and metadata.</p>
<section id="search-results" aria-labelledby="results-heading" hidden>
<h2 id="results-heading">Search results</h2>
<p id="result-count" aria-live="polite"></p>
<ul id="results"></ul>
</section>
<section aria-labelledby="models-heading">
<h2 id="models-heading">Models</h2>
<div class="scroll" role="region" aria-label="Models and their stages" tabindex="0">
<table id="models">
<caption>Every name and what its stages hold (like <code>artreg list --all</code>)</caption>
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(rows) if rows else '<tr><td colspan="8">The registry is empty.</td></tr>'}
</tbody>
</table>
</div>
</section>"""
        return self.page(page, "Models", [("Registry", None)], body, index=True)

    def models_listing(self, names: list[str]) -> str:
        """models/index.html: every name (so the folder has a page of its own)."""
        page = "models/index.html"
        items = "".join(f"<li>{self.link(page, f'models/{n}/index.html', n)}</li>" for n in names)
        body = f"<h1>Models</h1><ul>{items}</ul>" if names else "<h1>Models</h1><p>None yet.</p>"
        return self.page(page, "Models", [("Registry", "index.html"), ("Models", None)], body)

    def listing(self, model: Model, kind: str) -> str:
        """models/NAME/releases/index.html or .../validated/index.html: links to each page."""
        page = f"models/{model.name}/{kind}/index.html"
        entries = list(reversed(model.releases if kind == "releases" else model.validated))
        title = f"{model.name}: {'releases' if kind == 'releases' else 'validated artifacts'}"
        items = "".join(
            f"<li>{self.link(page, e.page, e.label)} ({when(e.record.timestamp)})</li>"
            for e in entries
        )
        body = f"<h1>{h(title)}</h1>" + (f"<ul>{items}</ul>" if items else "<p>None yet.</p>")
        crumbs = [("Registry", "index.html"), (model.name, model.page), (kind, None)]
        return self.page(page, title, crumbs, body)

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
