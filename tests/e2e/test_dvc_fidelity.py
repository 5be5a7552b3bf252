"""artreg writes DVC's format itself; DVC's own rules decide everything around it (issue 12, 1-6).

DVC is the oracle throughout: `dvc add` of the same folder in a separate repository writes the
bytes artreg must write, and after every registration `dvc status` is clean, a clone's
`dvc pull` succeeds and its `dvc checkout` finds nothing to change.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable
from importlib.metadata import requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from artreg.adapters.files import write_atomic

from helpers import EXAMPLES, clone_repo, git, run_tool, snapshot

FOLDER = "artifacts/raw/enc/s1"
CHECKPOINTS = f"{FOLDER}/checkpoints"


# --- helpers ---------------------------------------------------------------------------------


def dvc(root: Path, *args: str) -> str:
    return run_tool("dvc", *args, cwd=root).stdout


def pointer(root: Path, rel: str = f"{CHECKPOINTS}.dvc") -> dict[str, object]:
    import yaml

    out: dict[str, object] = yaml.safe_load((root / rel).read_text())["outs"][0]
    return out


def object_path(cache: Path, oid: str) -> Path:
    return cache / "files" / "md5" / oid[:2] / oid[2:]


def listing(cache: Path, root: Path) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(
        object_path(cache, str(pointer(root)["md5"])).read_text()
    )
    return entries


def cache_files(cache: Path) -> dict[str, bytes]:
    files = cache / "files"
    return {
        p.relative_to(cache).as_posix(): p.read_bytes() for p in files.rglob("*") if p.is_file()
    }


def register(cli, registry: Path, source: Path, session: str = "s1"):
    result = cli("register", "enc", session, "--from", str(source), "--json", cwd=registry)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.json()


def assert_dvc_clean(registry: Path, tmp_path: Path) -> Path:
    """`dvc status` is clean; after `dvc push`, a clone pulls, and is clean and unchanged."""
    assert json.loads(dvc(registry, "status", "--json")) == {}
    dvc(registry, "push", "--quiet")
    clone = clone_repo(registry, tmp_path / f"clone-{uuid.uuid4().hex[:8]}")
    dvc(clone, "pull", "--quiet")
    assert json.loads(dvc(clone, "status", "--json")) == {}
    assert dvc(clone, "checkout", "--summary").strip() == "No changes."
    return clone


def assert_refused(cli, registry: Path, args: list[str], *texts: str) -> None:
    """Exit 2, a message naming the file and the fix, and nothing changed (DVC cache included)."""
    before = snapshot(registry)
    cache_before = cache_files(registry / ".dvc" / "cache")
    result = cli(*args, cwd=registry)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    for text in (*texts, "fix:"):
        assert text in result.stderr, (text, result.stderr)
    assert "Traceback" not in result.stderr
    assert snapshot(registry) == before
    assert cache_files(registry / ".dvc" / "cache") == cache_before


def commit_dvcignore(registry: Path, patterns: str) -> None:
    path = registry / ".dvcignore"
    path.write_text(path.read_text() + patterns)
    git(registry, "commit", "--quiet", "-am", "dvcignore")


def small_source(tmp_path: Path) -> Path:
    source = tmp_path / "run"
    (source / "sub").mkdir(parents=True)
    (source / "best.pt").write_bytes(b"best weights")
    (source / "sub" / "epoch_1.pt").write_bytes(b"epoch one")
    return source


# --- 1. ignore rules ---------------------------------------------------------------------------


def test_a_git_folder_in_the_checkpoints_is_left_out_as_dvc_leaves_it_out(
    registry: Path, tmp_path: Path, cli
) -> None:
    # A Hugging Face snapshot is a git clone: its .git must not become part of the artifact.
    source = small_source(tmp_path)
    (source / ".git" / "objects" / "ab").mkdir(parents=True)
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / ".git" / "objects" / "ab" / "cdef").write_bytes(b"packed")
    (source / "sub" / ".git").write_text("gitdir: ../.git/modules/sub\n")  # a submodule's file
    (source / ".gitattributes").write_text("*.pt filter=lfs\n")

    out = register(cli, registry, source)

    assert out["ignored_by_dvc"] == [".git/", "sub/.git"]
    relpaths = [e["relpath"] for e in listing(registry / ".dvc" / "cache", registry)]
    assert relpaths == [".gitattributes", "best.pt", "manifest.json", "sub/epoch_1.pt"]
    assert not [f for f in out["files"] if "/.git/" in f or f.endswith("/.git")]
    assert not (registry / CHECKPOINTS / ".git").exists()
    assert_dvc_clean(registry, tmp_path)


def test_files_the_registry_dvcignore_matches_are_left_out(
    registry: Path, tmp_path: Path, cli
) -> None:
    commit_dvcignore(registry, "*.log\nscratch/\n")
    source = small_source(tmp_path)
    (source / "train.log").write_text("loss 0.1\n")
    (source / "scratch").mkdir()
    (source / "scratch" / "tmp.pt").write_bytes(b"scratch")

    out = register(cli, registry, source)

    assert out["ignored_by_dvc"] == ["scratch/", "train.log"]
    relpaths = [e["relpath"] for e in listing(registry / ".dvc" / "cache", registry)]
    assert relpaths == ["best.pt", "manifest.json", "sub/epoch_1.pt"]
    assert "checkpoints/train.log" not in out["files"]
    assert_dvc_clean(registry, tmp_path)
    assert cli("verify", cwd=registry).exit_code == 0


def _dvcignore_in_folder(source: Path) -> str:
    (source / ".dvcignore").write_text("*.tmp\n")
    return f"{source / '.dvcignore'}"


def _dvcignore_in_subfolder(source: Path) -> str:
    (source / "sub" / ".dvcignore").write_text("*.tmp\n")
    return f"{source / 'sub' / '.dvcignore'}"


def _nested_dvc_repo(source: Path) -> str:
    (source / "sub" / ".dvc").mkdir()
    (source / "sub" / ".dvc" / "config").write_text("")
    return f"{source / 'sub' / '.dvc'}"


def _source_is_a_dvc_repo(source: Path) -> str:
    (source / ".dvc").mkdir()
    return "the checkpoint folder is a DVC repository"


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (_dvcignore_in_folder, "delete it from the folder"),
        (_dvcignore_in_subfolder, "delete it from the folder"),
        (_nested_dvc_repo, "remove its .dvc folder"),
        (_source_is_a_dvc_repo, "remove its .dvc folder"),
    ],
    ids=["dvcignore", "dvcignore in a subfolder", "nested DVC repo", "source is a DVC repo"],
)
def test_what_dvc_would_refuse_or_skip_whole_is_refused(
    registry: Path, tmp_path: Path, cli, make: Callable[[Path], str], fix: str
) -> None:
    source = small_source(tmp_path)
    named = make(source)
    assert_refused(cli, registry, ["register", "enc", "s1", "--from", str(source)], named, fix)


@pytest.mark.parametrize(
    ("pattern", "named"),
    [("artifacts/raw/\n", CHECKPOINTS), ("manifest.json\n", f"{CHECKPOINTS}/manifest.json")],
    ids=["the folder", "the generated checkpoint manifest"],
)
def test_an_output_dvc_ignores_is_refused_naming_the_rule(
    registry: Path, tmp_path: Path, cli, pattern: str, named: str
) -> None:
    commit_dvcignore(registry, pattern)
    source = small_source(tmp_path)
    assert_refused(
        cli,
        registry,
        ["register", "enc", "s1", "--from", str(source)],
        named,
        f".dvcignore:4:{pattern.strip()}",
        "remove that pattern",
    )


# --- 2. names DVC reads as its own files --------------------------------------------------------


@pytest.mark.parametrize("name", ["notes.dvc", "sub/weights.pt.dvc", "dvc.yaml"])
def test_a_file_dvc_reads_as_its_own_is_refused(
    registry: Path, tmp_path: Path, cli, name: str
) -> None:
    source = small_source(tmp_path)
    (source / name).write_text("outs:\n- path: x\n")
    assert_refused(
        cli,
        registry,
        ["register", "enc", "s1", "--from", str(source)],
        str(source / name),
        "DVC reads a file named",
        "rename it",
    )


def test_a_folder_named_like_a_pointer_registers_and_verifies_and_pulls(
    registry: Path, tmp_path: Path, cli
) -> None:
    # DVC tracks `foo.dvc/` inside a folder without trouble, so artreg must too.
    source = small_source(tmp_path)
    (source / "foo.dvc").mkdir()
    (source / "foo.dvc" / "x.bin").write_bytes(b"x")
    (source / "dvc.lock").write_text("schema: '2.0'\n")  # DVC reads only dvc.yaml, not this

    out = register(cli, registry, source)

    assert "checkpoints/foo.dvc/x.bin" in out["files"]
    assert "checkpoints/dvc.lock" in out["files"]
    verified = cli("verify", cwd=registry)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert_dvc_clean(registry, tmp_path)
    fresh = clone_repo(registry, tmp_path / "service")
    pulled = cli("pull", "enc", "--stage", "raw", cwd=fresh)
    assert pulled.exit_code == 0, pulled.stdout + pulled.stderr
    assert (fresh / CHECKPOINTS / "foo.dvc" / "x.bin").read_bytes() == b"x"
    assert cli("verify", "--fetch", "--remote", cwd=fresh).exit_code == 0


# --- 3. sources inside the registry -----------------------------------------------------------


def _registry_root(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    return ".", ["is the registry"]


def _registry_parent(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    return "..", ["contains the registry"]


def _artifacts(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    return "artifacts", ["is the registry's stage folders"]


def _registered_folder(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    from artreg.services.register import register_raw

    register_raw(reg, "enc", "s0", small_source(tmp))
    return "artifacts/raw/enc/s0/checkpoints", ["lies inside the registry's stage folders"]


def _git_dir(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    return ".git/refs", ["lies inside the registry's git folder"]


def _dvc_dir(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    return ".dvc", ["is the registry's DVC folder"]


def _local_remote(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    return ".dvc-storage", ["is the registry's DVC remote"]


def _outside_cache(reg: Path, tmp: Path) -> tuple[str, list[str]]:
    store = tmp / "store"
    (store / "cache").mkdir(parents=True)
    (store / "cache" / "x.pt").write_bytes(b"x")
    dvc(reg, "config", "--local", "cache.dir", str(store / "cache"))
    return str(store), ["contains the registry's DVC cache", str(store / "cache")]


@pytest.mark.parametrize(
    "where",
    [
        _registry_root,
        _registry_parent,
        _artifacts,
        _registered_folder,
        _git_dir,
        _dvc_dir,
        _local_remote,
        _outside_cache,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_source_inside_the_registry_is_refused(
    registry: Path, tmp_path: Path, cli, where: Callable[[Path, Path], tuple[str, list[str]]]
) -> None:
    source, texts = where(registry, tmp_path)
    assert_refused(cli, registry, ["register", "enc", "s1", "--from", source], source, *texts)


def test_a_checkpoint_folder_of_a_training_repo_that_is_the_registry_registers(
    registry: Path, tmp_path: Path, cli
) -> None:
    # The README's quickstart: the training repository is the registry; checkpoints/ is ignored.
    shutil.copytree(small_source(tmp_path), registry / "checkpoints")
    with (registry / ".gitignore").open("a") as fh:
        fh.write("checkpoints/\n")
    git(registry, "add", ".gitignore")
    git(registry, "commit", "--quiet", "-m", "ignore checkpoints")
    register(cli, registry, Path("checkpoints"))
    assert_dvc_clean(registry, tmp_path)


# --- 4. the whole DVC configuration -----------------------------------------------------------


@pytest.fixture
def global_dvc_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DVC's global level in a private XDG_CONFIG_HOME, where `dvc config --global` writes."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("DVC_GLOBAL_CONFIG_DIR", raising=False)
    return xdg / "dvc" / "config"


def test_a_cache_dir_set_at_the_global_level_is_where_data_goes_and_remote_checks_are_real(
    registry: Path, tmp_path: Path, cli, global_dvc_config: Path
) -> None:
    shared = tmp_path / "team-cache"
    dvc(registry, "config", "--global", "cache.dir", str(shared))
    assert global_dvc_config.is_file()
    source = small_source(tmp_path)

    out = register(cli, registry, source)

    tree = str(pointer(registry)["md5"])
    assert object_path(shared, tree).is_file()
    assert not (registry / ".dvc" / "cache").exists()
    assert json.loads(dvc(registry, "status", "--json")) == {}
    # Nothing pushed yet: the remote really lacks the objects.
    before = cli("verify", "--remote", cwd=registry)
    assert before.exit_code == 1
    assert f"{CHECKPOINTS}.dvc: its data is not in the DVC remote" in before.stdout + before.stderr
    assert "4 files pushed" in dvc(registry, "push")
    after = cli("verify", "--remote", cwd=registry)
    assert after.exit_code == 0, after.stdout + after.stderr
    # A teammate's clone, with a cache of its own, gets every byte from the remote.
    clone = clone_repo(registry, tmp_path / "teammate")
    dvc(clone, "config", "--local", "cache.dir", str(tmp_path / "teammate-cache"))
    dvc(clone, "pull", "--quiet")
    assert (clone / CHECKPOINTS / "sub" / "epoch_1.pt").read_bytes() == b"epoch one"
    assert json.loads(dvc(clone, "status", "--json")) == {}
    assert out["files"]["checkpoints/best.pt"]["size"] == len(b"best weights")
    # One object of the folder gone from the remote: verify --remote names the pointer again.
    entry = next(e for e in listing(shared, registry) if e["relpath"] == "sub/epoch_1.pt")
    object_path(registry / ".dvc-storage", entry["md5"]).unlink()
    gone = cli("verify", "--remote", cwd=registry)
    assert gone.exit_code == 1
    assert f"{CHECKPOINTS}.dvc: its data is not in the DVC remote" in gone.stdout + gone.stderr


def test_an_unusable_dvc_configuration_is_refused(
    registry: Path, tmp_path: Path, cli, global_dvc_config: Path
) -> None:
    global_dvc_config.parent.mkdir(parents=True)
    # (cache.type would be overridden: `artreg init` sets it in the registry's .dvc/config)
    global_dvc_config.write_text("[cache]\n    shared = everyone\n")
    assert_refused(
        cli,
        registry,
        ["register", "enc", "s1", "--from", str(small_source(tmp_path))],
        "DVC's configuration cannot be used",
        "dvc config --list --show-origin",
    )


@pytest.mark.parametrize("cache_type", ["symlink", "hardlink"])
def test_cache_type_links_the_work_tree_to_the_cache_as_dvc_does(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli, cache_type: str
) -> None:
    dvc(registry, "config", "--local", "cache.type", cache_type)
    register(cli, registry, checkpoint_dir)

    cache = registry / ".dvc" / "cache"
    for entry in listing(cache, registry):
        file, obj = registry / CHECKPOINTS / entry["relpath"], object_path(cache, entry["md5"])
        if cache_type == "symlink":
            assert file.is_symlink() and os.readlink(file) == str(obj)
        else:
            assert file.stat().st_ino == obj.stat().st_ino
    assert json.loads(dvc(registry, "status", "--json")) == {}
    assert dvc(registry, "checkout", "--summary").strip() == "No changes."  # nothing to relink
    promoted = cli(
        "promote",
        "enc",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(EXAMPLES / "validation_results.json"),
        cwd=registry,
    )
    assert promoted.exit_code == 0, promoted.stderr  # reads best.pt through its link
    assert cli("verify", cwd=registry).exit_code == 0
    assert_dvc_clean(registry, tmp_path)


def _modes(cache: Path) -> dict[str, int]:
    return {
        p.relative_to(cache).as_posix(): stat.S_IMODE(p.lstat().st_mode)
        for p in [cache, *cache.rglob("*")]
        if p.name != "runs"
    }


def _oracle_repo(path: Path, registry: Path) -> Path:
    """A plain git + DVC repository with the registry's .dvcignore: where `dvc add` runs."""
    path.mkdir()
    git(path, "init", "--quiet")
    dvc(path, "init", "--quiet")
    shutil.copy(registry / ".dvcignore", path / ".dvcignore")
    return path


def _dvc_add_copy(oracle: Path, registry: Path, source: Path, rel: str = CHECKPOINTS) -> None:
    """`dvc add` of the same folder at the same path, with the manifest artreg generated."""
    target = oracle / rel
    shutil.copytree(source, target, symlinks=True)
    generated = registry / rel / "manifest.json"
    if generated.is_file() and not (target / "manifest.json").exists():
        shutil.copy(generated, target / "manifest.json")
    dvc(oracle, "add", "--quiet", rel)


def test_cache_shared_group_gives_the_cache_dvc_s_own_modes(
    registry: Path, tmp_path: Path, cli
) -> None:
    dvc(registry, "config", "--local", "cache.shared", "group")
    source = small_source(tmp_path)
    register(cli, registry, source)

    oracle = _oracle_repo(tmp_path / "oracle", registry)
    dvc(oracle, "config", "--local", "cache.shared", "group")
    _dvc_add_copy(oracle, registry, source)

    ours, theirs = _modes(registry / ".dvc" / "cache"), _modes(oracle / ".dvc" / "cache")
    assert ours == theirs
    assert ours["files/md5"] == 0o2775 and ours["."] == 0o2775  # group-writable, setgid
    assert {m for rel, m in ours.items() if rel.count("/") == 3} == {0o444}  # objects
    assert_dvc_clean(registry, tmp_path)


# --- 5. format drift ----------------------------------------------------------------------------


def test_dvc_and_dvc_data_are_pinned_to_the_major_version_tested_here() -> None:
    # The installed package's metadata: what `pip install artreg` resolves against.
    requirements = {r.name: r for r in map(Requirement, requires("artreg") or [])}
    for name in ("dvc", "dvc-data", "dvc-objects"):
        spec = requirements[name].specifier
        installed = version(name)
        major = int(installed.split(".")[0])
        assert spec.contains(installed), (name, installed, spec)
        assert not spec.contains(f"{major + 1}.0"), (name, spec)


def _empty_files(source: Path) -> None:
    (source / "empty.pt").write_bytes(b"")
    (source / "sub").mkdir()
    (source / "sub" / "also-empty.bin").write_bytes(b"")
    (source / "best.pt").write_bytes(b"weights")


def _unicode_and_spaces(source: Path) -> None:
    for rel in ["épreuve 1.pt", "日本語/重み.bin", "with space/file name.pt", "emoji 🙂.pt"]:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(rel)


def _nested(source: Path) -> None:
    # "a-b/x" sorts before "a/b" as a string but after it part by part: DVC sorts strings.
    for rel in ["a/b/c/d/e.pt", "a/b.pt", "a-b/x.pt", "a.b/y.pt", "z/best.pt"]:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(rel)


def _symlinks(source: Path) -> None:
    (source / "sub").mkdir()
    (source / "best.pt").write_bytes(b"best")
    (source / "latest.pt").symlink_to("best.pt")
    (source / "sub" / "up.pt").symlink_to("../best.pt")


def _many_small_files(source: Path) -> None:
    for i in range(2000):
        folder = source / f"shard_{i % 20:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"part_{i:04d}.bin").write_bytes(f"part {i}\n".encode())


def _ignored(source: Path) -> None:
    (source / "best.pt").write_bytes(b"best")
    (source / "debug.log").write_text("ignored by the registry's .dvcignore")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


CORPUS = {
    "empty files": _empty_files,
    "unicode and space names": _unicode_and_spaces,
    "nested folders": _nested,
    "symlinks inside the folder": _symlinks,
    "2,000 small files": _many_small_files,
    "an ignored file and a .git folder": _ignored,
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_pointer_dir_object_and_cache_paths_are_byte_identical_to_dvc_add(
    registry: Path, tmp_path: Path, cli, case: str
) -> None:
    commit_dvcignore(registry, "*.log\n")
    source = tmp_path / "run"
    source.mkdir()
    CORPUS[case](source)
    register(cli, registry, source)

    oracle = _oracle_repo(tmp_path / "oracle", registry)
    _dvc_add_copy(oracle, registry, source)

    for rel in (f"{CHECKPOINTS}.dvc", f"{FOLDER}/.gitignore"):
        assert (registry / rel).read_bytes() == (oracle / rel).read_bytes(), rel
    ours, theirs = cache_files(registry / ".dvc" / "cache"), cache_files(oracle / ".dvc" / "cache")
    md5 = str(pointer(registry)["md5"])
    tree = f"files/md5/{md5[:2]}/{md5[2:]}"
    assert ours[tree] == theirs[tree]
    assert sorted(ours) == sorted(theirs)
    assert ours == theirs
    assert_dvc_clean(registry, tmp_path)


def test_a_symlink_to_a_folder_is_refused_rather_than_left_out_silently(
    registry: Path, tmp_path: Path, cli
) -> None:
    # DVC follows links to files (see the golden corpus) but skips links to folders.
    source = small_source(tmp_path)
    (source / "shortcut").symlink_to("sub")
    assert_refused(
        cli,
        registry,
        ["register", "enc", "s1", "--from", str(source)],
        str(source / "shortcut"),
        "symbolic link to a folder",
        "replace the link by the folder's files",
    )


def test_a_promoted_model_pointer_is_byte_identical_to_dvc_add(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    register(cli, registry, checkpoint_dir)
    promoted = cli(
        "promote",
        "enc",
        "s1",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(EXAMPLES / "validation_results.json"),
        cwd=registry,
    )
    assert promoted.exit_code == 0, promoted.stderr
    folder = "artifacts/validated/enc/s1_best_validated"

    oracle = _oracle_repo(tmp_path / "oracle", registry)
    (oracle / folder).mkdir(parents=True)
    shutil.copy(registry / folder / "model.pt", oracle / folder / "model.pt")
    dvc(oracle, "add", "--quiet", f"{folder}/model.pt")

    for rel in (f"{folder}/model.pt.dvc", f"{folder}/.gitignore"):
        assert (registry / rel).read_bytes() == (oracle / rel).read_bytes(), rel
    model = cache_files(oracle / ".dvc" / "cache")
    assert model.items() <= cache_files(registry / ".dvc" / "cache").items()
    assert_dvc_clean(registry, tmp_path)


# --- 6. file modes -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o600])
def test_registration_keeps_the_mode_of_the_files_it_rewrites(
    registry: Path, tmp_path: Path, cli, mode: int
) -> None:
    for name in ("dvc.yaml", "artifacts/registry.json"):
        (registry / name).chmod(mode)
    register(cli, registry, small_source(tmp_path))
    for name in ("dvc.yaml", "artifacts/registry.json"):
        assert stat.S_IMODE((registry / name).stat().st_mode) == mode, name


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_new_files_get_the_mode_the_umask_gives(
    registry: Path, tmp_path: Path, cli, umask_027: None
) -> None:
    register(cli, registry, small_source(tmp_path))
    for name in ("README.md", "manifest.json", ".gitignore", "checkpoints.dvc"):
        assert stat.S_IMODE((registry / FOLDER / name).stat().st_mode) == 0o640, name
    assert stat.S_IMODE((registry / "dvc.yaml").stat().st_mode) == 0o644  # kept, as before
    write_atomic(tmp_path / "new.yaml", "a: 1\n")
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640
    assert (tmp_path / "new.yaml").read_text() == "a: 1\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
