"""What `artreg export --oci` and an `oci://` consumer refuse, against a real registry (Debian's
`docker-registry` on 127.0.0.1, `skopeo` as the oracle): tags that hold something else, a
manifest whose layers are not its config's, malformed credentials, layouts inside the
registry's clone, repository names OCI does not allow, and an artifact failing among many.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from artreg.services.init import init_registry

from helpers import flip_byte, release, snapshot
from helpers.ociregistry import OciRegistry, docker_registry, skopeo

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    with docker_registry(tmp_path_factory.mktemp("oci-registry")) as served:
        yield served


def title_at(ref: str) -> str:
    out = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}").stdout
    notes = json.loads(out)["annotations"]
    return f"{notes['org.opencontainers.image.title']}@v{notes['org.opencontainers.image.version']}"


def _http(method: str, url: str, data: bytes | None = None, **headers: str) -> bytes:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request) as response:
        if method == "POST":
            return str(response.headers["Location"]).encode()
        return bytes(response.read())


def put_blob(host: str, repo: str, data: bytes) -> str:
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    location = _http("POST", f"http://{host}/v2/{repo}/blobs/uploads/").decode()
    if not location.startswith("http"):
        location = f"http://{host}{location}"
    sep = "&" if "?" in location else "?"
    _http(
        "PUT",
        f"{location}{sep}digest={digest}",
        data,
        **{"Content-Type": "application/octet-stream"},
    )
    return digest


def manifest_doc(host: str, repo: str, tag: str) -> dict:  # type: ignore[type-arg]
    raw = _http("GET", f"http://{host}/v2/{repo}/manifests/{tag}", Accept=MANIFEST)
    return json.loads(raw)  # type: ignore[no-any-return]


def put_manifest(host: str, repo: str, tag: str, doc: dict) -> None:  # type: ignore[type-arg]
    body = json.dumps(doc).encode()
    _http("PUT", f"http://{host}/v2/{repo}/manifests/{tag}", body, **{"Content-Type": MANIFEST})


def test_export_refuses_to_overwrite_a_tag_that_holds_something_else(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "EncUpper", "s1", checkpoint_dir, "1.0.0")
    repo = f"{oci_registry.host}/models/encoder"
    assert (
        cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry).exit_code == 0
    )
    before = snapshot(registry)
    mark = oci_registry.mark()

    # Another artifact into encoder's repository: refused before any blob moves.
    upper = cli(
        "export", "EncUpper@v1.0.0", "--oci", f"{repo}:v1.0.0", "--plain-http", cwd=registry
    )
    assert upper.exit_code == 2, upper.stderr
    assert "another artifact" in upper.stderr and "--force" in upper.stderr
    assert oci_registry.uploads()[mark:] == []
    assert title_at(f"{repo}:v1.0.0") == title_at(f"{repo}:production") == "encoder@v1.0.0"
    assert snapshot(registry) == before

    # The fleet's production moves with git only: v1.1.0 holds it, v1.0.0 may not take it back.
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    assert (
        cli("export", "encoder@v1.1.0", "--oci", repo, "--plain-http", cwd=registry).exit_code == 0
    )
    for force in ([], ["--force"]):
        back = cli("export", "encoder@v1.0.0", "--oci", f"{repo}:production", "--plain-http",
                   *force, cwd=registry)  # fmt: skip
        assert back.exit_code == 2, back.stderr
        assert "does not hold production" in back.stderr
    assert title_at(f"{repo}:production") == "encoder@v1.1.0"

    # Another registry's encoder v1.0.0 (other bytes) is refused, and taken with --force.
    other = tmp_path / "rebuilt"
    init_registry(other)
    release(other, "encoder", "s9", checkpoint_dir, "1.0.0")
    mark = oci_registry.mark()
    rebuilt = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=other)
    assert rebuilt.exit_code == 2, rebuilt.stderr
    assert "version 1.0.0 with other bytes" in rebuilt.stderr
    assert oci_registry.uploads()[mark:] == []
    forced = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", "--force", cwd=other)
    assert forced.exit_code == 0, forced.stderr


def test_a_consumer_checks_the_manifest_against_its_config_before_any_layer(
    registry: Path,
    checkpoint_dir: Path,
    oci_registry: OciRegistry,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    host, repo = oci_registry.host, "consumers/swapped"
    assert cli("export", "encoder@v1.0.0", "--oci", f"{host}/{repo}", "--plain-http",
               cwd=registry).exit_code == 0  # fmt: skip
    monkeypatch.setenv("ARTREG_OCI_PLAIN_HTTP", "1")
    url = f"oci://{host}/{repo}"
    good = manifest_doc(host, repo, "production")
    by_path = {la["annotations"]["org.cncf.model.filepath"]: la for la in good["layers"]}

    # The weight layer re-pointed at another blob the registry holds (README.md's bytes);
    # the config's diff_ids still name the real weights.
    swapped = json.loads(json.dumps(good))
    for layer in swapped["layers"]:
        if layer["annotations"]["org.cncf.model.filepath"] == "model.pt":
            layer["digest"], layer["size"] = (
                by_path["README.md"]["digest"],
                by_path["README.md"]["size"],
            )
    put_manifest(host, repo, "production", swapped)
    out = tmp_path / "out"
    refused = cli("get", url, "encoder", "-o", str(out), cwd=tmp_path)
    assert refused.exit_code == 1, refused.stderr
    assert "modelfs.diff_ids" in refused.stderr and "model.pt" in refused.stderr
    assert not out.exists()
    assert not (cache / "blobs").exists()

    # A config far larger than a ModelPack config is never read, whatever size the manifest says.
    big = put_blob(host, repo, b"{" + b" " * (2 << 20) + b"}")
    for size in (2 << 20, 100):
        huge = json.loads(json.dumps(good))
        huge["config"]["digest"], huge["config"]["size"] = big, size
        put_manifest(host, repo, "production", huge)
        refused = cli("get", url, "encoder", "-o", str(out), cwd=tmp_path)
        assert refused.exit_code == 1, refused.stderr
        assert "1048576 B" in refused.stderr
        assert not out.exists()

    # A trusted-key list naming no key does not switch the signature requirement off.
    put_manifest(host, repo, "production", good)
    monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", ":")
    refused = cli("get", url, "encoder", "-o", str(out), cwd=tmp_path)
    assert refused.exit_code == 2, refused.stderr
    assert "ARTREG_OCI_TRUSTED_KEYS" in refused.stderr
    monkeypatch.delenv("ARTREG_OCI_TRUSTED_KEYS")
    assert cli("get", url, "encoder", "-o", str(out), cwd=tmp_path).exit_code == 0
    assert (out / "model.pt").read_bytes() == (
        registry / "artifacts/production/encoder/v1.0.0/model.pt"
    ).read_bytes()


@pytest.mark.parametrize(
    ("where", "text", "field"),
    [
        ("auth-file", "not json{", "not a readable JSON"),
        ("auth-file", '{"auths":[1,2]}', "field auths"),
        ("docker", '{"auths":"oops"}', "field auths"),
        ("docker", "[]", "not a JSON object"),
        ("docker", '{"auths":{"h":{"auth":"!!!"}}}', "field auths.h.auth is not base64"),
        ("docker", '{"credsStore":"nonexist"}', "docker-credential-nonexist, which is not"),
    ],
)
def test_a_malformed_credentials_file_is_named_not_a_crash(
    where: str,
    text: str,
    field: str,
    registry: Path,
    checkpoint_dir: Path,
    oci_registry: OciRegistry,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    if where == "docker":
        path = isolated_env / ".docker/config.json"
        path.parent.mkdir()
    else:
        path = tmp_path / "auth.json"
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    path.write_text(text)
    repo = f"{oci_registry.host}/creds/encoder"

    refused = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)

    assert refused.exit_code == 2, refused.stderr
    assert str(path) in refused.stderr and field in refused.stderr


def test_a_layout_is_never_written_into_the_registry_clone_and_keeps_other_refs(
    registry: Path, checkpoint_dir: Path, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "folderm", "s1", checkpoint_dir, "1.0.0")
    before = snapshot(registry)
    for inside in ("artifacts/oci", "ocilay", ".git/ocilay", ".dvc/cache/ocilay"):
        refused = cli("export", "encoder@v1.0.0", "--oci-layout", inside, cwd=registry)
        assert refused.exit_code == 2, (inside, refused.stderr)
        assert "--oci-layout" in refused.stderr
        assert not (registry / inside).exists()
    assert snapshot(registry) == before

    out = tmp_path / "layout"
    first = cli("export", "folderm@v1.0.0", "--oci-layout", str(out), cwd=registry)
    assert first.exit_code == 0, first.stderr
    assert "blobs written" in first.stdout and "0 blobs" not in first.stdout
    # encoder's v1.0.0 would take folderm's ref: refused, and folderm's ref stays.
    clash = cli("export", "encoder@v1.0.0", "--oci-layout", str(out), cwd=registry)
    assert clash.exit_code == 2 and "another artifact" in clash.stderr
    release(registry, "folderm", "s2", checkpoint_dir, "1.1.0")
    second = cli("export", "folderm@v1.1.0", "--oci-layout", str(out), cwd=registry)
    assert second.exit_code == 0, second.stderr
    refs = [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in json.loads((out / "index.json").read_text())["manifests"]
    ]
    assert sorted(refs) == ["v1.0.0", "v1.1.0"]
    assert title_at_layout(out, "v1.0.0") == "folderm@v1.0.0"


def title_at_layout(out: Path, ref: str) -> str:
    raw = skopeo("inspect", "--raw", f"oci:{out}:{ref}").stdout
    notes = json.loads(raw)["annotations"]
    return f"{notes['org.opencontainers.image.title']}@v{notes['org.opencontainers.image.version']}"


def test_all_production_checks_every_name_first_and_reports_each_artifact(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, cli
) -> None:
    release(registry, "alpha", "s1", checkpoint_dir, "1.0.0")
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "x_-y", "s1", checkpoint_dir, "1.0.0")
    prefix = f"{oci_registry.host}/fleet"
    mark = oci_registry.mark()

    named = cli("export", "--all-production", "--oci", prefix, "--plain-http", cwd=registry)

    assert named.exit_code == 2, named.stderr
    assert "x_-y" in named.stderr and "OCI repository name" in named.stderr
    assert oci_registry.uploads()[mark:] == []

    # alpha's card altered after release: alpha fails, encoder still lands and is printed.
    cli("deprecate", "x_-y", cwd=registry)
    card = registry / "artifacts/production/alpha/v1.0.0/README.md"
    flip_byte(card)
    done = cli("export", "--all-production", "--oci", prefix, "--plain-http", cwd=registry)
    assert done.exit_code == 1, done.stderr
    assert "encoder@v1.0.0 ->" in done.stdout
    assert "alpha: " in done.stderr and "README.md" in done.stderr
    assert title_at(f"{prefix}/encoder:production") == "encoder@v1.0.0"


def test_a_version_tag_never_names_another_version(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    repo = f"{oci_registry.host}/pinned/encoder"
    assert (
        cli(
            "export", "encoder@v1.0.0", "--oci", f"{repo}:v1.0.0", "--plain-http", cwd=registry
        ).exit_code
        == 0
    )
    assert (
        cli(
            "export", "encoder@v1.0.0", "--oci", f"{repo}:stable", "--plain-http", cwd=registry
        ).exit_code
        == 0
    )
    mark = oci_registry.mark()

    # v1.1.0 under v1.0.0's tag: refused before any blob moves, even with --force.
    for force in ([], ["--force"]):
        lie = cli("export", "encoder@v1.1.0", "--oci", f"{repo}:v1.0.0", "--plain-http",
                  *force, cwd=registry)  # fmt: skip
        assert lie.exit_code == 2, lie.stderr
        assert "v1.0.0" in lie.stderr and "v1.1.0" in lie.stderr
    assert oci_registry.uploads()[mark:] == []
    assert title_at(f"{repo}:v1.0.0") == "encoder@v1.0.0"

    # A tag holding another version of encoder moves only with --force.
    moved = cli("export", "encoder@v1.1.0", "--oci", f"{repo}:stable", "--plain-http", cwd=registry)
    assert moved.exit_code == 2, moved.stderr
    assert "version 1.0.0" in moved.stderr and "--force" in moved.stderr
    assert oci_registry.uploads()[mark:] == []
    assert title_at(f"{repo}:stable") == "encoder@v1.0.0"
    forced = cli("export", "encoder@v1.1.0", "--oci", f"{repo}:stable", "--plain-http", "--force",
                 cwd=registry)  # fmt: skip
    assert forced.exit_code == 0, forced.stderr
    assert title_at(f"{repo}:stable") == "encoder@v1.1.0"


def _with_config(host: str, repo: str, doc: dict, change) -> dict:  # type: ignore[type-arg,no-untyped-def]
    """`doc` with its config blob rewritten by `change` (pushed, so the registry serves it)."""
    config = json.loads(_http("GET", f"http://{host}/v2/{repo}/blobs/{doc['config']['digest']}"))
    change(config)
    raw = json.dumps(config).encode()
    doc = json.loads(json.dumps(doc))
    doc["config"]["digest"], doc["config"]["size"] = put_blob(host, repo, raw), len(raw)
    return doc


def test_a_consumer_holds_every_layer_to_the_release_manifest(
    registry: Path,
    checkpoint_dir: Path,
    oci_registry: OciRegistry,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    host, repo = oci_registry.host, "consumers/listed"
    assert cli("export", "encoder@v1.0.0", "--oci", f"{host}/{repo}", "--plain-http",
               cwd=registry).exit_code == 0  # fmt: skip
    monkeypatch.setenv("ARTREG_OCI_PLAIN_HTTP", "1")
    url = f"oci://{host}/{repo}"
    good = manifest_doc(host, repo, "production")
    out = tmp_path / "out"

    # The weight's and README's paths swapped, the config's diff_ids reordered to match: the
    # README's text would be written as model.pt.
    swapped = json.loads(json.dumps(good))
    swapped["layers"].reverse()
    paths = {la["annotations"]["org.cncf.model.filepath"]: la for la in swapped["layers"]}
    for rel, other in (("model.pt", "README.md"), ("README.md", "model.pt")):
        paths[rel]["annotations"]["org.cncf.model.filepath"] = other
        paths[rel]["annotations"]["org.opencontainers.image.title"] = other

    def reorder(config: dict) -> None:  # type: ignore[type-arg]
        config["modelfs"]["diff_ids"] = [la["digest"] for la in swapped["layers"]]

    put_manifest(host, repo, "production", _with_config(host, repo, swapped, reorder))
    refused = cli("get", url, "encoder", "-o", str(out), cwd=tmp_path)
    assert refused.exit_code == 1, refused.stderr
    assert "manifest.json records" in refused.stderr
    assert "README.md" in refused.stderr or "model.pt" in refused.stderr
    assert not out.exists() and not (cache / "blobs").exists()

    # v1.0.0 relabelled 2.0.0 in its annotations and config, under tag v2.0.0.
    def relabel(config: dict) -> None:  # type: ignore[type-arg]
        config["descriptor"]["version"] = "2.0.0"

    lie = _with_config(host, repo, good, relabel)
    lie["annotations"]["org.opencontainers.image.version"] = "2.0.0"
    put_manifest(host, repo, "v2.0.0", lie)
    refused = cli("get", url, "encoder@v2.0.0", "-o", str(out), cwd=tmp_path)
    assert refused.exit_code == 1, refused.stderr
    assert "manifest.json: names 'encoder' 'v1.0.0'" in refused.stderr
    assert not out.exists()

    # A config.json layer its release never had.
    added = json.loads(json.dumps(good))
    data = b'{"auto_map":{"AutoModel":"evil.Model"}}'
    added["layers"].append(
        {
            "mediaType": "application/vnd.cncf.model.weight.config.v1.raw",
            "digest": put_blob(host, repo, data),
            "size": len(data),
            "annotations": {"org.cncf.model.filepath": "config.json"},
        }
    )

    def extend(config: dict) -> None:  # type: ignore[type-arg]
        config["modelfs"]["diff_ids"] = [la["digest"] for la in added["layers"]]

    put_manifest(host, repo, "production", _with_config(host, repo, added, extend))
    refused = cli("get", url, "encoder", "-o", str(out), cwd=tmp_path)
    assert refused.exit_code == 1, refused.stderr
    assert "layer config.json is not a file its release's manifest.json lists" in refused.stderr
    assert not out.exists()

    put_manifest(host, repo, "production", good)
    assert cli("get", url, "encoder", "-o", str(out), cwd=tmp_path).exit_code == 0
    assert not (out / "manifest.json").exists()  # what the layers were checked against only


def test_a_required_signature_covers_every_weight_and_configuration_layer(
    registry: Path,
    checkpoint_dir: Path,
    oci_registry: OciRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    from helpers.keys import make_key

    private, public = make_key(tmp_path)
    from artreg.services.register import register_raw
    from artreg.services.release import promote_to_production
    from artreg.services.validate import promote_to_validated

    from helpers import EXAMPLES, RELEASE_INPUTS

    register_raw(registry, "encoder", "s1", checkpoint_dir)
    results = EXAMPLES / "validation_results.json"
    vid = promote_to_validated(registry, "encoder", "s1", "best", results).id
    promote_to_production(
        registry, "encoder", vid, "1.0.0", **RELEASE_INPUTS, sign_key=str(private)
    )
    host, repo = oci_registry.host, "signed/covered"
    assert cli("export", "encoder@v1.0.0", "--oci", f"{host}/{repo}", "--plain-http",
               cwd=registry).exit_code == 0  # fmt: skip
    good = manifest_doc(host, repo, "production")
    raw_good = _http("GET", f"http://{host}/v2/{repo}/manifests/production", Accept=MANIFEST)
    genuine = f"sha256:{hashlib.sha256(raw_good).hexdigest()}"
    index = json.loads(
        _http(
            "GET",
            f"http://{host}/v2/{repo}/manifests/sha256-{genuine[7:]}",
            Accept="application/vnd.oci.image.index.v1+json",
        )
    )
    referrer = json.loads(
        _http(
            "GET",
            f"http://{host}/v2/{repo}/manifests/{index['manifests'][0]['digest']}",
            Accept=MANIFEST,
        )
    )

    # A config.json beside the model, listed in a rewritten manifest.json (which is not
    # signed), with the genuine signature re-attached to the forged manifest.
    data = b'{"auto_map":{"AutoModel":"evil.Model"},"model_type":"evil"}'
    forged = json.loads(json.dumps(good))
    by_path = {la["annotations"]["org.cncf.model.filepath"]: la for la in forged["layers"]}
    listing = json.loads(
        _http("GET", f"http://{host}/v2/{repo}/blobs/{by_path['manifest.json']['digest']}")
    )
    listing["files"]["config.json"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    new_listing = json.dumps(listing).encode()
    by_path["manifest.json"]["digest"] = put_blob(host, repo, new_listing)
    by_path["manifest.json"]["size"] = len(new_listing)
    forged["layers"].append(
        {
            "mediaType": "application/vnd.cncf.model.doc.v1.raw",  # even labelled as a doc
            "digest": put_blob(host, repo, data),
            "size": len(data),
            "annotations": {"org.cncf.model.filepath": "config.json"},
        }
    )

    def extend(config: dict) -> None:  # type: ignore[type-arg]
        config["modelfs"]["diff_ids"] = [la["digest"] for la in forged["layers"]]

    forged = _with_config(host, repo, forged, extend)
    body = json.dumps(forged).encode()
    put_manifest(host, repo, "production", forged)
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    referrer["subject"] = {"mediaType": MANIFEST, "digest": digest, "size": len(body)}
    ref_body = json.dumps(referrer).encode()
    put_manifest(host, repo, "forged-sig", referrer)
    index["manifests"][0]["digest"] = f"sha256:{hashlib.sha256(ref_body).hexdigest()}"
    index["manifests"][0]["size"] = len(ref_body)
    _http(
        "PUT",
        f"http://{host}/v2/{repo}/manifests/sha256-{digest[7:]}",
        json.dumps(index).encode(),
        **{"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )

    monkeypatch.setenv("ARTREG_OCI_PLAIN_HTTP", "1")
    monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", str(public))
    out = tmp_path / "out"
    refused = cli("get", f"oci://{host}/{repo}", "encoder", "-o", str(out), cwd=tmp_path)
    assert refused.exit_code == 1, refused.stderr
    assert "config.json is" in refused.stderr and "signature does not cover" in refused.stderr
    assert not out.exists()

    # The genuine manifest (its own bytes, which the signature's subject names) is served.
    _http("PUT", f"http://{host}/v2/{repo}/manifests/production", raw_good,
          **{"Content-Type": MANIFEST})  # fmt: skip
    served = cli("get", f"oci://{host}/{repo}", "encoder", "-o", str(out), cwd=tmp_path)
    assert served.exit_code == 0, served.stderr


def test_commands_that_read_a_git_registry_name_what_an_oci_repository_answers(
    tmp_path: Path, cli
) -> None:
    url = "oci://127.0.0.1:9/models/encoder"  # refused before anything is asked of it
    for args in (["history", "encoder"], ["log", "encoder"], ["verify"]):
        refused = cli(*args, "--repo", url, cwd=tmp_path)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert url in refused.stderr and "an OCI repository answers `get`" in refused.stderr
    pulled = cli("pull", "encoder", "--repo", url, cwd=tmp_path)
    assert pulled.exit_code == 2, pulled.stderr
    assert f"{url} is not a clone" in pulled.stderr


def test_exporting_another_version_after_a_rollback_says_production_did_not_move(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, cli
) -> None:
    from artreg.services.assign import rollback

    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    release(registry, "encoder", "s2", checkpoint_dir, "1.1.0")
    repo = f"{oci_registry.host}/rolled/encoder"
    assert (
        cli("export", "encoder@v1.1.0", "--oci", repo, "--plain-http", cwd=registry).exit_code == 0
    )
    rollback(registry, "encoder", reason="1.1.0 regressed on the eval set")

    again = cli("export", "encoder@v1.1.0", "--oci", repo, "--plain-http", cwd=registry)

    assert again.exit_code == 0, again.stderr
    assert "production of oci://" in again.stdout and "still names v1.1.0" in again.stdout
    assert "git's production is v1.0.0" in again.stdout
    assert "--all-production" in again.stdout and "encoder@v1.0.0" in again.stdout
    assert title_at(f"{repo}:production") == "encoder@v1.1.0"
    moved = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)
    assert moved.exit_code == 0, moved.stderr
    assert "note:" not in moved.stdout
    assert title_at(f"{repo}:production") == "encoder@v1.0.0"
