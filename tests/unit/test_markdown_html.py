"""The model cards' markdown renderer: every character escaped, only resolved addresses linked."""

from __future__ import annotations

from artreg.present.site.markdown_html import Resolver, render, split_front_matter


def test_markdown_escapes_everything_and_allows_only_resolved_addresses() -> None:
    def resolve(url: str, kind: str) -> str | None:
        return "ok.png" if url == "pic.png" else None

    html = render(
        "# Title <script>alert(1)</script>\n\n"
        'Text with <b onclick="x">raw html</b>, [a link](https://evil.example/x) and '
        "![a picture](pic.png) and ![gone](https://evil.example/p.png) and "
        "<https://evil.example/auto> and [js](javascript:alert(1)).\n",
        resolve,
        heading_base=2,
    )
    assert "<script" not in html and "<b " not in html and 'onclick="' not in html
    assert "&lt;script&gt;" in html and "&lt;b onclick=&quot;x&quot;&gt;" in html
    assert "href" not in html  # no resolver answer: no link at all
    assert "a link (https://evil.example/x)" in html
    assert '<img src="ok.png" alt="a picture"' in html
    assert "[image: gone]" in html
    assert html.startswith("<h3>Title")


def test_markdown_blocks() -> None:
    html = render(
        "## A\n\nsome *em*, **strong**, `co<de>`\n\n- one\n- two\n  - nested\n\n"
        "1. first\n2. second\n\n> quoted\n\n```python\nx = '<y>'\n```\n\n"
        "| a | b |\n| --- | ---: |\n| 1 | 2 |\n\n#### deep\n\n---\n"
    )
    assert "<h2>A</h2>" in html and "<h3>deep</h3>" in html  # levels by rank: never skipped
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<code>co&lt;de&gt;</code>" in html
    assert "<ul>\n<li>one</li>\n<li>two\n<ul>\n<li>nested</li>\n</ul></li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert '<pre><code class="language-python">x = &#x27;&lt;y&gt;&#x27;</code></pre>' in html
    assert '<th scope="col" class="right">b</th>' in html and "<td>1</td>" in html
    assert "<hr>" in html


def test_front_matter_is_split_off() -> None:
    front, body = split_front_matter("---\na: 1\n---\n# T\n")
    assert front == "a: 1" and body == "# T\n"
    assert split_front_matter("# no front matter\n") == (None, "# no front matter\n")


def test_texts_remembered_across_cards_never_carry_another_cards_links() -> None:
    """Link-free texts are rendered once per registry (a cache): `<` alone is no link, an
    autolink is, and each card resolves it its own way."""

    def to(base: str) -> Resolver:
        return lambda url, kind: f"{base}/{url.rsplit('/', 1)[-1]}"

    text = "Verify with `sha256sum -c <file>.sha256` and see <https://host.example/doc>."
    first, second = render(text, to("one")), render(text, to("two"))
    assert '<a href="one/doc">' in first and '<a href="two/doc">' in second
    plain = "Verify with `sha256sum -c <file>.sha256`, <= 100."
    assert render(plain, to("one")) == render(plain, to("two"))
    assert "&lt;file&gt;" in render(plain) and "&lt;= 100" in render(plain)
