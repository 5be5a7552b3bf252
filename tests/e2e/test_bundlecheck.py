"""What a bundle's tip may change in the receiving registry's params.yaml: the comparison
import makes before it moves HEAD, on a real git history (no DVC needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from artreg.errors import IntegrityError
from artreg.reading.bundlecheck import check_policy, policy_loosenings

from helpers import git

STRICT = {
    "artreg": {"require_approval": True},
    "trust": {"keys": ["keys/release.pub"], "require_signature": ["production"]},
    "rights": {
        "allowed_signers": ".artreg/allowed_signers",
        "production": {"promoters": ["alice@example.com"], "four_eyes": True},
    },
}
SIGNERS = 'alice@example.com namespaces="git" ssh-ed25519 AAAAalice\n'


def commit(repo: Path, params: dict, key: str = "key one\n", signers: str = SIGNERS) -> str:
    (repo / "keys").mkdir(exist_ok=True)
    (repo / ".artreg").mkdir(exist_ok=True)
    (repo / "keys" / "release.pub").write_text(key)
    (repo / ".artreg" / "allowed_signers").write_text(signers)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "policy")
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet")
    return root


def test_a_stricter_or_equal_tip_changes_nothing(repo: Path) -> None:
    head = commit(repo, STRICT)
    stricter = {
        **STRICT,
        "trust": {**STRICT["trust"], "require_signature": ["validated", "production"]},
    }
    tip = commit(repo, stricter)
    assert policy_loosenings(repo, head, tip) == []
    assert check_policy(repo, head, tip, accept=False) is None


def test_a_trusted_key_replaced_in_place_is_a_loosening(repo: Path) -> None:
    head = commit(repo, STRICT)
    tip = commit(repo, STRICT, key="someone else's key\n")
    [change] = policy_loosenings(repo, head, tip)
    assert change.startswith("trust.keys keys/release.pub was replaced")


def test_rights_and_signers_loosened_are_refused_unless_accepted(repo: Path) -> None:
    head = commit(repo, STRICT)
    rights = {
        "allowed_signers": ".artreg/allowed_signers",
        "production": {"promoters": ["alice@example.com", "mallory@example.com"]},
    }
    tip = commit(
        repo,
        {**STRICT, "rights": rights},
        signers=SIGNERS + 'mallory@example.com namespaces="git" ssh-ed25519 AAAAmallory\n',
    )
    found = policy_loosenings(repo, head, tip)
    assert "promoter added to rights.production: mallory@example.com" in found
    assert "rights.production.four_eyes turned off" in found
    assert any(f.startswith("allowed signer added: mallory@example.com") for f in found)
    with pytest.raises(IntegrityError, match="--accept-policy-change"):
        check_policy(repo, head, tip, accept=False)
    note = check_policy(repo, head, tip, accept=True)
    assert note is not None and "four_eyes turned off" in note


def test_params_yaml_deleted_drops_every_rule(repo: Path) -> None:
    head = commit(repo, STRICT)
    git(repo, "rm", "--quiet", "params.yaml")
    git(repo, "commit", "--quiet", "-m", "no params")
    tip = git(repo, "rev-parse", "HEAD").strip()
    found = policy_loosenings(repo, head, tip)
    assert any(f.startswith("production no longer requires a signature") for f in found)
    assert "artreg.require_approval turned off" not in found  # the default is on
    assert "rights.production.promoters removed (anyone may now)" in found
