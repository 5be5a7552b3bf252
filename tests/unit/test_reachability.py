"""gc's reachability model, pure: what kept folders and untagged promotions need (lineage and
requirement closures), the outputs DVC's files reference, the `.dvcignore` block of retired
folders, and which dropped objects the sweep may delete after the grace period."""

from __future__ import annotations

from artreg.artifacts.reachability import (
    FolderFacts,
    dvcignore_with,
    expand,
    lock_outs,
    pointer_outs,
)
from artreg.registry.layout import StageDir

A, B, C = "a" * 32, "b" * 32, "c" * 32


def facts(rel: str, source: str | None = None, requires: tuple[str, ...] = ()) -> FolderFacts:
    folder = StageDir.parse(rel)
    assert folder is not None
    return FolderFacts(folder, 1, source, {}, requires)


RAW, VAL = "artifacts/raw/base/s1", "artifacts/validated/base/v1"
BASE1, BASE2 = "artifacts/production/base/v1.0.0", "artifacts/production/base/v2.0.0"
TOKEN = "artifacts/production/tok/v1.0.0"
ADAPTER = "artifacts/production/adapter/v1.0.0"
FOLDERS = {
    RAW: facts(RAW),
    VAL: facts(VAL, RAW),
    BASE1: facts(BASE1, VAL, (TOKEN,)),
    BASE2: facts(BASE2),
    TOKEN: facts(TOKEN),
    ADAPTER: facts(ADAPTER, None, (BASE1,)),
}


def test_a_kept_release_keeps_its_requirement_closure_with_their_lineage() -> None:
    keep: dict[str, list[str]] = {ADAPTER: ["current production"]}
    expand(keep, FOLDERS)
    assert set(keep) == {ADAPTER, BASE1, TOKEN, VAL, RAW}
    assert keep[BASE1] == [f"required by kept {ADAPTER}"]
    assert keep[TOKEN] == [f"required by kept {BASE1}"]  # transitively
    assert keep[RAW] == [f"source of kept {VAL}"]


def test_an_expired_source_stays_dropped_but_an_expired_requirement_is_kept() -> None:
    keep: dict[str, list[str]] = {ADAPTER: ["current production"]}
    expand(keep, FOLDERS, expired={BASE1: "deprecated", VAL: "deregistered"})
    assert BASE1 in keep and VAL not in keep and RAW not in keep


def test_an_untagged_promotion_keeps_its_source_and_requirements() -> None:
    pending = "artifacts/production/base/v3.0.0"
    keep: dict[str, list[str]] = {}
    expand(keep, FOLDERS, untagged={pending: facts(pending, VAL, (TOKEN,))})
    assert set(keep) == {VAL, RAW, TOKEN}
    assert keep[VAL][0].startswith(f"source of untagged promotion {pending}")


def test_requirements_that_form_a_cycle_end() -> None:
    x, y = "artifacts/production/x/v1.0.0", "artifacts/production/y/v1.0.0"
    keep: dict[str, list[str]] = {x: ["current production"]}
    expand(keep, {x: facts(x, None, (y,)), y: facts(y, None, (x,))})
    assert keep == {
        x: ["current production", f"required by kept {y}"],
        y: [f"required by kept {x}"],
    }


def test_pointer_and_lock_file_outputs() -> None:
    pointer = f"outs:\n- md5: {A}.dir\n  size: 10\n  nfiles: 2\n  hash: md5\n  path: ckpt\n"
    assert pointer_outs(pointer.encode()) == [(f"{A}.dir", 10, "ckpt")]
    imported = f"md5: {B}\nfrozen: true\ndeps:\n- path: x\nouts:\n- md5: {C}\n  path: y\n"
    assert pointer_outs(imported.encode()) == [(C, 0, "y")]
    lock = (
        "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n"
        f"    - path: data\n      md5: {B}.dir\n    outs:\n    - path: model.bin\n"
        f"      hash: md5\n      md5: {A}\n      size: 7\n    - path: plots\n      md5: {C}.dir\n"
    )
    assert lock_outs(lock.encode()) == [(A, 7, "model.bin"), (f"{C}.dir", 0, "plots")]
    dvc1 = f"train:\n  cmd: x\n  outs:\n  - path: m\n    md5: {A}\n"
    assert lock_outs(dvc1.encode()) == [(A, 0, "m")]
    assert lock_outs(b"stages: [unclosed") == [] and pointer_outs(b"\xff: {") == []


def test_the_dvcignore_block_is_replaced_and_the_users_lines_stay() -> None:
    user = "# mine\n*.tmp\n"
    once = dvcignore_with(user, ["artifacts/raw/enc/s2", "artifacts/raw/enc/s1"])
    assert once.startswith(user) and "/artifacts/raw/enc/s1/\n/artifacts/raw/enc/s2/\n" in once
    twice = dvcignore_with(once, ["artifacts/raw/enc/s1", "artifacts/raw/enc/s3"])
    assert twice.count("# artreg gc:") == 1 and "/s2/" not in twice and "/s3/" in twice
    assert twice.startswith(user) and dvcignore_with(twice, []).startswith(user)
