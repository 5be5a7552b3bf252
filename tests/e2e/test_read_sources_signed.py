"""Every reader enforces who may move a model (issue 26, item 3), from every source (the `source`
fixture: a clone, a file:// URL, a `git daemon` URL, a lock file): where params.yaml's
`rights.signed` lists production, `get`, `resolve`, `show`, `pull` and `get_artifact_path` serve a
production model only when its promotion's tags (the stage tag and the version tag) are signed
by an allowed signer of the allowed-signers file committed at the registry's HEAD, as
`git verify-tag` judges it; otherwise they refuse (exit 1, IntegrityError) naming the tag and
why, and never serve an older version instead.

A lock file applies the policies it read when it last asked the registry (at most every few
minutes per pin, and at every `lock check`), offline too. Extra stages (`stages:` in
params.yaml, `artreg assign`) resolve as `NAME#STAGE` from every source (issue 26, item 5).

Real keys made by ssh-keygen; `git verify-tag` with the committed file is the oracle.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from artreg import IntegrityError, get_artifact_path

from helpers import RELEASE_ARGS, CliResult, git, set_params
from helpers.keys import signer_line, ssh_key
from helpers.sources import ENCODER, OLD, Source

ALICE, BOB = "alice@example.com", "bob@example.com"
SIGNERS = ".artreg/allowed_signers"
RIGHTS = {"allowed_signers": SIGNERS, "signed": ["production"]}
VERSION_TAG = "encoder@v1.1.0"


def set_signers(root: Path, text: str, message: str) -> None:
    """Commit the allowed-signers file (and, the first time, params.yaml's rights)."""
    (root / SIGNERS).parent.mkdir(exist_ok=True)
    (root / SIGNERS).write_text(text)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["rights"] = RIGHTS
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "add", SIGNERS, "params.yaml")
    git(root, "commit", "--quiet", "-m", message)


def retag(root: Path, tag: str, key: Path | None) -> None:
    """Make `tag` again with the same message, commit and date: signed with `key`, or unsigned
    (what a maintainer does when a tag is replaced; the reader judges what is there now)."""
    fmt = "--format=%(contents:subject)%0a%0a%(contents:body)"  # without any signature
    message = git(root, "for-each-ref", fmt, f"refs/tags/{tag}")
    date = git(root, "for-each-ref", "--format=%(taggerdate:raw)", f"refs/tags/{tag}").strip()
    commit = git(root, "rev-parse", f"{tag}^{{commit}}").strip()
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    subprocess.run(
        ["git", "-C", str(root), *sign, "tag", "-f", "-s" if key else "-a", "-F", "-", tag, commit],
        input=message,
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_COMMITTER_DATE": date},
    )


def oracle(root: Path, tag: str) -> subprocess.CompletedProcess[str]:
    """git's own verdict on `tag` with the allowed-signers file committed at HEAD."""
    signers = root / ".git" / "oracle_signers"
    signers.write_text(git(root, "show", f"HEAD:{SIGNERS}"))
    return subprocess.run(
        ["git", "-C", str(root), "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-tag", tag],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return {who: ssh_key(tmp_path / "ssh", who) for who in ("alice", "bob")}


class Signed(NamedTuple):
    src: Source
    stage_tag: str  # encoder#production#N of the signed release v1.1.0


@pytest.fixture
def signed(source: Source, keys: dict[str, Path]) -> Signed:
    """The source's registry after production was made signed (alice the allowed signer) and
    encoder v1.1.0 released with tags signed by her; published, and a lock re-pinned to it."""
    root = source.root
    set_signers(root, signer_line(ALICE, keys["alice"]), "rights: production signed")
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingkey", str(keys["alice"]))
    (vid,) = (p.name for p in (root / "artifacts" / "validated" / "encoder").iterdir())
    promote = ["promote", "encoder", vid, "--to", "production", "--version", "1.1.0"]
    released = source.cli(*promote, *RELEASE_ARGS, "--sign", "--json", cwd=root)
    assert released.exit_code == 0, released.stderr
    version_tag, stage_tag = released.json()["tags"]
    assert version_tag == VERSION_TAG
    source.publish()
    if source.lock is not None:
        pin = ["lock", "add", source.bare.as_uri(), "encoder#production"]
        bumped = source.cli(*pin, "--file", str(source.lock))
        assert bumped.exit_code == 0, bumped.stderr
    return Signed(source, stage_tag)


def refused(src: Source, out: Path, name: str, *why: str) -> None:
    """Every reader of `src` (get, resolve, show, pull) refuses `name`, naming each of `why`;
    nothing is written."""
    results: list[CliResult] = [
        src.run("get", name, "-o", str(out)),
        src.run("resolve", name),
        src.run("show", f"{name}#production"),
    ]
    if src.kind == "clone":
        results.append(src.run("pull", name))
    for result in results:
        assert result.exit_code == 1, result.stdout + result.stderr
        for said in why:
            assert said in result.stderr, result.stderr
        assert "rights.signed lists production" in result.stderr
    assert not out.exists() or not any(out.iterdir())
    with pytest.raises(IntegrityError) as caught:
        get_artifact_path(name, **src.api)
    for said in why:
        assert said in caught.value.message


def test_a_promotion_signed_by_an_allowed_signer_is_served_by_every_source(
    signed: Signed, tmp_path: Path
) -> None:
    src = signed.src
    for tag in (VERSION_TAG, signed.stage_tag):
        assert oracle(src.root, tag).returncode == 0
    got = src.run("get", "encoder", "-o", str(tmp_path / "out"), "--json")
    assert got.exit_code == 0, got.stderr
    assert got.json()["version"] == "1.1.0"
    assert (tmp_path / "out" / "model.pt").read_bytes() == src.models[ENCODER]
    path = get_artifact_path("encoder", **src.api)
    assert path.read_bytes() == src.models[ENCODER] and path.parent.name == "v1.1.0"
    # A warm read is answered from what was kept (clone: its last answer; URL and lock: the
    # promotion that passed, by tag objects and allowed-signers blob).
    assert get_artifact_path("encoder", **src.api) == path


def test_an_unsigned_production_tag_is_refused_by_every_source_never_an_older_version(
    signed: Signed, tmp_path: Path
) -> None:
    src = signed.src
    retag(src.root, signed.stage_tag, None)
    src.publish()
    assert "no signature found" in oracle(src.root, signed.stage_tag).stderr
    # encoder@v1.0.0 is still in the registry: it is not served instead.
    refused(src, tmp_path / "out", "encoder", f"tag {signed.stage_tag}: not signed")


def test_a_tag_signed_by_an_unknown_key_is_refused_by_every_source(
    signed: Signed, keys: dict[str, Path], tmp_path: Path
) -> None:
    src = signed.src
    retag(src.root, VERSION_TAG, keys["bob"])  # bob is in no allowed-signers file
    src.publish()
    said = oracle(src.root, VERSION_TAG)
    assert said.returncode != 0 and "No principal matched" in said.stderr
    refused(
        src,
        tmp_path / "out",
        "encoder",
        f"tag {VERSION_TAG}: its key is not an allowed signer: an unknown signer (key SHA256:",
    )


def test_a_key_removed_after_the_promotion_is_refused_by_every_source(
    signed: Signed, keys: dict[str, Path], tmp_path: Path
) -> None:
    src = signed.src
    set_signers(src.root, signer_line(BOB, keys["bob"]), "alice leaves")
    src.publish()
    assert oracle(src.root, signed.stage_tag).returncode != 0
    refused(
        src,
        tmp_path / "out",
        "encoder",
        f"tag {signed.stage_tag}: its key is not an allowed signer: {ALICE}'s key",
        f"tag {VERSION_TAG}: its key is not an allowed signer: {ALICE}'s key",
        f"was removed from {SIGNERS} after the promotion",
    )


def test_a_key_retired_with_valid_before_keeps_earlier_promotions_served_by_every_source(
    signed: Signed, keys: dict[str, Path], tmp_path: Path
) -> None:
    src = signed.src
    dates = git(src.root, "for-each-ref", "--format=%(taggerdate:unix)", "refs/tags").split()
    retired_at = max(int(d) for d in dates) + 1
    while time.time() <= retired_at:
        time.sleep(0.2)
    stamp = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(retired_at))
    line = signer_line(ALICE, keys["alice"], f'namespaces="git",valid-before="{stamp}"')
    set_signers(src.root, line + signer_line(BOB, keys["bob"]), "retire alice's key")
    src.publish()
    assert oracle(src.root, signed.stage_tag).returncode == 0  # signed before valid-before
    got = src.run("get", "encoder", "-o", str(tmp_path / "out"))
    assert got.exit_code == 0, got.stderr
    assert (tmp_path / "out" / "model.pt").read_bytes() == src.models[ENCODER]
    assert get_artifact_path("encoder", **src.api).parent.name == "v1.1.0"


# --- extra stages (issue 26, item 5): NAME#STAGE from every source ---------------------------


def test_an_extra_stage_resolves_to_its_assigned_version_from_every_source(
    source: Source, tmp_path: Path
) -> None:
    root = source.root
    set_params(root, "declare the staging stage", stages={"staging": {"after": "validated"}})
    # old: production holds v2.0.0; staging is assigned the older v1.0.0.
    assigned = source.cli("assign", "old@v1.0.0", "staging", "--json", cwd=root)
    assert assigned.exit_code == 0, assigned.stderr
    tag = assigned.json()["tag"]
    source.publish()
    if source.lock is not None:
        pin = ["lock", "add", source.bare.as_uri(), "old#staging", "--file", str(source.lock)]
        assert source.cli(*pin).exit_code == 0

    for command in ("resolve", "show"):
        answer = source.run(command, "old#staging", "--json")
        assert answer.exit_code == 0, answer.stderr
        info = answer.json()
        assert (info["version"], info["tag"], info["folder"]) == ("1.0.0", tag, OLD), command
        expected = source.cli(command, "old#staging", "--json", "--repo", str(root), cwd=tmp_path)
        assert {k: info[k] for k in ("version", "tag", "commit", "folder")} == {
            k: expected.json()[k] for k in ("version", "tag", "commit", "folder")
        }
    out = tmp_path / "out"
    got = source.run("get", "old#staging", "-o", str(out))
    assert got.exit_code == 0, got.stderr
    assert (out / "old.safetensors").read_bytes() == source.models[OLD]
    path = get_artifact_path("old", stage="staging", **source.api)
    assert path.read_bytes() == source.models[OLD]
    # production is unchanged: v2.0.0.
    production = get_artifact_path("old", **source.api)
    assert production.read_bytes() == source.models["artifacts/production/old/v2.0.0"]


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_a_lock_applies_what_it_read_when_it_last_asked_the_registry_and_offline_too(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = signed.src
    assert get_artifact_path("encoder", **src.api).parent.name == "v1.1.0"
    retag(src.root, signed.stage_tag, None)
    src.publish()
    # `lock check` asks the registry now: the pin's promotion is no longer signed.
    checked = src.cli("lock", "check", "--file", src.where)
    assert checked.exit_code == 1, checked.stdout + checked.stderr
    assert f"tag {signed.stage_tag}: not signed" in checked.stderr
    # Every later read applies what that ask saw, online and offline, and writes nothing.
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    refused(src, tmp_path / "out", "encoder", f"tag {signed.stage_tag}: not signed")


@pytest.mark.parametrize("spelling", ['"rights":', "'rights':", '"\\x72ights":'])
def test_rights_spelled_another_way_in_yaml_still_bind_every_reader(
    signed: Signed, tmp_path: Path, spelling: str
) -> None:
    """params.yaml is YAML: a quoted or escaped key is the same `rights` to the loader, so it
    binds readers as the plain key does (no reader may skip it by looking for `rights:`)."""
    src = signed.src
    params = src.root / "params.yaml"
    text = params.read_text()
    assert text.count("\nrights:") == 1
    params.write_text(text.replace("\nrights:", f"\n{spelling}"))
    assert yaml.safe_load(params.read_text())["rights"] == RIGHTS  # the same policy to YAML
    git(src.root, "commit", "--quiet", "-am", "params.yaml: the same rights, spelled otherwise")
    retag(src.root, signed.stage_tag, None)
    src.publish()
    refused(src, tmp_path / "out", "encoder", f"tag {signed.stage_tag}: not signed")
