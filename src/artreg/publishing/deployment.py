"""Deployment files of a production release: a Dockerfile and Kubernetes manifests, model pinned."""

from __future__ import annotations

import json
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "base_image": "python:3.11-slim",
    "port": 8080,
    "replicas": 1,
    "resources": {"cpu": "1", "memory": "2Gi"},
    "env": {},
    "entrypoint": ["python", "-m", "serve"],
    "namespace": "default",
}


def settings(config: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULTS, **(config or {})}
    merged["resources"] = {**DEFAULTS["resources"], **((config or {}).get("resources") or {})}
    return merged


def dockerfile(
    name: str,
    version: str,
    model_file: str,
    sha256: str,
    config: dict[str, Any],
    checksums: str | None = None,
) -> str:
    """A Dockerfile whose build refuses any model whose sha256 is not the released one.

    For a model folder, `model_file` is the folder and `checksums` its sha256sum file, which
    the build checks for every file."""
    cfg = settings(config)
    target = f"/models/{name}/{model_file}"
    env = {
        "MODEL_NAME": name,
        "MODEL_VERSION": version,
        "MODEL_PATH": target,
        "MODEL_SHA256": sha256,
        "PORT": str(cfg["port"]),
        **cfg["env"],
    }
    env_lines = " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in env.items())
    return (
        f"# {name} v{version}: build from the release folder,\n"
        f"#   docker build -f deployment/docker/Dockerfile -t {name}:{version} .\n"
        f"FROM {cfg['base_image']}\n"
        f'LABEL org.opencontainers.image.title="{name}" \\\n'
        f'      org.opencontainers.image.version="{version}" \\\n'
        f'      ai.artreg.model.sha256="{sha256}"\n'
        f"ENV {env_lines}\n"
        + (
            f"COPY {model_file} {target}\n"
            f"COPY {checksums} /models/{name}/{checksums}\n"
            f"RUN cd /models/{name} && sha256sum -c --quiet {checksums}\n"
            if checksums
            else f'COPY {model_file} {target}\nRUN echo "{sha256}  {target}" | sha256sum -c -\n'
        )
        + f"EXPOSE {cfg['port']}\n"
        f"CMD {json.dumps(cfg['entrypoint'])}\n"
    )


def kubernetes(
    name: str, version: str, sha256: str, config: dict[str, Any], model_format: str = "pytorch"
) -> dict[str, str]:
    """deployment.yaml and service.yaml, labelled and annotated with the version and sha256;
    and the release as an OCI artifact (`artreg export --oci`): a Pod mounting it as an image
    volume, and a KServe InferenceService reading it from its oci:// storageUri."""
    cfg = settings(config)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/version": version}
    env = [{"name": "MODEL_VERSION", "value": version}, {"name": "MODEL_SHA256", "value": sha256}]
    env += [{"name": k, "value": v} for k, v in cfg["env"].items()]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": cfg["namespace"],
            "labels": labels,
            "annotations": {"artreg/model-sha256": sha256},
        },
        "spec": {
            "replicas": cfg["replicas"],
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"artreg/model-sha256": sha256}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": cfg.get("image", f"{name}:{version}"),
                            "ports": [{"containerPort": cfg["port"]}],
                            "env": env,
                            "resources": {
                                "requests": dict(cfg["resources"]),
                                "limits": dict(cfg["resources"]),
                            },
                        }
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": cfg["namespace"], "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"port": 80, "targetPort": cfg["port"]}],
        },
    }
    return {
        "deployment.yaml": yaml.safe_dump(deployment, sort_keys=False),
        "service.yaml": yaml.safe_dump(service, sort_keys=False),
        **oci_examples(name, version, sha256, cfg, model_format),
    }


# The manifest digest cannot be written here: this folder's files are the artifact's layers, so
# the digest depends on these very bytes. `artreg export` prints it (and tags it vX.Y.Z).
_BY_DIGEST = (
    "# {what}\n"
    "# Pinned by digest: replace MANIFEST_DIGEST with the digest `artreg export {name}@v{version}\n"
    "# --oci {repo}` prints (the tag v{version} names the same manifest).\n"
)


def oci_examples(
    name: str, version: str, sha256: str, cfg: dict[str, Any], model_format: str
) -> dict[str, str]:
    """A Pod mounting the exported release as an image volume (Kubernetes 1.31+, ImageVolume),
    and a KServe InferenceService with the release as its `storageUri: oci://...`."""
    repo = cfg.get("oci_repository", f"REGISTRY/REPOSITORY/{name}")
    reference = f"{repo}@sha256:MANIFEST_DIGEST"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/version": version}
    meta = {
        "namespace": cfg["namespace"],
        "labels": labels,
        "annotations": {"artreg/model-sha256": sha256},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{name}-model", **meta},
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": cfg.get("image", f"{name}:{version}"),
                    "ports": [{"containerPort": cfg["port"]}],
                    "env": [
                        {"name": "MODEL_DIR", "value": f"/models/{name}"},
                        {"name": "MODEL_SHA256", "value": sha256},
                    ],
                    "volumeMounts": [
                        {"name": "model", "mountPath": f"/models/{name}", "readOnly": True}
                    ],
                }
            ],
            "volumes": [
                {"name": "model", "image": {"reference": reference, "pullPolicy": "IfNotPresent"}}
            ],
        },
    }
    kserve = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, **meta},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": model_format},
                    "storageUri": f"oci://{reference}",
                }
            }
        },
    }
    head = {"name": name, "version": version, "repo": repo}
    return {
        "image-volume-pod.yaml": _BY_DIGEST.format(
            what="The release mounted read-only from an OCI registry (an image volume).", **head
        )
        + yaml.safe_dump(pod, sort_keys=False),
        "kserve-inferenceservice.yaml": _BY_DIGEST.format(
            what="KServe serving the release straight from an OCI registry.", **head
        )
        + yaml.safe_dump(kserve, sort_keys=False),
    }
