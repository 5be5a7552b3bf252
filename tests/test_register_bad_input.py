"""Every refused registration exits 2, names the file or field and the fix, and changes nothing."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from artreg.register import register_raw

from conftest import git, snapshot

Setup = Callable[[Path, Path, Path], list[str]]


def _bad_name(name: str) -> Setup:
    return lambda reg, ckpt, tmp: ["register", "--from", str(ckpt), "--", name, "s1"]


def _session_exists(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    register_raw(reg, "encoder", "s1", ckpt)
    return ["register", "encoder", "s1", "--from", str(ckpt)]


def _missing_folder(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    return ["register", "encoder", "s1", "--from", str(tmp / "nowhere")]


def _empty_folder(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (tmp / "empty").mkdir()
    return ["register", "encoder", "s1", "--from", str(tmp / "empty")]


def _symlink_outside(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    secret = tmp / "secret.txt"
    secret.write_text("not a checkpoint")
    (ckpt / "leak.pt").symlink_to(secret)
    return ["register", "encoder", "s1", "--from", str(ckpt)]


def _broken_symlink(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (ckpt / "gone.pt").symlink_to(ckpt / "does-not-exist.pt")
    return ["register", "encoder", "s1", "--from", str(ckpt)]


def _fifo(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    os.mkfifo(ckpt / "pipe.pt")
    return ["register", "encoder", "s1", "--from", str(ckpt)]


def _malformed_metrics(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (tmp / "m.json").write_text('{"coverage": 0.9,')
    return ["register", "encoder", "s1", "--from", str(ckpt), "--metrics", str(tmp / "m.json")]


def _duplicate_key_metrics(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (tmp / "m.json").write_text('{"coverage": 0.9, "coverage": 0.1}')
    return ["register", "encoder", "s1", "--from", str(ckpt), "--metrics", str(tmp / "m.json")]


def _nan_metrics(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (tmp / "m.json").write_text('{"coverage": NaN}')
    return ["register", "encoder", "s1", "--from", str(ckpt), "--metrics", str(tmp / "m.json")]


def _malformed_config(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (tmp / "c.yaml").write_text("lr: [0.1\n")
    return ["register", "encoder", "s1", "--from", str(ckpt), "--config", str(tmp / "c.yaml")]


def _python_tag_config(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    (tmp / "c.yaml").write_text("lr: !!python/object/apply:os.system ['true']\n")
    return ["register", "encoder", "s1", "--from", str(ckpt), "--config", str(tmp / "c.yaml")]


def _schema_violation_in_params(reg: Path, ckpt: Path, tmp: Path) -> list[str]:
    params = reg / "params.yaml"
    params.write_text(re.sub(r"default_name: \S+", "default_name: 5", params.read_text()))
    git(reg, "commit", "--quiet", "-am", "broken default")
    return ["register", "encoder", "s1", "--from", str(ckpt)]


CASES: dict[str, tuple[Setup, list[str]]] = {
    "name with slash": (_bad_name("team/encoder"), ["invalid artifact name", "fix:"]),
    "name with dots": (_bad_name(".."), ["invalid artifact name"]),
    "name starting with dash": (_bad_name("-encoder"), ["invalid artifact name"]),
    "name with control character": (_bad_name("enc\x1boder"), ["invalid artifact name", "\\x1b"]),
    "name with look-alike letter": (_bad_name("encоder"), ["invalid artifact name"]),
    "name too long": (_bad_name("e" * 10_000), ["invalid artifact name", "at most 100"]),
    "session exists": (_session_exists, ["registered already", "new session id"]),
    "missing folder": (_missing_folder, ["nowhere", "not found"]),
    "empty folder": (_empty_folder, ["empty", "fix:"]),
    "symlink outside": (_symlink_outside, ["leak.pt", "outside the folder"]),
    "broken symlink": (_broken_symlink, ["gone.pt", "cannot be read"]),
    "fifo": (_fifo, ["pipe.pt", "not a regular file"]),
    "malformed metrics": (_malformed_metrics, ["m.json", "malformed JSON"]),
    "duplicate keys": (_duplicate_key_metrics, ["m.json", "duplicate key 'coverage'"]),
    "NaN": (_nan_metrics, ["m.json", "NaN"]),
    "malformed config": (_malformed_config, ["c.yaml", "malformed YAML"]),
    "python tag in YAML": (_python_tag_config, ["c.yaml", "malformed YAML"]),
    "schema violation": (_schema_violation_in_params, ["params.yaml", "/artreg/default_name"]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_registration_exits_2_with_a_clear_message_and_changes_nothing(
    case: str, registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    setup, expected = CASES[case]
    args = setup(registry, checkpoint_dir, tmp_path)
    before = snapshot(registry)

    result = cli(*args, cwd=registry)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    assert "Traceback" not in result.stderr
    assert snapshot(registry) == before
