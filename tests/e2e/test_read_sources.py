"""One registry, read from anywhere (issue 25, items 5 and 6): every read test runs over each
source a consumer can read a registry from (a clone, a file:// URL, a `git daemon` URL, a lock
file; the `source` fixture of tests/helpers/sources.py), through the CLI and the Python API, and
must give the same answer for the same registry state. The answer it is compared with is the
registry's own work tree read by `artreg ... --repo ROOT`.

No source is exempt: where one answered differently, the seam was fixed rather than the test
marked (the last one: a lock pin written before the registry required signatures is refused
once the lock reader has read the registry's policy again).

Then `artreg verify` in a partial clone (item 6): what is present is checked, what is not is
listed with the command to fetch it, and `--fetch` fetches and checks everything, a remote
without credentials being exit 2 or 4 naming the remote, never a problem (exit 1).

Everything is real: git repositories, a bare registry served by file:// and `git daemon` on
127.0.0.1, a local DVC remote, a moto S3 server, a lock file written by `artreg lock add`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from artreg import IntegrityError, NotFoundError, get_artifact_path, verify_artifact
from artreg.services.init import init_registry

from helpers import CliResult, clone_repo, flip_byte, git, release, run_tool
from helpers.sources import ADAPTER, ENCODER, OLD, PINNED, Source


def reference(src: Source, *args: str) -> Any:
    """The answer of the registry's own work tree: `artreg ARGS --json --repo ROOT`."""
    here = src.cli(*args, "--json", "--repo", str(src.root), cwd=src.root.parent)
    assert here.exit_code == 0, here.stderr
    return here.json()


def answered(result: CliResult) -> Any:
    assert result.exit_code == 0, result.stderr
    return result.json()


def files_of(info: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """A folder's files as (sha256, size): the answer, whatever else a record carries."""
    return {rel: (d["sha256"], d["size"]) for rel, d in info["files"].items()}


ENTRY = ("name", "version", "tag", "commit", "folder")


def entry(info: dict[str, Any]) -> dict[str, Any]:
    """What names one resolved version, whichever source resolved it."""
    return {k: info[k] for k in ENTRY}


def pinned_only(listing: dict[str, Any], src: Source) -> dict[str, Any]:
    """A lock file lists what it pins: the stages it pins, as the registry lists them."""
    if src.kind != "lock":
        return listing
    stages = {spec.partition("#")[::2] for spec in PINNED if "#" in spec}
    return {
        name: {"stages": {s: listing[name]["stages"][s] for n, s in stages if n == name}}
        for name in listing
        if any(n == name for n, _ in stages)
    }


def comparable(listing: dict[str, Any], src: Source) -> dict[str, Any]:
    """What a listing from `src` is compared on (a lock file knows only its pinned stages)."""
    if src.kind != "lock":
        return listing
    return {name: {"stages": info["stages"]} for name, info in listing.items()}


# --- list, show, resolve ------------------------------------------------------------------------


def test_list_gives_the_same_listing_from_every_source(source: Source) -> None:
    expected = reference(source, "list")
    listed = answered(source.run("list", "--json"))
    assert comparable(listed, source) == pinned_only(expected, source)
    assert set(expected) == {"encoder", "adapter", "old"}


def test_show_gives_every_stage_of_a_name_from_every_source(source: Source) -> None:
    expected = reference(source, "show", "encoder")
    shown = answered(source.run("show", "encoder", "--json"))
    assert comparable(shown, source) == pinned_only(expected, source)
    missing = source.run("show", "nosuch")
    assert missing.exit_code == 2 and "nosuch" in missing.stderr


def test_show_name_at_stage_gives_the_same_entry_from_every_source(source: Source) -> None:
    for spec in ("encoder#production", "adapter#production", "old@v1.0.0"):
        expected = reference(source, "show", spec)
        shown = answered(source.run("show", spec, "--json"))
        assert entry(shown) == entry(expected), spec
        assert files_of(shown) == files_of(expected), spec
    required = answered(source.run("show", "adapter#production", "--json"))
    assert required.get("requires") == ["encoder@v1.0.0"]


def test_resolve_prints_a_verified_path_to_the_same_bytes_from_every_source(
    source: Source,
) -> None:
    for name, folder in (("encoder", ENCODER), ("adapter", ADAPTER)):
        expected = reference(source, "resolve", name)
        resolved = answered(source.run("resolve", name, "--json"))
        assert entry(resolved) == entry(expected)
        assert Path(resolved["path"]).read_bytes() == source.models[folder]
        plain = source.run("resolve", name)
        assert plain.exit_code == 0, plain.stderr
        assert Path(plain.stdout.strip()).read_bytes() == source.models[folder]


def test_get_writes_the_same_files_from_every_source(source: Source, tmp_path: Path) -> None:
    expected = reference(source, "resolve", "encoder")
    out = tmp_path / "out"
    got = answered(source.run("get", "encoder", "-o", str(out), "--json"))
    assert entry(got) == entry(expected)
    assert sorted(Path(p).name for p in got["written"]) == ["model.pt"]
    assert (out / "model.pt").read_bytes() == source.models[ENCODER]


def test_get_artifact_path_gives_the_same_bytes_from_every_source(source: Source) -> None:
    for name, folder in (("encoder", ENCODER), ("adapter", ADAPTER)):
        path = get_artifact_path(name, **source.api)
        assert path.read_bytes() == source.models[folder]
    old = get_artifact_path("old", version="1.0.0", **source.api)
    assert old.read_bytes() == source.models[OLD]
    with pytest.raises(NotFoundError, match="nosuch"):
        get_artifact_path("nosuch", **source.api)


def test_verify_artifact_checks_the_same_bytes_from_every_source(source: Source) -> None:
    path = get_artifact_path("encoder", **source.api)
    assert verify_artifact("encoder", **source.api)
    _make_writable(path)
    flip_byte(path)
    assert not verify_artifact("encoder", **source.api)


def test_get_with_requirements_exports_the_closure_from_every_source(
    source: Source, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    got = answered(source.run("get", "adapter", "--with-requirements", "-o", str(out), "--json"))
    assert sorted(g["name"] for g in got) == ["adapter", "encoder"]
    assert (out / "adapter" / "adapter.safetensors").read_bytes() == source.models[ADAPTER]
    assert (out / "encoder" / "model.pt").read_bytes() == source.models[ENCODER]
    every = get_artifact_path("adapter", with_requirements=True, **source.api)
    assert {n: p.read_bytes() for n, p in every.items()} == {
        "adapter": source.models[ADAPTER],
        "encoder": source.models[ENCODER],
    }


# --- history: a lock file reads the registry it names --------------------------------------------


def test_history_and_log_from_every_source(source: Source) -> None:
    for command in ("history", "log"):
        asked = source.run(command, "encoder", "--json")
        assert answered(asked) == reference(source, command, "encoder")


def test_lineage_and_diff_from_every_source(source: Source) -> None:
    for args in (("lineage", "encoder#production"), ("diff", "old@v1.0.0", "old@v2.0.0")):
        asked = source.run(*args, "--json")
        assert answered(asked) == reference(source, *args)


def test_pull_places_files_in_a_clone_or_the_consumer_cache(source: Source, tmp_path: Path) -> None:
    pulled = source.run("pull", "encoder", "--json")
    info = answered(pulled)
    if source.kind != "clone":
        # A URL or a lock has no work tree: the files go into the consumer cache, verified.
        assert entry(info) == entry(reference(source, "resolve", "encoder"))
        assert Path(info["path"]).read_bytes() == source.models[ENCODER]
        return
    assert entry(info) == entry(reference(source, "resolve", "encoder"))
    assert (Path(source.where) / ENCODER / "model.pt").read_bytes() == source.models[ENCODER]


# --- a retired folder, a required signature ---------------------------------------------------


RETENTION = "retention:\n  production: {keep_last: 1}\n  min_age_days: 0\n"


def test_a_retired_version_is_refused_with_its_tombstone_by_every_source(
    source: Source, tmp_path: Path
) -> None:
    with (source.root / "params.yaml").open("a") as fh:
        fh.write(RETENTION)
    git(source.root, "commit", "--quiet", "-m", "retention policy", "params.yaml")
    marked = source.cli("gc", "--apply", "--repo", str(source.root))
    assert marked.exit_code == 0, marked.stderr
    swept = source.cli("gc", "--apply", "--grace-hours", "0", "--repo", str(source.root))
    assert swept.exit_code == 0, swept.stderr
    source.publish()
    tomb = json.loads((source.root / "artifacts" / "retired.json").read_text())["retired"]
    assert [t["folder"] for t in tomb] == [OLD]
    date = tomb[0]["date"][:10]

    out = tmp_path / "out"
    refused = source.run("get", "old@v1.0.0", "-o", str(out))
    assert refused.exit_code == 2, refused.stderr
    assert f"retired by gc on {date}" in refused.stderr or (
        "retired by" in refused.stderr and date in refused.stderr
    )
    assert not (out / "old.safetensors").exists()
    with pytest.raises(NotFoundError, match="retired by"):
        get_artifact_path("old", version="1.0.0", **source.api)
    # The newest version is served as before.
    assert get_artifact_path("encoder", **source.api).read_bytes() == source.models[ENCODER]


def public_key(folder: Path) -> Path:
    """A fresh EC P-256 public key as a PEM file."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = folder / "release.pub"
    path.write_bytes(pem)
    return path


def test_a_missing_required_signature_is_refused_by_every_source(
    source: Source, tmp_path: Path
) -> None:
    keys = source.root / "keys"
    keys.mkdir()
    shutil.copy(public_key(tmp_path / "secrets"), keys / "release.pub")
    params = source.root / "params.yaml"
    params.write_text(
        params.read_text()
        + "trust:\n  keys: [keys/release.pub]\n  require_signature: [production]\n"
    )
    git(source.root, "add", "params.yaml", "keys")
    git(source.root, "commit", "--quiet", "-m", "trust policy: production must be signed")
    source.publish()

    out = tmp_path / "out"
    refused = source.run("get", "encoder", "-o", str(out))
    assert refused.exit_code == 1, refused.stderr
    assert f"{ENCODER}/model.sig: missing" in refused.stderr
    assert not (out / "model.pt").exists()
    with pytest.raises(IntegrityError, match=r"model\.sig: missing"):
        get_artifact_path("encoder", **source.api)
    assert not verify_artifact("encoder", **source.api)


# --- offline, with the registry gone --------------------------------------------------------


def test_offline_answers_from_the_cache_with_the_registry_moved_away(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    online = get_artifact_path("encoder", **source.api)
    assert online.read_bytes() == source.models[ENCODER]
    expected = answered(source.run("get", "encoder", "-o", str(tmp_path / "online"), "--json"))
    # Everything the source reads from is moved away: the clone, the served repository (which
    # the lock file names), the DVC remote.
    moved = tmp_path / "moved-away"
    moved.mkdir()
    for gone in (source.clone, source.bare, source.storage):
        if gone is not None:
            gone.rename(moved / gone.name)
    monkeypatch.setenv("ARTREG_OFFLINE", "1")

    # What the name resolved to is answered from the cache, whatever the source was.
    shown = answered(source.run("show", "encoder#production", "--json"))
    assert entry(shown) == entry(expected)
    out = tmp_path / "out"
    if source.kind == "clone":
        # A clone's files were its own work tree's: the cache keeps no copy of them, so with
        # the clone gone they are refused, naming it, and nothing is written.
        with pytest.raises(NotFoundError, match="the clone is gone"):
            get_artifact_path("encoder", **source.api)
        refused = source.run("get", "encoder", "-o", str(out))
        assert refused.exit_code == 2, refused.stderr
        assert source.where in refused.stderr and "restore the clone" in refused.stderr
        assert not (out / "model.pt").exists()
        return
    answer = get_artifact_path("encoder", **source.api)
    assert answer.read_bytes() == source.models[ENCODER]
    assert get_artifact_path("encoder", offline=True, verify="full", **source.api) == answer
    got = answered(source.run("get", "encoder", "-o", str(out), "--json"))
    assert (out / "model.pt").read_bytes() == source.models[ENCODER]
    assert entry(got) == entry(expected)


# --- verify a partial copy ------------------------------------------------------------------------


def _make_writable(path: Path) -> None:
    """A cache snapshot is read-only, as DVC leaves its cache; a test that damages it opens it."""
    path.parent.chmod(0o755)


def test_verify_of_a_partial_copy_checks_what_is_present_and_lists_what_is_not(
    source: Source,
) -> None:
    path = get_artifact_path("encoder", **source.api)  # the one model this consumer has
    checked = source.run("verify", "--json")
    assert checked.exit_code == 0, checked.stderr
    said = checked.stdout + checked.stderr
    assert ADAPTER in said and "not present locally" in said
    assert "artreg verify --fetch" in said or "artreg pull" in said or "dvc fetch" in said
    assert not checked.json()["problems"]

    _make_writable(path)
    flip_byte(path)
    damaged = source.run("verify")
    assert damaged.exit_code == 1
    assert "model.pt" in damaged.stderr and "sha256" in damaged.stderr


# --- verify in a clone that pulled one model, its remote S3 (the defect) ---------------


@pytest.fixture
def s3_clone(tmp_path: Path, checkpoint_dir: Path, s3, cli) -> tuple[Path, str]:
    """A registry whose DVC remote is S3 (moto) with two releases; a service's clone that
    pulled encoder only. Returns the clone and the folder it lacks."""
    from artreg.services.release import register_model_file

    from helpers import RELEASE_INPUTS, tiny_safetensors

    root = tmp_path / "team-registry"
    init_registry(root, remote=s3.url)
    s3.configure(root)
    release(root, "encoder", "s1", checkpoint_dir, "1.0.0")
    other = tiny_safetensors(tmp_path / "m" / "adapter.safetensors", 1, {"w": (4, 4)})
    register_model_file(root, "adapter", other, "0.1.0", **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=root)
    clone = clone_repo(root, tmp_path / "service")
    s3.configure(clone)
    pulled = cli("pull", "encoder", cwd=clone)
    assert pulled.exit_code == 0, pulled.stderr
    return clone, ADAPTER


def test_verify_in_a_clone_that_pulled_one_model_checks_it_and_lists_the_rest(
    s3_clone: tuple[Path, str], cli
) -> None:
    clone, lacking = s3_clone
    checked = cli("verify", "--json", cwd=clone)
    assert checked.exit_code == 0, checked.stderr
    report = checked.json()
    assert report["problems"] == []
    notes = "\n".join(report["notes"])
    assert f"{lacking}: data not present locally" in notes
    assert "artreg pull adapter@v0.1.0" in notes and "artreg verify --fetch" in notes
    assert ENCODER not in notes  # present, so checked, not listed
    assert report["checked"]["files not present locally"] >= 1
    text = cli("verify", cwd=clone)
    assert text.exit_code == 0 and f"{lacking}: data not present locally" in text.stdout
    # --no-fetch is still accepted, and means the same.
    assert cli("verify", "--no-fetch", "--json", cwd=clone).json() == report

    flip_byte(clone / ENCODER / "model.pt")
    damaged = cli("verify", cwd=clone)
    assert damaged.exit_code == 1
    assert f"{ENCODER}/model.pt: sha256" in damaged.stderr
    assert "credentials" not in damaged.stderr


@pytest.mark.parametrize("how", ["no credentials", "unreachable"])
def test_verify_fetch_without_a_reachable_remote_names_it_and_is_no_problem(
    s3_clone: tuple[Path, str], how: str, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    clone, _ = s3_clone
    if how == "no credentials":
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(var)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(clone.parent / "no-such-file"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(clone.parent / "no-such-file"))
    else:
        from helpers import free_port

        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # one refused connection says enough
        (clone / ".dvc" / "config.local").write_text(
            f"['remote \"local\"']\n    endpointurl = http://127.0.0.1:{free_port()}\n"
            "    connect_timeout = 1\n    read_timeout = 1\n"
        )
    before = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True
    ).stdout

    fetched = cli("verify", "--fetch", cwd=clone)

    # Retryable (exit 4): the remote, not the registry, failed; never a problem (exit 1).
    assert fetched.exit_code == 4, fetched.stderr
    assert "DVC remote local did not answer" in fetched.stderr
    assert "problem" not in fetched.stderr
    assert git(clone, "status", "--porcelain") == before
    # Without --fetch the same clone verifies: nothing present is wrong.
    assert cli("verify", cwd=clone).exit_code == 0


def test_verify_fetch_fetches_and_checks_every_folder(s3_clone: tuple[Path, str], cli) -> None:
    clone, _ = s3_clone
    fetched = cli("verify", "--fetch", "--json", cwd=clone)
    assert fetched.exit_code == 0, fetched.stderr
    report = fetched.json()
    assert "files not present locally" not in report["checked"]
    assert report["checked"]["files hashed from the DVC cache"] >= 2
    assert not any("not present locally" in n for n in report.get("notes", []))
    both = cli("verify", "--fetch", "--no-fetch", cwd=clone)
    assert both.exit_code == 2 and "--fetch" in both.stderr
