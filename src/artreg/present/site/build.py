"""Writing the site into a folder: the build (written aside, swapped in), and the pool of forked
workers, each collecting its share of the names and writing their pages."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from artreg._version import __version__
from artreg.errors import InputError
from artreg.present.site.base import SEARCH_INDEX
from artreg.present.site.pages import Pages
from artreg.present.site.policy import policy_section
from artreg.present.site.templates import compile_all
from artreg.services.site import Shared, collect, committed_params, prepare, site_config

SITE_MARKER = ".artreg-site"
ASSETS = ("site.css", "site.js")


@dataclass(frozen=True)
class Built:
    out: Path
    pages: int
    names: int
    files: int

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "pages": self.pages, "names": self.names, "files": self.files}


def build_site(root: Path, out: Path, workers: int | None = None, base: str | None = None) -> Built:
    """Write the registry's static site into `out` (a new folder, or one artreg wrote before).
    Its index opens with the "Policy changes" between `base` (default: the default branch)
    and HEAD, as `artreg summary` lists them, when there are any.

    The names are split between `workers` processes (default: two on a machine with two
    cores, for registries of more than a thousand tags); each reads its names' folders in its
    own cat-file process and writes their pages. The output does not depend on the split.
    """
    params, source = committed_params(root)
    config = site_config(params, source)
    out = out.resolve()
    _check_output(root, out)
    shared = prepare(root, config, params)
    policy = policy_section(root, base)
    out.parent.mkdir(parents=True, exist_ok=True)
    # mkdtemp makes a private folder (0700); a site is served, often by a web server running
    # as another user: it gets the mode `out` had, else the one a new folder gets (umask)
    mode = stat.S_IMODE(out.stat().st_mode) if out.is_dir() else 0o777 & ~_umask()
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(staging, mode)
        pages, files = _write_all(shared, staging, workers, policy)
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


def _umask() -> int:
    """The process's umask (reading it means setting it: put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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

    rows: dict[str, dict[str, Any]]
    docs: list[dict[str, str]]
    pages: int
    files: int


def _write_all(
    shared: Shared, out: Path, workers: int | None, policy: dict[str, Any] | None = None
) -> tuple[int, int]:
    """Every page and file of the site into `out`; returns (pages, files) written."""
    names = sorted(shared.state.artifacts)
    if workers is None:
        big = sum(len(r) for r in shared.by_name.values()) > 1000
        workers = 2 if big and (os.cpu_count() or 1) >= 2 and hasattr(os, "fork") else 1
    shares = _split(names, shared, max(1, min(workers, len(names))))
    compile_all()  # before the fork: the workers inherit the compiled templates
    parts = _run_parts(shared, shares, out)
    rows = {name: row for part in parts for name, row in part.rows.items()}
    docs = sorted((d for part in parts for d in part.docs), key=lambda d: (d["n"], d["u"]))
    pages = Pages(collect(shared, []))
    (out / "assets").mkdir(parents=True, exist_ok=True)
    assets = resources.files("artreg") / "templates" / "site" / "assets"
    for asset in ASSETS:
        (out / "assets" / asset).write_bytes(assets.joinpath(asset).read_bytes())
    (out / "index.html").write_text(pages.index([rows[n] for n in names], policy), encoding="utf-8")
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
