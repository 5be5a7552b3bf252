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


def kubernetes(name: str, version: str, sha256: str, config: dict[str, Any]) -> dict[str, str]:
    """deployment.yaml and service.yaml, labelled and annotated with the version and sha256."""
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
    }
