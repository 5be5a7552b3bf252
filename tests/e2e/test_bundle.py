"""Air-gapped bundles: releases carried as one tar to a registry that cannot reach the one they
came from, with their history (tags, commits, lineage) and exactly their DVC objects. The far
side works offline afterwards; a bundle altered on the way is refused with nothing written.
Real git (`git bundle`), DVC, safetensors and torch files; `sha256sum` and `git bundle verify`
as independent oracles."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from artreg import get_artifact_path
from artreg.api import register_artifact

from helpers import RELEASE_INPUTS, clone_repo, git, release, snapshot, tiny_safetensors
from helpers.keys import make_key

WEIGHTS = {"embed.weight": (32, 16), "proj.weight": (16, 16)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dvc_store(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every file of the DVC cache and of the local remote, for "nothing written"."""

    def files(base: Path) -> tuple[str, ...]:
        return tuple(sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()))

    return files(root / ".dvc" / "cache"), files(root / ".dvc-storage")


def members(bundle: Path) -> list[str]:
    with tarfile.open(bundle) as tar:
        return tar.getnames()


def offline_model(root: Path, monkeypatch: pytest.MonkeyPatch, **kw: str) -> Path:
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    try:
        return Path(get_artifact_path(kw.pop("name", "m"), repo=root, **kw))  # type: ignore[arg-type]
    finally:
        monkeypatch.delenv("ARTREG_OFFLINE")


def test_a_release_travels_to_a_new_registry_with_its_history(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli, cache: Path, monkeypatch
) -> None:
    release(registry, "m", "s1", checkpoint_dir, "1.0.0")
    manifest = json.loads((registry / "artifacts/production/m/v1.0.0/manifest.json").read_text())
    bundle = tmp_path / "m-1.0.0.tar"

    made = cli("bundle", "create", "m@v1.0.0", "-o", str(bundle), "--json", cwd=registry)
    assert made.exit_code == 0, made.stderr
    assert made.json()["releases"] == ["m@v1.0.0"]
    names = members(bundle)
    assert names[:3] == ["SHA256SUMS", "bundle.json", "history.bundle"]
    model_md5 = hashlib.md5((registry / "artifacts/production/m/v1.0.0/model.pt").read_bytes())
    assert names[3:] == [
        f"objects/files/md5/{model_md5.hexdigest()[:2]}/{model_md5.hexdigest()[2:]}"
    ]

    # The member list is sha256sum's, and the history is git's own bundle format.
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(unpacked, filter="data")
    subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=unpacked, check=True)
    heads = git(registry, "bundle", "list-heads", str(unpacked / "history.bundle"))
    assert "refs/tags/m@v1.0.0" in heads and "refs/tags/m#raw#1" in heads

    # The far side never sees the first registry nor its DVC remote (inside it): gone.
    registry.rename(tmp_path / "gone")
    far = tmp_path / "far"
    done = cli("bundle", "import", str(bundle), "--init", str(far), "--json", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert done.json()["objects_added"] == 1
    assert git(far, "status", "--porcelain") == ""
    assert git(far, "remote") == ""  # no git remote, and a DVC remote of its own
    assert f"url = {far / '.dvc-storage'}" in (far / ".dvc" / "config.local").read_text()
    assert git(far, "rev-parse", "m@v1.0.0^{commit}") == git(far, "rev-parse", "HEAD")

    verified = cli("verify", "--no-fetch", cwd=far)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    history = cli("history", "m", cwd=far)
    assert (
        history.exit_code == 0
        and "v1.0.0" in history.stdout
        and "s1_best_validated" in history.stdout
    )
    lineage = cli("lineage", "m@v1.0.0", cwd=far)
    assert lineage.exit_code == 0, lineage.stderr
    assert "← validated s1_best_validated" in lineage.stdout and "← raw s1" in lineage.stdout

    model = offline_model(far, monkeypatch)
    assert sha256(model) == manifest["files"]["model.pt"]["sha256"]
    # The object is in the new registry's own DVC remote too, so its clones can pull it.
    assert any(p.name == model_md5.hexdigest()[2:] for p in (far / ".dvc-storage").rglob("*"))


def test_a_release_brings_the_release_it_requires(
    registry: Path, tmp_path: Path, cli, cache: Path, monkeypatch
) -> None:
    base_dir = tmp_path / "base-model"
    tiny_safetensors(base_dir / "model.safetensors", 0, WEIGHTS)
    (base_dir / "config.json").write_text('{"hidden_size": 16}\n')
    register_artifact("base", base_dir, "1.0.0", repo=registry, **RELEASE_INPUTS)
    adapter = tiny_safetensors(tmp_path / "adapter" / "adapter.safetensors", 1, WEIGHTS)
    register_artifact(
        "adapter", adapter, "1.0.0", repo=registry, requires=["base@v1.0.0"], **RELEASE_INPUTS
    )
    bundle = tmp_path / "adapter.tar"
    made = cli("bundle", "create", "adapter@v1.0.0", "-o", str(bundle), "--json", cwd=registry)
    assert made.exit_code == 0, made.stderr
    assert made.json()["releases"] == ["adapter@v1.0.0", "base@v1.0.0"]
    assert any(n.endswith(".dir") for n in members(bundle))  # the base model is a folder

    registry.rename(tmp_path / "gone")
    far = tmp_path / "far"
    done = cli("bundle", "import", str(bundle), "--init", str(far), cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert cli("verify", "--no-fetch", cwd=far).exit_code == 0
    got = offline_model(far, monkeypatch, name="base")
    assert sha256(got / "model.safetensors") == sha256(base_dir / "model.safetensors")
    assert sha256(offline_model(far, monkeypatch, name="adapter")) == sha256(adapter)


# --- a far registry that already holds v1.0.0; bundles of v1.1.0 arrive -----------------------


@dataclass(frozen=True)
class Sites:
    far: Path  # made by `bundle import --init` from the v1.0.0 bundle
    bundle: Path  # m@v1.1.0, made after
    source: Path  # the first registry (still there, to make hostile histories from)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    from click.testing import CliRunner

    from artreg.cli import main
    from artreg.services.init import init_registry

    base = tmp_path_factory.mktemp("sites")
    with pytest.MonkeyPatch.context() as mp:
        gitconfig = base / "gitconfig"
        gitconfig.write_text(
            "[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n"
        )
        mp.setenv("HOME", str(base))
        mp.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
        mp.setenv("DVC_NO_ANALYTICS", "1")
        mp.setenv("ARTREG_CACHE", str(base / "consumer-cache"))
        source = base / "source"
        init_registry(source)
        for version, seed in (("1.0.0", 0), ("1.1.0", 1)):
            if version == "1.1.0":  # a commit between the releases, which far never gets
                (source / "NOTES.md").write_text("evaluation notes\n")
                git(source, "add", "NOTES.md")
                git(source, "commit", "--quiet", "-m", "notes")
            model = tiny_safetensors(base / version / "model.safetensors", seed, WEIGHTS)
            register_artifact("m", model, version, repo=source, **RELEASE_INPUTS)
            bundle = base / f"m-{version}.tar"
            mp.chdir(source)
            out = CliRunner().invoke(main, ["bundle", "create", f"m@v{version}", "-o", str(bundle)])
            assert out.exit_code == 0, out.output
            if version == "1.0.0":
                out = CliRunner().invoke(
                    main, ["bundle", "import", str(bundle), "--init", str(base / "far")]
                )
                assert out.exit_code == 0, out.output
        # The first site is out of reach from here on: its DVC remote is gone.
        (source / ".dvc-storage").rename(base / "storage-out-of-reach")
        yield Sites(base / "far", bundle, source)


def test_importing_into_a_clone_adds_new_versions(
    sites: Sites, tmp_path: Path, cli, cache: Path, monkeypatch
) -> None:
    clone = clone_repo(sites.far, tmp_path / "clone")
    # The committed .dvc/config names the first site's storage; a clone here names this one's.
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    url = {sites.far / '.dvc-storage'}\n"
    )
    done = cli("bundle", "import", str(sites.bundle), "--json", cwd=clone)
    assert done.exit_code == 0, done.stderr
    assert sorted(done.json()["tags_added"]) == ["m#production#2", "m@v1.1.0"]
    assert git(clone, "rev-parse", "HEAD") == git(clone, "rev-parse", "m@v1.1.0^{commit}")
    assert cli("verify", "--no-fetch", cwd=clone).exit_code == 0
    assert "v1.1.0" in cli("history", "m", cwd=clone).stdout
    model = offline_model(clone, monkeypatch, version="1.1.0")
    manifest = json.loads((clone / "artifacts/production/m/v1.1.0/manifest.json").read_text())
    assert sha256(model) == manifest["files"]["model.safetensors"]["sha256"]

    again = cli("bundle", "import", str(sites.bundle), "--json", cwd=clone)
    assert again.exit_code == 0, again.stderr
    assert again.json()["tags_added"] == [] and again.json()["objects_added"] == 0


def test_objects_reach_a_default_remote_on_s3(sites: Sites, tmp_path: Path, cli, s3) -> None:
    clone = clone_repo(sites.far, tmp_path / "clone")
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    url = {s3.url}\n    endpointurl = {s3.endpoint}\n"
    )
    done = cli("bundle", "import", str(sites.bundle), "--json", cwd=clone)
    assert done.exit_code == 0, done.stderr
    with tarfile.open(sites.bundle) as tar:
        objects = [n.removeprefix("objects/") for n in tar.getnames() if n.startswith("objects/")]
    stored = s3.keys()  # the bucket's keys (a list, not a mapping)
    assert objects and set(objects) <= {k.removeprefix("registry/") for k in stored}


def test_a_clone_whose_dvc_remote_is_not_here_is_refused(sites: Sites, tmp_path: Path, cli) -> None:
    clone = clone_repo(sites.far, tmp_path / "clone")
    before = snapshot(clone), git(clone, "rev-parse", "HEAD")
    done = cli("bundle", "import", str(sites.bundle), cwd=clone)
    assert done.exit_code == 2
    assert "does not exist here" in done.stderr and "dvc remote modify --local" in done.stderr
    assert (snapshot(clone), git(clone, "rev-parse", "HEAD")) == before


# --- hostile bundles: each refused, naming what is wrong, with nothing written -----------------


def rewrite(
    bundle: Path,
    out: Path,
    change: Callable[[dict[str, bytes]], list[tuple[tarfile.TarInfo, bytes]] | None],
    resum: bool = False,
) -> Path:
    """A copy of `bundle` with its members changed by `change` (name -> bytes, edited in place;
    or it returns the exact member list to write). With `resum`, SHA256SUMS and bundle.json's
    sizes are made to agree with the change, as an attacker who knows the format would."""
    with tarfile.open(bundle) as tar:
        data = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    exact = change(data)
    if resum:
        index = json.loads(data["bundle.json"])
        index["members"] = {
            n: len(b) for n, b in data.items() if n not in ("SHA256SUMS", "bundle.json")
        }
        data["bundle.json"] = json.dumps(index).encode()
        sums = {n: hashlib.sha256(b).hexdigest() for n, b in data.items() if n != "SHA256SUMS"}
        data["SHA256SUMS"] = "".join(f"{s}  {n}\n" for n, s in sorted(sums.items())).encode()
    if exact is None:
        order = [
            "SHA256SUMS",
            "bundle.json",
            *(n for n in data if n not in ("SHA256SUMS", "bundle.json")),
        ]
        exact = [(tarfile.TarInfo(n), data[n]) for n in order]
    with tarfile.open(out, "w") as tar:
        for info, payload in exact:
            if info.type == tarfile.REGTYPE:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if info.type == tarfile.REGTYPE else None)
    return out


def _object(data: dict[str, bytes]) -> str:
    return next(n for n in data if n.startswith("objects/"))


def flip_object(data: dict[str, bytes]) -> None:
    name = _object(data)
    body = bytearray(data[name])
    body[len(body) // 2] ^= 1
    data[name] = bytes(body)


def drop_object(data: dict[str, bytes]) -> None:
    del data[_object(data)]


def with_member(info: tarfile.TarInfo, payload: bytes = b"x") -> Callable[[dict[str, bytes]], list]:
    def change(data: dict[str, bytes]) -> list:
        return [(tarfile.TarInfo(n), b) for n, b in data.items()] + [(info, payload)]

    return change


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def duplicate_object(data: dict[str, bytes]) -> list:
    name = _object(data)
    return [(tarfile.TarInfo(n), b) for n, b in data.items()] + [
        (tarfile.TarInfo(name), data[name])
    ]


def shrink_declared_size(data: dict[str, bytes]) -> None:
    index = json.loads(data["bundle.json"])
    index["members"][_object(data)] = 16  # the header says more: read nothing past the promise
    data["bundle.json"] = json.dumps(index).encode()
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in data.items() if n != "SHA256SUMS"}
    data["SHA256SUMS"] = "".join(f"{s}  {n}\n" for n, s in sorted(sums.items())).encode()


def junk_history(data: dict[str, bytes]) -> None:
    data["history.bundle"] = b"# v2 git bundle\nnot really\n"


HOSTILE = {
    "a history that is no git bundle": (junk_history, True, 2, "not a git bundle"),
    "one flipped byte in an object": (flip_object, False, 1, "sha256"),
    "one flipped byte, sums forged": (flip_object, True, 1, "has md5"),
    "a missing object": (drop_object, False, 1, "not in the tar"),
    "a missing object, index forged": (drop_object, True, 1, "missing from the bundle"),
    "a member escaping with ..": (with_member(tarfile.TarInfo("../escaped")), False, 2, "leaving"),
    "an absolute member": (
        with_member(tarfile.TarInfo("/tmp/artreg-escaped")),
        False,
        2,
        "absolute",
    ),
    "a symlink member": (with_member(_link("objects/evil", "/etc/passwd")), False, 2, "a link"),
    "a hard link member": (
        with_member(_link("evil", "SHA256SUMS", tarfile.LNKTYPE)),
        False,
        2,
        "a link",
    ),
    "a duplicate member": (duplicate_object, False, 2, "appears twice"),
    "a size bigger than declared": (shrink_declared_size, False, 2, "refusing it unread"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_bundle_is_refused_with_nothing_written(
    sites: Sites, tmp_path: Path, cli, case: str
) -> None:
    change, resum, code, says = HOSTILE[case]
    bad = rewrite(sites.bundle, tmp_path / "bad.tar", change, resum)
    before = snapshot(sites.far), dvc_store(sites.far)
    done = cli("bundle", "import", str(bad), cwd=sites.far)
    assert done.exit_code == code, done.stdout + done.stderr
    assert says in done.stderr
    assert (snapshot(sites.far), dvc_store(sites.far)) == before
    assert not Path("/tmp/artreg-escaped").exists() and not (tmp_path / "escaped").exists()
    # A new registry is not even begun.
    fresh = tmp_path / "fresh"
    assert cli("bundle", "import", str(bad), "--init", str(fresh), cwd=tmp_path).exit_code == code
    assert not fresh.exists()


@pytest.mark.parametrize(
    ("leave_out", "says"),
    [
        # The commit the tags name: `git bundle verify` accepts such a bundle (it names no
        # prerequisite); the history is simply not there, and git's fetch says so.
        ("{release}", "history.bundle: its tags' history is not all in it"),
        # Its parent, which far never got: git names the missing prerequisite.
        ("{release}~1", "prerequisite"),
    ],
    ids=["tag objects only", "a prerequisite far lacks"],
)
def test_a_tag_whose_history_is_not_in_the_bundle_is_refused(
    sites: Sites, tmp_path: Path, cli, leave_out: str, says: str
) -> None:
    release_commit = git(sites.source, "rev-parse", "m@v1.1.0^{commit}").strip()
    thin = tmp_path / "thin.bundle"
    tags = git(sites.source, "tag", "--points-at", release_commit).split()
    exclude = "^" + leave_out.format(release=release_commit)
    git(sites.source, "bundle", "create", "--quiet", str(thin), *tags, exclude)

    def swap(data: dict[str, bytes]) -> None:
        data["history.bundle"] = thin.read_bytes()
        index = json.loads(data["bundle.json"])
        index["tags"] = {t: v for t, v in index["tags"].items() if t in tags}
        data["bundle.json"] = json.dumps(index).encode()

    bad = rewrite(sites.bundle, tmp_path / "bad.tar", swap, resum=True)
    before = snapshot(sites.far), dvc_store(sites.far)
    done = cli("bundle", "import", str(bad), cwd=sites.far)
    assert done.exit_code == 1, done.stderr
    assert says in done.stderr and "history.bundle" in done.stderr
    assert (snapshot(sites.far), dvc_store(sites.far)) == before
    fresh = tmp_path / "fresh"
    assert cli("bundle", "import", str(bad), "--init", str(fresh), cwd=tmp_path).exit_code == 1
    assert not fresh.exists()


def test_an_index_naming_a_tag_the_git_bundle_lacks_is_refused(
    sites: Sites, tmp_path: Path, cli
) -> None:
    before = snapshot(sites.far), dvc_store(sites.far)

    def name_more(data: dict[str, bytes]) -> None:
        index = json.loads(data["bundle.json"])
        index["tags"]["m@v9.9.9"] = "0" * 40
        data["bundle.json"] = json.dumps(index).encode()

    bad = rewrite(sites.bundle, tmp_path / "bad2.tar", name_more, resum=True)
    done = cli("bundle", "import", str(bad), cwd=sites.far)
    assert done.exit_code == 1 and "tag m@v9.9.9" in done.stderr, done.stderr
    assert (snapshot(sites.far), dvc_store(sites.far)) == before


def test_create_refuses_to_write_where_git_would_commit_the_bundle(
    registry: Path, tmp_path: Path, cli
) -> None:
    register_artifact(
        "m", tiny_safetensors(tmp_path / "m.safetensors", 0, WEIGHTS), "1.0.0",
        repo=registry, **RELEASE_INPUTS,
    )  # fmt: skip
    before = snapshot(registry)
    done = cli("bundle", "create", "m@v1.0.0", "-o", "m.tar", cwd=registry)
    assert done.exit_code == 2 and "inside the registry's work tree" in done.stderr, done.stderr
    assert snapshot(registry) == before and not (registry / "m.tar").exists()
    (registry / ".git" / "info" / "exclude").write_text("/bundles/\n")
    (registry / "bundles").mkdir()
    assert cli("bundle", "create", "m@v1.0.0", "-o", "bundles/m.tar", cwd=registry).exit_code == 0


def test_create_refuses_a_version_that_is_not_released(registry: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "x.tar"
    done = cli("bundle", "create", "m", "-o", str(out), cwd=registry)
    assert done.exit_code == 2 and "NAME@vX.Y.Z" in done.stderr
    done = cli("bundle", "create", "m@v1.0.0", "-o", str(out), cwd=registry)
    assert done.exit_code == 2, done.stderr
    assert not out.exists() and not list(tmp_path.glob(".x.tar*"))


def test_a_bundle_file_that_is_no_tar_is_bad_input(sites: Sites, tmp_path: Path, cli) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    before = snapshot(sites.far)
    done = cli("bundle", "import", str(junk), cwd=sites.far)
    assert done.exit_code == 2 and "junk.tar" in done.stderr, done.stderr
    assert snapshot(sites.far) == before


# --- model signatures travel, and are checked where a trust policy requires them ---------------


def require_signatures(root: Path, public: Path) -> None:
    """Commit the public key and a trust policy requiring signed production releases."""
    import yaml

    (root / "keys").mkdir(exist_ok=True)
    shutil.copy(public, root / "keys" / public.name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["trust"] = {"keys": [f"keys/{public.name}"], "require_signature": ["production"]}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "add", "params.yaml", "keys")
    git(root, "commit", "--quiet", "-m", "trust policy")


def test_a_signed_release_travels_and_an_unsigned_one_is_refused_where_required(
    registry: Path, tmp_path: Path, cli, cache: Path, monkeypatch
) -> None:
    from artreg.services.init import init_registry

    private, public = make_key(tmp_path / "keys")
    require_signatures(registry, public)
    model = tiny_safetensors(tmp_path / "m" / "model.safetensors", 3, WEIGHTS)
    register_artifact("m", model, "1.0.0", repo=registry, sign_key=private, **RELEASE_INPUTS)
    signed = tmp_path / "signed.tar"
    assert cli("bundle", "create", "m@v1.0.0", "-o", str(signed), cwd=registry).exit_code == 0
    far = tmp_path / "far"
    done = cli("bundle", "import", str(signed), "--init", str(far), cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert (far / "artifacts/production/m/v1.0.0/model.sig").is_file()
    verified = cli("verify", "--no-fetch", cwd=far)
    assert verified.exit_code == 0 and "model signatures" in verified.stdout, verified.stdout
    assert sha256(offline_model(far, monkeypatch)) == sha256(model)

    # A registry that requires signatures refuses an unsigned release from elsewhere.
    other = tmp_path / "other"
    init_registry(other)
    register_artifact("u", model, "1.0.0", repo=other, **RELEASE_INPUTS)
    unsigned = tmp_path / "unsigned.tar"
    assert cli("bundle", "create", "u@v1.0.0", "-o", str(unsigned), cwd=other).exit_code == 0
    before = snapshot(registry), dvc_store(registry)
    done = cli("bundle", "import", str(unsigned), cwd=registry)
    assert done.exit_code == 1, done.stderr
    assert "artifacts/production/u/v1.0.0/model.sig: missing" in done.stderr
    assert (snapshot(registry), dvc_store(registry)) == before


# --- progress on a terminal, none with --json ---------------------------------------------------


def on_a_terminal(args: list[str], cwd: Path, json_output: bool) -> tuple[int, str]:
    """Run the artreg console script with stdout and stderr on a pseudo-terminal, outside CI."""
    import os

    from helpers import ARTREG
    from helpers.terminal import run_on_a_terminal

    env = {k: v for k, v in os.environ.items() if k != "CI"}
    extra = ["--json"] if json_output else []
    return run_on_a_terminal([ARTREG, *args, *extra], cwd, env)


@pytest.mark.parametrize("json_output", [False, True], ids=["terminal", "json"])
def test_bundling_shows_progress_only_at_a_terminal(
    registry: Path, tmp_path: Path, json_output: bool
) -> None:
    model = tiny_safetensors(tmp_path / "big" / "model.safetensors", 5, {"w": (1024, 2048)})
    register_artifact("big", model, "1.0.0", repo=registry, **RELEASE_INPUTS)
    bundle = tmp_path / "big.tar"
    code, output = on_a_terminal(
        ["bundle", "create", "big@v1.0.0", "-o", str(bundle)], registry, json_output
    )
    assert code == 0, output
    assert ("bundling:" in output) is not json_output, output
    code, output = on_a_terminal(
        ["bundle", "import", str(bundle), "--init", str(tmp_path / "far")], tmp_path, json_output
    )
    assert code == 0, output
    assert ("checking:" in output) is not json_output, output


# --- a bundle carries releases, never a policy change nobody asked for --------------------------


def forge(sites: Sites, tmp_path: Path, how: str) -> Path:
    """The v1.1.0 bundle as someone who knows the format would rewrite it: a commit after the
    release that turns approvals off and drops the trust policy, and tags of their own."""
    import yaml

    work = clone_repo(sites.source, tmp_path / "forger")
    release_commit = git(work, "rev-parse", "m@v1.1.0^{commit}").strip()
    git(work, "checkout", "--quiet", "--detach", release_commit)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params.pop("trust", None)
    params["artreg"]["require_approval"] = False
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(work, "commit", "--quiet", "-am", "no approvals")
    child = git(work, "rev-parse", "HEAD").strip()
    tag, on = {
        "the tip moved past the releases": ("s#production#7", child),
        "a lightweight tag": ("m#production#7", release_commit),
        "a tag of a name it does not carry": ("s#production#7", release_commit),
        "a tag past its tip": ("m#production#7", child),
    }[how]
    annotated = [] if how == "a lightweight tag" else ["-a", "-m", "promote"]
    git(work, "tag", *annotated, tag, on)
    with tarfile.open(sites.bundle) as tar:
        index = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
    index["tags"][tag] = git(work, "rev-parse", f"refs/tags/{tag}").strip()
    if how == "the tip moved past the releases":
        index["tip"] = child
    history = tmp_path / "forged.bundle"
    refs = [f"refs/tags/{t}" for t in index["tags"]]
    git(work, "bundle", "create", "--quiet", str(history), *refs)

    def swap(data: dict[str, bytes]) -> None:
        data["history.bundle"] = history.read_bytes()
        data["bundle.json"] = json.dumps(index).encode()

    return rewrite(sites.bundle, tmp_path / "forged.tar", swap, resum=True)


FORGED = {
    "the tip moved past the releases": "is not the commit of any release it carries",
    "a lightweight tag": "tag m#production#7: is a lightweight tag",
    "a tag of a name it does not carry": "tag s#production#7: names s, which the bundle carries",
    "a tag past its tip": "tag m#production#7: is on commit",
}


@pytest.mark.parametrize("how", list(FORGED), ids=list(FORGED))
def test_a_forged_tip_or_tag_is_refused_with_nothing_written(
    sites: Sites, tmp_path: Path, cli, how: str
) -> None:
    bad = forge(sites, tmp_path, how)
    before = snapshot(sites.far), dvc_store(sites.far)
    done = cli("bundle", "import", str(bad), cwd=sites.far)
    assert done.exit_code == 1, done.stdout + done.stderr
    assert FORGED[how] in done.stderr
    assert (snapshot(sites.far), dvc_store(sites.far)) == before
    fresh = tmp_path / "fresh"
    assert cli("bundle", "import", str(bad), "--init", str(fresh), cwd=tmp_path).exit_code == 1
    assert not fresh.exists()


def test_a_release_that_loosens_the_policy_moves_head_only_when_accepted(
    registry: Path, tmp_path: Path, cli, cache: Path
) -> None:
    """An honest bundle whose release came after params.yaml was loosened: the far side's
    HEAD would take that params.yaml, so its user must say they accept it."""
    import yaml

    private, public = make_key(tmp_path / "keys")
    require_signatures(registry, public)
    first = tiny_safetensors(tmp_path / "1" / "model.safetensors", 0, WEIGHTS)
    register_artifact("m", first, "1.0.0", repo=registry, sign_key=private, **RELEASE_INPUTS)
    bundle = tmp_path / "m-1.0.0.tar"
    assert cli("bundle", "create", "m@v1.0.0", "-o", str(bundle), cwd=registry).exit_code == 0
    far = tmp_path / "far"
    assert cli("bundle", "import", str(bundle), "--init", str(far), cwd=tmp_path).exit_code == 0

    params = yaml.safe_load((registry / "params.yaml").read_text())
    params["trust"]["require_signature"] = []
    params["artreg"]["require_approval"] = False
    (registry / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(registry, "commit", "--quiet", "-am", "signatures and approvals off")
    second = tiny_safetensors(tmp_path / "2" / "model.safetensors", 1, WEIGHTS)
    register_artifact("m", second, "1.1.0", repo=registry, sign_key=private, **RELEASE_INPUTS)
    bundle = tmp_path / "m-1.1.0.tar"
    assert cli("bundle", "create", "m@v1.1.0", "-o", str(bundle), cwd=registry).exit_code == 0

    before = snapshot(far), dvc_store(far)
    done = cli("bundle", "import", str(bundle), cwd=far)
    assert done.exit_code == 1, done.stdout + done.stderr
    assert "production no longer requires a signature" in done.stderr
    assert "artreg.require_approval turned off" in done.stderr
    assert "--accept-policy-change" in done.stderr
    assert (snapshot(far), dvc_store(far)) == before

    done = cli("bundle", "import", str(bundle), "--accept-policy-change", "--json", cwd=far)
    assert done.exit_code == 0, done.stderr
    assert git(far, "rev-parse", "HEAD") == git(far, "rev-parse", "m@v1.1.0^{commit}")
    assert any("artreg.require_approval turned off" in n for n in done.json()["notes"])


def test_one_name_of_several_travels_and_the_far_side_verifies(
    registry: Path, tmp_path: Path, cli, cache: Path, monkeypatch
) -> None:
    """registry.json at the tip lists every name; the far side carries their tags (not their
    bytes), so its registry.json is not out of date, and the bundled name works offline."""
    for name, seed in (("m", 0), ("other", 1), ("third", 2)):
        model = tiny_safetensors(tmp_path / name / "model.safetensors", seed, WEIGHTS)
        register_artifact(name, model, "1.0.0", repo=registry, **RELEASE_INPUTS)
    model = tiny_safetensors(tmp_path / "m2" / "model.safetensors", 3, WEIGHTS)
    register_artifact("m", model, "1.1.0", repo=registry, **RELEASE_INPUTS)
    bundle = tmp_path / "m.tar"
    made = cli("bundle", "create", "m@v1.1.0", "-o", str(bundle), "--json", cwd=registry)
    assert made.exit_code == 0, made.stderr
    assert len([n for n in members(bundle) if n.startswith("objects/")]) == 1  # m's bytes only

    registry.rename(tmp_path / "gone")
    far = tmp_path / "far"
    assert cli("bundle", "import", str(bundle), "--init", str(far), cwd=tmp_path).exit_code == 0
    verified = cli("verify", "--no-fetch", cwd=far)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert "out of date" not in verified.stdout + verified.stderr
    history = cli("history", "m", cwd=far)
    assert history.exit_code == 0 and "v1.1.0" in history.stdout and "v1.0.0" in history.stdout
    lineage = cli("lineage", "m@v1.1.0", cwd=far)
    assert lineage.exit_code == 0 and "tag m@v1.1.0" in lineage.stdout, lineage.stderr
    assert sha256(offline_model(far, monkeypatch)) == sha256(model)


# --- plain mistakes: a clear message, exit 2, nothing written ----------------------------------


def test_mistakes_are_named_and_change_nothing(sites: Sites, tmp_path: Path, cli) -> None:
    inner = sites.far / "nested"
    done = cli("bundle", "import", str(sites.bundle), "--init", str(inner), cwd=tmp_path)
    assert done.exit_code == 2 and f"inside the git work tree {sites.far}" in done.stderr
    assert not inner.exists()

    done = cli("bundle", "create", "m@v1.1.0", "-o", "/nonexistent/x.tar", cwd=sites.source)
    assert done.exit_code == 2, done.stderr
    assert "the folder /nonexistent does not exist" in done.stderr and "lock" not in done.stderr

    done = cli("bundle", "import", "/dev/null", cwd=sites.far)
    assert done.exit_code == 2 and "/dev/null: not a bundle" in done.stderr, done.stderr

    clone = clone_repo(sites.far, tmp_path / "clone")
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    url = {sites.far / '.dvc-storage'}\n"
    )
    git(clone, "checkout", "--quiet", "--detach", "HEAD")
    before = snapshot(clone)
    done = cli("bundle", "import", str(sites.bundle), cwd=clone)
    assert done.exit_code == 2, done.stdout + done.stderr
    assert "HEAD is detached" in done.stderr and "git switch main" in done.stderr
    assert snapshot(clone) == before


def test_a_forged_release_is_refused_naming_what_verify_would_find(
    sites: Sites, tmp_path: Path, cli
) -> None:
    """A re-summed bundle whose tip adds a release nobody made: v1.1.0's folder copied to
    v1.1.1 with its text edited, tagged as a release and a production assignment. Every byte
    agrees with SHA256SUMS and the DVC objects are v1.1.0's, but `artreg verify` on the far
    side would fail, so the import is refused with nothing written."""
    work = clone_repo(sites.source, tmp_path / "forger")
    git(work, "checkout", "--quiet", "--detach", "m@v1.1.0^{commit}")
    old, new = work / "artifacts/production/m/v1.1.0", work / "artifacts/production/m/v1.1.1"
    shutil.copytree(old, new)
    for path in (p for p in new.rglob("*") if p.is_file() and p.suffix in (".json", ".md")):
        path.write_text(path.read_text().replace("1.1.0", "1.1.1"))
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "artreg: release m v1.1.1 to production")
    commit = git(work, "rev-parse", "HEAD").strip()
    message = git(work, "for-each-ref", "--format=%(contents)", "refs/tags/m@v1.1.0")
    git(work, "tag", "-a", "m@v1.1.1", "-m", message.replace("1.1.0", "1.1.1"), commit)
    git(work, "tag", "-a", "m#production#3", "-m", "artreg: assign production", commit)
    with tarfile.open(sites.bundle) as tar:
        index = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
    for tag in ("m@v1.1.1", "m#production#3"):
        index["tags"][tag] = git(work, "rev-parse", f"refs/tags/{tag}").strip()
    index["releases"].append({"commit": commit, "name": "m", "tag": "m@v1.1.1", "version": "1.1.1"})
    index["tip"] = commit
    history = tmp_path / "forged.bundle"
    git(
        work,
        "bundle",
        "create",
        "--quiet",
        str(history),
        *(f"refs/tags/{t}" for t in index["tags"]),
    )

    def swap(data: dict[str, bytes]) -> None:
        data["history.bundle"] = history.read_bytes()
        data["bundle.json"] = json.dumps(index).encode()

    bad = rewrite(sites.bundle, tmp_path / "forged.tar", swap, resum=True)
    clone = clone_repo(sites.far, tmp_path / "clone")
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    url = {sites.far / '.dvc-storage'}\n"
    )
    before = snapshot(clone), dvc_store(clone)
    done = cli("bundle", "import", str(bad), cwd=clone)
    assert done.exit_code == 1, done.stdout + done.stderr
    assert "fails `artreg verify`" in done.stderr
    assert "artifacts/production/m/v1.1.1" in done.stderr  # what is wrong, by name
    assert "registry.json: out of date" in done.stderr
    assert (snapshot(clone), dvc_store(clone)) == before
    fresh = tmp_path / "fresh"
    assert cli("bundle", "import", str(bad), "--init", str(fresh), cwd=tmp_path).exit_code == 1
    assert not fresh.exists()


def test_after_a_rollback_both_releases_travel_and_the_far_side_verifies(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli, cache: Path
) -> None:
    """The rollback wrote registry.json after the newer release: the far side's checkout is
    the commit whose registry.json matches the tags it carries, so `verify` passes there."""
    release(registry, "m", "s1", checkpoint_dir, "1.0.0")
    release(registry, "m", "s2", checkpoint_dir, "1.1.0")
    back = cli("rollback", "m", "--to", "v1.0.0", "--reason", "regression", cwd=registry)
    assert back.exit_code == 0, back.stdout + back.stderr
    bundle = tmp_path / "m.tar"
    made = cli("bundle", "create", "m@v1.0.0", "m@v1.1.0", "-o", str(bundle), cwd=registry)
    assert made.exit_code == 0, made.stderr
    far = tmp_path / "far"
    done = cli("bundle", "import", str(bundle), "--init", str(far), cwd=tmp_path)
    assert done.exit_code == 0, done.stdout + done.stderr
    verified = cli("verify", "--no-fetch", cwd=far)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    listed = cli("list", "--json", cwd=far).json()["m"]["stages"]
    assert listed["production"]["version"] == "v1.0.0"
    assert git(far, "rev-parse", "HEAD") == git(registry, "rev-parse", "HEAD")  # the rollback's


def test_a_release_on_a_feature_branch_travels_as_that_branch_only_when_named(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli, cache: Path
) -> None:
    """A release made on a branch other than the default one is not the default branch's
    history: `bundle create` says so, and with --branch the far side moves that branch only."""
    release(registry, "m", "s1", checkpoint_dir, "1.0.0")
    first = tmp_path / "m-1.0.0.tar"
    assert cli("bundle", "create", "m@v1.0.0", "-o", str(first), cwd=registry).exit_code == 0
    far = tmp_path / "far"
    assert cli("bundle", "import", str(first), "--init", str(far), cwd=tmp_path).exit_code == 0
    git(registry, "switch", "--quiet", "-c", "feature")
    release(registry, "m", "s2", checkpoint_dir, "1.1.0")
    git(registry, "switch", "--quiet", "main")
    bundle = tmp_path / "m-1.1.0.tar"

    refused = cli("bundle", "create", "m@v1.1.0", "-o", str(bundle), cwd=registry)
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    assert "not on the default branch main (held by feature)" in refused.stderr
    assert "--branch feature" in refused.stderr and not bundle.exists()
    wrong = cli("bundle", "create", "m@v1.1.0", "-o", str(bundle), "--branch", "nope", cwd=registry)
    assert wrong.exit_code == 2 and "--branch nope: does not hold" in wrong.stderr

    made = cli(
        "bundle", "create", "m@v1.1.0", "-o", str(bundle), "--branch", "feature", cwd=registry
    )
    assert made.exit_code == 0, made.stderr
    with tarfile.open(bundle) as tar:
        index = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
    assert index["branch"] == "feature"
    main_before = git(far, "rev-parse", "main").strip()
    done = cli("bundle", "import", str(bundle), "--json", cwd=far)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.json()["branch"] == "feature"
    assert git(far, "rev-parse", "main").strip() == main_before  # the checked-out branch stays
    assert git(far, "rev-parse", "feature").strip() == git(registry, "rev-parse", "feature").strip()
    assert git(far, "status", "--porcelain") == ""


def test_a_clone_that_released_on_its_own_is_told_why_and_what_to_do(
    sites: Sites, tmp_path: Path, cli, cache: Path
) -> None:
    """The far side's clone released v1.0.5 itself: its stage tag m#production#2 and the
    bundle's (for v1.1.0) share a name, as GTO numbers them per registry. Refused, saying so
    and how to get the bundle in, with nothing written."""
    clone = clone_repo(sites.far, tmp_path / "clone")
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"local\"']\n    url = {sites.far / '.dvc-storage'}\n"
    )
    model = tiny_safetensors(tmp_path / "local" / "model.safetensors", 5, WEIGHTS)
    register_artifact("m", model, "1.0.5", repo=clone, **RELEASE_INPUTS)
    before = snapshot(clone), dvc_store(clone)
    done = cli("bundle", "import", str(sites.bundle), cwd=clone)
    assert done.exit_code == 2, done.stdout + done.stderr
    assert "tag m#production#2: this registry made its own" in done.stderr
    assert "m@v1.0.5" in done.stderr  # the local release it belongs to
    assert "not the same registry's history" not in done.stderr
    assert "--init DIR" in done.stderr and "does not hold m@v1.0.5" in done.stderr
    assert (snapshot(clone), dvc_store(clone)) == before
