"""`artreg site`: built for the demo registry and for a registry of 20 names, then opened in a real
headless Chromium (Debian's `chromium`): the rendered DOM, the in-page search, screenshots, and
every address every page refers to.

Without Chromium the browser tests are skipped with the command that installs it; with
CI=true a missing Chromium fails them. Set ARTREG_UPDATE_SCREENSHOTS=1 to write the README's
pictures (docs/site-index.png, docs/site-release.png) from the 20-name registry.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from artreg.errors import InputError
from artreg.present.site.build import SITE_MARKER, build_site
from artreg.services.site import site_config
from artreg.sources.listing import overview

from helpers import EXAMPLES, RELEASE_INPUTS, git, release, snapshot

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"  # read before conftest's fixtures unset it
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium"
SITE_URL = "https://github.com/example/registry"
WINDOW = (1280, 900)


def chromium() -> str:
    """The browser, or a skip (locally) / a failure (CI) saying how to install it."""
    if CHROMIUM:
        return CHROMIUM
    message = f"Chromium is not installed; the browser tests need it: {INSTALL}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def test_without_chromium_the_browser_tests_skip_locally_and_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "CHROMIUM", None)
    monkeypatch.setattr(module, "IN_CI", False)
    with pytest.raises(
        pytest.skip.Exception, match="apt-get install -y --no-install-recommends chromium"
    ):
        chromium()
    monkeypatch.setattr(module, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="apt-get install"):
        chromium()


def browse(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )


def dump_dom(url: str) -> Node:
    return parse(browse(url, "--dump-dom").stdout)


def screenshot(url: str, target: Path, height: int = WINDOW[1]) -> Path:
    browse(url, f"--screenshot={target}", f"--window-size={WINDOW[0]},{height}")
    assert target.is_file(), f"chromium wrote no screenshot for {url}"
    return target


# --- a small DOM, from the standard library's HTML parser ----------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)  # elements and text, in order

    @property
    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def all(self, tag: str | None = None) -> Iterator[Node]:
        for child in self.elements:
            if tag is None or child.tag == tag:
                yield child
            yield from child.all(tag)

    def find(self, tag: str, **attrs: str) -> Node | None:
        return next(
            (n for n in self.all(tag) if all(n.attrs.get(k) == v for k, v in attrs.items())), None
        )

    def content(self) -> str:
        """The text inside, in document order, with white space collapsed."""
        parts = [c if isinstance(c, str) else c.content() for c in self.children]
        return " ".join(" ".join(parts).split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def visible_rows(dom: Node) -> dict[str, list[str]]:
    """name -> the cells of each row of the models table that is not hidden."""
    table = dom.find("table", id="models")
    assert table is not None, "no models table"
    rows = {}
    for row in table.all("tr"):
        if "data-name" in row.attrs and "hidden" not in row.attrs:
            cells = [c.content() for c in row.elements if c.tag in ("th", "td")]
            rows[str(row.attrs["data-name"])] = cells
    return rows


# --- pictures ----------------------------------------------------------------------------------


def png_pixels(path: Path) -> tuple[int, int, list[int]]:
    """(width, height, grey values) of an 8-bit RGB(A) PNG, decoded with zlib only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, color = header[8], header[9]
    assert depth == 8 and color in (2, 6), f"{path}: unexpected PNG format {depth}/{color}"
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    grey: list[int] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        if y % 4 == 0:  # every fourth row is plenty to judge a page
            grey += [
                (line[x] * 3 + line[x + 1] * 6 + line[x + 2]) // 10
                for x in range(0, stride, channels * 4)
            ]
        previous = line
    return width, height, grey


def assert_not_blank(path: Path, size: tuple[int, int] = WINDOW) -> None:
    width, height, grey = png_pixels(path)
    assert (width, height) == size
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    dark = sum(1 for g in grey if g < 128) / len(grey)
    assert variance > 200, f"{path}: nearly uniform (variance {variance:.0f})"
    assert 0.005 < dark < 0.6, f"{path}: {dark:.1%} dark pixels: no text, or no page"


# --- what every generated file may refer to -----------------------------------------------------

_REF_ATTRS = {"href", "src", "action", "srcset", "poster", "data"}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.ids: set[str] = set()
        self.inline_styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in _REF_ATTRS and value is not None:
                self.found.append(value)
            if key == "id" and value:
                self.ids.add(value)
            if key == "style" and value:
                self.inline_styles.append(value)


def outside_references(site: Path, allowed: str | None) -> list[str]:
    """Every reference of every file that leaves the folder, or names a missing file."""
    problems = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            parser = _References()
            parser.feed(path.read_text(encoding="utf-8"))
            refs = parser.found + [
                m for s in parser.inline_styles for m in re.findall(r"url\(([^)]*)\)", s)
            ]
        elif path.suffix in (".css", ".js"):
            text = path.read_text(encoding="utf-8")
            refs = re.findall(r"url\(\s*['\"]?([^'\")]+)", text) + re.findall(
                r"@import\s+['\"]([^'\"]+)", text
            )
            # No address of another host may appear in a style or a script at all.
            refs += re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s'\"]*", text)
        else:
            continue
        for ref in refs:
            parts = urlsplit(ref)
            if allowed and ref.startswith(allowed + "/"):
                continue
            if parts.scheme or parts.netloc:
                problems.append(f"{path.relative_to(site)}: {ref}")
                continue
            if not parts.path:
                continue  # "#anchor" or "?q=": this page
            target = (path.parent / unquote(parts.path)).resolve()
            if not target.is_relative_to(site.resolve()):
                problems.append(f"{path.relative_to(site)}: {ref} leaves the site")
            elif not target.exists():
                problems.append(f"{path.relative_to(site)}: {ref} names a missing file")
    return problems


def outline_problems(site: Path) -> list[str]:
    """Landmarks, one h1, headings in order, alt text, labelled inputs, named pictures."""
    problems = []
    for path in sorted(site.rglob("*.html")):
        dom = parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(site))
        html = dom.find("html")
        if html is None or not html.attrs.get("lang"):
            problems.append(f"{where}: no <html lang>")
        for landmark in ("header", "nav", "main", "footer"):
            if len(list(dom.all(landmark))) != 1:
                problems.append(f"{where}: not exactly one <{landmark}>")
        levels = [int(n.tag[1]) for n in dom.all() if re.fullmatch(r"h[1-6]", n.tag)]
        if levels.count(1) != 1 or levels[0] != 1:
            problems.append(f"{where}: headings {levels[:5]}… do not start with the one h1")
        for before, after in itertools.pairwise(levels):
            if after > before + 1:
                problems.append(f"{where}: heading h{after} follows h{before}")
                break
        for img in dom.all("img"):
            if not (img.attrs.get("alt") or "").strip():
                problems.append(f"{where}: an image without alt text")
        labelled = {n.attrs.get("for") for n in dom.all("label")}
        for field_ in dom.all("input"):
            if field_.attrs.get("id") not in labelled:
                problems.append(f"{where}: an input without a label")
        for svg in dom.all("svg"):
            if svg.attrs.get("role") != "img" or not svg.attrs.get("aria-label"):
                problems.append(f"{where}: a picture (svg) without role=img and a name")
        if dom.find("a", href="#main") is None:
            problems.append(f"{where}: no skip link")
    return problems


# --- the registries --------------------------------------------------------------------------------


@contextmanager
def isolated(tmp: Path) -> Iterator[None]:
    """conftest's isolated_env, for module-scoped fixtures (they run before it)."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Test Trainer\n\temail = trainer@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.setenv("DVC_NO_ANALYTICS", "1")
        mp.setenv("DVC_SITE_CACHE_DIR", str(home / ".dvc-site-cache"))
        for var in ("AWS_PROFILE", "GITHUB_ACTOR", "CI"):
            mp.delenv(var, raising=False)
        yield


@dataclass
class Built:
    root: Path
    site: Path
    expected: dict[str, str | None]  # name -> production version the index must show
    deprecated: set[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from artreg.demo import run_demo

    tmp = tmp_path_factory.mktemp("demo")
    with isolated(tmp):
        root = run_demo(tmp / "demo", epochs=3, echo=lambda _: None)
        site = tmp / "site"
        build_site(root, site)
    return Built(root, site, {"encoder": "v1.0.0"}, set())


def _gto_style_tag(root: Path, tag: str, commit: str) -> None:
    """An annotated tag as gto writes it: no artreg fields, so the folder comes from dvc.yaml."""
    newest = int(
        git(
            root,
            "for-each-ref",
            "--sort=-creatordate",
            "--count=1",
            "--format=%(creatordate:unix)",
            "refs/tags",
        )
    )
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{newest + 1} +0000"}
    subprocess.run(
        ["git", "-C", str(root), "tag", "-a", "-m", f"gto: {tag}", tag, commit], check=True, env=env
    )


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory, _checkpoint_template: Path) -> Built:
    """20 names: 12 with histories written by the benchmark's fast-import builder (artreg's tag
    messages and folder files, model cards from artreg's own generator), 8 through artreg's real
    lifecycle on top, then real deprecations, unassignments and a deregistration."""
    from artreg.services.housekeeping import deprecate, deregister, unassign
    from artreg.services.register import register_raw
    from artreg.services.release import promote_to_production
    from artreg.services.validate import promote_to_validated

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import fixtures  # type: ignore[import-not-found]

    tmp = tmp_path_factory.mktemp("twenty")
    with isolated(tmp):
        env = {**fixtures.make_env(tmp / "bench-home"), "CI": "false"}
        reg = fixtures.build_tag_registry(tmp / "registry", env, 12, 24, 30, site_files=True)
        root = reg.root
        ckpt = tmp / "ckpt"
        shutil.copytree(_checkpoint_template, ckpt)
        results = EXAMPLES / "validation_results.json"

        release(root, "encoder", "s1", ckpt, "1.0.0")
        curves = tmp / "training_metrics.json"
        curves.write_text(
            json.dumps({"loss": [0.9, 0.62, 0.47, 0.41], "coverage": [0.9, 0.95, 0.97, 0.98]})
        )
        register_raw(root, "encoder", "s2", ckpt, metrics=[curves])
        second = promote_to_validated(root, "encoder", "s2", "best", results).id
        promote_to_production(root, "encoder", second, "1.1.0", **RELEASE_INPUTS)
        validated = promote_to_validated(root, "encoder", "s2", "epoch_2", results).id
        faster = {**json.loads((EXAMPLES / "benchmarks.json").read_text()), "latency_p95_ms": 24.0}
        promote_to_production(
            root,
            "encoder",
            validated,
            "1.2.0",
            **{**RELEASE_INPUTS, "benchmarks": faster, "approved_by": "Carol Approver"},
            notes="Faster: p95 latency down from 31 ms to 24 ms.",
        )
        release(root, "decoder", "d1", ckpt, "1.0.0")
        unassign(root, "decoder", "production")
        register_raw(root, "ranker", "r1", ckpt)
        ranker = promote_to_validated(root, "ranker", "r1", "best", results)
        _gto_style_tag(root, "ranker@v0.1.0", ranker.commit)
        release(root, "tagger", "t1", ckpt, "1.0.0")
        deprecate(root, "tagger")
        release(root, "scorer", "c1", ckpt, "1.0.0")
        release(root, "scorer", "c2", ckpt, "1.1.0")
        deregister(root, "scorer", "1.1.0")
        register_raw(root, "embedder", "e1", ckpt)
        release(root, "summarizer", "u1", ckpt, "1.0.0")
        release(root, "classifier", "k1", ckpt, "1.0.0")
        deprecate(root, "model-003")
        unassign(root, "model-004", "production")

        params = root / "params.yaml"
        params.write_text(
            params.read_text() + f"site:\n  title: Example registry\n  url: {SITE_URL}\n"
        )
        git(root, "commit", "--quiet", "-m", "site settings", "params.yaml")
        site = tmp / "site"
        build_site(root, site)

    expected: dict[str, str | None] = dict(reg.production)
    expected["model-004"] = "v1.0.0"  # its v1.1.0 lost production: GTO falls back to v1.0.0
    expected.update(
        encoder="v1.2.0",
        decoder=None,  # unassigned, and no older assignment to fall back to
        ranker=None,
        tagger="v1.0.0",  # deprecated: shown as `artreg list --all` shows it
        scorer="v1.0.0",  # v1.1.0 deregistered
        embedder=None,
        summarizer="v1.0.0",
        classifier="v1.0.0",
    )
    return Built(root, site, expected, {"tagger", "model-003"})


# --- without a browser ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["demo", "twenty"])
def test_every_name_with_its_production_version_as_artreg_list_says(
    which: str, request: pytest.FixtureRequest
) -> None:
    built: Built = request.getfixturevalue(which)
    listed = overview(built.root, deprecated=True)
    assert sorted(listed) == sorted(built.expected)
    for name, info in listed.items():
        entry = info.stages.get("production")
        production = entry.version if entry else None
        assert production == built.expected[name], name
    rows = visible_rows(parse((built.site / "index.html").read_text(encoding="utf-8")))
    assert sorted(rows) == sorted(built.expected)
    for name, cells in rows.items():
        assert cells[4] == (built.expected[name] or "—"), (name, cells)
        assert ("deprecated" in cells[0]) == (name in built.deprecated), (name, cells)


@pytest.mark.parametrize("which", ["demo", "twenty"])
def test_no_file_refers_outside_the_site_except_to_site_url(
    which: str, request: pytest.FixtureRequest
) -> None:
    built: Built = request.getfixturevalue(which)
    allowed = SITE_URL if which == "twenty" else None
    assert outside_references(built.site, allowed) == []
    pages = list(built.site.rglob("*.html"))
    if which == "twenty":
        commit_links = [p for p in pages if f'href="{SITE_URL}/commit/' in p.read_text()]
        assert commit_links, "site.url is set: commits should link to its commit pages"


@pytest.mark.parametrize("which", ["demo", "twenty"])
def test_every_page_has_landmarks_ordered_headings_alt_text_and_labels(
    which: str, request: pytest.FixtureRequest
) -> None:
    built: Built = request.getfixturevalue(which)
    assert outline_problems(built.site) == []


def test_every_folder_of_pages_has_an_index(twenty: Built) -> None:
    for folder in [twenty.site, *(p for p in twenty.site.rglob("*") if p.is_dir())]:
        rel = folder.relative_to(twenty.site).as_posix()
        if rel.split("/")[0] in ("assets", "files"):
            continue  # styles, the script and pictures: no pages there
        assert (folder / "index.html").is_file(), f"{rel or '.'} has no index.html"


def test_release_page_holds_gates_sha256_lineage_fetch_commands_and_card(twenty: Built) -> None:
    root, site = twenty.root, twenty.site
    page = site / "models/encoder/releases/v1.2.0.html"
    dom = parse(page.read_text(encoding="utf-8"))
    manifest = json.loads(
        git(root, "show", "encoder@v1.2.0:artifacts/production/encoder/v1.2.0/manifest.json")
    )
    sha = manifest["files"][manifest["primary"]]["sha256"]
    text = dom.content()
    assert sha in text
    gates = _table(dom, "Gate results")
    assert [r[0] for r in gates] == ["latency_p95_ms", "throughput_rps", "peak_memory_mb"]
    assert gates[0][1:] == ["24", "<= 100", "pass"]
    files = {r[0].split()[0]: r for r in _table(dom, "Files with size and sha256")}
    assert set(files) == set(manifest["files"])
    for rel, info in manifest["files"].items():
        assert files[rel][1] == f"{info['size']:,}" and files[rel][2] == info["sha256"]
    deltas = {r[0]: r[1:] for r in _table(dom, "Metrics of v1.2.0 against v1.1.0")}
    assert deltas["latency_p95_ms"] == ["24", "31", "-7"]
    assert deltas["throughput_rps"] == ["240", "240", "+0"]
    pictures = [img for img in dom.all("img") if "training" in str(img.attrs.get("alt")).lower()]
    assert pictures and all((page.parent / str(i.attrs["src"])).is_file() for i in pictures)
    assert "artreg get encoder --version 1.2.0" in text
    assert f"dvc artifacts get {SITE_URL} encoder --rev v1.2.0" in text
    assert 'get_artifact_path("encoder", version="1.2.0")' in text
    chain = dom.find("ol", **{"class": "chain"})
    assert chain is not None
    steps = [li.content() for li in chain.elements]
    assert steps[0].startswith("Raw session s2") and steps[1].startswith("Validated")
    assert steps[2].startswith("Release v1.2.0") and len(steps) == 3  # no training code in git
    assert "Approved by Carol Approver" in text
    card = dom.find("div", **{"class": "card"})
    assert card is not None and "encoder v1.2.0 (production)" in card.content()
    front = dict(r[:2] for r in _table(dom, "Model card front matter"))
    assert front["artreg.sha256"] == sha and front["tags"] == "artreg, production"


def test_demo_release_shows_its_training_curves_and_training_code_commit(demo: Built) -> None:
    page = demo.site / "models/encoder/releases/v1.0.0.html"
    dom = parse(page.read_text(encoding="utf-8"))
    pictures = [img for img in dom.all("img") if "training" in str(img.attrs.get("alt")).lower()]
    assert len(pictures) == 2  # the Training curves section and the model card's own picture
    for img in pictures:
        target = (page.parent / str(img.attrs["src"])).resolve()
        assert target.is_file() and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    chain = dom.find("ol", **{"class": "chain"})
    assert chain is not None
    steps = [li.content() for li in chain.elements]
    code = json.loads(
        git(demo.root, "show", "encoder@v1.0.0:artifacts/production/encoder/v1.0.0/metadata.json")
    )["source"]["commit"]
    assert steps[-1] == f"Training code commit {code[:12]}"
    assert chain.find("a") is None or all(
        not str(a.attrs.get("href", "")).startswith("http") for a in chain.all("a")
    )  # no site.url: commits are shown, not linked


def _table(dom: Node, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as cell texts."""
    for table in dom.all("table"):
        found = table.find("caption")
        if found is not None and found.content().startswith(caption):
            return [
                [c.content() for c in row.elements if c.tag in ("td", "th")]
                for row in table.all("tr")
                if any(c.tag == "td" for c in row.elements)
            ]
    raise AssertionError(f"no table captioned {caption!r}")


def test_name_page_timeline_shows_unassignment_deregistration_and_deprecation(
    twenty: Built,
) -> None:
    def spans(name: str) -> list[list[str]]:
        page = twenty.site / f"models/{name}/index.html"
        return _table(parse(page.read_text(encoding="utf-8")), "Stage holders over time")

    production = [r for r in spans("scorer") if r[0] == "production"]
    assert [(r[1], r[-1]) for r in production] == [
        ("v1.0.0", "replaced by v1.1.0"),
        ("v1.1.0", "deregistered (then v1.0.0)"),
        ("v1.0.0", "—"),
    ]
    assert [r[-1] for r in spans("decoder") if r[0] == "production"] == ["unassigned"]
    assert all(r[-1] == "deprecated" for r in spans("tagger"))
    page = (twenty.site / "models/tagger/index.html").read_text(encoding="utf-8")
    assert "Deprecated on" in page and "tagger@deprecated#" in page


def test_the_gto_written_tag_is_placed_through_dvc_yaml(twenty: Built) -> None:
    row = visible_rows(parse((twenty.site / "index.html").read_text(encoding="utf-8")))["ranker"]
    assert row[1] == "v0.1.0"  # latest: the version gto registered
    events = (twenty.site / "models/ranker/index.html").read_text(encoding="utf-8")
    assert "ranker@v0.1.0" in events


def test_the_site_is_the_same_whatever_the_number_of_workers(twenty: Built, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    build_site(twenty.root, one, workers=1)
    build_site(twenty.root, two, workers=2)

    def tree(base: Path) -> dict[str, str]:
        return {
            p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in base.rglob("*")
            if p.is_file()
        }

    assert tree(one) == tree(two) == tree(twenty.site)


def test_rebuilding_replaces_a_site_and_refusals_change_nothing(
    twenty: Built, tmp_path: Path, cli
) -> None:
    root = twenty.root
    out = tmp_path / "site"
    first = cli("site", "-o", str(out), "--json", "--repo", str(root))
    assert first.exit_code == 0, first.stderr
    (out / "stale.html").write_text("left over")
    again = cli("site", "-o", str(out), "--repo", str(root))
    assert again.exit_code == 0 and "wrote" in again.stdout
    assert not (out / "stale.html").exists() and (out / SITE_MARKER).is_file()
    assert first.json()["names"] == 20  # type: ignore[index]

    before = snapshot(root)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused = cli("site", "-o", str(foreign), "--repo", str(root))
    assert refused.exit_code == 2 and SITE_MARKER in refused.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    into_repo = cli("site", "-o", str(root), "--repo", str(root))
    assert into_repo.exit_code == 2
    assert snapshot(root) == before


def test_bad_site_settings_name_the_field_and_write_nothing(
    registry: Path, tmp_path: Path, cli
) -> None:
    # The site reads params.yaml as committed (like the gates): each bad setting is committed.
    params = registry / "params.yaml"
    original = params.read_text()
    for section, field_ in [
        ("site:\n  url: javascript:alert(1)\n", "/site/url"),
        ("site:\n  url: https://user:secret@example.com/r\n", "/site/url"),
        ("site:\n  metric: [a, b]\n", "/site/metric"),
        ("site:\n  colour: red\n", "/site/colour"),
        ("site: yes\n", "/site"),
    ]:
        params.write_text(original + section)
        git(registry, "commit", "--quiet", "-m", "site settings", "params.yaml")
        before = snapshot(registry)
        out = tmp_path / "site"
        result = cli("site", "-o", str(out), "--repo", str(registry))
        assert result.exit_code == 2, section
        assert "params.yaml@" in result.stderr and field_ in result.stderr, result.stderr
        assert "fix:" in result.stderr
        assert not out.exists()
        assert snapshot(registry) == before
        git(registry, "reset", "--quiet", "--hard", "HEAD~1")


def test_site_config_defaults_and_code_url() -> None:
    assert site_config({}).url is None and site_config({}).title == "Model registry"
    config = site_config({"site": {"url": "https://git.example.com/org/reg/", "metric": "f1"}})
    assert config.url == "https://git.example.com/org/reg" and config.code_url == config.url
    with pytest.raises(InputError):
        site_config({"site": {"url": "https://example.com/r?x=1"}})


def test_an_empty_registry_has_a_site_too(registry: Path, tmp_path: Path) -> None:
    built = build_site(registry, tmp_path / "site")
    assert built.names == 0
    text = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "The registry is empty." in text
    assert outline_problems(tmp_path / "site") == []


# --- in a real browser ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["demo", "twenty"])
def test_chromium_renders_the_index_with_every_production_version(
    which: str, request: pytest.FixtureRequest
) -> None:
    built: Built = request.getfixturevalue(which)
    dom = dump_dom((built.site / "index.html").as_uri())
    assert dom.find("html", **{"data-search": "ready"}) is not None, "the search script did not run"
    rows = visible_rows(dom)
    assert {n: c[4] for n, c in rows.items()} == {n: v or "—" for n, v in built.expected.items()}


def test_chromium_renders_a_release_page_with_gates_and_sha256(demo: Built, tmp_path: Path) -> None:
    page = demo.site / "models/encoder/releases/v1.0.0.html"
    dom = dump_dom(page.as_uri())
    manifest = json.loads(
        git(demo.root, "show", "encoder@v1.0.0:artifacts/production/encoder/v1.0.0/manifest.json")
    )
    assert manifest["files"][manifest["primary"]]["sha256"] in dom.content()
    gates = _table(dom, "Gate results")
    assert {r[0] for r in gates} == {"latency_p95_ms", "throughput_rps", "peak_memory_mb"}
    assert all(r[3] == "pass" for r in gates)
    assert_not_blank(screenshot(page.as_uri(), tmp_path / "release.png"))
    assert_not_blank(screenshot((demo.site / "index.html").as_uri(), tmp_path / "index.png"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("summarizer", {"summarizer"}),
        ("deprecated", {"tagger", "model-003"}),
        ("carol approver", {"encoder"}),
        ("ENCODER v1.1.0", {"encoder"}),
        ("no-such-thing", set()),
    ],
)
def test_chromium_search_filters_the_index(twenty: Built, query: str, expected: set[str]) -> None:
    url = (twenty.site / "index.html").as_uri() + "?q=" + query.replace(" ", "+")
    dom = dump_dom(url)
    assert set(visible_rows(dom)) == expected
    results = dom.find("ul", id="results")
    assert results is not None
    links = [a.attrs["href"] for a in results.all("a")]
    assert len(links) >= len(expected)
    for href in links:
        assert (twenty.site / str(href)).is_file(), href
    count = dom.find("p", id="result-count")
    assert count is not None and f"{len(expected)} of 20 models match" in count.content()


def test_chromium_search_from_the_hash_and_from_another_page(twenty: Built) -> None:
    dom = dump_dom((twenty.site / "index.html").as_uri() + "#q=scorer")
    assert set(visible_rows(dom)) == {"scorer"}
    page = parse((twenty.site / "models/scorer/index.html").read_text(encoding="utf-8"))
    form = page.find("form", role="search")
    assert form is not None and form.attrs["action"] == "../../index.html"
    assert form.attrs["method"] == "get"


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_chromium_on_a_static_server_under_a_sub_path(twenty: Built, tmp_path: Path) -> None:
    served = tmp_path / "www"
    shutil.copytree(twenty.site, served / "teams" / "ml" / "registry")
    with static_server(served) as base:
        dom = dump_dom(f"{base}/teams/ml/registry/index.html?q=decoder")
        assert set(visible_rows(dom)) == {"decoder"}
        release_page = dump_dom(f"{base}/teams/ml/registry/models/encoder/releases/v1.0.0.html")
        assert "Gate results" in release_page.content()


RELEASE_SHOT = (WINDOW[0], 1500)  # the README's picture: summary, gates, changes, lineage


def test_screenshots_are_not_blank(twenty: Built, tmp_path: Path) -> None:
    index = screenshot((twenty.site / "index.html").as_uri(), tmp_path / "index.png")
    release_page = twenty.site / "models/encoder/releases/v1.2.0.html"
    shot = screenshot(release_page.as_uri(), tmp_path / "release.png", RELEASE_SHOT[1])
    assert_not_blank(index)
    assert_not_blank(shot, RELEASE_SHOT)
    if os.environ.get("ARTREG_UPDATE_SCREENSHOTS"):
        shutil.copy(index, ROOT / "docs" / "site-index.png")
        shutil.copy(shot, ROOT / "docs" / "site-release.png")


def test_docs_screenshots_are_pictures_of_the_site() -> None:
    for name, size in (("site-index.png", WINDOW), ("site-release.png", RELEASE_SHOT)):
        path = ROOT / "docs" / name
        assert path.is_file(), (
            f"docs/{name} is missing: ARTREG_UPDATE_SCREENSHOTS=1 pytest tests/test_site.py -k screenshots"
        )
        assert_not_blank(path, size)
    assert "docs/site-index.png" in (ROOT / "README.md").read_text(encoding="utf-8")


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class _Tags(HTMLParser):
    """Every tag and attribute a page really holds (text that only looks like a tag is text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_no_field_of_the_registry_injects_markup(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    """Markup in the site's title, a release's notes and approver, and a name's description in
    dvc.yaml reaches every page as text: no script, no event handler, no image it did not make."""
    from artreg.services.register import register_raw
    from artreg.services.release import promote_to_production
    from artreg.services.validate import promote_to_validated

    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    inputs = {**RELEASE_INPUTS, "approved_by": f"Mallory {HOSTILE}"}
    promote_to_production(registry, "encoder", vid, "1.0.0", **inputs, notes=HOSTILE)
    dvc_yaml = registry / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text().replace("  encoder:\n", f"  encoder:\n    desc: '{HOSTILE}'\n", 1)
    )
    params = registry / "params.yaml"
    params.write_text(params.read_text() + f"site:\n  title: '{HOSTILE}'\n")
    git(registry, "commit", "--quiet", "-m", "hostile settings", "dvc.yaml", "params.yaml")

    build_site(registry, tmp_path / "site")

    pages = sorted((tmp_path / "site").rglob("*.html"))
    shown = "".join(p.read_text(encoding="utf-8") for p in pages)
    # shown as text: the title twice on every page, the notes, the approver and the description
    assert shown.count("alert(1)") >= 2 * len(pages) + 3
    for page in pages:
        parser = _Tags()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, attrs in parser.found:
            assert not any(name.startswith("on") for name, _ in attrs), (page, tag, attrs)
            if tag == "script":
                assert (dict(attrs).get("src") or "").endswith(".js"), (page, attrs)
            assert tag != "img", (page, attrs)  # no training curves here: no picture at all


def test_policy_changes_extra_stages_and_rollbacks_inject_no_markup(
    registry: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    """The fields issue 26 added to the site (an extra stage's column, a rollback's reason, a
    policy change's commit subject and loosened rules, its diff) reach the pages as text."""
    import yaml

    from artreg.services.assign import assign, rollback
    from artreg.services.register import register_raw
    from artreg.services.release import promote_to_production
    from artreg.services.validate import promote_to_validated

    params_path = registry / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["stages"] = {"staging": {"after": "validated"}}
    params["rights"] = {
        "allowed_signers": ".artreg/allowed_signers",
        "production": {"promoters": ["trainer@example.com"]},
    }
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    (registry / ".artreg").mkdir()
    (registry / ".artreg" / "allowed_signers").write_text("")
    git(registry, "add", ".artreg", "params.yaml")
    git(registry, "commit", "--quiet", "-m", "staging and rights")
    git(registry, "config", "user.email", "trainer@example.com")
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    for version in ("1.0.0", "1.1.0"):
        promote_to_production(registry, "encoder", vid, version, **RELEASE_INPUTS)
    assign(registry, "encoder@v1.1.0", "staging")
    rollback(registry, "encoder", reason=HOSTILE)
    git(registry, "switch", "--quiet", "-c", "loosen")
    params["rights"]["production"]["promoters"].append("<script>alert(1)</script>")
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    git(registry, "commit", "--quiet", "-am", HOSTILE)

    build_site(registry, tmp_path / "site", base="main")

    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    policy = index[index.index('<h2 id="policy-heading">Policy changes</h2>') :]
    assert "<strong>not authorized</strong>" in policy
    assert "promoter added to rights.production: &lt;script&gt;alert(1)&lt;/script&gt;" in policy
    diff = policy[policy.index("<pre><code>") : policy.index("</code></pre>")]
    assert re.search(r"\n\+ *- .*&lt;script&gt;alert\(1\)&lt;/script&gt;", diff), diff
    header = re.search(r"<thead>(.*?)</thead>", index[index.index('id="models"') :])
    assert header is not None
    columns = re.findall(r"<th scope=\"col\">(.*?)</th>", header[1])
    assert columns[2:6] == ["raw", "validated", "staging", "production"]
    row = re.search(r'<tr data-name="encoder">(.*?)</tr>', index)
    assert row is not None and ">v1.1.0</a></td><td>" in row[1]  # staging holds v1.1.0
    release = next((tmp_path / "site").rglob("v1.0.0.html")).read_text(encoding="utf-8")
    stages = release[release.index('<h2 id="stages">') :]
    stages = stages[: stages.index("</section>")]
    assert re.search(r"<td>rollback: [^<]*&lt;script&gt;alert\(1\)", stages), stages  # as text
    pages = sorted((tmp_path / "site").rglob("*.html"))
    assert sum(p.read_text(encoding="utf-8").count("alert(1)") for p in pages) >= 5
    for page in pages:
        parser = _Tags()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, attrs in parser.found:
            assert not any(name.startswith("on") for name, _ in attrs), (page, tag, attrs)
            if tag == "script":
                assert (dict(attrs).get("src") or "").endswith(".js"), (page, attrs)
            assert tag != "img", (page, attrs)
