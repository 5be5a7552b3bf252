"""A small, safe markdown renderer for model cards on the registry site.

It knows headings, paragraphs, lists (nested), pipe tables, fenced code, block quotes, rules,
emphasis, code spans, links and images, which is what model cards use. Safety first: every
character of the input reaches the page escaped (raw HTML shows as text), and every link or
image address goes through the caller's `resolve` function, which returns the address to use
or None; with None a link becomes its text plus the address in parentheses, and an image its alt
text. So a model card can never load or link anything the caller did not allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

Resolver = Callable[[str, str], str | None]  # (address, "link" | "image") -> href or None

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+.#-]*)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_ITEM = re.compile(r"^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$")
_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")

_INLINE = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<codetext>.+?)(?P=ticks))"
    r"|(?P<image>!\[(?P<alt>[^\]]*)\]\((?P<isrc>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<link>\[(?P<ltext>[^\]]+)\]\((?P<href>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<auto><(?P<aurl>(?:https?|mailto):[^>\s]+)>)"
)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(
    r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?!\w)"
)
_ESCAPABLE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_BLOCK_STARTS = frozenset("`~#>-*+_0123456789")  # what a block other than a paragraph starts with
_MARKUP = re.compile(r"[\\`*_\[<]")  # what can start inline markup
_AUTOLINK = re.compile(r"<(?:https?|mailto):")  # the start of an autolink, the one `<` markup
_HTML = re.compile(r"[&<>\"']")
_CACHE: dict[str, str] = {}  # inline HTML of link-free texts, shared by every card
_PRIVATE = 0xE000  # escaped characters ride through parsing as private-use code points
_PRIVATE_RE = re.compile("[\ue000-\ue07f]")


def render(text: str, resolve: Resolver | None = None, heading_base: int = 1) -> str:
    """HTML for a markdown document; its headings start one level below `heading_base`."""
    renderer = _Renderer(resolve or (lambda _url, _kind: None), heading_base)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n")
    return renderer.blocks(lines)


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


class _Renderer:
    def __init__(self, resolve: Resolver, heading_base: int) -> None:
        self.resolve = resolve
        self.base = heading_base
        self.previous = heading_base
        self.levels: list[int] = []

    # --- blocks --------------------------------------------------------------------------

    def blocks(self, lines: list[str]) -> str:
        if not self.levels:
            # Map the card's own heading levels, by rank, below the page's section heading, so
            # the page's outline never skips a level whatever levels the card uses.
            found = {len(m[1]) for line in lines if (m := _HEADING.match(line))}
            self.levels = sorted(found) or [1]
        out: list[str] = []
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            first = line.lstrip()[:1]
            if not first:
                i += 1
                continue
            if first not in _BLOCK_STARTS and "|" not in line:
                i = self._paragraph(lines, i, out)  # most lines: no block markup can start here
            elif m := _FENCE.match(line):
                i = self._fence(lines, i, m, out)
            elif m := _HEADING.match(line):
                out.append(self._heading(len(m[1]), m[2] or ""))
                i += 1
            elif _RULE.match(line):
                out.append("<hr>")
                i += 1
            elif _QUOTE.match(line):
                i = self._quote(lines, i, out)
            elif _starts_item(line):
                i = self._list(lines, i, out)
            elif "|" in line and i + 1 < n and _DELIMITER.match(lines[i + 1]):
                i = self._table(lines, i, out)
            else:
                i = self._paragraph(lines, i, out)
        return "\n".join(out)

    def _heading(self, level: int, text: str) -> str:
        rank = self.levels.index(level) if level in self.levels else len(self.levels) - 1
        mapped = min(self.base + 1 + rank, self.previous + 1, 6)
        self.previous = mapped
        return f"<h{mapped}>{self.inline(text.strip())}</h{mapped}>"

    def _fence(self, lines: list[str], i: int, m: re.Match[str], out: list[str]) -> int:
        marker = m[1]
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(marker[0] * len(marker)) and not stripped.strip(marker[0]):
                i += 1
                break
            body.append(lines[i])
            i += 1
        language = f' class="language-{escape(m[2])}"' if m[2] else ""
        out.append(f"<pre><code{language}>{escape(chr(10).join(body))}</code></pre>")
        return i

    def _quote(self, lines: list[str], i: int, out: list[str]) -> int:
        inner: list[str] = []
        while i < len(lines) and (m := _QUOTE.match(lines[i])):
            inner.append(m[1])
            i += 1
        nested = _Renderer(self.resolve, self.base)
        nested.levels, nested.previous = self.levels, self.previous
        out.append(f"<blockquote>\n{nested.blocks(inner)}\n</blockquote>")
        self.previous = nested.previous
        return i

    def _paragraph(self, lines: list[str], i: int, out: list[str]) -> int:
        text: list[str] = []
        while i < len(lines):
            line = lines[i]
            first = line.lstrip()[:1]
            if not first or (
                text
                and first in _BLOCK_STARTS
                and (
                    _FENCE.match(line)
                    or _HEADING.match(line)
                    or _QUOTE.match(line)
                    or _RULE.match(line)
                    or _starts_item(line)
                )
            ):
                break
            text.append(line.strip())
            i += 1
        out.append(f"<p>{self.inline(chr(10).join(text))}</p>")
        return i

    def _list(self, lines: list[str], i: int, out: list[str]) -> int:
        first = _ITEM.match(lines[i])
        assert first is not None
        indent = len(first[1])
        ordered = first[2][0].isdigit()
        items: list[list[str]] = []
        loose = False
        while i < len(lines):
            line = lines[i]
            m = _ITEM.match(line)
            if m and len(m[1]) == indent and m[2][0].isdigit() == ordered:
                items.append([m[3] or ""])
                i += 1
                continue
            if not line.strip():
                # A blank line inside a list: it goes on if what follows is indented under it.
                following = next((x for x in lines[i + 1 :] if x.strip()), None)
                nxt = _ITEM.match(following) if following is not None else None
                if following is not None and (
                    len(following) - len(following.lstrip()) > indent
                    or (nxt and len(nxt[1]) == indent and nxt[2][0].isdigit() == ordered)
                ):
                    loose = True
                    items[-1].append("")
                    i += 1
                    continue
                break
            if len(line) - len(line.lstrip()) > indent:
                items[-1].append(line[indent:].strip() if not _ITEM.match(line) else line[indent:])
                i += 1
                continue
            if m or _FENCE.match(line) or _HEADING.match(line) or _QUOTE.match(line):
                break
            items[-1].append(line.strip())  # a lazy continuation of the item's paragraph
            i += 1
        tag = "ol" if ordered else "ul"
        start = ""
        if ordered:
            number = int(first[2][:-1])
            start = f' start="{number}"' if number != 1 else ""
        rendered = []
        for item in items:
            nested = _Renderer(self.resolve, self.base)
            nested.levels, nested.previous = self.levels, self.previous
            body = nested.blocks(_dedent(item))
            self.previous = nested.previous
            if not loose and body.startswith("<p>") and body.count("<p>") == 1:
                body = body[3:].replace("</p>", "", 1)
            rendered.append(f"<li>{body}</li>")
        out.append(f"<{tag}{start}>\n" + "\n".join(rendered) + f"\n</{tag}>")
        return i

    def _table(self, lines: list[str], i: int, out: list[str]) -> int:
        header = _cells(lines[i])
        aligns = []
        for spec in _cells(lines[i + 1]):
            left, right = spec.startswith(":"), spec.endswith(":")
            aligns.append("center" if left and right else "right" if right else "")
        i += 2
        rows: list[list[str]] = []
        while i < len(lines) and lines[i].strip() and "|" in lines[i]:
            rows.append(_cells(lines[i]))
            i += 1
        width = len(header)

        def cell(tag: str, text: str, col: int) -> str:
            align = aligns[col] if col < len(aligns) else ""
            style = f' class="{align}"' if align else ""
            scope = ' scope="col"' if tag == "th" else ""
            return f"<{tag}{scope}{style}>{self.inline(text)}</{tag}>"

        head = "".join(cell("th", text, col) for col, text in enumerate(header))
        body = "\n".join(
            "<tr>"
            + "".join(cell("td", (row + [""] * width)[col], col) for col in range(width))
            + "</tr>"
            for row in rows
        )
        out.append(
            '<div class="scroll"><table>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>"
        )
        return i

    # --- inline --------------------------------------------------------------------------

    def inline(self, text: str) -> str:
        if not _MARKUP.search(text):
            return escape(text) if _HTML.search(text) else text  # most table cells: plain
        if "[" in text or _AUTOLINK.search(text):
            return self._inline(text)  # links and pictures depend on this card's resolver
        # Without links the result depends on the text alone, and cards repeat their cells
        # (gate names, thresholds, `model.pt`) across a registry: remember them.
        found = _CACHE.get(text)
        if found is None:
            if len(_CACHE) > 20_000:
                _CACHE.clear()
            found = _CACHE[text] = self._inline(text)
        return found

    def _inline(self, text: str) -> str:
        text = _ESCAPABLE.sub(lambda m: chr(_PRIVATE + ord(m[1])), text)
        out: list[str] = []
        pos = 0
        for m in _INLINE.finditer(text):
            out.append(_emphasis(escape(text[pos : m.start()])))
            pos = m.end()
            if m["code"]:
                code = _PRIVATE_RE.sub(lambda c: "\\" + chr(ord(c[0]) - _PRIVATE), m["codetext"])
                out.append(f"<code>{escape(code.strip())}</code>")
            elif m["image"]:
                out.append(self._image(_restore(m["alt"]), _restore(m["isrc"])))
            elif m["link"]:
                out.append(self._link(m["ltext"], _restore(m["href"])))
            else:
                url = _restore(m["aurl"])
                out.append(self._link(escape(url), url, plain=True))
        out.append(_emphasis(escape(text[pos:])))
        return _restore_html("".join(out))

    def _link(self, text: str, url: str, plain: bool = False) -> str:
        label = text if plain else _emphasis(escape(text))
        href = self.resolve(url, "link") if url else None
        if href is None:
            return label if plain or not url else f"{label} ({escape(url)})"
        return f'<a href="{escape(href)}">{label}</a>'

    def _image(self, alt: str, src: str) -> str:
        href = self.resolve(src, "image") if src else None
        if href is None:
            return f'<span class="missing-image">[image: {escape(alt or src)}]</span>'
        return f'<img src="{escape(href)}" alt="{escape(alt)}" loading="lazy">'


def _starts_item(line: str) -> bool:
    m = _ITEM.match(line)
    return bool(m and (m[3] or "").strip())


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()]
    cut = min(indents, default=0)
    return [lines[0], *(x[cut:] for x in lines[1:])]


def _emphasis(html: str) -> str:
    if "*" not in html and "_" not in html:
        return html
    html = _STRONG.sub(r"<strong>\2</strong>", html)
    return _EM.sub(lambda m: f"<em>{m[1] or m[2]}</em>", html)


def _restore(text: str) -> str:
    """Escaped characters back to themselves (inside an address or an alt text)."""
    return _PRIVATE_RE.sub(lambda c: chr(ord(c[0]) - _PRIVATE), text)


def _restore_html(html: str) -> str:
    return _PRIVATE_RE.sub(lambda c: escape(chr(ord(c[0]) - _PRIVATE)), html)
