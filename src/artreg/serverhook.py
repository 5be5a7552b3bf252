"""A server-side git `update` hook that makes registry tags immovable.

artreg's registry lives in annotated tags (GTO's grammar: `name#stage#N`, `name@vX.Y.Z`, ...).
Every consumer - `dvc artifacts get`, GTO, DVC Studio, artreg itself - trusts that a tag, once
pushed, keeps naming the same tag object forever: the history of promotions is the list of tags.
Git does not guarantee this. `receive.denyDeletes` and `receive.denyNonFastForwards` only cover
branches; anyone with push access can `git push --force origin refs/tags/model#production#3` or
`git push origin :refs/tags/model@v1.0.0` and silently rewrite which model was in production.

The `update` hook below runs on the server once per pushed ref and refuses the deletion or the
move of any tag that looks like a registry tag; creating new tags stays allowed, which is all
artreg ever needs (undoing a promotion is itself a new tag: `artreg unassign NAME#STAGE`,
`artreg deprecate NAME@vX.Y.Z`). It is plain POSIX `sh` with no dependency beyond `case`, so it
runs on any self-hosted git server (a bare repository served over ssh, gitolite, cgit, ...),
which has no Python package installed.

Hosted remotes do not run custom server hooks; use their equivalent instead: GitHub "tag
protection rules" / repository rulesets restricting tag updates and deletions for the patterns
`*#*` and `*@*`, GitLab "protected tags" with the same wildcards, Bitbucket "tag permissions".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from artreg import gitrepo
from artreg.errors import InputError

__all__ = ["UPDATE_HOOK", "install_update_hook"]

# A registry tag is recognised generously (a superset of artreg.tags.TAG_RE): any tag whose name
# contains '#', contains '@v' followed by a digit, or ends in '@deprecated' / '@created'. Every
# name the grammar accepts is protected; an odd tag that merely looks like one is protected too,
# which is the safe side to err on.
UPDATE_HOOK = r"""#!/bin/sh
# artreg: registry tags are immutable (installed by `artreg init --server-hook`).
# git runs this once per updated ref: $1 = refname, $2 = old object, $3 = new object.
# A registry tag may be created, never moved or deleted. Every other ref is left alone.

refname=$1
oldrev=$2
newrev=$3

case $refname in
    refs/tags/*) ;;
    *) exit 0 ;;
esac
tag=${refname#refs/tags/}

case $tag in
    *'#'* | *'@v'[0-9]* | *'@deprecated' | *'@created') ;;
    *) exit 0 ;;
esac

# An all-zero object name (40 or 64 digits) means "no object".
is_zero() {
    case $1 in
        '' | *[!0]*) return 1 ;;
        *) return 0 ;;
    esac
}

if is_zero "$oldrev"; then
    exit 0
fi
if [ "$oldrev" = "$newrev" ]; then
    exit 0
fi

if is_zero "$newrev"; then
    what="deleted"
else
    what="moved"
fi
name=${tag%%[#@]*}

{
    echo "artreg: refusing the push: registry tag '$tag' cannot be $what."
    echo "artreg: registry tags are immutable; the promotion history is the list of tags."
    echo "artreg: to undo a promotion, create a new tag instead:"
    echo "artreg:     artreg unassign $name#STAGE        (takes a stage away)"
    echo "artreg:     artreg deprecate $name@vX.Y.Z      (retires a version)"
} >&2
exit 1
"""


def install_update_hook(bare_repo: Path) -> Path:
    """Install `UPDATE_HOOK` as the `update` hook of a repository; returns the hook's path.

    Works on a bare repository (`hooks/update`) and on a non-bare one (`.git/hooks/update`).
    Idempotent when the same hook is already installed; refuses to overwrite a different one.
    """
    repo = Path(bare_repo)
    if not repo.is_dir():
        raise InputError(
            f"{repo} is not a folder",
            hint="pass the path of the (bare) git repository that the server serves",
        )
    git_dir = gitrepo.common_dir(repo)

    hooks_path = gitrepo.config_value(repo, "core.hooksPath")
    if hooks_path:
        raise InputError(
            f"{repo} sets core.hooksPath = {hooks_path}, so git would not run a hook in "
            f"{git_dir / 'hooks'}",
            hint="add the hook from artreg.serverhook.UPDATE_HOOK to that folder yourself, "
            "or unset core.hooksPath",
        )

    hook = git_dir / "hooks" / "update"
    if hook.exists() or hook.is_symlink():
        try:
            current = hook.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != UPDATE_HOOK:
            raise InputError(
                f"{hook} already exists and is not artreg's update hook",
                hint="merge the two hooks by hand (artreg's is artreg.serverhook.UPDATE_HOOK: "
                "run it from yours with the same three arguments), or move the existing "
                "hook away and run this again",
            )
        if not hook.is_symlink():
            hook.chmod(0o755)
        return hook

    hook.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".update.", dir=hook.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(UPDATE_HOOK)
        tmp.chmod(0o755)
        os.replace(tmp, hook)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hook
