"""The model card on the site: its YAML front matter split off, its markdown rendered to HTML by
markdown-it-py (CommonMark with pipe tables), safely.

Safety: raw HTML is off, so every character of the card reaches the page escaped; addresses with
a `javascript:`, `vbscript:`, `data:` or `file:` scheme are not links at all (they stay text);
and every other link or image address goes through the caller's `resolve(address, kind)`,
which returns the address to use or None. With None a link becomes its text plus the address in
parentheses, and an image its alt text, so a card can never load or link anything the caller
did not allow. markdown_it is imported on first use: read paths never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

Resolver = Callable[[str, str], str | None]  # (address, "link" | "image") -> href or None

# Browsers skip leading spaces and control characters, and tabs and newlines anywhere
# ("java\tscript:"): the check ignores all of them, anywhere.
_IGNORED = re.compile(r"[\x00-\x20\x7f]+")
_REFUSED = ("javascript:", "vbscript:", "data:", "file:")
_ALIGN = {"text-align:right": "right", "text-align:center": "center"}
_MARKDOWN: Any = None  # the one parser of this process, made on first use


def render(text: str, resolve: Resolver | None = None, heading_base: int = 1) -> str:
    """HTML for a markdown document; its headings start one level below `heading_base`."""
    md = _markdown()
    tokens = md.parse(text, {})
    env: dict[str, Any] = {
        "resolve": resolve or _refuse_all,
        "levels": sorted({int(t.tag[1]) for t in tokens if t.type == "heading_open"}),
        "base": heading_base,
        "previous": heading_base,
    }
    return str(md.renderer.render(tokens, md.options, env))


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(YAML front matter or None, the rest) of a document that may start with `---`."""
    if not text.startswith("---"):
        return None, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return None, text
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :])
    return None, text


def allowed_address(url: str) -> bool:
    """False for an address a browser would run or inline (`javascript:`, `vbscript:`,
    `data:`, `file:`), however its scheme is spelled."""
    return not _IGNORED.sub("", url).lower().startswith(_REFUSED)


def _refuse_all(_url: str, _kind: str) -> str | None:
    return None


def _markdown() -> Any:
    global _MARKDOWN
    if _MARKDOWN is None:
        _MARKDOWN = _make()
    return _MARKDOWN


def _make() -> Any:
    from markdown_it import MarkdownIt

    class CardMarkdown(MarkdownIt):
        def validateLink(self, url: str) -> bool:
            return allowed_address(url)

        def normalizeLink(self, url: str) -> str:
            # The address as written: the resolver decides, and the renderer escapes it.
            return url

    md = CardMarkdown("commonmark", {"html": False, "xhtmlOut": False}).enable("table")
    for name, rule in _RULES.items():
        md.add_render_rule(name, rule)
    return md


# --- rendering rules: (renderer, tokens, index, options, env) -> HTML ----------------------------


def _link_open(_self: Any, tokens: Sequence[Any], idx: int, _options: Any, env: Any) -> str:
    token = tokens[idx]
    url = str(token.attrGet("href") or "")
    href = env["resolve"](url, "link") if url else None
    if href is None:
        # Text only; its close says where it pointed (an autolink's text is the address).
        env["dropped"] = "" if not url or token.markup == "autolink" else f" ({escape(url)})"
        return ""
    env["dropped"] = None
    return f'<a href="{escape(href)}">'


def _link_close(_self: Any, _tokens: Sequence[Any], _idx: int, _options: Any, env: Any) -> str:
    dropped = env.get("dropped")
    return "</a>" if dropped is None else dropped


def _image(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children, options, env)
    href = env["resolve"](src, "image") if src else None
    if href is None:
        return f'<span class="missing-image">[image: {escape(alt or src)}]</span>'
    return f'<img src="{escape(href)}" alt="{escape(alt)}" loading="lazy">'


def _cell(tag: str) -> Callable[..., str]:
    scope = ' scope="col"' if tag == "th" else ""

    def rule(_self: Any, tokens: Sequence[Any], idx: int, _options: Any, _env: Any) -> str:
        # site.css aligns cells by class (td.right), as the rest of the site does.
        align = _ALIGN.get(str(tokens[idx].attrGet("style") or ""))
        return f'<{tag}{scope} class="{align}">' if align else f"<{tag}{scope}>"

    return rule


def _table_open(*_args: Any) -> str:
    return '<div class="scroll"><table>\n'


def _table_close(*_args: Any) -> str:
    return "</table></div>\n"


def _heading_open(_self: Any, tokens: Sequence[Any], idx: int, _options: Any, env: Any) -> str:
    # The card's levels mapped, by rank, below the page's section heading: the page's outline
    # never skips a level whatever levels the card uses.
    rank = env["levels"].index(int(tokens[idx].tag[1]))
    env["previous"] = min(env["base"] + 1 + rank, env["previous"] + 1, 6)
    return f"<h{env['previous']}>"


def _heading_close(_self: Any, _tokens: Sequence[Any], _idx: int, _options: Any, env: Any) -> str:
    return f"</h{env['previous']}>\n"


_RULES: dict[str, Callable[..., str]] = {
    "heading_open": _heading_open,
    "heading_close": _heading_close,
    "link_open": _link_open,
    "link_close": _link_close,
    "image": _image,
    "th_open": _cell("th"),
    "td_open": _cell("td"),
    "table_open": _table_open,
    "table_close": _table_close,
}
