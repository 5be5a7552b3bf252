"""What every page of the site shares: dates and numbers, links, commits, tables, the page
frame's context, and the requirement links (the `Layout` the page classes build on).

Values reach a page through the templates' autoescape. The helpers here return `Markup` for
the few pieces of HTML made in Python (a link, a time, a commit), escaping what they embed
with `h` (html.escape, with a fast path for text that needs none).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from html import escape as html_escape
from typing import Any

from markupsafe import Markup

from artreg._version import __version__
from artreg.registry.layout import production_dir
from artreg.registry.records import Requirement
from artreg.registry.requirements import statuses
from artreg.services.site import Entry, Model, SiteData, folder_kind

SEARCH_INDEX = "assets/search-index.js"
MUTED_DASH = Markup('<span class="muted">—</span>')
_SHA = re.compile(r"[0-9a-f]{7,64}")
_SPECIAL = re.compile(r"[&<>\"']")

Cell = str  # text (escaped by the template) or Markup (HTML made by a helper here)


def h(value: object) -> str:
    """A value in HTML made in Python: `entry_page` and the helpers (html.escape, fast path)."""
    text = value if isinstance(value, str) else str(value)
    return html_escape(text) if _SPECIAL.search(text) else text


@functools.lru_cache(maxsize=65536)
def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=65536)
def when(timestamp: int | None) -> str:
    """A <time> element (digits only: nothing to escape), or "now" for an open interval."""
    if timestamp is None:
        return "now"
    stamp = iso(timestamp)
    return Markup(f'<time datetime="{stamp}">{stamp[:10]} {stamp[11:16]}</time>')


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def code(text: object, css: str | None = None) -> Markup:
    """`text` in a <code> element."""
    opening = f'<code class="{css}">' if css else "<code>"
    return Markup(f"{opening}{h(text)}</code>")


def badge(text: str) -> Markup:
    return Markup(f'<span class="badge">{h(text)}</span>')


def joined(parts: Iterable[str], separator: str = ", ") -> Markup:
    """Text and Markup parts joined, each escaped unless it is Markup."""
    return Markup(separator).join(parts)


def table(
    caption: str, headers: list[str], rows: list[list[Cell]], numeric: Iterable[int] = ()
) -> Markup:
    """A table whose cells are text (escaped here) or Markup (a helper's HTML)."""
    html = [[c if isinstance(c, Markup) else h(c) for c in row] for row in rows]
    return Markup(table_html(caption, headers, html, numeric))


def table_html(
    caption: str, headers: list[str], rows: list[list[str]], numeric: Iterable[int] = ()
) -> str:
    """A table in a focusable scroll box (keyboard users can scroll wide ones); its `numeric`
    columns are right-aligned by the table's classes (site.css). The cells are HTML already.

    Tables are the bulk of the big pages (a name's events and timeline, a release's files):
    written here, not in a template, where autoescape made `artreg site` measurably slower."""
    classes = " ".join(f"num-{i + 1}" for i in sorted(set(numeric)))
    opening = f'<table class="{classes}">' if classes else "<table>"
    head = "".join(f'<th scope="col">{h(x)}</th>' for x in headers)
    body = "\n".join("<tr><td>" + "</td><td>".join(row) + "</td></tr>" for row in rows)
    label = h(caption)
    return (
        f'<div class="scroll" role="region" aria-label="{label}" tabindex="0">'
        f"{opening}\n<caption>{label}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>"
    )


class Layout:
    """The frame, links and tables every page uses, over a collected SiteData."""

    def __init__(self, registry: SiteData) -> None:
        self.r = registry
        self.config = registry.config

    def frame(
        self, path: str, title: str, crumbs: list[tuple[str, str | None]], index: bool = False
    ) -> dict[str, Any]:
        """What `page.html.j2` needs around a page's body."""
        return {
            "up": "../" * path.count("/"),
            "title": title,
            "site_title": self.config.title,
            "crumbs": crumbs,
            "index": index,
            "search_index": SEARCH_INDEX,
            "version": __version__,
            "head": self.commit(self.r.head) if self.r.head else None,
            "now": when(self.r.now),
        }

    @staticmethod
    def rel(page: str, target: str) -> str:
        """`target` (a path from the site's root) as seen from `page`: up to the root, then down."""
        return "../" * page.count("/") + target

    def link(self, page: str, target: str, label: str) -> Markup:
        return Markup(f'<a href="{h(self.rel(page, target))}">{h(label)}</a>')

    def commit(self, sha: str | None, code: bool = False) -> str:
        if not sha:
            return "—"
        base = self.config.code_url if code else self.config.url
        short = f'<code title="{h(sha)}">{h(sha[:12])}</code>'
        if base and _SHA.fullmatch(sha):
            return Markup(f'<a href="{h(base)}/commit/{sha}">{short}</a>')
        return Markup(short)

    def pull(self, number: int | None) -> str:
        if number is None:
            return "—"
        if self.config.url:
            return Markup(f'<a href="{h(self.config.url)}/pull/{int(number)}">#{int(number)}</a>')
        return f"#{number}"

    def version_link(self, page: str, model: Model, label: str | None, folder: str | None) -> str:
        entry = self.r.entries.get(folder) if folder else None
        text = label or (folder.rsplit("/", 1)[-1] if folder else "—")
        return self.link(page, entry.page, text) if entry else text

    def requires_of(self, entry: Entry) -> tuple[Requirement, ...]:
        """What a validated artifact or release declared it needs (its metadata's `requires`)."""
        try:
            return tuple(Requirement.from_json(r) for r in entry.metadata.get("requires") or ())
        except (KeyError, TypeError, AttributeError):  # a hand-edited record: shown as nothing
            return ()

    def requirement_links(self, page: str, requires: Iterable[Requirement]) -> Markup:
        """Each requirement linked to its release page, with whether production satisfies it."""
        links = []
        for status in statuses(self.r.state, requires, self.config.compatibility):
            req = status.requirement
            target = production_dir(req.name, req.version)
            label = code(req)
            if self.r.state.artifacts.get(req.name) and self.r.state.get(req.name).find_version(
                req.version
            ):
                label = self.link(
                    page, f"models/{req.name}/{folder_kind(target)}/{target.entry}.html", str(req)
                )
            verdict = "met" if status.met else "not met"
            links.append(label + Markup(" (") + f"{verdict}: {status.detail}" + Markup(")"))
        return joined(links, "; ")


def flatten(data: Any, prefix: str = "", limit: int = 200) -> list[tuple[str, str]]:
    """(dotted key, text) rows of a nested document, at most `limit` of them."""
    rows: list[tuple[str, str]] = []
    stack: list[tuple[str, Any, int]] = [(prefix, data, 0)]
    while stack and len(rows) < limit:
        key, value, depth = stack.pop()
        if isinstance(value, dict) and value and depth < 8:
            stack.extend(
                (f"{key}.{k}" if key else str(k), v, depth + 1)
                for k, v in reversed(list(value.items()))
            )
        elif (
            isinstance(value, list)
            and value
            and any(isinstance(v, (dict, list)) for v in value)
            and depth < 8
        ):
            stack.extend((f"{key}[{i}]", v, depth + 1) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, list):
            rows.append((key, ", ".join(fmt(v) for v in value)))
        else:
            rows.append((key, "—" if value is None else fmt(value)))
    return rows
