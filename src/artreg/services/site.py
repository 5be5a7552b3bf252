"""`artreg site -o DIR`: what the registry's static web site shows, read from git; the pages
themselves are written by `artreg.present.site` (this module is the collection: settings,
git reads and the data the pages are built from).

The site needs no server. Everything is read from git as committed at the tags (one `git for-each-ref`, one `git log`,
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

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from artreg.adapters.files import parse_yaml
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, InputError
from artreg.publishing.rights import signers_of
from artreg.registry import state
from artreg.registry.history import Interval, PullRequests, intervals
from artreg.registry.layout import PARAMS_FILE, StageDir
from artreg.registry.policy import DEFAULT_PARAMS, committed_sections, settings_from
from artreg.registry.records import Artifact, Event, Registry
from artreg.registry.tags import ID_RE, NAME_RE, SEMVER_RE, STAGES, semver_key

MAX_CARD_BYTES = 256 << 10  # a model card is prose and tables; more is not a card
MAX_IMAGE_BYTES = 8 << 20
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"GIF8": "gif"}
_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~%/-]*)?$")

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
        return f"models/{self.folder.name}/{folder_kind(self.folder)}/{self.folder.entry}.html"

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
    signers: dict[str, dict[str, Any]] = field(default_factory=dict)  # tag -> verified signer

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
    head = gitrun.head(root)
    commits = gitread.log_commits(root) if head else []
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
    with gitread.batch_reader(root) as reader:
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
        {tag: v.as_json() for tag, v in signers_of(root, list(folder_by_tag)).items()},
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


def folder_kind(folder: StageDir) -> str:
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


def session(meta: dict[str, Any]) -> str | None:
    path = meta.get("training_curves")
    folder = _parse_folder(path) if isinstance(path, str) else None
    return folder.entry if folder else None


def folder_of_record(registry: SiteData, record: Event | None) -> str | None:
    return registry.folder_by_tag.get(record.tag) if record is not None else None


def committed_params(root: Path) -> tuple[dict[str, Any], str]:
    """params.yaml as committed at HEAD (the site shows what git holds, as the gates are read),
    and its name for messages; artreg's own sections are checked against their schema."""
    head = gitrun.head(root)
    blob = gitread.show_file(root, head, PARAMS_FILE) if head else None
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


__all__ = ["SiteConfig", "collect", "load", "site_config"]
