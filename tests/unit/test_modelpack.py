"""The ModelPack documents artreg builds and the checks a consumer applies to one it reads."""

from __future__ import annotations

import json

import pytest
import yaml

from artreg.adapters.oci import parse_reference
from artreg.artifacts import modelpack
from artreg.errors import InputError, IntegrityError
from artreg.publishing.deployment import oci_examples, settings

from helpers.modelfiles import gguf_bytes, safetensors_bytes

SHA = "ab" * 32


@pytest.mark.parametrize(
    ("rel", "formats", "head", "expected"),
    [
        ("model.pt", {"model.pt": "pytorch"}, b"", modelpack.WEIGHT),
        ("weights.bin", {}, safetensors_bytes({}, b"")[:16], modelpack.WEIGHT),
        ("model.gguf", {}, gguf_bytes()[:16], modelpack.WEIGHT),
        ("model/config.json", {}, b'{"model_type":', modelpack.WEIGHT_CONFIG),
        ("model/model.safetensors.index.json", {}, b"{", modelpack.WEIGHT_CONFIG),
        ("model/tokenizer.json", {}, b"{", modelpack.WEIGHT_CONFIG),
        ("README.md", {}, b"---\nlicense", modelpack.DOC),
        ("metadata.json", {}, b"{\n", modelpack.DOC),
        ("deployment/kubernetes/service.yaml", {}, b"apiVersion", modelpack.DOC),
    ],
)
def test_each_file_gets_modelpacks_raw_media_type(
    rel: str, formats: dict[str, str], head: bytes, expected: str
) -> None:
    assert modelpack.classify(rel, formats, head) == expected


def _release() -> modelpack.Release:
    return modelpack.Release("encoder", "1.0.0", "c" * 40, "model.pt", approver="rm")


def test_the_same_release_gives_byte_identical_documents() -> None:
    layers = modelpack.layers(
        {"model.pt": (SHA, 10), "README.md": ("cd" * 32, 3)}, {"model.pt": "pytorch"}
    )
    first = modelpack.manifest(_release(), layers, modelpack.config(_release(), layers))
    again = modelpack.manifest(_release(), layers, modelpack.config(_release(), layers))
    assert first.raw == again.raw and first.digest == again.digest
    doc = json.loads(first.raw)
    assert doc["artifactType"] == modelpack.ARTIFACT_TYPE
    assert [la["annotations"][modelpack.FILEPATH] for la in doc["layers"]] == [
        "README.md",
        "model.pt",
    ]
    artifact = modelpack.parse(first.raw, "here", "encoder")
    assert artifact.files == {"model.pt": (SHA, 10), "README.md": ("cd" * 32, 3)}
    assert modelpack.referrers_tag(first.digest) == f"sha256-{first.sha256}"


def _manifest(**changes: object) -> bytes:
    layers = modelpack.layers({"model.pt": (SHA, 10)}, {"model.pt": "pytorch"})
    doc = json.loads(
        modelpack.manifest(_release(), layers, modelpack.config(_release(), layers)).raw
    )
    for key, value in changes.items():
        if key == "filepath":
            doc["layers"][0]["annotations"][modelpack.FILEPATH] = value
        elif key == "version":
            doc["annotations"][modelpack.VERSION] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("raw", "name", "words"),
    [
        (_manifest(), "decoder", "holds another artifact"),
        (
            _manifest(artifactType="application/vnd.oci.image.config.v1+json"),
            "encoder",
            "not a ModelPack",
        ),
        (_manifest(filepath="../../etc/passwd"), "encoder", "not a relative path"),
        (_manifest(filepath="/etc/passwd"), "encoder", "not a relative path"),
        (b"not json", "encoder", "not JSON"),
        (_manifest(annotations=None), "encoder", "holds another artifact"),
        (_manifest(version="../../x"), "encoder", "not a version"),
    ],
)
def test_a_consumer_refuses_a_manifest_it_must_not_use(raw: bytes, name: str, words: str) -> None:
    with pytest.raises(IntegrityError, match=words):
        modelpack.parse(raw, "oci://r/x:production", name)


def test_references_parse_strictly() -> None:
    ref = parse_reference("oci://127.0.0.1:5000/models/encoder:v1.0.0")
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "models/encoder", "v1.0.0")
    assert parse_reference("ghcr.io/acme/encoder").tag is None
    for bad in ("encoder", "ghcr.io/", "ghcr.io/Acme/encoder", "ghcr.io/a/b@sha256:00", "h/x:"):
        with pytest.raises(InputError):
            parse_reference(bad)


def test_the_kubernetes_examples_name_the_configured_repository_by_digest() -> None:
    cfg = settings({"oci_repository": "ghcr.io/acme/models/encoder", "namespace": "ml"})
    files = oci_examples("encoder", "1.0.0", SHA, cfg, "safetensors")
    pod = yaml.safe_load(files["image-volume-pod.yaml"])
    reference = pod["spec"]["volumes"][0]["image"]["reference"]
    assert reference == "ghcr.io/acme/models/encoder@sha256:MANIFEST_DIGEST"
    kserve = yaml.safe_load(files["kserve-inferenceservice.yaml"])
    assert kserve["spec"]["predictor"]["model"]["storageUri"] == f"oci://{reference}"
    assert kserve["spec"]["predictor"]["model"]["modelFormat"] == {"name": "safetensors"}
    assert kserve["metadata"]["namespace"] == "ml"


def test_references_with_a_scheme_a_bad_port_tag_or_repository_name_are_refused() -> None:
    for bad, words in [
        ("http://127.0.0.1:5077/x", "drop the scheme"),
        ("127.0.0.1:99999/m", "not a registry HOST[:PORT]"),
        ("127.0.0.1:5000/m:bad tag", "not an OCI tag"),
        ("127.0.0.1:5000/m:-x", "not an OCI tag"),
        ("127.0.0.1:5000/fleet/x_-y", "not an OCI repository name"),
    ]:
        with pytest.raises(InputError) as refused:
            parse_reference(bad)
        assert words in str(refused.value), bad


def _pack(files: dict[str, tuple[str, int]]) -> tuple[list[modelpack.Layer], bytes, bytes]:
    layers = modelpack.layers(files, {"model.pt": "pytorch"})
    cfg = modelpack.config(_release(), layers)
    return layers, cfg.raw, modelpack.manifest(_release(), layers, cfg).raw


def test_a_consumer_checks_the_layers_against_the_configs_diff_ids() -> None:
    _, cfg, raw = _pack({"model.pt": (SHA, 10), "README.md": ("cd" * 32, 3)})
    artifact = modelpack.parse(raw, "here", "encoder")
    modelpack.check_config(cfg, artifact, "here")  # as exported: accepted
    # The weight layer's digest swapped in the manifest; the config still names the old one.
    doc = json.loads(raw)
    doc["layers"][1]["digest"] = "sha256:" + "ef" * 32
    swapped = modelpack.parse(json.dumps(doc).encode(), "here", "encoder")
    with pytest.raises(
        IntegrityError, match=r"not the config's modelfs.diff_ids \(differ: model.pt"
    ):
        modelpack.check_config(cfg, swapped, "here")
    other = json.loads(cfg)
    other["descriptor"]["version"] = "9.9.9"
    with pytest.raises(IntegrityError, match=r"describes 'encoder' version '9\.9\.9'"):
        modelpack.check_config(json.dumps(other).encode(), artifact, "here")


def test_a_config_larger_than_the_limit_is_refused_unread() -> None:
    _, _, raw = _pack({"model.pt": (SHA, 10)})
    doc = json.loads(raw)
    doc["config"]["size"] = 50 << 20
    with pytest.raises(IntegrityError, match="more than the 1048576 B"):
        modelpack.parse(json.dumps(doc).encode(), "here", "encoder")


def test_overwriting_another_artifact_or_the_same_version_with_other_bytes_is_named() -> None:
    layers, _, raw = _pack({"model.pt": (SHA, 10)})
    assert modelpack.overwrite_conflict(raw, _release(), layers) is None  # the same: fine
    upper = modelpack.Release("EncUpper", "1.0.0", "d" * 40, "model.pt")
    assert "another artifact" in str(modelpack.overwrite_conflict(raw, upper, layers))
    rebuilt = modelpack.layers({"model.pt": ("ef" * 32, 10)}, {"model.pt": "pytorch"})
    assert "other bytes" in str(modelpack.overwrite_conflict(raw, _release(), rebuilt))
    newer = modelpack.Release("encoder", "1.1.0", "e" * 40, "model.pt")
    assert modelpack.overwrite_conflict(raw, newer, rebuilt, moves=True) is None  # production
    # Any other tag holding another version of encoder is named (moved only with --force).
    assert "version 1.0.0, not 1.1.0" in str(modelpack.overwrite_conflict(raw, newer, rebuilt))


def test_an_image_index_at_a_tag_is_named_as_one() -> None:
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": modelpack.MANIFEST_MEDIA_TYPE, "digest": "sha256:" + SHA}],
        }
    ).encode()
    with pytest.raises(IntegrityError, match="an image index, not a ModelPack manifest"):
        modelpack.parse(index, "here", "encoder")
    layers, _, _ = _pack({"model.pt": (SHA, 10)})
    why = modelpack.overwrite_conflict(index, _release(), layers)
    assert why == "it holds an image index, not a ModelPack manifest"
