"""What an air-gapped bundle may carry, and whether its tip may become the receiver's HEAD.

`artreg bundle import` checks bytes (SHA256SUMS, git's bundle verify, DVC objects against the
committed manifests); this module checks meaning, so that a bundle re-summed by someone who
knows the format cannot smuggle in more than releases: its tip is the newest carried release's
commit (or one past it changing registry.json only), each tag is a GTO annotated tag of a carried name on the tip's history, and the tip's
params.yaml does not loosen the receiver's trust policy, rights or gates unless its user says so.
Reads git through the adapters only; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from artreg.adapters.dvc import repo as dvcrepo
from artreg.adapters.git import read as gitread
from artreg.adapters.git import run as gitrun
from artreg.errors import ArtregError, ConflictError, InputError, IntegrityError
from artreg.reading.trust_ratchet import clone_reader, views_at, weakenings
from artreg.registry.layout import PARAMS_FILE, REGISTRY_JSON
from artreg.registry.policy import committed_sections
from artreg.registry.policy_changes import loosenings
from artreg.registry.tags import parse_tag

ACCEPT_FLAG = "--accept-policy-change"
_REMAKE = "make the bundle again with `artreg bundle create`, and copy it whole"


def carried_names(repo: Path, tip: str, releases: Iterable[str]) -> set[str]:
    """The names whose tags a bundle carries: its releases' names and every name registry.json
    at the tip lists (their tags are small, and without them the far side's registry.json
    would name releases it has no tags of: `artreg verify` would call it out of date)."""
    names = set(releases)
    try:
        index = gitread.json_at(repo, tip, REGISTRY_JSON)
    except ArtregError:
        index = None
    if isinstance(index, dict):
        names |= {str(n) for n in index}
    return names


def _index_only(repo: Path, base: str, commit: str) -> bool:
    """Whether `commit` descends from `base` and differs from it in registry.json alone."""
    if not gitread.is_ancestor(repo, base, commit):
        return False
    changed = gitrun.git(repo, "diff", "--name-only", "--no-renames", base, commit, "--")
    return changed.split() == [REGISTRY_JSON]


def index_tip(repo: Path, tip: str, head: str | None) -> str:
    """The newest commit between the newest release's commit `tip` and `head` that changes
    nothing but registry.json (a rollback or assignment after the release commits the
    registry.json that matches the tags it made), else `tip`: the far side's checkout must hold
    the registry.json its tags agree with, or `artreg verify` calls it out of date."""
    if head is None or head == tip or not gitread.is_ancestor(repo, tip, head):
        return tip
    path = gitrun.git(repo, "rev-list", "--reverse", "--first-parent", f"{tip}..{head}")
    found = tip
    for commit in path.split():
        if not _index_only(repo, tip, commit):
            break
        found = commit
    return found


def home_branch(repo: Path, tip: str, default: str, named: str | None) -> tuple[str, str]:
    """The branch a bundle carries its tip as, and the ref holding it: git's own answer
    (for-each-ref --contains, local branches and origin's), the default branch when it holds
    the tip, else the branch `named` by --branch; refused when no branch holds the tip, or
    only others than the default branch and no --branch names one of them."""
    listing = gitrun.git(
        repo,
        "for-each-ref",
        "--contains",
        tip,
        "--format=%(refname)",
        "refs/heads",
        "refs/remotes/origin",
    )
    refs: dict[str, str] = {}
    for ref in listing.split():
        name = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/origin/")
        if ref != "refs/remotes/origin/HEAD" and name not in refs:
            refs[name] = ref  # a local branch before origin's of the same name
    want = named if named is not None else default
    if want in refs:
        return want, refs[want]
    held = f"held by {', '.join(sorted(refs))}" if refs else "on no branch"
    if named is not None:
        raise InputError(
            f"--branch {named}: does not hold the bundle's tip {tip[:12]} ({held})",
            hint=f"name a branch that holds the releases (`git branch --contains {tip[:12]}`)",
        )
    fix = f"carry it as that branch: --branch {sorted(refs)[0]}" if refs else "commit it on one"
    raise InputError(
        f"the bundle's tip {tip[:12]} is not on the default branch {default} ({held}); the "
        f"far side would move {default} to it",
        hint=f"merge it into {default} first, or {fix}",
    )


def newest(repo: Path, commits: Iterable[str]) -> str:
    """The release commit every other one is an ancestor of (the history to check out)."""
    unique = sorted(set(commits))
    for candidate in unique:
        if all(c == candidate or gitread.is_ancestor(repo, c, candidate) for c in unique):
            return candidate
    raise InputError(
        "the releases are on histories that diverge (no release commit descends from all others)",
        hint="bundle the releases of each branch separately",
    )


def side_branch(root: Path, scratch: Path, tip: str, home: str) -> tuple[str | None, str | None]:
    """Import into a clone that has another branch checked out than the bundle's `home`: that
    branch alone moves to the tip. Returns its commit here ("": no such branch yet; None: it
    stays, already there, or with a note when it does not lead to the tip)."""
    old = gitrun.git(
        root, "rev-parse", "--verify", "--quiet", f"refs/heads/{home}", check=False
    ).strip()
    if old == tip:
        return None, None
    if old and not gitread.is_ancestor(scratch, old, tip):
        why = f"{home} does not lead to the bundle's tip {tip[:12]}; the tags are here"
        return None, f"{why}, merge {tip[:12]} into {home} for its folders"
    return old, None


def check_same_tags(
    root: Path, scratch: Path, here: Mapping[str, str], tags: Mapping[str, str]
) -> None:
    """Each carried tag already in `root` (`here`: tag -> object) must be on the same object.
    One on another object is a clone's own when its commit shares history with the bundle's
    (it released or assigned a stage itself since the two parted, and GTO numbers stage tags
    per registry, so the numbers collide); otherwise the registries are unrelated."""
    for tag, oid in sorted(tags.items()):
        if here.get(tag, oid) == oid:
            continue
        mine = gitrun.git(root, "rev-parse", f"refs/tags/{tag}^{{commit}}").strip()
        theirs = gitrun.git(scratch, "rev-parse", f"refs/tags/{tag}^{{commit}}").strip()
        shared = gitrun.git(scratch, "merge-base", mine, theirs, check=False).strip()
        if not shared:
            raise ConflictError(
                f"tag {tag}: this registry has it on another object ({here[tag][:12]}) than "
                f"the bundle ({oid[:12]}); the two registries are not the same registry's history",
                hint="import into a registry made from the same history (or with --init DIR)",
            )
        at = gitrun.git(root, "tag", "--points-at", mine).split()
        made = ", ".join(t for t in at if "@" in t) or f"commit {mine[:12]}"
        raise ConflictError(
            f"tag {tag}: this registry made its own {tag} ({made}) after it parted from the "
            f"bundle's registry at {shared[:12]}, and the bundle's {tag} is another (on "
            f"{theirs[:12]}): stage tags are numbered per registry, so both cannot be here",
            hint=f"import into a registry that does not hold {made} (a new one with --init "
            "DIR, or a clone of one); release each name on one side of the air gap only",
        )


def check_tip(repo: Path, tip: str, commits: Sequence[str]) -> None:
    """The tip must be a carried release's commit that every other one is an ancestor of, or
    one that differs from it in registry.json alone (the commit `bundle create` picks): any
    other tip could bring commits no release needs."""
    newest = [c for c in commits if all(o == c or gitread.is_ancestor(repo, o, c) for o in commits)]
    if tip not in commits and newest and _index_only(repo, newest[0], tip):
        return
    if tip not in commits:
        raise IntegrityError(
            f"bundle.json: its tip {tip[:12]} is not the commit of any release it carries",
            hint=_REMAKE,
        )
    for commit in commits:
        if commit != tip and not gitread.is_ancestor(repo, commit, tip):
            raise IntegrityError(
                f"bundle.json: its tip {tip[:12]} does not descend from the release commit "
                f"{commit[:12]}",
                hint=_REMAKE,
            )


def check_tags(repo: Path, tip: str, names: set[str]) -> None:
    """Every tag fetched into `repo` (the scratch repository: the bundle's tags only) is an
    annotated tag in GTO's grammar, whose tag object bears its name and names a commit in the
    tip's history, of a name in `names`."""
    listing = gitrun.git(
        repo,
        "for-each-ref",
        "--format=%(refname:strip=2)%00%(objecttype)%00%(tag)%00%(*objecttype)%00%(*objectname)",
        "refs/tags",
    )
    for line in listing.splitlines():
        tag, kind, inner, target, commit = (line.split("\0") + [""] * 5)[:5]
        parsed = parse_tag(tag)
        if kind != "tag":
            problem = "is a lightweight tag; a bundle carries GTO's annotated tags only"
        elif inner != tag or target != "commit":
            problem = f"is a tag object made as {inner!r} on a {target or 'missing'} object"
        elif parsed is None:
            problem = "is not in GTO's tag grammar"
        elif parsed.name not in names:
            problem = (
                f"names {parsed.name}, which the bundle carries no release of and registry.json "
                "at its tip does not list"
            )
        elif not gitread.is_ancestor(repo, commit, tip):
            problem = f"is on commit {commit[:12]}, which is not in the history of its tip"
        else:
            continue
        raise IntegrityError(f"tag {tag}: {problem}", hint=_REMAKE)


def _signers(repo: Path, rev: str, sections: dict[str, object]) -> bytes:
    rights = sections.get("rights")
    path = rights.get("allowed_signers") if isinstance(rights, dict) else None
    blob = gitread.show_file(repo, rev, path) if isinstance(path, str) and path else None
    return blob or b""


def policy_loosenings(repo: Path, head: str, tip: str) -> list[str]:
    """How params.yaml at `tip` accepts what it refused at `head`: the trust policy as the
    consumers' ratchet and `verify` compare it (keys by their bytes), then rights, approvals
    and gates as `verify --base` does ([]: as strict or stricter)."""
    views = views_at([head, tip], clone_reader(repo))
    found = weakenings(views[head], views[tip])
    old, new = committed_sections(repo, head), committed_sections(repo, tip)
    found += [
        change
        for change in loosenings(old, new, _signers(repo, head, old), _signers(repo, tip, new))
        if not change.startswith("trust.")  # the ratchet's lines above say it, keys included
    ]
    return found


def check_policy(repo: Path, head: str, tip: str, accept: bool) -> str | None:
    """Refuse (IntegrityError, exit 1) moving HEAD from `head` to `tip` when that loosens the
    receiver's policy, unless `accept`; returns a note naming the loosenings accepted."""
    found = policy_loosenings(repo, head, tip)
    if found and not accept:
        raise IntegrityError(
            f"{PARAMS_FILE} at the bundle's tip {tip[:12]} is weaker than this registry's at "
            f"HEAD ({head[:12]}): {'; '.join(found)}",
            hint=f"if the registry's maintainers meant it, import again with {ACCEPT_FLAG}",
        )
    return f"accepted a weaker {PARAMS_FILE}: {'; '.join(found)}" if found else None


def check_carried(repo: Path, tip: str, releases: Sequence[tuple[str, str]]) -> None:
    """The tip and the tags of a bundle fetched into `repo`, given its releases as (name,
    commit): see `check_tip` and `check_tags`."""
    check_tip(repo, tip, [commit for _, commit in releases])
    check_tags(repo, tip, carried_names(repo, tip, (name for name, _ in releases)))


def check_output(out: Path) -> None:
    """`bundle create -o FILE`: its folder must exist (refused before any work, naming it)."""
    if not out.parent.is_dir():
        raise InputError(
            f"-o {out}: the folder {out.parent} does not exist",
            hint="create it first, or write the bundle to an existing folder",
        )


def check_new_registry(init: Path) -> None:
    """`bundle import --init DIR`: DIR must not be inside another git work tree, whose
    repository the new registry would be nested in (and `git add -A` there would take it)."""
    start = Path(init).absolute()
    while not start.exists() and start != start.parent:
        start = start.parent
    outer = gitrun.work_tree(start if start.is_dir() else start.parent)
    if outer is not None:
        raise InputError(
            f"--init {init}: inside the git work tree {outer}; a new registry is a repository "
            "of its own",
            hint="name a folder outside any git work tree",
        )


def check_attached(root: Path, head: str | None, branch: str | None, tip: str, home: str) -> None:
    """Import moves a branch to the bundle's tip: refuse on a detached HEAD (nothing to move),
    saying so, rather than adding tags the work tree does not show."""
    if head is not None and branch is None:
        raise InputError(
            f"{root}: HEAD is detached (at {head[:12]}), and the import moves a branch to the "
            f"bundle's tip {tip[:12]}",
            hint=f"check the branch out first (`git switch {home}`), then import again",
        )


def check_remote(root: Path) -> None:
    """Refuse before writing when the default DVC remote is a folder that is not here (a
    registry made elsewhere names its own), or names none."""
    url = dvcrepo.remote_url(root)
    if url is None:
        raise InputError(
            f"{root}: no default DVC remote to add the objects to",
            hint="set one: `dvc remote add -d NAME URL` (or import with --init DIR)",
        )
    if "://" not in url:
        path = Path(url) if Path(url).is_absolute() else root / dvcrepo.DVC_DIR / url
        if not path.is_dir():
            raise InputError(
                f"{root}: the default DVC remote is the folder {path}, which does not exist here",
                hint="point it at this site's storage: `dvc remote modify --local NAME url PATH`",
            )
