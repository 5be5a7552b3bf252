"""A property of `artreg gc`, over random histories (hypothesis): registrations with shared
bytes, validations, releases that require another name's release, releases on promotion
branches left open, deprecations, a DVC pipeline and data outside artifacts/. After plan and
`--apply` (mark and sweep at once: --grace-hours 0), every object reachable from what must be
kept is still in the DVC cache and the remote: the folders the plan keeps and every stage that
resolves, at their tags' commits; every branch head's untagged folders and what they came from;
the requirement closure of every kept release; dvc.lock outputs and `.dvc` files anywhere at any
branch head and in the work tree. Object ids are read from the files themselves (YAML), not
from gc's own parsers."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from artreg.registry import state
from artreg.services.housekeeping import deprecate
from artreg.services.init import init_registry
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.retention import gc
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, git, run_tool

NAMES = ("enc", "dec")
POLICY = """
retention:
  raw: {keep_last: 0}
  validated: {keep_last: 0}
  production: {keep_last: 1}
  deprecated_after_days: 0
  min_age_days: 0
"""
PAYLOADS = (b"alpha\n" * 40, b"beta\n" * 40, b"gamma\n" * 40)

name = st.sampled_from(NAMES)
payload = st.integers(0, len(PAYLOADS) - 1)
OPS = st.one_of(
    st.tuples(st.just("register"), name, payload),
    st.tuples(st.just("validate"), name, payload),
    st.tuples(st.just("release"), name, payload, st.booleans()),
    st.tuples(st.just("branch"), name, payload, st.booleans()),
    st.tuples(st.just("deprecate"), name),
    st.tuples(st.just("pipeline"), payload),
)
# Histories that reach each seam in few steps, run before the random ones.
REQUIREMENT = [
    ("release", "dec", 0, False),
    ("release", "enc", 1, True),
    ("release", "dec", 2, False),
]
OPEN_BRANCH = [("validate", "enc", 0), ("branch", "enc", 1, False), ("validate", "enc", 2)]
PIPELINE = [("register", "enc", 0), ("pipeline", 0), ("register", "enc", 1)]


class Registry:
    """A real registry driven by the ops, remembering only what the ops need to go on."""

    def __init__(self, root: Path, template: Path) -> None:
        self.root, self.template = root, template
        self.raw: dict[str, list[str]] = {n: [] for n in NAMES}
        self.validated: dict[str, list[str]] = {n: [] for n in NAMES}
        self.released: dict[str, int] = {n: 0 for n in NAMES}
        self.deprecated: set[str] = set()
        self.branches = 0

    def run(self, op: tuple[Any, ...]) -> None:
        if op[0] == "pipeline" or op[1] not in self.deprecated:
            getattr(self, op[0])(*op[1:])

    def register(self, name: str, which: int) -> None:
        run = self.root.parent / f"run-{name}-{len(self.raw[name])}"
        shutil.copytree(self.template, run)
        (run / "extra.bin").write_bytes(PAYLOADS[which])  # shared between sessions by chance
        session = f"s{len(self.raw[name]) + 1}"
        register_raw(self.root, name, session, run)
        self.raw[name].append(session)

    def validate(self, name: str, which: int) -> None:
        """A new session, validated."""
        self.register(name, which)
        results = EXAMPLES / "validation_results.json"
        found = promote_to_validated(self.root, name, self.raw[name][-1], "best", results)
        self.validated[name].append(found.id)

    def _release(self, name: str, which: int, require: bool, **kw: Any) -> None:
        """A new session, validated and released (enc requiring dec's release: requirements
        flow one way, as an adapter requires its base, so no history forms a cycle)."""
        self.validate(name, which)
        other = next(n for n in NAMES if n != name)
        require = require and name == "enc"
        holder = state.load(self.root).artifacts.get(other)
        current = holder.stage("production") if holder and not holder.deprecated else None
        requires = [f"{other}@v{current.version}"] if require and current else None
        self.released[name] += 1
        version = f"{self.released[name]}.0.0"
        promote_to_production(
            self.root, name, self.validated[name].pop(), version, requires=requires,
            **RELEASE_INPUTS, **kw,
        )  # fmt: skip

    def release(self, name: str, which: int, require: bool) -> None:
        self._release(name, which, require)

    def branch(self, name: str, which: int, require: bool) -> None:
        """A release on a pull-request branch, left open."""
        from artreg.publishing.publish import PublishOptions

        self.branches += 1
        branch = f"release-{self.branches}"
        self._release(name, which, require, options=PublishOptions(branch=branch))
        git(self.root, "switch", "--quiet", "main")

    def deprecate(self, name: str) -> None:
        if state.load(self.root).artifacts.get(name) and name not in self.deprecated:
            deprecate(self.root, name)
            self.deprecated.add(name)

    def pipeline(self, which: int) -> None:
        """A pipeline stage whose output holds one of the payloads, recorded by DVC."""
        n = len(list(self.root.glob("pipe*")))
        where = self.root / f"pipe{n}"
        where.mkdir()
        run_tool("dvc", "stage", "add", "-q", "-n", "make", "-o", "out.bin", "make", cwd=where)
        (where / "out.bin").write_bytes(PAYLOADS[which])
        run_tool("dvc", "commit", "-q", "-f", cwd=where)
        git(self.root, "add", str(where))
        git(self.root, "commit", "--quiet", "-m", f"pipeline {n}")


# --- the oracle: object ids read from DVC's files at a commit -----------------------------------


def _objects(doc: Any, listings: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    outs = list((doc or {}).get("outs") or [])
    for stage in ((doc or {}).get("stages") or {}).values():
        outs += stage.get("outs") or []
    for out in outs:
        md5 = str(out.get("md5") or "")
        if md5:
            found.add(md5)
            found.update(listings.get(md5, []))
    return found


def objects_at(
    root: Path, commit: str, under: str, listings: dict[str, list[str]], outside: str = ""
) -> set[str]:
    """Every object the `.dvc` and `dvc.lock` files under `under` at `commit` reference
    (leaving out those under `outside`)."""
    names = git(root, "ls-tree", "-r", "--name-only", commit, "--", under).split()
    found: set[str] = set()
    for path in names:
        if outside and path.startswith(outside):
            continue
        if path.endswith(".dvc") or path.endswith("dvc.lock"):
            found |= _objects(yaml.safe_load(git(root, "show", f"{commit}:{path}")), listings)
    return found


def listings_in(cache: Path) -> dict[str, list[str]]:
    """`<md5>.dir` -> the file objects it lists, for every listing the cache holds."""
    import json

    return {
        p.parent.name + p.name: [e["md5"] for e in json.loads(p.read_bytes())]
        for p in cache.glob("*/*.dir")
    }


def present(root: Path, oid: str) -> tuple[bool, bool]:
    rel = f"files/md5/{oid[:2]}/{oid[2:]}"
    return (root / ".dvc/cache" / rel).is_file(), (root / ".dvc-storage" / rel).is_file()


def needed(
    root: Path, kept: set[str], deprecated: set[str], listings: dict[str, list[str]]
) -> dict[str, set[str]]:
    """What must survive, by why: the objects of the folders the plan keeps and of every stage
    that resolves (of names not deprecated: `deprecated_after_days: 0`), each at its tag's
    commit, and of every untagged folder at a branch head; then, transitively, of each needed
    folder's requirements (always) and source (an untagged folder's always, else unless its
    name is deprecated); and every DVC output outside artifacts/ at every branch head."""
    registry = state.load(root, folders="all")
    tagged: dict[str, str] = {}
    for event in registry.tagged_events():
        if event.promotes and event.folder is not None:
            tagged.setdefault(event.folder.relpath, event.commit)
    releases = {
        (e.name, e.version): e.folder.relpath
        for e in registry.tagged_events()
        if e.version and e.folder is not None and e.action.name == "REGISTER"
    }
    queue = [(f, tagged[f], "kept by the plan") for f in kept]
    for artifact in registry.artifacts.values():
        if artifact.name not in deprecated:
            queue += [
                (e.folder.relpath, tagged[e.folder.relpath], "current")
                for e in artifact.current().values()
                if e.folder is not None
            ]
    need: dict[str, set[str]] = {}
    for head in git(root, "for-each-ref", "--format=%(objectname)", "refs/heads").split():
        need[f"{head[:8]} outside artifacts/"] = objects_at(
            root, head, ".", listings, outside="artifacts/"
        )
        for path in git(root, "ls-tree", "-r", "--name-only", head, "--", "artifacts").split():
            folder = path.removesuffix("/manifest.json")
            if folder != path and folder.count("/") == 3 and folder not in tagged:
                queue.append((folder, head, "untagged"))
    seen: set[str] = set()
    while queue:
        folder, commit, why = queue.pop()
        if folder in seen:
            continue
        seen.add(folder)
        need[f"{folder} ({why})"] = objects_at(root, commit, folder, listings)
        if "/raw/" in folder:
            continue
        doc = yaml.safe_load(git(root, "show", f"{commit}:{folder}/metadata.json")) or {}
        for req in doc.get("requires") or []:
            target = releases.get((req["name"], req["version"]))
            if target:
                queue.append((target, tagged[target], f"required by {folder}"))
        source, name = doc.get("source") or {}, folder.split("/")[2]
        parent = f"artifacts/{source.get('stage')}/{name}/{source.get('id')}"
        if parent in tagged and (why == "untagged" or name not in deprecated):
            queue.append((parent, tagged[parent], f"source of {folder}"))
    need["work tree"] = set()
    for path in root.glob("pipe*/dvc.lock"):
        need["work tree"] |= _objects(yaml.safe_load(path.read_text()), listings)
    return need


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(OPS, min_size=2, max_size=5))
@example(ops=REQUIREMENT)
@example(ops=OPEN_BRANCH)
@example(ops=PIPELINE)
def test_after_gc_everything_reachable_is_in_the_cache_and_the_remote(
    ops: list[tuple[Any, ...]], _checkpoint_template: Path
) -> None:
    base = Path(tempfile.mkdtemp(prefix="gc-property-"))
    try:
        root = base / "registry"
        init_registry(root)
        with (root / "params.yaml").open("a") as fh:
            fh.write(POLICY)
        git(root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
        history = Registry(root, _checkpoint_template)
        for op in ops:
            history.run(op)
        run_tool("dvc", "push", "--quiet", "--all-branches", cwd=root)
        listings = listings_in(root / ".dvc/cache/files/md5")

        planned = gc(root, grace_hours=0)
        kept = {d.folder.relpath for d in planned.decisions if d.keep}  # type: ignore[union-attr]
        done = gc(root, apply=True, grace_hours=0)
        assert done.remote_bytes == planned.bytes  # type: ignore[union-attr]

        for why, oids in needed(root, kept, history.deprecated, listings).items():
            for oid in sorted(oids):
                assert present(root, oid) == (True, True), (why, oid, ops)
    finally:
        shutil.rmtree(base, ignore_errors=True)
