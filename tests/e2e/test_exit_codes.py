"""Exit codes as CI relies on them: 3 for a bug (with how to report it), 4 for what may succeed
when retried (a busy lock, a push that lost a race, a remote that does not answer)."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

from helpers import ARTREG, Snapshot, clone_repo, git, release, snapshot


def _closed_port() -> int:
    """A loopback port nobody listens on: bind one, then let it go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _outside_dvc_internals(snap: Snapshot) -> Snapshot:
    """The snapshot without DVC's content-addressed cache, tmp and local remote: a rolled-back
    change may leave objects there (harmless: nothing points at them; data is pushed first)."""
    kept = [
        line
        for line in snap.status.splitlines()
        if not line.startswith(("!! .dvc/cache/", "!! .dvc/tmp/", "!! .dvc-storage/"))
    ]
    return replace(snap, status="\n".join(kept))


def _artreg(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARTREG, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true", **env},
        check=False,
    )


def test_an_internal_error_exits_3_says_how_to_report_it_and_changes_nothing(
    registry: Path, checkpoint_dir: Path
) -> None:
    before = snapshot(registry)
    result = _artreg(
        "register",
        "encoder",
        "s1",
        "--from",
        str(checkpoint_dir),
        cwd=registry,
        ARTREG_RAISE_AT="publish:dvc-yaml",
    )
    assert result.returncode == 3, result.stderr
    assert "internal error (a bug in artreg): RuntimeError: injected fault at publish:dvc-yaml" in (
        result.stderr
    )
    # The fix names the option as it is typed: after the command, like any other option.
    assert "run it again with --traceback added (`artreg register ... --traceback`)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert _outside_dvc_internals(snapshot(registry)) == _outside_dvc_internals(before)

    register = ["register", "encoder", "s1", "--from", str(checkpoint_dir)]
    for args in (["--traceback", *register], [*register, "--traceback"]):
        shown = _artreg(*args, cwd=registry, ARTREG_RAISE_AT="publish:dvc-yaml")
        assert shown.returncode == 3 and "Traceback (most recent call last)" in shown.stderr, args


def test_traceback_is_accepted_after_a_subcommand(registry: Path) -> None:
    for args in (["list", "--traceback"], ["lock", "check", "--traceback"]):
        result = _artreg(*args, cwd=registry)
        assert "no such option" not in result.stderr, (args, result.stderr)
    assert _artreg("list", "--traceback", cwd=registry).returncode == 0


def test_a_dvc_remote_that_does_not_answer_is_retryable(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    git(registry, "push", "--quiet", "origin", "main", "--tags")
    service = clone_repo(bare_origin, tmp_path / "service")
    (service / ".dvc" / "config.local").write_text(
        "['remote \"dead\"']\n"
        f"    url = s3://nowhere/registry\n    endpointurl = http://127.0.0.1:{_closed_port()}\n"
    )
    before = snapshot(service)
    result = _artreg(
        "pull",
        "encoder",
        "--remote",
        "dead",
        cwd=service,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    assert result.returncode == 4, result.stderr
    assert "did not answer" in result.stderr and "dead" in result.stderr
    assert _outside_dvc_internals(snapshot(service)) == _outside_dvc_internals(before)


def test_a_git_remote_that_does_not_answer_is_retryable_and_the_promotion_is_undone(
    registry: Path, checkpoint_dir: Path
) -> None:
    git(registry, "remote", "add", "origin", f"git://127.0.0.1:{_closed_port()}/registry.git")
    before = snapshot(registry)
    result = _artreg(
        "register",
        "encoder",
        "s1",
        "--from",
        str(checkpoint_dir),
        "--push",
        cwd=registry,
    )
    assert result.returncode == 4, result.stderr
    assert "did not answer" in result.stderr
    assert _outside_dvc_internals(snapshot(registry)) == _outside_dvc_internals(before)


def test_a_repository_git_calls_dubious_ownership_is_bad_input_with_gits_fix(
    registry: Path, bare_origin: Path, checkpoint_dir: Path, tmp_path: Path
) -> None:
    """A repository another user owns (git's safe.directory check, simulated by the variable
    git's own tests use): exit 2 with git's `safe.directory` command, never exit 4 "check the
    network", and nothing changed."""
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    other_user = {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}
    before = snapshot(registry)

    for args, where, owned in (
        (["list"], registry, registry),
        (["register", "encoder", "s2", "--from", str(checkpoint_dir)], registry, registry),
        (["get", str(bare_origin), "encoder", "-o", str(tmp_path / "out")], tmp_path, bare_origin),
    ):
        result = _artreg(*args, cwd=where, **other_user)
        assert result.returncode == 2, (args, result.stderr)
        assert f"{owned}: git refuses to work in this repository because another user owns" in (
            result.stderr
        )
        assert f"`git config --global --add safe.directory {owned}`" in result.stderr
        assert "check the network" not in result.stderr
    assert snapshot(registry) == before
    assert not (tmp_path / "out").exists()


def test_a_model_signature_that_is_not_a_sigstore_bundle_is_bad_input(
    registry: Path, tmp_path: Path
) -> None:
    """--model-signature names a file the user hands in: a file that is no model-signing bundle
    is a mistake to fix (exit 2, naming it), not a failed verification (exit 1)."""
    from helpers import RELEASE_ARGS
    from helpers.modelfiles import write_safetensors

    model = write_safetensors(tmp_path / "enc.safetensors", 4096)
    for content in (b"-----BEGIN PUBLIC KEY-----\nnot a bundle\n", b'{"mediaType": "x"}'):
        fake = tmp_path / "model.sig"
        fake.write_bytes(content)
        before = snapshot(registry)

        result = _artreg(
            "release", "enc", str(model), "--version", "1.0.0", *RELEASE_ARGS,
            "--model-signature", str(fake), cwd=registry,
        )  # fmt: skip

        assert result.returncode == 2, result.stderr
        assert f"{fake}: not a model-signing bundle" in result.stderr
        assert "sign the model with" in result.stderr
        assert snapshot(registry) == before
