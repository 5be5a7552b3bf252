"""`artreg verify --repo URL` (or `--lock FILE`): a registry read without a clone. From a URL,
the checks of a clone's verify that read the registry's committed state run on the consumer
cache's git repository, its tags, history and committed files fetched as `site` fetches them:
tags, registry.json and dvc.yaml, requirements, declared stages, retired folders, the model
signatures the trust policy requires and its weakenings, params.yaml rights over the tags and
history's loosenings of them. The model bytes of every folder are checked where the cache holds
them (sources/cached_check), and `--remote` asks the DVC remote for each one's objects. What
needs a clone's work tree is said in the notes, never skipped silently. A lock file is checked
by its pins alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.artifacts.integrity import Report
from artreg.errors import (
    ArtregError,
    InputError,
    NotFoundError,
    PolicyWeakened,
    RemoteUnavailable,
)
from artreg.publishing import policy_changes, release_verify, rights_check, stage_moves
from artreg.registry import state
from artreg.registry.layout import ARTIFACTS_DIR, DVC_YAML, REGISTRY_JSON, stage_folders
from artreg.registry.retirements import current_on_retired, read_retired
from artreg.services.verify import clone as verify
from artreg.sources.base import Pin, RegistrySource, ServeOptions
from artreg.sources.cached_check import (
    check_pins,
    refuse_clone_options,
    url_commands,
    url_pins,
    verify_source,
)
from artreg.sources.lock import LockSource, load
from artreg.sources.remote import RemoteRegistry
from artreg.sources.url import UrlSource

NOT_FROM_A_URL = (
    "not checked from a registry URL (they read a clone's work tree): git-tracked files "
    "against their manifests, folders unchanged since their promotion, gates as committed, "
    "untagged promotions and their approvals and signatures, files and credentials tracked "
    "by git, unfinished transactions, pending promotion requests; run `artreg verify` in a "
    "clone for those"
)


def verify_without_clone(
    source: RegistrySource,
    *,
    fetch: bool,
    remote: bool,
    remote_name: str | None,
    signed: bool,
    changed: bool,
    base: str | None,
) -> Report:
    """`verify` of a URL (every check its committed state allows) or of a lock file."""
    if isinstance(source, UrlSource) and not source.offline:
        refuse_clone_options(False, signed, changed, base)
        return verify_url(source, fetch=fetch, remote=remote, remote_name=remote_name)
    if remote and isinstance(source, LockSource):
        urls = sorted({pin.registry for pin in load(source.path).values()})
        raise InputError(
            f"verify --remote checks a registry's DVC remote; {source.path} pins versions, "
            "not a registry",
            hint="run `artreg verify --remote --repo URL` with the registry's URL"
            + (f" ({', '.join(urls)})" if urls else "")
            + ", or drop --remote",
        )
    refuse_clone_options(remote, signed, changed, base)
    return verify_source(source, fetch=fetch, remote=remote_name)


def verify_url(source: UrlSource, *, fetch: bool, remote: bool, remote_name: str | None) -> Report:
    """The registry at a URL as the cache's git repository holds it once fetched: the same
    check functions as a clone's verify where they read committed state, every folder's bytes
    where the cache holds them (`fetch`: fetched first), and the DVC remote (`remote`)."""
    source._online("`verify`")
    repo = source.history_root(None, files=True)
    registry = state.load(repo, folders="all")
    retired = read_retired(repo)
    pins, deprecated = url_pins(source.reg, retired)
    where = f"--repo {source.label}"
    options = ServeOptions(remote=remote_name)
    report = check_pins(
        source.reg.cache, url_commands(pins, where, deprecated), where, fetch, options
    )
    release_verify.check_tags(repo, registry, report)
    verify.check_requirements(repo, registry, report)
    report.problems += verify.undeclared_stages(repo, registry)
    with committed_tree(repo) as tree:
        release_verify.check_index_and_dvc_yaml(
            tree, release_verify.reachable(repo, registry), report
        )
        folders = stage_folders(tree)
    verify.check_lightweight_tags(registry, report)
    tombs = [retired[f.relpath] for f in folders if f.relpath in retired]
    if tombs:
        report.count("folders retired by gc", len(tombs))
        report.notes += [t.message for t in tombs]
    report.problems += current_on_retired(registry, retired)
    check_model_signatures(source.reg, pins, gitrun.head(repo) or "", report)
    verify.check_policy_weakenings(repo, report)
    rights_check.check_registry(repo, registry, report)  # its untagged promotions read a work tree
    policy_changes.check(repo, report, None)  # history's loosenings of `rights:`
    report.problems += stage_moves.problems(repo, registry)
    if remote:
        check_remote(source.reg, pins, remote_name, report)
    report.notes.append(NOT_FROM_A_URL)
    report.problems = list(dict.fromkeys(report.problems))
    return report


@contextmanager
def committed_tree(repo: Path) -> Iterator[Path]:
    """A temporary folder holding what the registry.json and dvc.yaml checks read of a work
    tree, as committed at HEAD of `repo`: those two files and every stage folder's manifest."""
    head = gitrun.head(repo)
    listing = gitrun.git(
        repo, "ls-tree", "-r", "-z", "--name-only", head or "HEAD", "--", ARTIFACTS_DIR, check=False
    )
    paths = [p for p in listing.split("\0") if p.endswith("/manifest.json")]
    paths += [REGISTRY_JSON, DVC_YAML]
    blobs = gitread.read_blobs(repo, [f"{head}:{p}" for p in paths]) if head else {}
    with tempfile.TemporaryDirectory(prefix="artreg-verify-") as tmp:
        for path in paths:
            data = blobs.get(f"{head}:{path}")
            if data is not None:
                target = Path(tmp, path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        yield Path(tmp)


def check_model_signatures(
    reg: RemoteRegistry, pins: Sequence[Pin], head: str, report: Report
) -> None:
    """Each folder of a stage the trust policy at the registry's HEAD requires signed: its
    model.sig checked as `get` checks it (the check a clone's verify makes of its folders)."""
    policy, _ = reg.trust(head)
    for pin in pins:
        if not policy.requires(pin.stage_folder):
            continue
        try:
            reg.check_signature(pin, head)
        except (PolicyWeakened, RemoteUnavailable):
            raise
        except ArtregError as exc:
            report.problems.append(exc.message + (f" (fix: {exc.hint})" if exc.hint else ""))
            continue
        report.count("model signatures")


def check_remote(
    reg: RemoteRegistry, pins: Sequence[Pin], remote: str | None, report: Report
) -> None:
    """Each folder's DVC objects, those a consumer fetches (the model and its metadata), asked
    of the DVC remote as `get` would read them; a remote that cannot be reached raises
    RemoteUnavailable (exit 4), never a problem of the registry."""
    for pin in pins:
        try:
            opener = reg.sources(pin, remote)
        except NotFoundError as exc:
            report.problems.append(f"{pin.folder}: {exc.message}; run `dvc push`")
            continue
        for rel in pin.selected():
            if rel not in pin.dvc_files:
                continue
            try:
                with opener(rel)():
                    pass
            except RemoteUnavailable:
                raise
            except NotFoundError as exc:
                report.problems.append(
                    f"{pin.folder}/{rel}: its data is not in the DVC remote ({exc.message}); "
                    "run `dvc push` in a clone that has it"
                )
                continue
            report.count("files checked in the DVC remote")
