"""The page of one release or validated artifact: status, summary, gates, metric changes,
lineage, training curves, fetch commands, files and the model card.

The one page still written with f-strings inside the templated frame (`page.html.j2`): a
registry has one per release and validated artifact (4,500 of the 4,800 pages of
`benchmarks/run.py --only site`), and written through Jinja2 its body made that benchmark's
row 12 measurably slower. Every value from the registry goes through `h` (html.escape) or a
`base` helper.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from artreg.present.site.base import Layout, fmt, h, iso, table_html, when
from artreg.present.site.front_matter import front_matter_rows
from artreg.present.site.markdown import render as render_markdown
from artreg.present.site.markdown import split_front_matter
from artreg.present.site.templates import render_frame
from artreg.registry.history import who
from artreg.services.site import Entry, Model, SiteData, session

_SLOT = "\x00"  # no value the frame holds has one: a tag, a name or a title cannot


class EntryPages(Layout):
    """The sections of a release's or validated artifact's page."""

    def __init__(self, registry: SiteData) -> None:
        super().__init__(registry)
        self._frames: dict[int, list[str]] = {}

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
        parts.append(self.stage_history(model, entry))
        parts.append(self.gates(entry))
        parts.append(self.deltas(page, model, entry))
        parts.append(self.lineage(page, model, entry))
        if entry.curves:
            alt = f"Training curves of {model.name}, raw session {session(meta) or 'unknown'}: metrics per epoch"
            parts.append(
                _section(
                    "curves",
                    "Training curves",
                    f'<figure><img src="{h(self.rel(page, entry.curves))}" alt="{h(alt)}">'
                    "<figcaption>Per-epoch metrics of the training session, as registered.</figcaption></figure>",
                )
            )
        parts.append(self.fetch(model, entry))
        parts.append(self.files(entry))
        parts.append(self.card(page, entry))
        return self.framed(
            page, {"title": h(title), "name": h(model.name), "label": h(entry.label)}, parts
        )

    def framed(self, page: str, slots: dict[str, str], parts: list[str]) -> str:
        """The body in the frame of `page.html.j2`, rendered once per depth with slots for the
        title and the crumbs (every entry page has the same three) and filled by joining:
        rendering the frame for each of thousands of entry pages costs more than the page."""
        depth = page.count("/")
        frame = self._frames.get(depth)
        if frame is None:
            crumbs: list[tuple[str, str | None]] = [
                ("Registry", "index.html"),
                (_SLOT + "name" + _SLOT, f"models/{_SLOT}name{_SLOT}/index.html"),
                (_SLOT + "label" + _SLOT, None),
            ]
            context = self.frame(page, _SLOT + "title" + _SLOT, crumbs)
            frame = self._frames[depth] = render_frame(context, _SLOT + "body" + _SLOT).split(_SLOT)
        filled = frame[:]
        values = {**slots, "body": "\n".join(parts)}
        for i in range(1, len(filled), 2):  # the odd parts are the slots' names
            filled[i] = values[filled[i]]
        return "".join(filled)

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

    def stage_history(self, model: Model, entry: Entry) -> str:
        """Every stage this folder held, its own and the extra ones `artreg assign` gave it,
        with how each began (a rollback with its reason) and who made it; "" for none."""
        spans = sorted(model.spans_by_folder.get(entry.folder.relpath, []), key=lambda s: s.start)
        if not spans or all(s.stage == entry.folder.stage and not s.note for s in spans):
            return ""  # the status line above says it all
        rows = [
            [
                h(s.stage),
                when(s.start),
                when(s.end),
                h(s.by),
                h(s.note or s.began),
                h(s.ended or "—"),
            ]
            for s in spans
        ]
        headers = ["stage", "from", "until", "by", "how", "ended"]
        table = table_html("Stages this folder held, oldest first", headers, rows)
        return _section("stages", "Stages", table)

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
        signed = [(t, self.r.signers[t]) for t in tags if t in self.r.signers]
        if signed:  # git's verdict on each promotion tag (params.yaml rights)
            items.append(("Tags signed by", "; ".join(_tag_signer(t, s) for t, s in signed)))
        if model_info.get("parameter_count"):
            items.append(("Parameters", h(f"{model_info['parameter_count']:,}")))
        if meta.get("notes"):
            items.append(("Notes", h(str(meta["notes"]))))
        spans = [s for s in model.held(entry) if s.pull_request]
        if spans:
            items.append(("Pull request", self.pull(spans[0].pull_request)))
        body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
        return _section("summary", "Summary", f'<dl class="facts">{body}</dl>')

    def fetch(self, model: Model, entry: Entry) -> str:
        name = model.name
        repo = self.config.url or "REGISTRY_GIT_URL"
        primary = str(entry.manifest.get("primary") or "model.pt")
        lines: list[str] = []
        notes: list[str] = []
        if entry.folder.stage == "production":
            version = entry.label[1:]
            if entry.label in model.active and not model.artifact.deprecated:
                lines, python = _resolving(
                    name,
                    repo,
                    f"--version {version}",
                    f"--rev {entry.label}",
                    f'version="{version}"',
                )
            else:
                notes.append(
                    "This version no longer resolves (deregistered or deprecated): artreg refuses it; "
                    "DVC can still fetch its bytes by commit."
                )
                python = self._as_of_call(model, entry, "production")
        else:
            current = any(s.end is None for s in model.held(entry))
            if current:
                lines, python = _resolving(
                    name, repo, "--stage validated", "--stage validated", 'stage="validated"'
                )
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
        return _section(
            "fetch",
            "Fetch this model",
            f"{notes_html}<h3>Shell</h3><pre><code>{h(shell)}</code></pre>"
            f"<h3>Python</h3><pre><code>{h(python)}</code></pre>",
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
            return _section("gates", "Gates", "<p>No gates were configured for this stage.</p>")
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
        headers = ["gate", "value", "threshold", "result"]
        table = table_html("Gate results: value against threshold", headers, rows, numeric=[1])
        return _section("gates", f"Gates ({state})", table)

    def deltas(self, page: str, model: Model, entry: Entry) -> str:
        baseline, why = self.baseline(model, entry)
        if baseline is None:
            return _section("deltas", "Metric changes", f"<p>{h(why)}</p>")
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
            return _section("deltas", "Metric changes", "<p>No numeric metrics to compare.</p>")
        return _section(
            "deltas",
            "Metric changes",
            f"<p>Against {self.link(page, baseline.page, model.name + ' ' + baseline.label)} ({h(why)}).</p>",
            table_html(
                f"Metrics of {entry.label} against {baseline.label}",
                ["metric", entry.label, baseline.label, "change"],
                rows,
                numeric=[1, 2, 3],
            ),
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
        return _section("lineage", "Lineage", f'<ol class="chain">{"".join(steps)}</ol>')

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
        headers = ["file", "bytes", "sha256", "stored by"]
        return _section(
            "files",
            "Files",
            "<p>Every file of the folder, as its committed manifest lists it; "
            "<code>sha256sum -c</code> checks a downloaded copy.</p>",
            table_html("Files with size and sha256", headers, rows, numeric=[1]),
        )

    def card(self, page: str, entry: Entry) -> str:
        if not entry.card:
            return _section("card", "Model card", "<p>This folder has no README.md.</p>")
        front, body = split_front_matter(entry.card)
        parts: list[str] = []
        if front is not None:
            found = front_matter_rows(front)
            if found:
                rows = [[f"<code>{h(k)}</code>", h(v)] for k, v in found]
                parts.append(table_html("Model card front matter", ["field", "value"], rows))
            else:
                parts.append(f"<pre><code>{h(front)}</code></pre>")
        folder = entry.folder.relpath
        commit = entry.record.commit

        def resolve(url: str, kind: str) -> str | None:
            return self.card_link(page, folder, commit, url, kind)

        parts.append(f'<div class="card">{render_markdown(body, resolve, heading_base=2)}</div>')
        return _section("card", "Model card", *parts)

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


def _tag_signer(tag: str, signer: dict[str, Any]) -> str:
    """`tag`: its verified signer and key, or that git did not verify it."""
    key = f"<code>{h(str(signer.get('fingerprint') or 'unknown key'))}</code>"
    if signer.get("verified"):
        return f"<code>{h(tag)}</code>: {h(str(signer.get('principal')))} ({key})"
    return f"<code>{h(tag)}</code>: <strong>not verified</strong> ({key})"


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


def _resolving(
    name: str, repo: str, artreg_args: str, dvc_args: str, python_args: str
) -> tuple[list[str], str]:
    """The shell lines and the Python call that fetch `name` by what resolves it now (a
    version or a stage): artreg in a clone, DVC anywhere, `get_artifact_path`."""
    lines = [
        "# in a clone of the registry: verified against the manifest's sha256",
        f"artreg get {name} {artreg_args} -o models/",
        "",
        "# anywhere, with DVC only",
        f"dvc artifacts get {repo} {name} {dvc_args} -o models/",
    ]
    python = (
        f'from artreg import get_artifact_path\n\npath = get_artifact_path("{name}", {python_args})'
    )
    return lines, python


def _section(anchor: str, title: str, *body: str) -> str:
    """A page section labelled by its h2, whose id `anchor` is also the section's link target."""
    return f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">{title}</h2>{"".join(body)}</section>'
