"""Releases as CNCF ModelPack OCI artifacts, against a real registry: Debian's `docker-registry`
(the distribution registry) on 127.0.0.1, with Debian's `skopeo` as the independent oracle that
reads what `artreg export` wrote, and consumers reading `oci://` references through the cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from artreg import get_artifact_path, verify_artifact
from artreg.errors import IntegrityError, NotFoundError
from artreg.services.init import init_registry

from helpers import RELEASE_ARGS, flip_byte, free_port, release, snapshot, tiny_safetensors
from helpers.keys import make_key
from helpers.ociregistry import OciRegistry, docker_registry, skopeo

WEIGHT = "application/vnd.cncf.model.weight.v1.raw"
WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw"
DOC = "application/vnd.cncf.model.doc.v1.raw"
MODEL_ARTIFACT = "application/vnd.cncf.model.manifest.v1+json"
MODEL_CONFIG = "application/vnd.cncf.model.config.v1+json"


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """One docker-registry for the session (each test pushes to repositories of its own)."""
    with docker_registry(tmp_path_factory.mktemp("oci-registry")) as served:
        yield served


@pytest.fixture
def plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consumers talk HTTP to the loopback registry."""
    monkeypatch.setenv("ARTREG_OCI_PLAIN_HTTP", "1")


def inspect(*args: str) -> dict:  # type: ignore[type-arg]
    out = skopeo("inspect", "--tls-verify=false", "--raw", *args).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def committed_manifest(root: Path, folder: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return json.loads((root / folder / "manifest.json").read_text())["files"]  # type: ignore[no-any-return]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def four_shards(folder: Path, changed: int | None = None) -> Path:
    """A safetensors model in four shards with its index and config; shard `changed` (1-4)
    gets other tensors."""
    weight_map = {}
    for i in range(1, 5):
        name = f"model-{i:05d}-of-00004.safetensors"
        seed = i + (100 if i == changed else 0)
        tiny_safetensors(folder / name, seed, {f"layer{i}.weight": (64, 64)})
        weight_map[f"layer{i}.weight"] = name
    index = {"metadata": {"total_size": 4 * 64 * 64 * 4}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 64}))
    return folder


# --- export -----------------------------------------------------------------------------------


def test_export_pushes_a_modelpack_artifact_that_skopeo_reads_and_copies(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, tmp_path: Path, cli
) -> None:
    commit = release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    repo = f"{oci_registry.host}/models/encoder"
    before = snapshot(registry)

    done = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", "--json", cwd=registry)

    assert done.exit_code == 0, done.stderr
    assert snapshot(registry) == before  # exporting changes nothing in the registry
    result = done.json()[0]  # type: ignore[index]
    assert result["tags"] == ["v1.0.0", "production"]  # v1.0.0 holds production
    manifest = inspect(f"docker://{repo}:v1.0.0")
    assert manifest["artifactType"] == MODEL_ARTIFACT
    assert manifest["config"]["mediaType"] == MODEL_CONFIG
    notes = manifest["annotations"]
    assert notes["org.opencontainers.image.title"] == "encoder"
    assert notes["org.opencontainers.image.version"] == "1.0.0"
    assert notes["org.opencontainers.image.revision"] == commit
    assert notes["io.artreg.approved-by"] == "rm"
    assert inspect(f"docker://{repo}:production") == manifest
    config = inspect("--config", f"docker://{repo}:v1.0.0")
    assert config["descriptor"]["name"] == "encoder"
    assert config["descriptor"]["revision"] == commit
    assert config["config"]["format"] == "pytorch"
    assert config["modelfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]

    folder = "artifacts/production/encoder/v1.0.0"
    files = committed_manifest(registry, folder)
    by_path = {la["annotations"]["org.cncf.model.filepath"]: la for la in manifest["layers"]}
    # One layer per file the release's manifest lists, and the manifest itself (what a
    # consumer holds every layer to).
    assert set(by_path) == set(files) | {"manifest.json"}
    listing = by_path.pop("manifest.json")
    assert listing["digest"] == f"sha256:{sha256(registry / folder / 'manifest.json')}"
    assert by_path["model.pt"]["mediaType"] == WEIGHT
    assert {by_path[p]["mediaType"] for p in by_path if p != "model.pt"} == {DOC}
    for rel, layer in by_path.items():
        assert layer["digest"] == f"sha256:{files[rel]['sha256']}"

    # skopeo copies the artifact out of the registry; every blob is the file the release lists.
    layout = tmp_path / "copied"
    skopeo(
        "copy",
        "--insecure-policy",
        "--src-tls-verify=false",
        f"docker://{repo}:v1.0.0",
        f"oci:{layout}:v1.0.0",
    )
    for rel, entry in files.items():
        blob = layout / "blobs" / "sha256" / by_path[rel]["digest"].removeprefix("sha256:")
        assert sha256(blob) == entry["sha256"], rel
    assert sha256(layout / "blobs/sha256" / by_path["model.pt"]["digest"][7:]) == sha256(
        registry / folder / "model.pt"
    )

    # Exported again: the registry has every blob, so none is uploaded twice.
    mark = oci_registry.mark()
    again = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", "--json", cwd=registry)
    assert again.exit_code == 0, again.stderr
    assert oci_registry.uploads()[mark:] == []
    assert again.json()[0]["uploaded"] == 0  # type: ignore[index]
    assert again.json()[0]["digest"] == result["digest"]  # type: ignore[index]


def test_an_oci_layout_export_is_readable_by_skopeo(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    out = tmp_path / "encoder-oci"

    done = cli("export", "encoder@v1.0.0", "--oci-layout", str(out), cwd=registry)

    assert done.exit_code == 0, done.stderr
    manifest = inspect(f"oci:{out}:v1.0.0")
    assert manifest["artifactType"] == MODEL_ARTIFACT
    files = committed_manifest(registry, "artifacts/production/encoder/v1.0.0")
    listing = sha256(registry / "artifacts/production/encoder/v1.0.0/manifest.json")
    assert {la["digest"][7:] for la in manifest["layers"]} == {
        *(f["sha256"] for f in files.values()),
        listing,
    }
    # skopeo copies the layout into a registry, checking every blob's digest as it goes.
    repo = f"{oci_registry.host}/layouts/encoder"
    skopeo(
        "copy",
        "--insecure-policy",
        "--dest-tls-verify=false",
        f"oci:{out}:v1.0.0",
        f"docker://{repo}:v1.0.0",
    )
    assert inspect(f"docker://{repo}:v1.0.0") == manifest


def test_a_file_altered_in_the_work_tree_is_refused_and_nothing_is_written(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, tmp_path: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    card = registry / "artifacts/production/encoder/v1.0.0/README.md"
    card.write_text(card.read_text() + "edited\n")
    out = tmp_path / "layout"

    refused = cli("export", "encoder@v1.0.0", "--oci-layout", str(out), cwd=registry)

    assert refused.exit_code == 1
    assert "README.md" in refused.stderr
    assert "index.json" not in {p.name for p in out.rglob("*")}
    # The registry checks the digest of what it receives: no manifest, no tag.
    repo = f"{oci_registry.host}/altered/encoder"
    pushed = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)
    assert pushed.exit_code == 1
    assert "README.md" in pushed.stderr
    assert skopeo(
        "inspect", "--tls-verify=false", f"docker://{repo}:v1.0.0", check=False
    ).returncode


def test_a_new_version_with_one_of_four_shards_changed_uploads_that_shard_only(
    registry: Path,
    oci_registry: OciRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    # Shards larger than the chunk size go up in chunks (PATCH ... PUT), as big models do.
    monkeypatch.setattr("artreg.adapters.oci.CHUNK", 4096)
    repo = f"{oci_registry.host}/models/sharded"
    v1 = four_shards(tmp_path / "v1")
    assert (
        cli(
            "release", "sharded", str(v1), "--version", "1.0.0", *RELEASE_ARGS, cwd=registry
        ).exit_code
        == 0
    )
    first = cli("export", "sharded@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)
    assert first.exit_code == 0, first.stderr
    v2 = four_shards(tmp_path / "v2", changed=3)
    assert (
        cli(
            "release", "sharded", str(v2), "--version", "1.1.0", *RELEASE_ARGS, cwd=registry
        ).exit_code
        == 0
    )
    mark = oci_registry.mark()

    second = cli("export", "sharded@v1.1.0", "--oci", repo, "--plain-http", cwd=registry)

    assert second.exit_code == 0, second.stderr
    manifest = inspect(f"docker://{repo}:v1.1.0")
    kinds = {la["digest"][7:]: la for la in manifest["layers"]}
    weights = [
        d for d in oci_registry.uploads()[mark:] if kinds.get(d, {}).get("mediaType") == WEIGHT
    ]
    assert weights == [sha256(v2 / "model-00003-of-00004.safetensors")]
    assert len([la for la in manifest["layers"] if la["mediaType"] == WEIGHT]) == 4
    by_path = {la["annotations"]["org.cncf.model.filepath"]: la for la in manifest["layers"]}
    assert by_path["model/config.json"]["mediaType"] == WEIGHT_CONFIG
    assert by_path["model/model.safetensors.index.json"]["mediaType"] == WEIGHT_CONFIG
    # production moved with the release that holds it
    assert inspect(f"docker://{repo}:production") == manifest
    assert inspect(f"docker://{repo}:v1.0.0") != manifest


def test_the_model_signature_travels_as_a_referrer_found_by_the_tag_schema(
    registry: Path,
    checkpoint_dir: Path,
    oci_registry: OciRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    private, public = make_key(tmp_path / "secrets")
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")  # unsigned 1.0.0 first
    from artreg.services.register import register_raw

    register_raw(registry, "encoder", "s2", checkpoint_dir)
    vid = cli(
        "promote",
        "encoder",
        "s2",
        "--to",
        "validated",
        "--checkpoint",
        "best",
        "--results",
        str(Path(__file__).parents[2] / "examples/validation_results.json"),
        "--json",
        cwd=registry,
    ).json()["id"]  # type: ignore[index]
    signed = cli(
        "promote",
        "encoder",
        vid,
        "--to",
        "production",
        "--version",
        "1.1.0",
        *RELEASE_ARGS,
        "--sign-model",
        str(private),
        cwd=registry,
    )
    assert signed.exit_code == 0, signed.stderr
    repo = f"{oci_registry.host}/signed/encoder"

    done = cli("export", "encoder@v1.1.0", "--oci", repo, "--plain-http", "--json", cwd=registry)

    assert done.exit_code == 0, done.stderr
    digest = done.json()[0]["digest"]  # type: ignore[index]
    # The referrers tag schema: the index tagged sha256-<hex> lists the signature's manifest.
    index = inspect(f"docker://{repo}:sha256-{digest[7:]}")
    assert [m["artifactType"] for m in index["manifests"]] == [
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    ]
    referrer = inspect(f"docker://{repo}@{index['manifests'][0]['digest']}")
    assert referrer["subject"]["digest"] == digest
    sig_blob = referrer["layers"][0]["digest"]
    url = f"http://{oci_registry.host}/v2/signed/encoder/blobs/{sig_blob}"
    with urllib.request.urlopen(url) as resp:
        got = resp.read()
    assert got == (registry / "artifacts/production/encoder/v1.1.0/model.sig").read_bytes()

    # A consumer that trusts the release key gets the model once the referrer verifies; one
    # trusting another key, or asking for an unsigned version, is refused before any layer.
    url = f"oci://{repo}"
    monkeypatch.setenv("ARTREG_OCI_PLAIN_HTTP", "1")
    monkeypatch.setenv("ARTREG_CACHE", str(tmp_path / "consumer-cache"))
    monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", str(public))
    model = registry / "artifacts/production/encoder/v1.1.0/model.pt"
    assert get_artifact_path("encoder", repo=url).read_bytes() == model.read_bytes()
    _, stranger = make_key(tmp_path / "stranger")
    monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", str(stranger))
    monkeypatch.setenv("ARTREG_CACHE", str(tmp_path / "cold-cache"))
    with pytest.raises(IntegrityError, match="ARTREG_OCI_TRUSTED_KEYS does not list"):
        get_artifact_path("encoder", repo=url)
    assert not (tmp_path / "cold-cache" / "blobs").exists()
    monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", str(public))
    cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)
    refused = cli("get", url, "encoder@v1.0.0", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert refused.exit_code == 1
    assert "no model signature" in refused.stderr


def test_all_production_exports_each_production_version_to_its_repository(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    prefix = f"{oci_registry.host}/fleet"

    done = cli(
        "export", "--all-production", "--oci", prefix, "--plain-http", "--json", cwd=registry
    )

    assert done.exit_code == 0, done.stderr
    production = inspect(f"docker://{prefix}/encoder:production")
    assert production["annotations"]["org.opencontainers.image.version"] == "1.0.0"

    # The release's Kubernetes examples name it by digest: filled in with the registry prefix
    # and the digest export printed, each reference resolves to the exported manifest.
    digest = done.json()[0]["digest"]  # type: ignore[index]
    kube = registry / "artifacts/production/encoder/v1.0.0/deployment/kubernetes"

    def filled(text: str) -> str:
        return text.replace("REGISTRY/REPOSITORY", prefix).replace("sha256:MANIFEST_DIGEST", digest)

    pod = yaml.safe_load(filled((kube / "image-volume-pod.yaml").read_text()))
    volume = pod["spec"]["volumes"][0]["image"]["reference"]
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["name"] == "model"
    assert inspect(f"docker://{volume}") == production
    kserve = yaml.safe_load(filled((kube / "kserve-inferenceservice.yaml").read_text()))
    model = kserve["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "pytorch"}
    assert model["storageUri"] == f"oci://{volume}"


def test_bad_references_are_refused_before_anything_moves(
    registry: Path, checkpoint_dir: Path, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    before = snapshot(registry)
    for args, words in [
        (["--oci", "just-a-name"], "not REGISTRY/REPOSITORY"),
        (["--oci", "127.0.0.1:1/Models/Encoder"], "lower case"),
        (["--oci", "127.0.0.1:99999/m"], "not a registry HOST[:PORT]"),
        (["--oci", "http://127.0.0.1:5077/x"], "drop the scheme"),
        (["--oci", "127.0.0.1:1/m:bad tag"], "not an OCI tag"),
        (["--oci", "127.0.0.1:1/m:-x"], "not an OCI tag"),
        ([], "--oci"),
    ]:
        refused = cli("export", "encoder@v1.0.0", *args, cwd=registry)
        assert refused.exit_code == 2, refused.stderr
        assert words in refused.stderr
    assert cli("export", "encoder@v9.9.9", "--oci", "h:1/x", cwd=registry).exit_code == 2
    assert snapshot(registry) == before


def test_an_unreachable_registry_is_retryable_and_names_the_fix(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, cli
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    before = snapshot(registry)
    closed = cli("export", "encoder@v1.0.0", "--oci", f"127.0.0.1:{free_port()}/x", "--plain-http",
                 cwd=registry)  # fmt: skip
    assert closed.exit_code == 4
    assert "did not answer" in closed.stderr
    # A registry without TLS, asked over HTTPS: the message says how to talk plain HTTP to it.
    tls = cli("export", "encoder@v1.0.0", "--oci", f"{oci_registry.host}/x", cwd=registry)
    assert tls.exit_code == 2, tls.stderr  # not retryable: the command line needs the flag
    assert "--plain-http" in tls.stderr
    assert snapshot(registry) == before


def test_credentials_come_from_the_docker_configuration_or_registry_auth_file(
    registry: Path,
    checkpoint_dir: Path,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,
) -> None:
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    users = tmp_path / "htpasswd"
    users.write_text(f"ci:{bcrypt('s3cret')}\n")
    token = base64.b64encode(b"ci:s3cret").decode()
    with docker_registry(tmp_path / "private", users) as private:
        repo = f"{private.host}/models/encoder"
        before = snapshot(registry)
        refused = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)
        assert refused.exit_code == 2
        assert "refused the credentials" in refused.stderr
        assert "docker login" in refused.stderr

        # `docker login` writes ~/.docker/config.json: export reads it.
        (isolated_env / ".docker").mkdir()
        (isolated_env / ".docker/config.json").write_text(
            json.dumps({"auths": {private.host: {"auth": token}}})
        )
        done = cli("export", "encoder@v1.0.0", "--oci", repo, "--plain-http", cwd=registry)
        assert done.exit_code == 0, done.stderr
        assert snapshot(registry) == before  # no credential lands in the repository

        # A consumer with podman's/skopeo's REGISTRY_AUTH_FILE instead.
        (isolated_env / ".docker/config.json").unlink()
        auth_file = tmp_path / "auth.json"
        auth_file.write_text(json.dumps({"auths": {private.host: {"auth": token}}}))
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
        monkeypatch.setenv("ARTREG_OCI_PLAIN_HTTP", "1")
        monkeypatch.setenv("ARTREG_CACHE", str(tmp_path / "cache"))
        path = get_artifact_path("encoder", repo=f"oci://{repo}")
        model = registry / "artifacts/production/encoder/v1.0.0/model.pt"
        assert path.read_bytes() == model.read_bytes()


def bcrypt(password: str) -> str:
    """A bcrypt hash for docker-registry's htpasswd file (glibc's crypt)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


# --- consumers ----------------------------------------------------------------------------------


@pytest.fixture
def exported(
    registry: Path, checkpoint_dir: Path, oci_registry: OciRegistry, request: pytest.FixtureRequest
) -> tuple[Path, str]:
    """encoder v1.0.0 released and exported to a repository of this test's own."""
    release(registry, "encoder", "s1", checkpoint_dir, "1.0.0")
    repo = f"{oci_registry.host}/consumers/{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]}"
    from artreg.services.oci_export import export

    export(registry, "encoder@v1.0.0", oci=repo, insecure=True)
    return registry, f"oci://{repo}"


def test_a_consumer_reads_an_oci_reference_verified_through_the_cache(
    exported: tuple[Path, str], cache: Path, plain_http: None, tmp_path: Path, cli
) -> None:
    root, url = exported
    model = root / "artifacts/production/encoder/v1.0.0/model.pt"

    path = get_artifact_path("encoder", repo=url)

    assert path.read_bytes() == model.read_bytes()
    assert cache in path.parents
    assert get_artifact_path("encoder", version="1.0.0", repo=url) == path
    out = tmp_path / "served"
    got = cli("get", url, "encoder@v1.0.0", "-o", str(out), cwd=tmp_path)
    assert got.exit_code == 0, got.stderr
    assert (out / "model.pt").read_bytes() == model.read_bytes()
    # `show` answers from the manifest alone; what needs a git registry is refused by name.
    shown = cli("show", "encoder@v1.0.0", "--repo", url, "--json", cwd=tmp_path)
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["folder"] == "artifacts/production/encoder/v1.0.0"  # type: ignore[index]
    unnamed = cli("get", url, "-o", str(tmp_path / "unnamed"), cwd=tmp_path)
    assert unnamed.exit_code == 2 and "name the artifact too" in unnamed.stderr
    listed = cli("list", "--repo", url, cwd=tmp_path)
    assert listed.exit_code == 2
    assert "an OCI repository answers `get`" in listed.stderr


def test_a_tampered_blob_is_refused_and_nothing_is_served(
    exported: tuple[Path, str],
    cache: Path,
    plain_http: None,
    oci_registry: OciRegistry,
    tmp_path: Path,
    cli,
) -> None:
    root, url = exported
    digest = sha256(root / "artifacts/production/encoder/v1.0.0/model.pt")
    data = oci_registry.storage / "docker/registry/v2/blobs/sha256" / digest[:2] / digest / "data"
    original = data.read_bytes()
    flip_byte(data)
    try:
        with pytest.raises(IntegrityError, match=digest):
            get_artifact_path("encoder", repo=url)
        out = tmp_path / "served"
        refused = cli("get", url, "encoder", "-o", str(out), cwd=tmp_path)
        assert refused.exit_code == 1
        assert digest in refused.stderr
        assert not (out / "model.pt").exists()
        assert not list((cache / "blobs").rglob(digest[2:]))
    finally:
        data.write_bytes(original)


def test_a_version_re_pointed_to_other_bytes_is_refused_unless_accepted(
    exported: tuple[Path, str],
    cache: Path,
    plain_http: None,
    checkpoint_dir: Path,
    tmp_path: Path,
    cli,
) -> None:
    root, url = exported
    first = get_artifact_path("encoder", version="1.0.0", repo=url)
    # Another registry (rebuilt, say) releases its own encoder v1.0.0 to the same repository.
    other = tmp_path / "rebuilt"
    init_registry(other)
    release(other, "encoder", "s9", checkpoint_dir, "1.0.0")
    # Refused unless forced: the tag holds this version with other bytes.
    assert cli("export", "encoder@v1.0.0", "--oci", url.removeprefix("oci://"),
               "--plain-http", cwd=other).exit_code == 2  # fmt: skip
    assert cli("export", "encoder@v1.0.0", "--oci", url.removeprefix("oci://"),
               "--plain-http", "--force", cwd=other).exit_code == 0  # fmt: skip

    with pytest.raises(IntegrityError, match=r"encoder@v1\.0\.0 moved"):
        get_artifact_path("encoder", version="1.0.0", repo=url)
    refused = cli("get", url, "encoder@v1.0.0", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert refused.exit_code == 1
    assert "--accept-moved-tag" in refused.stderr
    assert (
        first.read_bytes() == (root / "artifacts/production/encoder/v1.0.0/model.pt").read_bytes()
    )
    taken = get_artifact_path("encoder", version="1.0.0", repo=url, accept_moved_tag=True)
    assert taken != first


def test_a_manifest_titled_with_another_name_is_refused(
    exported: tuple[Path, str], cache: Path, plain_http: None, tmp_path: Path, cli
) -> None:
    _, url = exported
    with pytest.raises(IntegrityError, match="holds another artifact"):
        get_artifact_path("decoder", repo=url)
    refused = cli("get", url, "decoder", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert refused.exit_code == 1
    assert "'encoder', not 'decoder'" in refused.stderr
    assert not (cache / "blobs").exists()


def test_offline_an_oci_reference_answers_from_the_last_resolution(
    exported: tuple[Path, str],
    cache: Path,
    plain_http: None,
    oci_registry: OciRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cli,
) -> None:
    root, url = exported
    folder = "artifacts/production/encoder/v1.0.0"
    revision = inspect(f"docker://{url.removeprefix('oci://')}:production")["annotations"][
        "org.opencontainers.image.revision"
    ]
    online = cli("get", url, "encoder", "-o", str(tmp_path / "online"), "--json", cwd=tmp_path)
    assert online.exit_code == 0, online.stderr
    found = online.json()
    # What a registry URL answers: the registry, the release commit, its folder, each file.
    assert (found["registry"], found["commit"], found["folder"]) == (url, revision, folder)  # type: ignore[index]
    files = committed_manifest(root, folder)
    served = {rel: f["sha256"] for rel, f in found["files"].items()}  # type: ignore[index]
    assert {rel: served.get(rel) for rel in files} == {rel: f["sha256"] for rel, f in files.items()}
    # The repository loses its production tag: online, the read now fails ...
    repository = url.split("/", 3)[3]
    tags = oci_registry.storage / "docker/registry/v2/repositories" / repository / "_manifests/tags"
    shutil.rmtree(tags / "production")
    with pytest.raises(NotFoundError, match="no such tag"):
        get_artifact_path("encoder", repo=url)

    # ... offline, the cache's last answer and its snapshot serve it, asking nothing.
    monkeypatch.setenv("ARTREG_OFFLINE", "1")
    path = get_artifact_path("encoder", repo=url)
    assert path == Path(found["path"])  # type: ignore[index]
    assert path.read_bytes() == (root / folder / "model.pt").read_bytes()
    out = tmp_path / "offline"
    got = cli("get", url, "encoder", "-o", str(out), "--json", cwd=tmp_path)
    assert got.exit_code == 0, got.stderr
    assert got.json()["commit"] == revision  # type: ignore[index]
    assert (out / "model.pt").read_bytes() == (root / folder / "model.pt").read_bytes()
    assert verify_artifact("encoder", repo=url)  # every byte of the snapshot rehashed
    with pytest.raises(NotFoundError, match="never resolved"):
        get_artifact_path("encoder", version="1.0.0", repo=url)
