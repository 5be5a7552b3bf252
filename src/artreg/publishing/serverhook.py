"""A server-side git `update` hook that makes registry tags immovable.

artreg's registry lives in annotated tags (GTO's grammar: `name#stage#N`, `name@vX.Y.Z`, ...).
Every consumer - `dvc artifacts get`, GTO, DVC Studio, artreg itself - trusts that a tag, once
pushed, keeps naming the same tag object forever: the history of promotions is the list of tags.
Git does not guarantee this. `receive.denyDeletes` and `receive.denyNonFastForwards` only cover
branches; anyone with push access can `git push --force origin refs/tags/model#production#3` or
`git push origin :refs/tags/model@v1.0.0` and silently rewrite which model was in production.

The `update` hook (`artreg/templates/hooks/update`) runs on the server once per pushed ref and
refuses the deletion or the move of any tag that looks like a registry tag; creating new tags
stays allowed, which is all artreg ever needs (undoing a promotion is itself a new tag:
`artreg unassign NAME#STAGE`, `artreg deprecate NAME@vX.Y.Z`). It is plain POSIX `sh` with no
dependency beyond `case`, so it runs on any self-hosted git server (a bare repository served over
ssh, gitolite, cgit, ...), which has no Python package installed.

Hosted remotes do not run custom server hooks; use their equivalent instead: GitHub "tag
protection rules" / repository rulesets restricting tag updates and deletions for the patterns
`*#*` and `*@*`, GitLab "protected tags" with the same wildcards, Bitbucket "tag permissions".
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from artreg.adapters.files import write_atomic
from artreg.adapters.git import run as gitrun
from artreg.errors import InputError

__all__ = ["UPDATE_HOOK", "install_update_hook"]

# The hook is a plain file of package data, installed byte for byte: no template engine, since it
# has nothing to fill in, `sh -n` or shellcheck read it as it is, and its `[#@]` glob would open
# a comment under the CI templates' delimiters. A registry tag is recognised generously (a
# superset of artreg.registry.tags.TAG_RE): any tag whose name contains '#', contains '@v' followed by a
# digit, or ends in '@deprecated' / '@created'. Every name the grammar accepts is protected; an
# odd tag that merely looks like one is protected too, which is the safe side to err on.
UPDATE_HOOK = (files("artreg") / "templates" / "hooks" / "update").read_text(encoding="utf-8")


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
    git_dir = gitrun.common_dir(repo)

    hooks_path = gitrun.config_value(repo, "core.hooksPath")
    if hooks_path:
        raise InputError(
            f"{repo} sets core.hooksPath = {hooks_path}, so git would not run a hook in "
            f"{git_dir / 'hooks'}",
            hint="add the hook from artreg.publishing.serverhook.UPDATE_HOOK to that folder yourself, "
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
                hint="merge the two hooks by hand (artreg's is artreg.publishing.serverhook.UPDATE_HOOK: "
                "run it from yours with the same three arguments), or move the existing "
                "hook away and run this again",
            )
        if not hook.is_symlink():
            hook.chmod(0o755)
        return hook

    write_atomic(hook, UPDATE_HOOK, mode=0o755)
    return hook
