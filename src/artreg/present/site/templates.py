"""The site's Jinja2 templates (package data under `artreg/templates/site/`), compiled once.

Autoescape is on for every `*.html.j2`: a value from the registry reaches a page escaped unless
it is a `Markup` that one of `base`'s helpers (links, times, commits, tables) or `svg` built, or
a page body: a body template's output, or `entry_page`'s (the hot page, kept as f-strings that
escape every value because through Jinja2 it made `artreg site` measurably slower).
`compile_all()` runs in the parent before the workers fork, so each inherits the compiled
templates instead of compiling them again.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

PAGES = ("page", "index", "models", "listing", "model")


@functools.cache
def environment() -> jinja2.Environment:
    """The one Environment: package loader, autoescape for HTML, no reloading."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("artreg", "templates/site"),
        # A suffix match: "html.j2" covers index.html.j2 (["html"] would miss it).
        autoescape=jinja2.select_autoescape(["html.j2"], default_for_string=True, default=True),
        keep_trailing_newline=True,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def compile_all() -> None:
    """Compile every page template now (before the fork: the workers inherit them)."""
    for name in PAGES:
        template(name)


@functools.cache
def template(name: str) -> jinja2.Template:
    return environment().get_template(f"{name}.html.j2")


def render(name: str, context: dict[str, Any]) -> str:
    """The page template `name` (index, models, listing, model) over `context`, inside
    the frame of every page (`page.html.j2`, over the same context).

    Two renders, not `{% extends %}`: with inheritance every piece of a page's body passes up
    through the frame's generators as well, which costs more than a second render."""
    return render_frame(context, template(name).render(context))


def render_frame(context: dict[str, Any], body: str) -> str:
    """`body` (HTML a template or `entry_page` wrote) in the frame of every page."""
    from markupsafe import Markup

    context["body"] = Markup(body)
    return template("page").render(context)
