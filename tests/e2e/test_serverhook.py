"""The server-side `update` hook: registry tags can be created, never moved or deleted.

Real git throughout: a bare origin with the hook installed, a clone that pushes to it.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from artreg.errors import InputError
from artreg.publishing.serverhook import UPDATE_HOOK, install_update_hook
from artreg.registry.tags import parse_tag

ZERO = "0" * 40
SHA_A = "a" * 40
SHA_B = "b" * 40


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=check
    )


def remote_refs(origin: Path) -> dict[str, str]:
    out = git(origin, "ls-remote", str(origin)).stdout
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, ref = line.split("\t")
        refs[ref] = sha
    return refs


def commit(clone: Path, message: str) -> str:
    (clone / "file.txt").write_text(message + "\n")
    git(clone, "add", "file.txt")
    git(clone, "commit", "--quiet", "-m", message)
    return git(clone, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def origin_and_clone(tmp_path: Path) -> tuple[Path, Path]:
    """A bare origin with the hook installed and a clone holding one pushed commit."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "--quiet", str(origin))
    hook = install_update_hook(origin)
    assert hook == (origin / "hooks" / "update").resolve()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(origin), str(clone))
    commit(clone, "first")
    git(clone, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return origin, clone


def push_tag(clone: Path, tag: str, *, force: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["push", *(["--force"] if force else []), "origin", f"refs/tags/{tag}"]
    return git(clone, *args, check=False)


def delete_tag(clone: Path, tag: str) -> subprocess.CompletedProcess[str]:
    return git(clone, "push", "origin", f":refs/tags/{tag}", check=False)


def test_hook_is_installed_executable(origin_and_clone: tuple[Path, Path]) -> None:
    origin, _ = origin_and_clone
    hook = origin / "hooks" / "update"
    assert hook.read_text() == UPDATE_HOOK
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755


def test_registry_tag_can_be_created_but_not_moved_or_deleted(
    origin_and_clone: tuple[Path, Path],
) -> None:
    origin, clone = origin_and_clone
    tag = "encoder#production#1"
    git(clone, "tag", "-a", "-m", "promote", tag)
    created = push_tag(clone, tag)
    assert created.returncode == 0, created.stderr
    before = remote_refs(origin)
    original = before[f"refs/tags/{tag}"]
    assert original == git(clone, "rev-parse", f"refs/tags/{tag}").stdout.strip()

    # Move: re-tag a new commit and force-push it.
    commit(clone, "second")
    git(clone, "tag", "-f", "-a", "-m", "promote again", tag, "HEAD")
    moved = push_tag(clone, tag, force=True)
    assert moved.returncode != 0
    assert tag in moved.stderr
    assert "immutable" in moved.stderr
    assert "cannot be moved" in moved.stderr
    assert "artreg unassign encoder#STAGE" in moved.stderr
    assert "artreg deprecate encoder@vX.Y.Z" in moved.stderr
    assert remote_refs(origin) == before

    # Delete.
    deleted = delete_tag(clone, tag)
    assert deleted.returncode != 0
    assert tag in deleted.stderr
    assert "cannot be deleted" in deleted.stderr
    assert remote_refs(origin) == before
    assert remote_refs(origin)[f"refs/tags/{tag}"] == original


def test_version_tag_cannot_be_deleted(origin_and_clone: tuple[Path, Path]) -> None:
    origin, clone = origin_and_clone
    tag = "encoder@v1.0.0"
    git(clone, "tag", "-a", "-m", "register", tag)
    assert push_tag(clone, tag).returncode == 0
    before = remote_refs(origin)
    assert f"refs/tags/{tag}" in before

    deleted = delete_tag(clone, tag)
    assert deleted.returncode != 0
    assert tag in deleted.stderr
    assert remote_refs(origin) == before

    # Undo markers are new tags and go through.
    for undo in ("encoder@v1.0.0!", "encoder#production!#2", "encoder@deprecated"):
        git(clone, "tag", "-a", "-m", "undo", undo)
        assert push_tag(clone, undo).returncode == 0
        assert f"refs/tags/{undo}" in remote_refs(origin)


def test_plain_tag_can_be_moved_and_deleted(origin_and_clone: tuple[Path, Path]) -> None:
    origin, clone = origin_and_clone
    tag = "release-candidate"
    git(clone, "tag", "-a", "-m", "rc", tag)
    assert push_tag(clone, tag).returncode == 0
    first = remote_refs(origin)[f"refs/tags/{tag}"]

    commit(clone, "second")
    git(clone, "tag", "-f", "-a", "-m", "rc again", tag, "HEAD")
    moved = push_tag(clone, tag, force=True)
    assert moved.returncode == 0, moved.stderr
    second = remote_refs(origin)[f"refs/tags/{tag}"]
    assert second != first
    assert second == git(clone, "rev-parse", f"refs/tags/{tag}").stdout.strip()

    deleted = delete_tag(clone, tag)
    assert deleted.returncode == 0, deleted.stderr
    assert f"refs/tags/{tag}" not in remote_refs(origin)


def test_branches_are_unaffected(origin_and_clone: tuple[Path, Path]) -> None:
    origin, clone = origin_and_clone
    head = commit(clone, "second")
    assert git(clone, "push", "origin", "HEAD:refs/heads/main", check=False).returncode == 0
    assert remote_refs(origin)["refs/heads/main"] == head

    # A branch whose name looks like a registry tag, force-pushed and deleted: still fine.
    branch = "refs/heads/encoder#production#1"
    assert git(clone, "push", "origin", f"HEAD:{branch}", check=False).returncode == 0
    git(clone, "reset", "--quiet", "--hard", "HEAD~1")
    assert git(clone, "push", "--force", "origin", f"HEAD:{branch}", check=False).returncode == 0
    assert remote_refs(origin)[branch] != head
    assert git(clone, "push", "origin", f":{branch}", check=False).returncode == 0
    assert branch not in remote_refs(origin)


def run_hook(refname: str, old: str, new: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", UPDATE_HOOK, "update", refname, old, new],
        capture_output=True,
        text=True,
        check=False,
    )


REGISTRY_TAGS = [
    "encoder#production#1",
    "encoder#raw#12",
    "encoder#production!#3",
    "encoder@v1.0.0",
    "encoder@v1.0.0#4",
    "encoder@v1.2.3-rc.1+build.5",
    "encoder@v1.0.0!",
    "encoder@v1.0.0!#5",
    "encoder@deprecated",
    "encoder@deprecated#6",
    "encoder@created",
    "my_model-2@created#7",
]
PLAIN_TAGS = ["release-candidate", "v1.0.0", "nightly", "model-v2", "user@vm", "a@deprecated-x"]


@pytest.mark.parametrize("tag", REGISTRY_TAGS)
def test_hook_protects_every_grammar_form(tag: str) -> None:
    assert parse_tag(tag) is not None  # the grammar artreg writes
    ref = f"refs/tags/{tag}"
    assert run_hook(ref, ZERO, SHA_A).returncode == 0  # create
    assert run_hook(ref, SHA_A, SHA_A).returncode == 0  # no change
    moved = run_hook(ref, SHA_A, SHA_B)
    assert moved.returncode == 1
    assert f"'{tag}' cannot be moved" in moved.stderr
    deleted = run_hook(ref, SHA_A, ZERO)
    assert deleted.returncode == 1
    assert f"'{tag}' cannot be deleted" in deleted.stderr
    # SHA-256 repositories: 64 zeros.
    assert run_hook(ref, "a" * 64, "0" * 64).returncode == 1
    assert run_hook(ref, "0" * 64, "a" * 64).returncode == 0


@pytest.mark.parametrize("tag", PLAIN_TAGS)
def test_hook_ignores_other_tags(tag: str) -> None:
    assert parse_tag(tag) is None
    ref = f"refs/tags/{tag}"
    assert run_hook(ref, SHA_A, SHA_B).returncode == 0
    assert run_hook(ref, SHA_A, ZERO).returncode == 0


def test_hook_is_posix_sh() -> None:
    shells = [s for s in ("sh", "dash", "bash", "busybox") if shutil.which(s)]
    for shell in shells:
        cmd = [shell, "sh"] if shell == "busybox" else [shell]
        if shell == "bash":
            cmd = ["bash", "--posix"]
        syntax = subprocess.run([*cmd, "-n"], input=UPDATE_HOOK, text=True, capture_output=True)
        assert syntax.returncode == 0, (shell, syntax.stderr)
        result = subprocess.run(
            [*cmd, "-c", UPDATE_HOOK, "update", "refs/tags/m#prod#1", SHA_A, ZERO],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1, (shell, result.stderr)
        assert "'m#prod#1' cannot be deleted" in result.stderr


def test_install_is_idempotent(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "--quiet", str(origin))
    first = install_update_hook(origin)
    first.chmod(0o644)  # same content, lost its executable bit: repaired
    second = install_update_hook(origin)
    assert first == second == (origin / "hooks" / "update").resolve()
    assert second.read_text() == UPDATE_HOOK
    assert stat.S_IMODE(second.stat().st_mode) == 0o755
    assert sorted(p.name for p in second.parent.iterdir() if not p.name.endswith(".sample")) == [
        "update"
    ]


def test_install_refuses_a_different_hook(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "--quiet", str(origin))
    existing = origin / "hooks" / "update"
    existing.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(InputError) as info:
        install_update_hook(origin)
    assert str(existing.resolve()) in info.value.message
    assert info.value.hint
    assert existing.read_text() == "#!/bin/sh\nexit 0\n"


def test_install_in_a_non_bare_repo(tmp_path: Path) -> None:
    work = tmp_path / "work"
    git(tmp_path, "init", "--quiet", str(work))
    hook = install_update_hook(work)
    assert hook == (work / ".git" / "hooks" / "update").resolve()
    assert hook.read_text() == UPDATE_HOOK
    (work / "sub").mkdir()
    assert install_update_hook(work / "sub") == hook


def test_install_refuses_what_git_would_not_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        install_update_hook(tmp_path / "missing")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError, match="not a git repository"):
        install_update_hook(plain)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "--quiet", str(origin))
    git(origin, "config", "core.hooksPath", "/srv/hooks")
    with pytest.raises(InputError, match=r"core\.hooksPath"):
        install_update_hook(origin)
    assert not (origin / "hooks" / "update").exists()
