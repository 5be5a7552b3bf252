"""Extra stages and one-step rollback, as GTO writes them: `artreg assign NAME@vX.Y.Z STAGE`
and `artreg rollback NAME --reason TEXT` each make one annotated tag `NAME#STAGE#N` on the
version's commit; `gto show` is the oracle after each, and every reader follows at once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from artreg import get_artifact_path
from artreg.present.site.build import build_site
from artreg.services.register import register_raw
from artreg.services.release import promote_to_production
from artreg.services.validate import promote_to_validated

from helpers import EXAMPLES, RELEASE_INPUTS, clone_repo, git, run_tool, snapshot
from helpers.keys import signer_line, ssh_key

STAGES = {"staging": {"after": "validated"}}
STAGING_GATES = {"latency_p95_ms": {"op": "<=", "threshold": 50}}


def _set_params(root: Path, **sections: object) -> None:
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in sections.items():
        if key == "gates":
            params["gates"].update(value)
        else:
            params[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "commit", "--quiet", "-am", "declare the staging stage and its gates")


@pytest.fixture
def three_releases(registry: Path, checkpoint_dir: Path, bare_origin: Path) -> Path:
    """encoder v1.0.0, v1.1.0, v1.2.0 released in that order; staging declared with a gate."""
    _set_params(registry, stages=STAGES, gates={"staging": STAGING_GATES})
    register_raw(registry, "encoder", "s1", checkpoint_dir)
    vid = promote_to_validated(
        registry, "encoder", "s1", "best", EXAMPLES / "validation_results.json"
    ).id
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        promote_to_production(registry, "encoder", vid, version, **RELEASE_INPUTS)
    run_tool("dvc", "push", "--quiet", cwd=registry)
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    return registry


def _gto(root: Path) -> dict[str, str]:
    shown = json.loads(run_tool("gto", "show", "--json", cwd=root).stdout)["encoder"]
    return {s: v for s, v in shown["stage"].items() if v and s in ("staging", "production")}


def test_assign_makes_the_gto_tag_and_every_listing_knows_the_stage(
    three_releases: Path, cli
) -> None:
    root = three_releases
    result = cli("assign", "encoder@v1.1.0", "staging", "--json", cwd=root)
    assert result.exit_code == 0, result.stderr
    done = result.json()
    assert done["tag"] == "encoder#staging#6"  # GTO's counter: 1 + the highest of any tag
    assert done["folder"] == "artifacts/production/encoder/v1.1.0"  # no folder copied
    assert (
        git(root, "rev-list", "-n1", "encoder#staging#6").strip()
        == git(root, "rev-list", "-n1", "encoder@v1.1.0").strip()
    )
    assert [g["metric"] for g in done["gates"]] == ["latency_p95_ms"]
    assert not (root / "artifacts" / "staging").exists()

    assert _gto(root) == {"production": "v1.2.0", "staging": "v1.1.0"}
    listed = cli("list", "--json", cwd=root).json()["encoder"]["stages"]
    assert listed["staging"]["version"] == "v1.1.0"
    shown = cli("show", "encoder", "--json", cwd=root).json()
    assert "staging" in json.dumps(shown)
    index = json.loads((root / "artifacts" / "registry.json").read_text())
    assert index["encoder"]["stages"]["staging"]["tag"] == "encoder#staging#6"
    assert index["encoder"]["stages"]["staging"]["version"] == "1.1.0"
    assert cli("index", "--check", cwd=root).exit_code == 0
    verified = cli("verify", cwd=root)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    held = cli("history", "encoder", "--stage", "staging", "--json", cwd=root)
    assert held.exit_code == 0, held.stderr
    assert "v1.1.0" in held.stdout

    # A newer release moved into staging: gto and artreg agree again.
    assert cli("assign", "encoder@v1.2.0", "staging", cwd=root).exit_code == 0
    assert _gto(root) == {"production": "v1.2.0", "staging": "v1.2.0"}
    assert (
        cli("list", "--json", cwd=root).json()["encoder"]["stages"]["staging"]["version"]
        == "v1.2.0"
    )
    assert "#staging" in cli("list", cwd=root).stdout  # the text table has its column
    # Assigning it again is refused: nothing to do.
    again = cli("assign", "encoder@v1.2.0", "staging", cwd=root)
    assert again.exit_code == 2 and "in staging already" in again.stderr
    # A stage taken out of params.yaml while a version holds it: verify names the tag.
    params = yaml.safe_load((root / "params.yaml").read_text())
    del params["stages"], params["gates"]["staging"]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "commit", "--quiet", "-am", "drop the staging stage")
    dropped = cli("verify", cwd=root)
    assert dropped.exit_code == 1
    assert "encoder#staging#7: encoder#staging resolves, but params.yaml@" in dropped.stderr


def test_rollback_moves_production_back_and_every_reader_follows(
    three_releases: Path, bare_origin: Path, tmp_path: Path, cli
) -> None:
    root = three_releases
    consumer = clone_repo(bare_origin, tmp_path / "consumer")
    assert get_artifact_path("encoder", repo=consumer).parent.name == "v1.2.0"
    assert get_artifact_path("encoder", repo=f"file://{bare_origin}").parent.name == "v1.2.0"
    # The moment v1.2.0 went into production (tag dates may run ahead of the clock: each
    # new tag is dated one second after the newest).
    newest = git(
        root, "for-each-ref", "--format=%(creatordate:unix)", "refs/tags/encoder#production#5"
    )
    before = f"@{newest.strip()}"

    result = cli("rollback", "encoder", "--reason", "p95 latency regression", "--json", cwd=root)
    assert result.exit_code == 0, result.stderr
    done = result.json()
    assert (done["version"], done["replaced"]) == ("v1.1.0", "v1.2.0")
    assert done["tag"].startswith("encoder#production#")
    message = git(root, "tag", "-l", "--format=%(contents)", done["tag"])
    assert "reason: p95 latency regression" in message
    assert _gto(root)["production"] == "v1.1.0"  # the oracle

    # Readers: the registry itself, a clone, a file:// URL, the CLI.
    assert get_artifact_path("encoder", repo=root).parent.name == "v1.1.0"
    git(root, "push", "--quiet", "origin", "main", "--tags")
    git(consumer, "pull", "--quiet", "--tags", "origin", "main")
    assert get_artifact_path("encoder", repo=consumer).parent.name == "v1.1.0"
    assert get_artifact_path("encoder", repo=f"file://{bare_origin}").parent.name == "v1.1.0"
    out = tmp_path / "served"
    got = cli("get", f"file://{bare_origin}", "encoder", "-o", str(out), cwd=tmp_path)
    assert got.exit_code == 0, got.stderr
    assert (out / "model.pt").read_bytes() == (
        root / "artifacts/production/encoder/v1.1.0/model.pt"
    ).read_bytes()
    resolved = cli("resolve", "encoder", "--json", cwd=root)
    assert resolved.exit_code == 0, resolved.stderr
    assert "1.1.0" in resolved.stdout and "1.2.0" not in resolved.stdout

    # History: the rollback, its reason and who made it; --as-of before it: what it replaced.
    history = cli("history", "encoder", "--stage", "production", cwd=root)
    assert history.exit_code == 0, history.stderr
    assert "p95 latency regression" in history.stdout
    assert "rollback" in history.stdout
    assert "artreg-test" in history.stdout or "@" in history.stdout  # who made it
    then = cli("list", "--as-of", before, "--json", cwd=root).json()["encoder"]
    assert then["stages"]["production"]["version"] == "v1.2.0"
    now = cli("list", "--json", cwd=root).json()["encoder"]
    assert now["stages"]["production"]["version"] == "v1.1.0"
    assert cli("verify", cwd=root).exit_code == 0

    # A second rollback goes one step further back, as GTO sees it too.
    assert cli("rollback", "encoder", "--reason", "again", cwd=root).exit_code == 0
    assert _gto(root)["production"] == "v1.0.0"
    # --to names the version: forward again to v1.2.0.
    assert (
        cli("rollback", "encoder", "--to", "v1.2.0", "--reason", "fixed", cwd=root).exit_code == 0
    )
    assert _gto(root)["production"] == "v1.2.0"
    assert get_artifact_path("encoder", repo=root).parent.name == "v1.2.0"


def test_the_site_shows_extra_stages_and_the_rollback(
    three_releases: Path, tmp_path: Path, cli
) -> None:
    root = three_releases
    assert cli("assign", "encoder@v1.1.0", "staging", cwd=root).exit_code == 0
    assert cli("rollback", "encoder", "--reason", "p95 latency regression", cwd=root).exit_code == 0
    site = tmp_path / "site"
    build_site(root, site)
    pages = {p: p.read_text() for p in site.rglob("*.html")}
    name_page = next(
        t for p, t in pages.items() if p.parent.name == "encoder" and p.name == "index.html"
    )
    assert "staging" in name_page
    assert "p95 latency regression" in name_page


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["assign", "encoder@v1.1.0", "qa"], 2, "not declared"),
        (["assign", "encoder@v9.9.9", "staging"], 2, "not a released version"),
        (["assign", "encoder", "staging"], 2, "NAME@vX.Y.Z"),
        (["assign", "encoder@v1.1.0", "validated"], 2, "folder stage"),
        (["assign", "encoder@v1.1.0", "production"], 2, "rollback"),
        (["rollback", "encoder", "--to", "v9.9.9", "--reason", "x"], 2, "not a released"),
        (["rollback", "encoder", "--to", "v1.2.0", "--reason", "x"], 2, "already"),
        (["rollback", "encoder", "--reason", " "], 2, "--reason"),
        (["rollback", "nobody", "--reason", "x"], 2, "nobody"),
    ],
)
def test_refusals_name_the_problem_and_change_nothing(
    three_releases: Path, cli, args: list[str], code: int, words: str
) -> None:
    before = snapshot(three_releases)
    result = cli(*args, cwd=three_releases)
    assert result.exit_code == code, result.stdout + result.stderr
    assert words in result.stderr
    assert snapshot(three_releases) == before


def test_a_failing_gate_refuses_the_assignment_with_exit_1(
    three_releases: Path, cli, tmp_path: Path
) -> None:
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps({"latency_p95_ms": 80.0}))
    before = snapshot(three_releases)
    result = cli("assign", "encoder@v1.1.0", "staging", "--results", str(slow), cwd=three_releases)
    assert result.exit_code == 1
    assert "latency_p95_ms=80.0" in result.stderr
    assert snapshot(three_releases) == before


def test_a_deregistered_target_is_refused(three_releases: Path, cli) -> None:
    root = three_releases
    assert cli("deprecate", "encoder@v1.1.0", cwd=root).exit_code == 0
    before = snapshot(root)
    result = cli("rollback", "encoder", "--reason", "regression", cwd=root)
    assert result.exit_code == 2
    assert "deregistered" in result.stderr
    result = cli("assign", "encoder@v1.1.0", "staging", cwd=root)
    assert result.exit_code == 2 and "deregistered" in result.stderr
    assert snapshot(root) == before
    # Named explicitly, an active version still works.
    assert (
        cli("rollback", "encoder", "--to", "1.0.0", "--reason", "regression", cwd=root).exit_code
        == 0
    )
    assert _gto(root)["production"] == "v1.0.0"


def test_a_deprecated_artifact_is_refused(three_releases: Path, cli) -> None:
    root = three_releases
    assert cli("deprecate", "encoder", cwd=root).exit_code == 0
    before = snapshot(root)
    result = cli("rollback", "encoder", "--reason", "regression", cwd=root)
    assert result.exit_code == 2 and "deprecated" in result.stderr
    assert snapshot(root) == before


def test_sign_makes_a_signed_tag_git_verifies(three_releases: Path, tmp_path: Path, cli) -> None:
    root = three_releases
    key = ssh_key(tmp_path, "key")
    signers = tmp_path / "allowed_signers"
    signers.write_text(signer_line("rm@example.com", key))
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingkey", str(key))
    git(root, "config", "gpg.ssh.allowedSignersFile", str(signers))
    result = cli("rollback", "encoder", "--reason", "regression", "--sign", "--json", cwd=root)
    assert result.exit_code == 0, result.stderr
    tag = result.json()["tag"]
    verified = subprocess.run(
        ["git", "-C", str(root), "verify-tag", tag], capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for rm@example.com' in verified.stderr
    assert _gto(root)["production"] == "v1.1.0"  # gto reads a signed tag as any other
