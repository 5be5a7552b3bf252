"""`artreg site -o DIR`: the registry as a static web site, with no server to run.

Everything is read from git as committed at the tags (one `git for-each-ref`, one `git log`,
one `git cat-file --batch` process), so the site shows what was promoted, not what the work
tree holds now. Pages link to each other with relative addresses only and every folder has an
`index.html`, so the site works from `file://`, from any static server, under a sub-path and on
GitHub Pages. Nothing on a page refers to another host, except links to the registry's own web
pages when `site.url` in params.yaml names them (commit and pull request pages): styles, the
script, the search index and the training-curve pictures are all files of the site.

params.yaml, all optional:

    site:
      title: Model registry          # the name shown on every page
      url: https://github.com/org/registry   # commit links: {url}/commit/<sha>, PRs: {url}/pull/<n>
      code_url: https://github.com/org/training  # training code commits (default: url)
      metric: coverage               # charted across versions (default: the first numeric gate)
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from artreg import gitrepo, state
from artreg._version import __version__
from artreg.errors import InputError
from artreg.features.history import Interval, PullRequests, intervals, who
from artreg.layout import PARAMS_FILE, StageDir, production_dir
from artreg.markdown_html import render as render_markdown
from artreg.markdown_html import split_front_matter
from artreg.model import Artifact, Event, Registry, Requirement
from artreg.requirements import statuses
from artreg.tags import ID_RE, NAME_RE, SEMVER_RE, STAGES, semver_key

SITE_MARKER = ".artreg-site"
ASSETS = ("site.css", "site.js")
SEARCH_INDEX = "assets/search-index.js"
MAX_CARD_BYTES = 256 << 10  # a model card is prose and tables; more is not a card
MAX_IMAGE_BYTES = 8 << 20
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"GIF8": "gif"}
_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~%/-]*)?$")

_SPECIAL = re.compile(r"[&<>\"']")


def h(value: object) -> str:
    """Every value from the registry reaches a page through this (html.escape, fast path)."""
    text = value if isinstance(value, str) else str(value)
    return escape(text) if _SPECIAL.search(text) else text


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Model registry"
    url: str | None = None
    code_url: str | None = None
    metric: str | None = None
    compatibility: str = "exact"  # params.yaml requirements.compatibility: which versions satisfy


def site_config(params: dict[str, Any], source: str = "params.yaml") -> SiteConfig:
    """The `site` section of params.yaml, checked: a bad value names the field and the fix."""
    from artreg.policy import settings_from

    section = params.get("site")
    if section is None:
        return SiteConfig(compatibility=settings_from(params).compatibility)
    if not isinstance(section, dict):
        raise InputError(
            f"{source}: /site must be a mapping, got {type(section).__name__}",
            hint="write site: with title, url, code_url or metric below it",
        )
    unknown = sorted(set(section) - {"title", "url", "code_url", "metric"})
    if unknown:
        raise InputError(
            f"{source}: /site/{unknown[0]}: unknown setting",
            hint="use title, url, code_url or metric",
        )
    values: dict[str, str | None] = {}
    for key in ("title", "url", "code_url", "metric"):
        value = section.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InputError(
                f"{source}: /site/{key}: expected a text, got {value!r}", hint="quote it"
            )
        values[key] = value.strip() if isinstance(value, str) else None
    for key in ("url", "code_url"):
        value = values[key]
        if value is not None:
            value = value.rstrip("/")
            if not _URL_RE.match(value):
                raise InputError(
                    f"{source}: /site/{key}: {value!r} is not the http(s) address of a web page "
                    "(no user, query or fragment)",
                    hint="e.g. https://github.com/org/registry (commit pages are {url}/commit/<sha>)",
                )
            values[key] = value
    return SiteConfig(
        title=values["title"] or "Model registry",
        url=values["url"],
        code_url=values["code_url"] or values["url"],
        metric=values["metric"],
        compatibility=settings_from(params).compatibility,
    )


def default_metric(params: dict[str, Any]) -> str | None:
    """The first gate with a numeric threshold (validated gates first, then production)."""
    gates = params.get("gates")
    if gates is None:
        from artreg.policy import DEFAULT_PARAMS

        gates = DEFAULT_PARAMS["gates"]
    for stage in ("validated", "production"):
        for metric, rule in ((gates or {}).get(stage) or {}).items():
            threshold = rule.get("threshold") if isinstance(rule, dict) else None
            if _number(threshold) is not None or (
                isinstance(threshold, list) and all(_number(t) is not None for t in threshold)
            ):
                return str(metric)
    return None


# --- what the site shows: read once from git ------------------------------------------------


@dataclass
class Entry:
    """A validated artifact or a release, as committed at the tag that promoted it."""

    folder: StageDir
    record: Event  # the first tag that named the folder
    manifest: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    card: str | None = None
    results: dict[str, float] = field(default_factory=dict)  # numbers of its results files
    curves: str | None = None  # site path of the training-curve picture
    merged: dict[str, float] | None = None  # all_metrics, once computed
    source: Entry | Literal[False] | None = False  # the entry it came from, once looked up

    @property
    def page(self) -> str:
        # One file per page (no folder each): at 10,000 tags the folders alone cost a second.
        return f"models/{self.folder.name}/{_kind(self.folder)}/{self.folder.entry}.html"

    @property
    def label(self) -> str:
        return self.folder.entry

    def metrics(self) -> dict[str, float]:
        """Numbers of its results files and of its gate values."""
        found = dict(self.results)
        for gate in (self.metadata.get("gates") or {}).get("results") or []:
            if isinstance(gate, dict) and (value := _number(gate.get("value"))) is not None:
                found.setdefault(str(gate.get("metric")), value)
        return found


@dataclass
class Model:
    """Everything the site says about one name."""

    name: str
    artifact: Artifact
    releases: list[Entry]  # by semver
    validated: list[Entry]  # by date
    raw: dict[str, Event]  # raw folder -> the tag that registered it
    spans: list[Interval]
    folder_by_tag: dict[str, str]
    spans_by_folder: dict[str, list[Interval]] = field(default_factory=dict)
    tags_by_folder: dict[str, list[str]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)  # labels of active registered versions

    def __post_init__(self) -> None:
        for span in self.spans:
            if span.folder:
                self.spans_by_folder.setdefault(span.folder, []).append(span)
        for record in self.artifact.events:
            folder = self.folder_by_tag.get(record.tag)
            if folder:
                self.tags_by_folder.setdefault(folder, []).append(record.tag)
        self.active = {f"v{v.version}" for v in self.artifact.active_versions() if v.registered}

    @property
    def page(self) -> str:
        return f"models/{self.name}/index.html"

    def held(self, entry: Entry) -> list[Interval]:
        """The intervals in which `entry` held its own stage."""
        return [
            s
            for s in self.spans_by_folder.get(entry.folder.relpath, [])
            if s.stage == entry.folder.stage
        ]


@dataclass
class SiteData:
    root: Path
    config: SiteConfig
    metric: str | None
    state: Registry
    models: dict[str, Model]
    entries: dict[str, Entry]  # folder relpath -> entry
    files: dict[str, bytes]  # site path -> bytes of copied pictures
    copied: dict[str, str]  # repo path of a copied picture -> its site path
    head: str | None
    now: int  # the newest tag or commit date: "now" for intervals still open
    descriptions: dict[str, dict[str, Any]]  # dvc.yaml artifacts.<name> at HEAD
    folder_by_tag: dict[str, str]  # tag -> the stage folder it promoted

    def metric_of(self, entry: Entry) -> float | None:
        if self.metric is None:
            return None
        return self.all_metrics(entry).get(self.metric)

    def all_metrics(self, entry: Entry) -> dict[str, float]:
        """A release's metrics, with its validated source's filling the gaps."""
        if entry.merged is None:
            source = self.source_of(entry)
            entry.merged = {**(source.metrics() if source else {}), **entry.metrics()}
        return entry.merged

    def source_of(self, entry: Entry) -> Entry | None:
        if entry.source is False:
            path = (entry.metadata.get("source") or {}).get("path")
            entry.source = self.entries.get(path) if isinstance(path, str) else None
        return entry.source or None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _valid_folder(folder: StageDir | None, name: str) -> StageDir | None:
    """A folder named by a tag, if it is one artreg could have made (never a path to escape by)."""
    if folder is None or folder.name != name or not NAME_RE.match(folder.name):
        return None
    if folder.stage == "production":
        ok = folder.entry.startswith("v") and bool(SEMVER_RE.match(folder.entry[1:]))
    else:
        ok = bool(ID_RE.match(folder.entry)) and ".." not in folder.entry
    return folder if ok else None


def _json(data: bytes | None) -> dict[str, Any]:
    if not data:
        return {}
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _yaml(data: bytes | None, source: str) -> Any:
    """A YAML file read strictly (fileio's rules); None when it is absent or not valid."""
    from artreg.errors import ArtregError
    from artreg.fileio import parse_yaml

    if not data:
        return None
    try:
        return parse_yaml(data.decode("utf-8", "replace"), source)
    except ArtregError:
        return None


@dataclass
class Shared:
    """What every part of a build needs, read once: tags, state, commits, settings."""

    root: Path
    config: SiteConfig
    metric: str | None
    state: Registry
    by_name: dict[str, list[Event]]
    prs: PullRequests
    head: str | None
    now: int  # the newest tag or commit date: "now" for intervals still open


def prepare(root: Path, config: SiteConfig, params: dict[str, Any]) -> Shared:
    """One `git for-each-ref` and one `git log`: the tags, the state and the commits (and one
    cat-file when tags another tool wrote must say their folders through dvc.yaml)."""
    registry = state.load(root, folders="none")
    records = registry.events
    state.resolve_folders(root, registry.tagged_events())  # only tags without a folder line
    head = gitrepo.head(root)
    commits = gitrepo.log_commits(root) if head else []
    now = max([r.timestamp for r in records] + [c.timestamp for c in commits[:1]] + [0])
    by_name: dict[str, list[Event]] = {}
    for record in records:
        by_name.setdefault(record.parsed.name, []).append(record)
    metric = config.metric or default_metric(params)
    return Shared(root, config, metric, registry, by_name, PullRequests(commits, head), head, now)


def collect(shared: Shared, names: Iterable[str] | None = None) -> SiteData:
    """Read what the pages of `names` (default: every name) need, in one cat-file process."""
    root, registry, head = shared.root, shared.state, shared.head
    chosen = sorted(registry.artifacts) if names is None else sorted(names)
    entries: dict[str, Entry] = {}
    raw: dict[str, dict[str, Event]] = {}
    files: dict[str, bytes] = {}
    copied: dict[str, str] = {}  # repo path of a picture -> its site path
    descriptions: dict[str, dict[str, Any]] = {}
    folders = _folders([registry.artifacts[n] for n in chosen])
    with gitrepo.batch_reader(root) as reader:
        for record, folder in folders:
            if folder.stage == "raw":
                raw.setdefault(folder.name, {}).setdefault(folder.relpath, record)
            elif folder.relpath not in entries:
                entries[folder.relpath] = Entry(folder, record)
        ordered = list(entries.values())
        specs = [
            f"{e.record.commit}:{e.folder.relpath}/{fname}"
            for e in ordered
            for fname in ("manifest.json", "metadata.json", "README.md")
        ]
        answers = reader.read([*specs, "HEAD:dvc.yaml"] if head else specs)
        for i, entry in enumerate(ordered):
            entry.manifest = _json(answers[3 * i])
            entry.metadata = _json(answers[3 * i + 1])
            card = answers[3 * i + 2]
            if card is not None and len(card) <= MAX_CARD_BYTES:
                entry.card = card.decode("utf-8", "replace")
        if head:
            dvc_yaml = _yaml(answers[-1], "dvc.yaml@HEAD")
            artifacts = dvc_yaml.get("artifacts") if isinstance(dvc_yaml, dict) else None
            if isinstance(artifacts, dict):
                descriptions = {str(k): v for k, v in artifacts.items() if isinstance(v, dict)}

        # Second round: results files (listed by the manifest) and training-curve pictures.
        wanted: list[tuple[Entry, str]] = []
        for entry in ordered:
            sub = "performance/" if entry.folder.stage == "production" else "validation/"
            listed = entry.manifest.get("files")
            for rel in listed if isinstance(listed, dict) else {}:
                if isinstance(rel, str) and rel.startswith(sub) and rel.endswith(".json"):
                    wanted.append((entry, f"{entry.record.commit}:{entry.folder.relpath}/{rel}"))
        pictures: dict[str, tuple[str, list[Entry]]] = {}
        for entry in ordered:
            path = entry.metadata.get("training_curves")
            if isinstance(path, str) and StageDir.parse(path) and ".." not in path.split("/"):
                pictures.setdefault(path, (entry.record.commit, []))[1].append(entry)
        picture_paths = list(pictures)
        answers = reader.read(
            [spec for _, spec in wanted] + [f"{pictures[p][0]}:{p}" for p in picture_paths]
        )
        for (entry, _), data in zip(wanted, answers, strict=False):
            for key, value in _json(data).items():
                if (number := _number(value)) is not None:
                    entry.results.setdefault(str(key), number)
        for path, data in zip(picture_paths, answers[len(wanted) :], strict=True):
            kind = _image_kind(data)
            if data is None or kind is None or len(data) > MAX_IMAGE_BYTES:
                continue
            # Named by content, all in one folder: no folder per session to make, and a
            # picture shared by several folders is written once.
            target = f"files/{hashlib.sha256(data).hexdigest()}.{kind}"
            files[target] = data
            copied[path] = target
            for entry in pictures[path][1]:
                entry.curves = target

    folder_by_tag = {record.tag: folder.relpath for record, folder in folders}

    def folder_of(record: Event) -> str | None:
        return folder_by_tag.get(record.tag)

    by_model: dict[str, list[Entry]] = {}
    for entry in entries.values():
        by_model.setdefault(entry.folder.name, []).append(entry)
    models: dict[str, Model] = {}
    for name in chosen:
        artifact = registry.artifacts[name]
        mine = by_model.get(name, [])
        releases = sorted(
            (e for e in mine if e.folder.stage == "production"),
            key=lambda e: semver_key(e.folder.entry[1:]),
        )
        validated = sorted(
            (e for e in mine if e.folder.stage == "validated"), key=lambda e: e.record.timestamp
        )

        spans = intervals(
            shared.by_name.get(name, []), name, pull_requests=shared.prs, folder_of=folder_of
        )
        models[name] = Model(
            name, artifact, releases, validated, raw.get(name, {}), spans, folder_by_tag
        )
    return SiteData(
        root,
        shared.config,
        shared.metric,
        registry,
        models,
        entries,
        files,
        copied,
        head,
        shared.now,
        descriptions,
        folder_by_tag,
    )


def _folders(artifacts: list[Artifact]) -> list[tuple[Event, StageDir]]:
    """(tag, folder) of every assignment and registration, oldest first: the folder from the
    tag message, else (a tag another tool wrote) from dvc.yaml, as `prepare` resolved it."""
    found: list[tuple[Event, StageDir]] = []
    for artifact in artifacts:
        for event in artifact.events:
            if not event.promotes:
                continue
            named = event.fields.get("folder")
            # The message's path, parsed without pathlib: at 10,000 tags that cost shows.
            folder = _parse_folder(named) if named else event.folder if not event.fields else None
            folder = _valid_folder(folder, event.name)
            if folder is not None:
                found.append((event, folder))
    found.sort(key=lambda pair: pair[0].timestamp)
    return found


def _kind(folder: StageDir) -> str:
    return "releases" if folder.stage == "production" else "validated"


def _parse_folder(path: str) -> StageDir | None:
    """StageDir.parse for the POSIX paths tags and dvc.yaml hold, without pathlib's cost."""
    parts = [p for p in path.split("/") if p and p != "."]
    if len(parts) >= 4 and parts[0] == "artifacts" and parts[1] in STAGES:
        return StageDir(parts[1], parts[2], parts[3])
    return None


def _image_kind(data: bytes | None) -> str | None:
    if not data:
        return None
    return next((kind for magic, kind in _IMAGE_MAGIC.items() if data.startswith(magic)), None)


# --- writing the site -------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    out: Path
    pages: int
    names: int
    files: int

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "pages": self.pages, "names": self.names, "files": self.files}


def build_site(root: Path, out: Path, workers: int | None = None) -> Built:
    """Write the registry's static site into `out` (a new folder, or one artreg wrote before).

    The names are split between `workers` processes (default: two on a machine with two
    cores, for registries of more than a thousand tags); each reads its names' folders in its
    own cat-file process and writes their pages. The output does not depend on the split.
    """
    params, source = committed_params(root)
    config = site_config(params, source)
    out = out.resolve()
    _check_output(root, out)
    shared = prepare(root, config, params)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pages, files = _write_all(shared, staging, workers)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, retired / "site")
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Built(out, pages, len(shared.state.artifacts), files)


def _check_output(root: Path, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder", hint="give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).is_file():
        raise InputError(
            f"{out}: not empty, and not a site artreg wrote (it has no {SITE_MARKER} file)",
            hint="give a new or empty folder; artreg replaces only a site it wrote itself",
        )
    resolved_root = root.resolve()
    if out == resolved_root or resolved_root.is_relative_to(out):
        raise InputError(f"{out}: holds the registry itself", hint="write the site elsewhere")


@dataclass
class Part:
    """What writing one share of the names gave: index rows, search documents, counts."""

    rows: dict[str, str]
    docs: list[dict[str, str]]
    pages: int
    files: int


def _write_all(shared: Shared, out: Path, workers: int | None) -> tuple[int, int]:
    """Every page and file of the site into `out`; returns (pages, files) written."""
    names = sorted(shared.state.artifacts)
    if workers is None:
        big = sum(len(r) for r in shared.by_name.values()) > 1000
        workers = 2 if big and (os.cpu_count() or 1) >= 2 and hasattr(os, "fork") else 1
    shares = _split(names, shared, max(1, min(workers, len(names))))
    parts = _run_parts(shared, shares, out)
    rows = {name: row for part in parts for name, row in part.rows.items()}
    docs = sorted((d for part in parts for d in part.docs), key=lambda d: (d["n"], d["u"]))
    pages = Pages(collect(shared, []))
    (out / "assets").mkdir(parents=True, exist_ok=True)
    assets = resources.files("artreg") / "site_assets"
    for asset in ASSETS:
        (out / "assets" / asset).write_bytes(assets.joinpath(asset).read_bytes())
    (out / "index.html").write_text(pages.index([rows[n] for n in names]), encoding="utf-8")
    (out / "models").mkdir(exist_ok=True)
    (out / "models" / "index.html").write_text(pages.models_listing(names), encoding="utf-8")
    search = json.dumps(docs, ensure_ascii=False, separators=(",", ":"))
    (out / SEARCH_INDEX).write_text(
        "window.ARTREG_SEARCH_INDEX = " + search.replace("</", "<\\/") + ";\n", encoding="utf-8"
    )
    (out / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve files as they are
    (out / SITE_MARKER).write_text(f"artreg {__version__}\n", encoding="utf-8")
    page_count = 2 + sum(p.pages for p in parts)
    return page_count, page_count + sum(p.files for p in parts) + len(ASSETS) + 3


def _split(names: list[str], shared: Shared, workers: int) -> list[list[str]]:
    """Names in `workers` shares of about equal numbers of tags."""
    shares: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for name in sorted(names, key=lambda n: -len(shared.by_name.get(n, []))):
        lightest = loads.index(min(loads))
        shares[lightest].append(name)
        loads[lightest] += len(shared.by_name.get(name, []))
    return [sorted(share) for share in shares if share]


def write_part(shared: Shared, names: list[str], out: Path) -> Part:
    """Read the folders of `names` and write their pages and pictures into `out`."""
    registry = collect(shared, names)
    pages = Pages(registry)
    for path, data in registry.files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    made: set[str] = set()
    count = 0
    for path, html in pages.all():
        folder = path.rpartition("/")[0]
        if folder not in made:
            (out / folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        (out / path).write_bytes(html.encode("utf-8"))
        count += 1
    rows = {name: pages.index_row(model) for name, model in registry.models.items()}
    return Part(rows, pages.search_index(), count, len(registry.files))


_JOB: tuple[Shared, list[list[str]], Path] | None = None  # inherited by forked workers


def _run_share(index: int) -> Part:
    assert _JOB is not None
    shared, shares, out = _JOB
    return write_part(shared, shares[index], out)


def _run_parts(shared: Shared, shares: list[list[str]], out: Path) -> list[Part]:
    if len(shares) <= 1:
        return [write_part(shared, share, out) for share in shares]
    import multiprocessing

    global _JOB
    _JOB = (shared, shares, out)
    try:
        # fork: the workers inherit the tags and state already read, nothing is pickled in.
        with multiprocessing.get_context("fork").Pool(len(shares)) as pool:
            return pool.map(_run_share, range(len(shares)))
    finally:
        _JOB = None


# --- pages -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(timestamp: int | None) -> str:
    if timestamp is None:
        return "now"
    stamp = iso(timestamp)
    return f'<time datetime="{stamp}">{stamp[:10]} {stamp[11:16]}</time>'


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    return str(value)


class Pages:
    """The HTML of every page, built from a collected SiteData."""

    def __init__(self, registry: SiteData) -> None:
        self.r = registry
        self.config = registry.config

    def all(self) -> Iterable[tuple[str, str]]:
        """(path, html) of every page of this registry's names (the index is made apart)."""
        for model in self.r.models.values():
            yield model.page, self.model(model)
            for kind in ("releases", "validated"):
                yield f"models/{model.name}/{kind}/index.html", self.listing(model, kind)
            for entry in model.releases + model.validated:
                yield entry.page, self.entry(model, entry)

    # --- shared pieces -------------------------------------------------------------------

    def page(
        self,
        path: str,
        title: str,
        crumbs: list[tuple[str, str | None]],
        body: str,
        index: bool = False,
    ) -> str:
        up = "../" * path.count("/")
        trail = "".join(
            f'<li><a href="{h(self.rel(path, target))}">{h(label)}</a></li>'
            if target
            else f'<li aria-current="page">{h(label)}</li>'
            for label, target in crumbs
        )
        scripts = (
            f'<script src="{up}{SEARCH_INDEX}" defer></script>\n' if index else ""
        ) + f'<script src="{up}assets/site.js" defer></script>'
        generated = (
            f"from commit {self.commit(self.r.head)}" if self.r.head else "from an empty history"
        )
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{h(title)} · {h(self.config.title)}</title>
<link rel="stylesheet" href="{up}assets/site.css">
{scripts}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="{up}index.html">{h(self.config.title)}</a>
<form class="search" role="search" action="{up}index.html" method="get">
<label for="q">Search models</label>
<input id="q" name="q" type="search" autocomplete="off" placeholder="name, version, person, metric">
<button type="submit">Search</button>
</form>
</header>
<nav class="crumbs" aria-label="Breadcrumb"><ol>{trail}</ol></nav>
<main id="main" tabindex="-1">
{body}
</main>
<footer>
<p>Generated by artreg {h(__version__)} {generated}; state as of {when(self.r.now)} UTC.
Every page is a file of this folder: no server, nothing loaded from elsewhere.</p>
</footer>
</body>
</html>
"""

    @staticmethod
    def rel(page: str, target: str) -> str:
        """`target` (a path from the site's root) as seen from `page`: up to the root, then down."""
        return "../" * page.count("/") + target

    def link(self, page: str, target: str, label: str) -> str:
        return f'<a href="{h(self.rel(page, target))}">{h(label)}</a>'

    def commit(self, sha: str | None, code: bool = False) -> str:
        if not sha:
            return "—"
        base = self.config.code_url if code else self.config.url
        short = f'<code title="{h(sha)}">{h(sha[:12])}</code>'
        if base and re.fullmatch(r"[0-9a-f]{7,64}", sha):
            return f'<a href="{h(base)}/commit/{h(sha)}">{short}</a>'
        return short

    def pull(self, number: int | None) -> str:
        if number is None:
            return "—"
        if self.config.url:
            return f'<a href="{h(self.config.url)}/pull/{number}">#{number}</a>'
        return f"#{number}"

    @staticmethod
    def table(
        caption: str, headers: list[str], rows: list[list[str]], numeric: Iterable[int] = ()
    ) -> str:
        """A table in a focusable scroll box (keyboard users can scroll wide ones)."""
        right = set(numeric)
        opens = ["<td class=num>" if i in right else "<td>" for i in range(len(headers))]
        head = "".join(
            f'<th scope="col"{" class=num" if i in right else ""}>{h(x)}</th>'
            for i, x in enumerate(headers)
        )
        if right:
            body = "\n".join(
                "<tr>"
                + "".join(o + c + "</td>" for o, c in zip(opens, row, strict=False))
                + "</tr>"
                for row in rows
            )
        else:
            body = "\n".join("<tr><td>" + "</td><td>".join(row) + "</td></tr>" for row in rows)
        label = h(caption)
        return (
            f'<div class="scroll" role="region" aria-label="{label}" tabindex="0">'
            f"<table>\n<caption>{label}</caption>\n<thead><tr>{head}</tr></thead>\n"
            f"<tbody>\n{body}\n</tbody>\n</table></div>"
        )

    def version_link(self, page: str, model: Model, label: str | None, folder: str | None) -> str:
        entry = self.r.entries.get(folder) if folder else None
        text = label or (folder.rsplit("/", 1)[-1] if folder else "—")
        return self.link(page, entry.page, text) if entry else h(text)

    # --- charts --------------------------------------------------------------------------

    def sparkline(self, model: Model, width: int = 96, height: int = 32) -> str:
        points = self.series(model)
        if self.r.metric is None or not points:
            return '<span class="muted">—</span>'
        summary = ", ".join(f"{label} {fmt(value)}" for label, value in points)
        chart = _chart(
            points,
            width,
            height,
            f"{self.r.metric} across {len(points)} version{'s' if len(points) != 1 else ''}: {summary}",
            axes=False,
        )
        return (
            f'<span class="spark">{chart}<span class="value">{h(fmt(points[-1][1]))}</span></span>'
        )

    def series(self, model: Model) -> list[tuple[str, float]]:
        chosen = model.releases or model.validated
        found = []
        for entry in chosen:
            value = self.r.metric_of(entry)
            if value is not None:
                found.append((entry.label, value))
        return found[-30:]

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
            folder = _folder_of_record(self.r, holder.assignment(stage))
            label = f"v{holder.version}" if holder.registered else None
            cells.append(self.version_link(page, model, label, folder))
        production = stages.get("production")
        since = by = "—"
        if production is not None:
            record = production.assignment("production")
            assert record is not None
            since = when(record.timestamp)
            entry = self.r.entries.get(_folder_of_record(self.r, record) or "")
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
            + f"<td>{since}</td><td>{by}</td><td>{self.sparkline(model)}</td></tr>"
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

    # --- one name ----------------------------------------------------------------------------

    def model(self, model: Model) -> str:
        page = model.page
        artifact = model.artifact
        parts = [
            f"<h1>{h(model.name)}{' <span class=badge>deprecated</span>' if artifact.deprecated else ''}</h1>"
        ]
        description = self.r.descriptions.get(model.name) or {}
        if isinstance(description.get("desc"), str):
            parts.append(f'<p class="lead">{h(description["desc"])}</p>')
        if artifact.deprecated:
            last = artifact.events[-1]
            parts.append(
                f'<p class="notice">Deprecated on {when(last.timestamp)} by {h(who(last))} '
                f"(tag <code>{h(last.tag)}</code>): no stage resolves until a new promotion.</p>"
            )
        parts.append(self.now_section(page, model))
        parts.append(self.releases_section(page, model))
        parts.append(self.validated_section(page, model))
        parts.append(self.timeline_section(page, model))
        requirements = self.requirements_section(model)
        if requirements:
            parts.append(requirements)
        parts.append(self.events_section(model))
        crumbs = [("Registry", "index.html"), (model.name, None)]
        return self.page(page, model.name, crumbs, "\n".join(parts))

    def now_section(self, page: str, model: Model) -> str:
        rows = []
        for span in model.spans:
            if span.end is None:
                rows.append(
                    [
                        h(span.stage),
                        self.version_link(page, model, span.version, span.folder),
                        when(span.start),
                        h(span.by),
                        self.commit(span.commit),
                    ]
                )
        if not rows:
            return '<section aria-labelledby="now"><h2 id="now">Stages now</h2><p>No stage resolves.</p></section>'
        return (
            '<section aria-labelledby="now"><h2 id="now">Stages now</h2>'
            + self.table(
                "What each stage resolves to now", ["stage", "holds", "since", "by", "commit"], rows
            )
            + "</section>"
        )

    def releases_section(self, page: str, model: Model) -> str:
        if not model.releases:
            return '<section aria-labelledby="releases"><h2 id="releases">Releases</h2><p>None yet.</p></section>'
        active = model.active
        metric = self.r.metric
        rows = []
        for entry in reversed(model.releases):
            meta = entry.metadata
            value = self.r.metric_of(entry)
            rows.append(
                [
                    self.link(page, entry.page, entry.label),
                    when(entry.record.timestamp),
                    h(str(meta.get("created_by") or who(entry.record))),
                    h(str((meta.get("approval") or {}).get("approved_by") or "—")),
                    "active"
                    if entry.label in active
                    else '<span class="badge">deregistered</span>',
                    h(fmt(value)) if value is not None else "—",
                ]
            )
        chart = ""
        points = self.series(model)
        if metric and len(points) >= 2:
            summary = ", ".join(f"{label} {fmt(v)}" for label, v in points)
            chart = (
                "<figure>"
                + _chart(points, 640, 160, f"{metric} across versions: {summary}", axes=True)
                + (f"<figcaption>{h(metric)} across versions (oldest left)</figcaption></figure>")
            )
        return (
            '<section aria-labelledby="releases"><h2 id="releases">Releases</h2>'
            + chart
            + self.table(
                "Releases, newest first",
                ["version", "released", "by", "approved by", "status", metric or "metric"],
                rows,
                numeric=[5],
            )
            + "</section>"
        )

    def validated_section(self, page: str, model: Model) -> str:
        if not model.validated:
            return '<section aria-labelledby="validated"><h2 id="validated">Validated artifacts</h2><p>None yet.</p></section>'
        rows = []
        for entry in reversed(model.validated):
            meta = entry.metadata
            gates = meta.get("gates") or {}
            source = meta.get("source") or {}
            value = self.r.metric_of(entry)
            rows.append(
                [
                    self.link(page, entry.page, entry.label),
                    when(entry.record.timestamp),
                    h(str(meta.get("created_by") or who(entry.record))),
                    h(str(source.get("id") or "—")),
                    "passed" if gates.get("passed") else ("—" if not gates else "FAILED"),
                    h(fmt(value)) if value is not None else "—",
                ]
            )
        return (
            '<section aria-labelledby="validated"><h2 id="validated">Validated artifacts</h2>'
            + self.table(
                "Validated artifacts, newest first",
                ["id", "validated", "by", "raw session", "gates", self.r.metric or "metric"],
                rows,
                numeric=[5],
            )
            + "</section>"
        )

    def timeline_section(self, page: str, model: Model) -> str:
        spans = model.spans
        if not spans:
            return '<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2><p>No stage was ever assigned.</p></section>'
        rows = [
            [
                h(s.stage),
                self.version_link(page, model, s.version, s.folder),
                when(s.start),
                when(s.end),
                h(s.by)
                + (f' <span class="muted">({h(s.began)})</span>' if s.began != "assigned" else ""),
                self.commit(s.commit),
                self.pull(s.pull_request),
                h(s.ended or "—"),
            ]
            for s in sorted(
                spans, key=lambda s: (s.start, STAGES.index(s.stage) if s.stage in STAGES else 9)
            )
        ]
        return (
            '<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2>'
            "<p>Which version held each stage, from when until when, put there by whom, through "
            "which commit and pull request (<code>artreg history "
            f"{h(model.name)}</code>).</p>"
            + _timeline(spans, self.r.now)
            + self.table(
                "Stage holders over time",
                ["stage", "held by", "from", "until", "by", "commit", "pull request", "ended"],
                rows,
            )
            + "</section>"
        )

    def requires_of(self, entry: Entry) -> tuple[Requirement, ...]:
        """What a validated artifact or release declared it needs (its metadata's `requires`)."""
        try:
            return tuple(Requirement.from_json(r) for r in entry.metadata.get("requires") or ())
        except (KeyError, TypeError, AttributeError):  # a hand-edited record: shown as nothing
            return ()

    def requirement_links(self, page: str, requires: Iterable[Requirement]) -> str:
        """Each requirement linked to its release page, with whether production satisfies it."""
        links = []
        for status in statuses(self.r.state, requires, self.config.compatibility):
            req = status.requirement
            target = production_dir(req.name, req.version)
            label = f"<code>{h(str(req))}</code>"
            if self.r.state.artifacts.get(req.name) and self.r.state.get(req.name).find_version(
                req.version
            ):
                label = self.link(
                    page, f"models/{req.name}/{_kind(target)}/{target.entry}.html", str(req)
                )
            links.append(f"{label} ({'met' if status.met else 'not met'}: {h(status.detail)})")
        return "; ".join(links)

    def requirements_section(self, model: Model) -> str:
        page = model.page
        parts = []
        needs = [
            [self.link(page, e.page, e.label), self.requirement_links(page, reqs)]
            for e in model.releases
            if (reqs := self.requires_of(e))
        ]
        if needs:
            parts.append(self.table("What each release requires", ["release", "requires"], needs))
        # Dependants come from the tag messages of every name (each worker holds the whole
        # state), so a base model's page names the adapters and students built on it.
        users = [
            [
                self.link(
                    page,
                    f"models/{name}/{_kind(production_dir(name, v.version))}/{v.label}.html",
                    f"{name} {v.label}",
                ),
                f"<code>{h(str(req))}</code>",
            ]
            for name, artifact in sorted(self.r.state.artifacts.items())
            for v in artifact.versions
            if v.registered
            for req in v.requires()
            if req.name == model.name
        ]
        if users:
            parts.append(self.table("Required by", ["release", "requires"], users))
        latest = model.releases[-1] if model.releases else None
        meta = latest.metadata if latest is not None else {}
        runtime = meta.get("requirements")
        if latest is not None and isinstance(runtime, (dict, list)) and runtime:
            rows = [[f"<code>{h(k)}</code>", h(v)] for k, v in _flatten(runtime)]
            parts.append(
                self.table(f"Requirements of {latest.label}", ["requirement", "value"], rows)
            )
        resources_ = (meta.get("deployment") or {}).get("resources")
        if latest is not None and isinstance(resources_, dict) and resources_:
            rows = [[f"<code>{h(k)}</code>", h(v)] for k, v in _flatten(resources_)]
            parts.append(
                self.table(f"Deployment resources of {latest.label}", ["resource", "value"], rows)
            )
        if not parts:
            return ""
        return (
            '<section aria-labelledby="requirements"><h2 id="requirements">Requirements</h2>'
            + "".join(parts)
            + "</section>"
        )

    def events_section(self, model: Model) -> str:
        rows = [
            [
                when(r.timestamp),
                h(r.parsed.action.value),
                f"<code>{h(r.tag)}</code>",
                self.commit(r.commit),
                h(who(r)),
            ]
            for r in reversed(model.artifact.events)
        ]
        return (
            '<section aria-labelledby="events"><h2 id="events">Events</h2>'
            + self.table(
                "Every tag of this name, newest first",
                ["date", "event", "tag", "commit", "by"],
                rows,
            )
            + "</section>"
        )

    # --- one release or validated artifact --------------------------------------------------

    def entry(self, model: Model, entry: Entry) -> str:
        page = entry.page
        folder = entry.folder
        meta = entry.metadata
        release = folder.stage == "production"
        title = f"{model.name} {entry.label}" if release else f"{model.name} · {entry.label}"
        parts = [f"<h1>{h(title)}</h1>", f'<p class="lead">{self.status(model, entry)}</p>']
        # What a reviewer reads first (gates, changes, where it came from), then what a
        # consumer needs (commands, files), then the card.
        parts.append(self.summary(page, model, entry))
        parts.append(self.gates(entry))
        parts.append(self.deltas(page, model, entry))
        parts.append(self.lineage(page, model, entry))
        if entry.curves:
            alt = f"Training curves of {model.name}, raw session {_session(meta) or 'unknown'}: metrics per epoch"
            parts.append(
                '<section aria-labelledby="curves"><h2 id="curves">Training curves</h2>'
                f'<figure><img src="{h(self.rel(page, entry.curves))}" alt="{h(alt)}">'
                "<figcaption>Per-epoch metrics of the training session, as registered.</figcaption></figure></section>"
            )
        parts.append(self.fetch(model, entry))
        parts.append(self.files(entry))
        parts.append(self.card(page, entry))
        crumbs = [
            ("Registry", "index.html"),
            (model.name, model.page),
            (entry.label, None),
        ]
        return self.page(page, title, crumbs, "\n".join(parts))

    def status(self, model: Model, entry: Entry) -> str:
        stage = entry.folder.stage
        mine = model.held(entry)
        if any(s.end is None for s in mine):
            text = f"In {stage} now."
        elif mine:
            text = (
                f"Held {stage} "
                + "; ".join(f"from {when(s.start)} until {when(s.end)}" for s in mine)
                + "."
            )
        else:
            text = f"Never resolved as {stage}."
        if entry.folder.stage == "production" and entry.label not in model.active:
            text += ' <span class="badge">deregistered</span>'
        return text

    def summary(self, page: str, model: Model, entry: Entry) -> str:
        meta = entry.metadata
        record = entry.record
        source = meta.get("source") or {}
        approval = meta.get("approval") or {}
        model_info = meta.get("model") or {}
        tags = model.tags_by_folder.get(entry.folder.relpath, [])
        items = [
            ("Promoted", when(record.timestamp)),
            ("By", h(str(meta.get("created_by") or who(record)))),
        ]
        if approval.get("approved_by"):
            items.append(("Approved by", h(str(approval["approved_by"]))))
        items += [
            ("Tags", ", ".join(f"<code>{h(t)}</code>" for t in tags) or "—"),
            ("Commit", self.commit(record.commit)),
            ("Folder", f"<code>{h(entry.folder.relpath)}</code>"),
        ]
        if source:
            source_entry = self.r.source_of(entry)
            label = f"{source.get('stage', '?')} {source.get('id', '?')}"
            items.append(
                ("Source", self.link(page, source_entry.page, label) if source_entry else h(label))
            )
        requires = self.requires_of(entry)
        if requires:
            items.append(("Requires", self.requirement_links(page, requires)))
        signature = meta.get("signature")
        if isinstance(signature, dict):
            items.append(("Signed by", _signer(signature)))
        if model_info.get("parameter_count"):
            items.append(("Parameters", h(f"{model_info['parameter_count']:,}")))
        if meta.get("notes"):
            items.append(("Notes", h(str(meta["notes"]))))
        spans = [s for s in model.held(entry) if s.pull_request]
        if spans:
            items.append(("Pull request", self.pull(spans[0].pull_request)))
        body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
        return f'<section aria-labelledby="summary"><h2 id="summary">Summary</h2><dl class="facts">{body}</dl></section>'

    def fetch(self, model: Model, entry: Entry) -> str:
        name = model.name
        repo = self.config.url or "REGISTRY_GIT_URL"
        primary = str(entry.manifest.get("primary") or "model.pt")
        lines: list[str] = []
        notes: list[str] = []
        if entry.folder.stage == "production":
            version = entry.label[1:]
            if entry.label in model.active and not model.artifact.deprecated:
                lines += [
                    "# in a clone of the registry: verified against the manifest's sha256",
                    f"artreg get {name} --version {version} -o models/",
                    "",
                    "# anywhere, with DVC only",
                    f"dvc artifacts get {repo} {name} --rev {entry.label} -o models/",
                ]
                python = f'from artreg import get_artifact_path\n\npath = get_artifact_path("{name}", version="{version}")'
            else:
                notes.append(
                    "This version no longer resolves (deregistered or deprecated): artreg refuses it; "
                    "DVC can still fetch its bytes by commit."
                )
                python = self._as_of_call(model, entry, "production")
        else:
            current = any(s.end is None for s in model.held(entry))
            if current:
                lines += [
                    "# in a clone of the registry: verified against the manifest's sha256",
                    f"artreg get {name} --stage validated -o models/",
                    "",
                    "# anywhere, with DVC only",
                    f"dvc artifacts get {repo} {name} --stage validated -o models/",
                ]
                python = f'from artreg import get_artifact_path\n\npath = get_artifact_path("{name}", stage="validated")'
            else:
                notes.append(
                    "This artifact no longer holds the validated stage, so `artreg get --stage "
                    "validated` returns another one; fetch it by commit, or as of a moment it held the stage."
                )
                python = self._as_of_call(model, entry, "validated")
        exact = [
            "# exactly this folder's model, by the commit that promoted it",
            f"dvc get {repo} {entry.folder.relpath}/{primary} --rev {entry.record.commit} -o {primary}",
        ]
        shell = "\n".join(lines + ([""] if lines else []) + exact)
        notes_html = "".join(f"<p>{h(n)}</p>" for n in notes)
        return (
            '<section aria-labelledby="fetch"><h2 id="fetch">Fetch this model</h2>'
            f"{notes_html}<h3>Shell</h3><pre><code>{h(shell)}</code></pre>"
            f"<h3>Python</h3><pre><code>{h(python)}</code></pre></section>"
        )

    def _as_of_call(self, model: Model, entry: Entry, stage: str) -> str:
        held = model.held(entry)
        if not held:
            return "# this artifact never resolved as its stage: use the dvc get command above"
        return (
            "from artreg import get_artifact_path\n\n"
            f"# the registry as of {iso(held[0].start)}, when it held {stage}\n"
            f'path = get_artifact_path("{model.name}", stage="{stage}", as_of="{iso(held[0].start)}")'
        )

    def gates(self, entry: Entry) -> str:
        gates = entry.metadata.get("gates") or {}
        results = [g for g in gates.get("results") or [] if isinstance(g, dict)]
        if not results:
            return '<section aria-labelledby="gates"><h2 id="gates">Gates</h2><p>No gates were configured for this stage.</p></section>'
        rows = []
        for g in results:
            op, threshold = str(g.get("op", "")), g.get("threshold")
            if op == "in range" and isinstance(threshold, list) and len(threshold) == 2:
                rule = f"in [{fmt(threshold[0])}, {fmt(threshold[1])}]"
            else:
                rule = f"{op} {fmt(threshold)}"
            passed = bool(g.get("passed"))
            verdict = (
                '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'
            )
            if g.get("reason"):
                verdict += f" ({h(str(g['reason']))})"
            value = g.get("value")
            rows.append(
                [
                    f"<code>{h(str(g.get('metric')))}</code>",
                    h(fmt(value)) if value is not None else "—",
                    h(rule),
                    verdict,
                ]
            )
        state = "all passed" if gates.get("passed") else "not all passed"
        return (
            f'<section aria-labelledby="gates"><h2 id="gates">Gates ({state})</h2>'
            + self.table(
                "Gate results: value against threshold",
                ["gate", "value", "threshold", "result"],
                rows,
                numeric=[1],
            )
            + "</section>"
        )

    def deltas(self, page: str, model: Model, entry: Entry) -> str:
        baseline, why = self.baseline(model, entry)
        heading = '<section aria-labelledby="deltas"><h2 id="deltas">Metric changes</h2>'
        if baseline is None:
            return heading + f"<p>{h(why)}</p></section>"
        mine, theirs = self.r.all_metrics(entry), self.r.all_metrics(baseline)
        rows = []
        # Metrics that changed first, then the rest, each alphabetically.
        names = sorted(set(mine) | set(theirs), key=lambda m: (mine.get(m) == theirs.get(m), m))
        for metric in names:
            a, b = theirs.get(metric), mine.get(metric)
            delta = f"{b - a:+.6g}" if a is not None and b is not None else "—"
            rows.append(
                [
                    f"<code>{h(metric)}</code>",
                    h(fmt(b)) if b is not None else "—",
                    h(fmt(a)) if a is not None else "—",
                    h(delta),
                ]
            )
        if not rows:
            return heading + "<p>No numeric metrics to compare.</p></section>"
        return (
            heading
            + f"<p>Against {self.link(page, baseline.page, model.name + ' ' + baseline.label)} ({h(why)}).</p>"
            + self.table(
                f"Metrics of {entry.label} against {baseline.label}",
                ["metric", entry.label, baseline.label, "change"],
                rows,
                numeric=[1, 2, 3],
            )
            + "</section>"
        )

    def baseline(self, model: Model, entry: Entry) -> tuple[Entry | None, str]:
        if entry.folder.stage == "production":
            index = model.releases.index(entry)
            if index == 0:
                return None, "The first release of this name: nothing to compare with."
            return model.releases[index - 1], "the release before it"
        moment = entry.record.timestamp
        for span in model.spans:
            if (
                span.stage == "production"
                and span.start <= moment
                and (span.end is None or moment < span.end)
            ):
                found = self.r.entries.get(span.folder or "")
                if found is not None:
                    return found, "the release in production when this was validated"
        return None, "Nothing was in production when this was validated: nothing to compare with."

    def lineage(self, page: str, model: Model, entry: Entry) -> str:
        steps: list[str] = []
        chain: list[Entry] = []
        node: Entry | None = entry
        while node is not None and node not in chain:
            chain.append(node)
            node = self.r.source_of(node)
        source = (chain[-1].metadata.get("source") or {}) if chain else {}
        if source.get("stage") == "raw":
            raw_path = str(source.get("path") or "")
            record = model.raw.get(raw_path)
            detail = (
                f"tag <code>{h(record.tag)}</code>, commit {self.commit(record.commit)}, {when(record.timestamp)}"
                if record
                else "not tagged"
            )
            checkpoint = (
                f", checkpoint <code>{h(str(source.get('checkpoint')))}</code>"
                if source.get("checkpoint")
                else ""
            )
            steps.append(
                f"<li>Raw session <code>{h(str(source.get('id')))}</code>{checkpoint} ({detail})</li>"
            )
        elif source.get("stage") == "external":
            steps.append(f"<li>External file <code>{h(str(source.get('id')))}</code></li>")
        for node in reversed(chain):
            label = "Validated" if node.folder.stage == "validated" else "Release"
            text = h(node.label) if node is entry else self.link(page, node.page, node.label)
            steps.append(
                f"<li>{label} {text} (tag <code>{h(node.record.tag)}</code>, commit "
                f"{self.commit(node.record.commit)}, {when(node.record.timestamp)})"
                f"{' — this page' if node is entry else ''}</li>"
            )
        if entry.folder.stage == "validated":
            for release in model.releases:
                if self.r.source_of(release) is entry:
                    steps.append(
                        f"<li>Released as {self.link(page, release.page, release.label)}</li>"
                    )
        code = source.get("commit") or (entry.metadata.get("source") or {}).get("commit")
        if isinstance(code, str) and code:
            steps.append(f"<li>Training code commit {self.commit(code, code=True)}</li>")
        return (
            '<section aria-labelledby="lineage"><h2 id="lineage">Lineage</h2>'
            f'<ol class="chain">{"".join(steps)}</ol></section>'
        )

    def files(self, entry: Entry) -> str:
        listed = entry.manifest.get("files")
        primary = entry.manifest.get("primary")
        rows = []
        for rel, info in sorted(listed.items()) if isinstance(listed, dict) else []:
            if not isinstance(info, dict):
                continue
            size = info.get("size")
            mark = ' <span class="badge">model</span>' if rel == primary else ""
            rows.append(
                [
                    f"<code>{h(str(rel))}</code>{mark}",
                    h(f"{size:,}") if isinstance(size, int) else "—",
                    f'<code class="hash">{h(str(info.get("sha256", "—")))}</code>',
                    "DVC" if info.get("dvc") else "git",
                ]
            )
        return (
            '<section aria-labelledby="files"><h2 id="files">Files</h2>'
            "<p>Every file of the folder, as its committed manifest lists it; "
            "<code>sha256sum -c</code> checks a downloaded copy.</p>"
            + self.table(
                "Files with size and sha256",
                ["file", "bytes", "sha256", "stored by"],
                rows,
                numeric=[1],
            )
            + "</section>"
        )

    def card(self, page: str, entry: Entry) -> str:
        heading = '<section aria-labelledby="card"><h2 id="card">Model card</h2>'
        if not entry.card:
            return heading + "<p>This folder has no README.md.</p></section>"
        front, body = split_front_matter(entry.card)
        parts = [heading]
        if front is not None:
            found = _front_matter_rows(front)
            if found:
                rows = [[f"<code>{h(k)}</code>", h(v)] for k, v in found]
                parts.append(self.table("Model card front matter", ["field", "value"], rows))
            else:
                parts.append(f"<pre><code>{h(front)}</code></pre>")
        folder = entry.folder.relpath
        commit = entry.record.commit

        def resolve(url: str, kind: str) -> str | None:
            return self.card_link(page, folder, commit, url, kind)

        parts.append(f'<div class="card">{render_markdown(body, resolve, heading_base=2)}</div>')
        parts.append("</section>")
        return "".join(parts)

    def card_link(self, page: str, folder: str, commit: str, url: str, kind: str) -> str | None:
        """Where a model card's link or picture may point: a file of this site, an anchor, or
        the registry's own web pages (site.url); None for anything else."""
        if url.startswith("#"):
            return url if re.fullmatch(r"#[A-Za-z0-9_.:-]*", url) else None
        base = self.config.url
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url) or url.startswith("//"):
            return url if base and (url == base or url.startswith(base + "/")) else None
        target = posixpath.normpath(posixpath.join(folder, url.split("#")[0].split("?")[0]))
        if target.startswith(".."):
            return None
        if target in self.r.copied:
            return self.rel(page, self.r.copied[target])
        if base:
            return f"{base}/{'raw' if kind == 'image' else 'blob'}/{commit}/{target}"
        return None

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


def _signer(signature: dict[str, Any]) -> str:
    """Who signed a folder's model, as its metadata recorded it at promotion (consumers check
    model.sig against params.yaml trust.keys before they load the model; the site reads git only)."""
    key = signature.get("fingerprint")
    who = (
        f"certificate {h(str(signature['subject']))}, key "
        if signature.get("subject")
        else ("key " if key else "")
    )
    files = ", ".join(f"<code>{h(str(f))}</code>" for f in signature.get("files") or [])
    signed = (
        f'{who}<code class="hash">{h(str(key))}</code>'
        if key
        else "a key not established at promotion"
    )
    return f"{signed} over {files or 'the model'} (<code>{h(str(signature.get('file') or 'model.sig'))}</code>)"


def _text(words: Iterable[str]) -> str:
    return " ".join(" ".join(words).lower().split())


def _session(meta: dict[str, Any]) -> str | None:
    path = meta.get("training_curves")
    folder = _parse_folder(path) if isinstance(path, str) else None
    return folder.entry if folder else None


def _folder_of_record(registry: SiteData, record: Event | None) -> str | None:
    return registry.folder_by_tag.get(record.tag) if record is not None else None


def _front_matter_rows(text: str, limit: int = 200) -> list[tuple[str, str]] | None:
    """(dotted key, value) rows of YAML front matter, read from the parser's events.

    Walking events skips the constructor, the slow part of loading, and never expands an
    alias, so a card cannot blow up into a huge table. The events come from `_simple_events`
    when the front matter is in the plain block style model cards are written in, else from
    libyaml's parser (the pure one without it). None when it is not YAML or not a mapping or
    list at the top.
    """
    try:
        return _rows(_simple_events(text), limit)
    except _NotSimple:
        pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)

    def events() -> Iterator[tuple[str, str, bool]]:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.ScalarEvent):
                yield ("scalar", event.value, event.implicit[0])
            elif isinstance(event, yaml.AliasEvent):
                yield ("scalar", f"*{event.anchor}", False)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                yield (
                    "mapping" if isinstance(event, yaml.MappingStartEvent) else "list",
                    "",
                    False,
                )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                yield ("end", "", False)

    try:
        return _rows(events(), limit)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


_NULLS = ("", "~", "null", "Null", "NULL")


def _rows(events: Iterable[tuple[str, str, bool]], limit: int) -> list[tuple[str, str]] | None:
    """The rows of `_front_matter_rows` from (kind, scalar text, plain) events."""
    rows: list[tuple[str, str]] = []
    stack: list[_Open] = []

    def value(text: str) -> None:
        top = stack[-1]
        if top.mapping and top.key is None:
            top.key = text
        elif not top.mapping and not top.nested:
            top.scalars.append(text)  # a list of plain values becomes one row
        elif len(rows) < limit:
            rows.append((top.child(), text))

    for kind, text, plain in events:
        if kind == "scalar":
            if not stack:
                return None
            value("—" if plain and text in _NULLS else text)
        elif kind == "end":
            done = stack.pop()
            if not done.mapping and not done.nested and len(rows) < limit:
                rows.append((done.path or "[]", ", ".join(done.scalars)))
        else:
            path = ""
            if stack:
                top = stack[-1]
                if top.mapping and top.key is None:
                    return None  # a collection as a mapping key: not front matter
                if not top.mapping and not top.nested:
                    top.nested = True  # list items get a row each from here on
                    for item in top.scalars:
                        rows.append((top.child(), item))
                    top.scalars = []
                path = top.child()
            stack.append(_Open(path, kind == "mapping"))
    return rows or None


class _NotSimple(Exception):
    """The front matter uses more of YAML than `_simple_events` reads."""


# What a plain scalar may not start with (YAML 1.1's indicators), besides "- " and a lone "-".
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")


def _simple_events(text: str) -> list[tuple[str, str, bool]]:
    """The parser's events for front matter in plain block style only: `key: value`,
    `key:` with a block below, `- item` and `- key: value` lists, one printable-ASCII line
    per scalar, no quotes, comments, anchors, tags, flow or multi-line scalars. Anything
    else raises _NotSimple, and libyaml reads it instead: this is the subset model cards
    are written in, read about 4x faster than through libyaml's events."""
    lines: list[tuple[int, str]] = []
    for raw in text.split("\n"):
        if not raw.isascii() or not raw.isprintable():
            raise _NotSimple  # tabs, control characters, non-ASCII: libyaml's business
        content = raw.lstrip(" ")
        if not content:
            continue
        if content[0] == "#" or " #" in content or content[-1] == " ":
            raise _NotSimple  # comments; trailing spaces (kept simple: no stripping here)
        lines.append((len(raw) - len(content), content))
    if not lines or lines[0][0] != 0:
        raise _NotSimple
    events: list[tuple[str, str, bool]] = []
    end = _block(lines, 0, events)
    if end != len(lines):
        raise _NotSimple
    return events


def _scalar(text: str) -> tuple[str, str, bool]:
    first = text[0]
    if (
        first in _INDICATORS
        or (first == "-" and (len(text) == 1 or text[1] == " "))
        or ": " in text
        or text[-1] == ":"
    ):
        raise _NotSimple
    return ("scalar", text, True)


def _block(lines: list[tuple[int, str]], i: int, events: list[tuple[str, str, bool]]) -> int:
    """Read the mapping or list starting at line `i` into `events`; the next line's index."""
    indent, content = lines[i]
    if content == "-" or content.startswith("- "):
        return _list(lines, i, indent, events)
    return _mapping(lines, i, indent, events)


def _mapping(
    lines: list[tuple[int, str]], i: int, indent: int, events: list[tuple[str, str, bool]]
) -> int:
    events.append(("mapping", "", False))
    while i < len(lines) and lines[i][0] == indent:
        content = lines[i][1]
        key, sep, rest = content.partition(": ")
        if not sep:
            if content[-1] != ":":
                raise _NotSimple
            key = content[:-1]
        if not key or len(key) > 1024 or key[-1] == " ":
            raise _NotSimple  # libyaml refuses implicit keys longer than 1024 characters
        events.append(_scalar(key))
        i += 1
        if sep:
            events.append(_scalar(rest.lstrip(" ")))
        elif i < len(lines) and lines[i][0] > indent:
            i = _block(lines, i, events)
        elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            i = _list(lines, i, indent, events)  # a list may sit at its key's indentation
        else:
            events.append(("scalar", "", True))  # `key:` and nothing: null
    if i < len(lines) and lines[i][0] > indent:
        raise _NotSimple
    events.append(("end", "", False))
    return i


def _list(
    lines: list[tuple[int, str]], i: int, indent: int, events: list[tuple[str, str, bool]]
) -> int:
    events.append(("list", "", False))
    while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
        item = lines[i][1][2:]
        if not item or item[0] == " " or item.startswith("-"):
            raise _NotSimple  # nested lists, odd indentation: libyaml's business
        if ": " in item or item[-1] == ":":
            lines[i] = (indent + 2, item)  # `- key: value`: a mapping at the item's column
            i = _mapping(lines, i, indent + 2, events)
        else:
            events.append(_scalar(item))
            i += 1
    if i < len(lines) and lines[i][0] > indent:
        raise _NotSimple
    events.append(("end", "", False))
    return i


@dataclass
class _Open:
    """A mapping or list being read from YAML events."""

    path: str
    mapping: bool
    key: str | None = None
    index: int = 0
    nested: bool = False
    scalars: list[str] = field(default_factory=list)

    def child(self) -> str:
        """The path of the next value inside (and move past it)."""
        if self.mapping:
            key, self.key = self.key, None
            return f"{self.path}.{key}" if self.path else str(key)
        self.index += 1
        return f"{self.path}[{self.index - 1}]"


def _flatten(data: Any, prefix: str = "", limit: int = 200) -> list[tuple[str, str]]:
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


# --- pictures, drawn as inline SVG --------------------------------------------------------------


def _chart(points: list[tuple[str, float]], width: int, height: int, label: str, axes: bool) -> str:
    """A line chart of values in order; `label` is what a screen reader hears."""
    pad_x, pad_y = (48, 18) if axes else (4, 5)
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or (abs(high) or 1.0)
    if high == low:
        low -= span / 2
        high += span / 2
        span = high - low
    inner_w, inner_h = width - 2 * pad_x, height - 2 * pad_y
    step = inner_w / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad_x + i * step  # a single point sits at the left, where a series would start
        return round(x, 1), round(pad_y + inner_h * (1 - (v - low) / span), 1)

    coords = [xy(i, v) for i, v in enumerate(values)]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="{3 if axes else 2}"><title>{h(lbl)}: {h(fmt(v))}</title></circle>'
        for (x, y), (lbl, v) in zip(coords, points, strict=True)
    )
    extra = ""
    if axes:
        extra = (
            f'<text x="{pad_x - 6}" y="{pad_y + 4}" text-anchor="end">{h(fmt(high))}</text>'
            f'<text x="{pad_x - 6}" y="{height - pad_y + 4}" text-anchor="end">{h(fmt(low))}</text>'
            f'<line class="axis" x1="{pad_x}" y1="{height - pad_y}" x2="{width - pad_x}" y2="{height - pad_y}"/>'
            f'<text x="{pad_x}" y="{height - 2}">{h(points[0][0])}</text>'
            f'<text x="{width - pad_x}" y="{height - 2}" text-anchor="end">{h(points[-1][0])}</text>'
        )
    return (
        f'<svg class="chart" role="img" aria-label="{h(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{extra}<polyline points="{line}"/>{dots}</svg>'
    )


def _timeline(spans: list[Interval], now: int) -> str:
    """Bars per stage over time (the table after it holds the same data, for everyone)."""
    start = min(s.start for s in spans)
    end = max([now, *(s.end or now for s in spans)])
    total = max(end - start, 1)
    stages = [s for s in STAGES if any(x.stage == s for x in spans)]
    stages += sorted({x.stage for x in spans} - set(stages))
    width, left, row = 720, 90, 26
    height = row * len(stages) + 24
    parts = []
    for i, stage in enumerate(stages):
        y = i * row + 4
        parts.append(f'<text x="0" y="{y + 15}">{h(stage)}</text>')
        for span in (s for s in spans if s.stage == stage):
            x0 = left + (width - left - 4) * (span.start - start) / total
            x1 = left + (width - left - 4) * ((span.end or end) - start) / total
            w = max(x1 - x0, 2)
            tip = f"{span.label}: {iso(span.start)} until {iso(span.end) if span.end else 'now'}"
            parts.append(
                f'<rect class="bar {h(stage)}" x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{row - 8}">'
                f"<title>{h(tip)}</title></rect>"
            )
            if w > 8 * len(span.label) + 6:
                parts.append(
                    f'<text class="in-bar" x="{x0 + 4:.1f}" y="{y + 13}">{h(span.label)}</text>'
                )
    axis_y = row * len(stages) + 18
    parts.append(f'<text x="{left}" y="{axis_y}">{iso(start)[:10]}</text>')
    parts.append(f'<text x="{width - 4}" y="{axis_y}" text-anchor="end">{iso(end)[:10]}</text>')
    label = f"Timeline of {len(spans)} stage assignments from {iso(start)[:10]} to {iso(end)[:10]}; the table below lists them."
    return (
        f'<figure><svg class="timeline" role="img" aria-label="{h(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{"".join(parts)}</svg></figure>'
    )


def committed_params(root: Path) -> tuple[dict[str, Any], str]:
    """params.yaml as committed at HEAD (the site shows what git holds, as the gates are read),
    and its name for messages; artreg's own sections are checked against their schema."""
    from artreg.fileio import parse_yaml
    from artreg.policy import committed_sections

    head = gitrepo.head(root)
    blob = gitrepo.show_file(root, head, PARAMS_FILE) if head else None
    if head is None or blob is None:
        return {}, PARAMS_FILE
    source = f"{PARAMS_FILE}@{head[:12]}"
    committed_sections(root, head)  # artreg's sections: a broken one is reported as elsewhere
    data = parse_yaml(blob.decode("utf-8", "replace"), source)
    return (data if isinstance(data, dict) else {}), source


def load(root: Path) -> SiteData:
    """The collected site data of the repo at `root` (for tests and tools)."""
    params, source = committed_params(root)
    return collect(prepare(root, site_config(params, source), params))


__all__ = ["Built", "SiteConfig", "build_site", "collect", "load", "site_config"]
