"""The model cards' markdown on the site (markdown-it-py): every character escaped, no link a
browser would run, only resolved addresses linked, headings under the page's own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from artreg.present.site.markdown import Resolver, render, split_front_matter


def test_markdown_escapes_everything_and_allows_only_resolved_addresses() -> None:
    def resolve(url: str, kind: str) -> str | None:
        return "ok.png" if url == "pic.png" else None

    html = render(
        "# Title <script>alert(1)</script>\n\n"
        'Text with <b onclick="x">raw html</b>, [a link](https://evil.example/x) and '
        "![a picture](pic.png) and ![gone](https://evil.example/p.png) and "
        "<https://evil.example/auto> and [js](javascript:alert(1)).\n\n"
        '<div onmouseover="alert(3)">\n\nblock html</div>\n',
        resolve,
        heading_base=2,
    )
    assert "<script" not in html and "<b " not in html and 'onclick="' not in html
    assert "<div" not in html and 'onmouseover="' not in html
    assert "&lt;script&gt;" in html and "&lt;b onclick=&quot;x&quot;&gt;" in html
    assert "href" not in html  # no resolver answer: no link at all
    assert "a link (https://evil.example/x)" in html
    assert '<img src="ok.png" alt="a picture"' in html
    assert "[image: gone]" in html
    assert html.startswith("<h3>Title")


@pytest.mark.parametrize(
    "address",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "<\x01javascript:alert(1)>",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:image/png;base64,iVBORw0KGgo=",
        "file:///etc/passwd",
    ],
)
def test_no_address_a_browser_would_run_or_inline_is_linked_even_when_allowed(
    address: str,
) -> None:
    """Refused before the resolver is asked: a link or picture with such an address stays text,
    even on a site whose resolver would allow every address."""
    asked: list[str] = []

    def allow_all(url: str, kind: str) -> str | None:
        asked.append(url)
        return url

    html = render(f"[click]({address}) ![pic]({address}) <{address}>\n", allow_all)
    assert "href=" not in html and "src=" not in html and "<a" not in html
    assert not any(
        "script:" in a.lower().replace("\t", "") or a.startswith(("data:", "file:")) for a in asked
    )


def test_markdown_blocks() -> None:
    html = render(
        "## A\n\nsome *em*, **strong**, `co<de>`\n\n- one\n- two\n  - nested\n\n"
        "1. first\n2. second\n\n> quoted\n\n```python\nx = '<y>'\n```\n\n"
        "| a | b |\n| --- | ---: |\n| 1 | 2 |\n\n#### deep\n\n---\n"
    )
    assert "<h2>A</h2>" in html and "<h3>deep</h3>" in html  # levels by rank: never skipped
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<code>co&lt;de&gt;</code>" in html
    flat = html.replace("\n", "")
    assert "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>" in flat
    assert "<ol><li>first</li><li>second</li></ol>" in flat
    assert "<blockquote><p>quoted</p></blockquote>" in flat
    assert "<pre><code class=\"language-python\">x = '&lt;y&gt;'" in html
    assert '<div class="scroll"><table>' in html
    assert '<th scope="col" class="right">b</th>' in html and "<td>1</td>" in html
    assert 'style="' not in html  # alignment by class, as the rest of the site
    assert "<hr>" in html


def test_front_matter_is_split_off() -> None:
    front, body = split_front_matter("---\na: 1\n---\n# T\n")
    assert front == "a: 1" and body == "# T\n"
    assert split_front_matter("# no front matter\n") == (None, "# no front matter\n")


def test_each_card_resolves_its_own_links() -> None:
    """The same text in two cards: each links and pictures where its own resolver says."""

    def to(base: str) -> Resolver:
        return lambda url, kind: f"{base}/{url.rsplit('/', 1)[-1]}"

    text = "Verify with `sha256sum -c <file>.sha256` and see <https://host.example/doc>.\n\n![c](c.png)\n"
    first, second = render(text, to("one")), render(text, to("two"))
    assert '<a href="one/doc">' in first and '<a href="two/doc">' in second
    assert '<img src="one/c.png"' in first and '<img src="two/c.png"' in second
    plain = "Verify with `sha256sum -c <file>.sha256`, <= 100."
    assert render(plain, to("one")) == render(plain, to("two"))
    assert "&lt;file&gt;" in render(plain) and "&lt;= 100" in render(plain)


def test_a_card_is_commonmark_across_blank_lines() -> None:
    """A loose list, a fence holding blank lines, reference links defined at the end, and the
    heading levels of the whole card."""
    card = (
        "# Title\n\n- a\n\n- b\n\nafter\n\n```\ncode\n\nmore [x][r]\n```\n\n"
        "### Deep\n\nsee [the doc][r]\n\n[r]: https://host.example/doc\n"
    )
    html = render(card, lambda url, kind: url, heading_base=2)
    flat = html.replace("\n", "")
    assert "<ul><li><p>a</p></li><li><p>b</p></li></ul><p>after</p>" in flat
    assert "<pre><code>code\n\nmore [x][r]\n</code></pre>" in html
    assert "<h3>Title</h3>" in html and "<h4>Deep</h4>" in html
    assert '<a href="https://host.example/doc">the doc</a>' in html


def test_markdown_it_loads_only_when_a_card_is_rendered() -> None:
    code = (
        "import sys\n"
        "import artreg.present.site.markdown as m\n"
        "assert 'markdown_it' not in sys.modules\n"
        "m.render('# x')\n"
        "assert 'markdown_it' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
