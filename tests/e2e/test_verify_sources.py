"""`artreg verify` gives the same verdict for the same registry state whether it runs in a clone
or is given the registry's URL (HOSTILE25 findings 2, 3, 6 and 14): a deprecated name is no
reason to refuse, an out-of-date registry.json or a deprecated requirement fails from a URL as
in a clone, every folder and every retired one is listed, `--remote` checks the DVC remote from
a URL too, and the command verify suggests to fetch a folder fills the cache without writing
model files into the current folder. What a URL cannot check (a clone's work tree) is said.

Every case runs over the sources of the `source` fixture (tests/helpers/sources.py) it applies
to: a lock file pins versions and carries no registry state, so only the fetch hint and the
`--remote` refusal are asked of it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from helpers import git
from helpers.keys import make_key
from helpers.sources import ADAPTER, ENCODER, OLD, Source

REGISTRY_SOURCES = ["clone", "file-url", "git-daemon"]
RETENTION = """retention:
  production: {keep: all}
  min_age_days: 0
  grace_hours: 0
  overrides:
    old: {production: {keep_last: 1}}
"""


def said(result) -> str:  # type: ignore[no-untyped-def]
    return result.stdout + result.stderr


@pytest.mark.parametrize("source", REGISTRY_SOURCES, indirect=True)
def test_a_deprecated_name_passes_and_a_deprecated_requirement_fails_from_every_source(
    source: Source, cli
) -> None:
    assert cli("deprecate", "old", cwd=source.root).exit_code == 0
    source.publish()
    checked = source.run("verify", "--json")
    assert checked.exit_code == 0, checked.stderr
    assert checked.json()["problems"] == []
    fetched = source.run("verify", "--fetch", "--json")  # old's folders too, fetched and hashed
    assert fetched.exit_code == 0, fetched.stderr
    assert not any("not present" in note for note in fetched.json().get("notes", []))

    # adapter v0.1.0 (production) requires encoder@v1.0.0: deprecating encoder breaks it
    assert cli("deprecate", "encoder", cwd=source.root).exit_code == 0
    source.publish()
    broken = source.run("verify")
    assert broken.exit_code == 1, said(broken)
    assert "requires encoder@v1.0.0: encoder is deprecated" in broken.stderr


@pytest.mark.parametrize("source", REGISTRY_SOURCES, indirect=True)
def test_an_out_of_date_registry_json_fails_verify_from_every_source(source: Source) -> None:
    index = source.root / "artifacts" / "registry.json"
    data = json.loads(index.read_text("utf-8"))
    data["old"]["deprecated"] = True  # a hand edit the tags do not say
    index.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    git(source.root, "commit", "--quiet", "-am", "edit registry.json by hand")
    source.publish()

    checked = source.run("verify")
    assert checked.exit_code == 1, said(checked)
    assert "artifacts/registry.json: out of date" in checked.stderr


@pytest.mark.parametrize("source", REGISTRY_SOURCES, indirect=True)
def test_verify_lists_every_folder_and_each_retired_one_from_every_source(
    source: Source, cli
) -> None:
    listed = source.run("verify", "--json")
    assert listed.exit_code == 0, listed.stderr
    # old v1.0.0 is no stage's any more (v2.0.0 is production), but it is a folder all the same
    assert any(note.startswith(f"{OLD}: data not present") for note in listed.json()["notes"])

    with (source.root / "params.yaml").open("a", encoding="utf-8") as params:
        params.write(RETENTION)
    git(source.root, "commit", "--quiet", "-am", "retention: keep the last old")
    assert cli("gc", "--apply", "--grace-hours", "0", cwd=source.root).exit_code == 0
    source.publish()

    checked = source.run("verify", "--json")
    assert checked.exit_code == 0, checked.stderr
    report = checked.json()
    assert report["checked"]["folders retired by gc"] == 1
    assert any(OLD in note and "retired" in note for note in report["notes"])
    assert not any(note.startswith(f"{OLD}: data not present") for note in report["notes"])
    from_url = [n for n in report["notes"] if "not checked from a registry URL" in n]
    assert bool(from_url) == (source.kind != "clone")


@pytest.mark.parametrize("source", REGISTRY_SOURCES, indirect=True)
def test_a_production_folder_the_trust_policy_wants_signed_fails_verify_from_every_source(
    source: Source, tmp_path: Path
) -> None:
    _, public = make_key(tmp_path / "secrets")
    (source.root / "keys").mkdir()
    (source.root / "keys" / "release.pub").write_bytes(public.read_bytes())
    with (source.root / "params.yaml").open("a", encoding="utf-8") as params:
        params.write("trust:\n  keys: [keys/release.pub]\n  require_signature: [production]\n")
    git(source.root, "add", "params.yaml", "keys")
    git(source.root, "commit", "--quiet", "-m", "trust policy: production must be signed")
    source.publish()

    checked = source.run("verify")
    assert checked.exit_code == 1, said(checked)
    assert f"{ENCODER}/model.sig: missing" in checked.stderr


@pytest.mark.parametrize("source", REGISTRY_SOURCES, indirect=True)
def test_a_trust_policy_weakened_without_acknowledgement_fails_verify_from_every_source(
    source: Source, tmp_path: Path
) -> None:
    _, public = make_key(tmp_path / "secrets")
    (source.root / "keys").mkdir()
    (source.root / "keys" / "release.pub").write_bytes(public.read_bytes())
    params = source.root / "params.yaml"
    before = params.read_text("utf-8")
    params.write_text(
        before + "trust:\n  keys: [keys/release.pub]\n  require_signature: [production]\n"
    )
    git(source.root, "add", "params.yaml", "keys")
    git(source.root, "commit", "--quiet", "-m", "production must be signed")
    params.write_text(before, "utf-8")
    git(source.root, "commit", "--quiet", "-am", "stop requiring signatures")
    source.publish()

    checked = source.run("verify")
    assert checked.exit_code == 1, said(checked)
    assert "(stop requiring signatures) weakens the trust policy" in checked.stderr
    assert "production no longer requires a signature" in checked.stderr


@pytest.mark.parametrize("source", ["file-url", "git-daemon", "lock"], indirect=True)
def test_following_verifys_fetch_hint_fills_the_cache_and_writes_nothing_here(
    source: Source, tmp_path: Path
) -> None:
    here = tmp_path / "empty-folder"
    here.mkdir()
    listed = source.cli("verify", *source.address, cwd=here)
    assert listed.exit_code == 0, listed.stderr
    hint = re.search(rf"{ADAPTER}: data not present.*?fetch it with `([^`]+)`", listed.stdout)
    assert hint is not None, listed.stdout

    followed = source.cli(*shlex.split(hint.group(1))[1:], cwd=here)
    assert followed.exit_code == 0, followed.stderr
    assert list(here.iterdir()) == []

    again = source.cli("verify", *source.address, cwd=here)
    assert again.exit_code == 0, again.stderr
    assert f"{ADAPTER}: data not present" not in again.stdout


@pytest.mark.parametrize("source", REGISTRY_SOURCES, indirect=True)
def test_verify_remote_finds_an_object_the_dvc_remote_lost_from_every_source(
    source: Source,
) -> None:
    whole = source.run("verify", "--remote", "--json")
    assert whole.exit_code == 0, whole.stderr
    assert any("remote" in counted for counted in whole.json()["checked"])

    pointer = next((source.root / ADAPTER).glob("*.dvc"))
    md5 = pointer.read_text("utf-8").split()[3]
    (source.storage / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    lost = source.run("verify", "--remote")
    assert lost.exit_code == 1, said(lost)
    assert ADAPTER in lost.stderr and "not in the DVC remote" in lost.stderr


@pytest.mark.parametrize("source", ["lock"], indirect=True)
def test_verify_remote_of_a_lock_file_is_refused_with_what_to_run(source: Source) -> None:
    refused = source.run("verify", "--remote")
    assert refused.exit_code == 2
    assert "--remote" in refused.stderr and "--repo" in refused.stderr
