"""Pair 18: `artreg verify` of a registry whose every tag is signed (params.yaml `rights`),
against `artreg verify` of the same registry unsigned and without rights.

The registry is `build_tag_registry`'s (names × tags_per_name annotated tags, 1,000 at full
size). A copy has every tag re-made as an SSH-signed tag (same message, target and date) with a
key made by ssh-keygen, the key committed in `.artreg/allowed_signers` and `rights.signed`
listing every stage, so `verify` asks git (`git verify-tag`) about each tag. 18a runs it with no
cached verdicts (each run starts from an empty cache: every tag verified); 18b as a CI run
after the previous one (the verdicts are cached by tag object and allowed-signers blob).
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fixtures
from fixtures import ARTREG, sh
from report import Report, log, ratio_row
from timing import Measurement, alternate, run

FIELDS = "%(refname:strip=2)%00%(*objectname)%00%(taggerdate:raw)%00%(contents:subject)%00%(contents:body)%1e"


def sign_every_tag(root: Path, env: dict[str, str], key: Path) -> int:
    """Re-make every tag of `root` as a signed tag with the same message, target and date."""
    signing = {**env, "GIT_CONFIG_COUNT": "2"}
    signing.update(
        GIT_CONFIG_KEY_0="gpg.format",
        GIT_CONFIG_VALUE_0="ssh",
        GIT_CONFIG_KEY_1="user.signingkey",
        GIT_CONFIG_VALUE_1=str(key),
    )
    listing = sh(["git", "for-each-ref", f"--format={FIELDS}", "refs/tags"], root, env)
    records = [r.strip("\n").split("\0") for r in listing.split("\x1e") if r.strip()]

    def sign(record: list[str]) -> None:
        tag, commit, date, subject, body = record
        subprocess.run(
            ["git", "tag", "-f", "-s", "-F", "-", tag, commit],
            cwd=root,
            env={**signing, "GIT_COMMITTER_DATE": date},
            input=f"{subject}\n\n{body}",
            text=True,
            check=True,
            capture_output=True,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(sign, records))
    return len(records)


def add_rights(root: Path, env: dict[str, str], key: Path) -> None:
    """Commit the allowed-signers file and `rights.signed` naming every stage."""
    import yaml

    (root / ".artreg").mkdir(exist_ok=True)
    public = key.with_suffix(".pub").read_text().strip()
    (root / ".artreg" / "allowed_signers").write_text(
        f'{fixtures.TAGGER[1]} namespaces="git" {public}\n'
    )
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["rights"] = {
        "allowed_signers": ".artreg/allowed_signers",
        "signed": ["raw", "validated", "production"],
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "add", ".artreg/allowed_signers", "params.yaml"], root, env)
    sh(["git", "commit", "--quiet", "-m", "rights: every stage signed"], root, env)


def bench_rights(report: Report, work: Path, env: dict[str, str]) -> None:
    s = report.sizes
    names = 10
    plain = fixtures.build_tag_registry(
        work / "rights-plain", env, names, s.rights_tags // names, s.commits
    )
    signed_root = work / "rights-signed"
    shutil.copytree(plain.root, signed_root, symlinks=True)
    key = work / "rights-key"
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], work, env)
    count = sign_every_tag(signed_root, env, key)
    add_rights(signed_root, env, key)
    cache = signed_root / ".git" / "artreg" / "tag-signatures.json"

    def cold() -> Measurement:
        cache.unlink(missing_ok=True)
        return run([ARTREG, "verify", "--no-fetch"], signed_root, env, check=False)

    def warm() -> Measurement:
        return run([ARTREG, "verify", "--no-fetch"], signed_root, env, check=False)

    def unsigned() -> Measurement:
        return run([ARTREG, "verify", "--no-fetch"], plain.root, env, check=False)

    for pair, label, side in (("18a", "no cached verdicts", cold), ("18b", "cached", warm)):
        log(f"18. verify {count} signed tags ({label}) vs unsigned")
        a, b = alternate([("signed", side), ("unsigned", unsigned)], runs=s.runs, warmup=1, log=log)
        report.rows.append(
            ratio_row(
                pair,
                f"`artreg verify` of {count} signed tags ({label}) vs the same registry unsigned",
                a,
                b,
                kind="time ratio (signed ÷ unsigned)",
                target="≤ 2×",
                check=lambda r: r <= 2.0,
            )
        )
    report.sections.append(
        "### 18. Verifying signed promotions\n\n"
        f"A registry of {count} annotated tags (build_tag_registry) and a copy where every tag "
        "is an SSH-signed tag, its key committed in `.artreg/allowed_signers`, and params.yaml's "
        "`rights.signed` listing every stage: `artreg verify` then asks `git verify-tag` about "
        "each tag (in parallel) with the committed file. 18a deletes the verdict cache before "
        "each run; 18b keeps it, as a CI run after the previous one. Both run with `--no-fetch` "
        "(the synthetic folders have no DVC data) and report the same "
        "problems of the synthetic folders (exit 1); the time of the whole command is compared.\n"
    )
