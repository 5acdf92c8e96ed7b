"""`ion render`: prints what launch would submit, valid for the SDKs' models, without any secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from shared.cli.render import register

MANIFEST = """
modules:
  - name: detector
    subscribes_to: image_uploaded
    publishes: [face_detected]
    executor: kubernetes
    image: reg.example/detector:2
    env: {LOG_LEVEL: debug}
    timeout: 15m
    resources: {cpu: "2", memory: 4Gi, gpu: 1}
  - name: local-only
    subscribes_to: face_detected
    command: ["python", "main.py"]
"""
MONGO_URI = "mongodb://user:hunter2-password@db:27017"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """ion"""

    register(app)
    return app


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "modules.yaml"
    path.write_text(MANIFEST)
    monkeypatch.setenv("ION_METADATA", "mongodb")
    monkeypatch.setenv("MONGODB_URI", MONGO_URI)
    monkeypatch.setenv("ION_SIDECAR_IMAGE", "reg.example/ion-sidecar:1")
    monkeypatch.setenv("ION_K8S_NAMESPACE", "pipelines")
    return path


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["render", *args])
    return result.exit_code, result.stdout, result.stderr


def test_kubernetes_yaml_has_secret_and_job(app: typer.Typer, manifest: Path) -> None:
    from kubernetes import client

    code, out, _ = run(app, "kubernetes", "-m", str(manifest), "--module", "detector")
    assert code == 0, out
    secret, job = list(yaml.safe_load_all(out))
    assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == "pipelines"
    assert secret["stringData"] == {"MONGODB_URI": "<redacted>", "SHARED_SECRET": "<generated at launch>"}
    assert job["kind"] == "Job" and job["spec"]["activeDeadlineSeconds"] == 900
    module = job["spec"]["template"]["spec"]["containers"][0]
    assert module["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"name": "SHARED_SECRET", "valueFrom": {"secretKeyRef": {
        "name": job["metadata"]["name"], "key": "SHARED_SECRET"}}} in module["env"]
    api = client.ApiClient()
    model = api.deserialize(json.dumps(job), "V1Job", "application/json")
    assert api.sanitize_for_serialization(model) == job
    assert "hunter2" not in out


def test_batch_task_json(app: typer.Typer, manifest: Path) -> None:
    from azure.batch import models

    code, out, _ = run(app, "azurebatch", "-m", str(manifest), "--module", "detector")
    assert code == 0, out
    task = json.loads(out)
    models.BatchTaskCreateOptions(task)
    assert task["constraints"]["maxWallClockTime"] == "PT15M00S"
    assert {"name": "SHARED_SECRET", "value": "<generated at launch>"} in task["environmentSettings"]
    assert {"name": "MONGODB_URI", "value": "<redacted>"} in task["environmentSettings"]
    assert "hunter2" not in out


def test_aci_group_json_for_a_local_module_with_an_image(app: typer.Typer, manifest: Path) -> None:
    from azure.mgmt.containerinstance import models

    code, out, _ = run(app, "aci", "-m", str(manifest), "--module", "local-only", "--image", "reg.example/l:1")
    assert code == 0, out
    group = json.loads(out)
    assert models.ContainerGroup.deserialize(group).containers[0].image == "reg.example/l:1"
    assert group["properties"]["containers"][0]["properties"]["command"] == ["python", "main.py"]
    sidecar_env = group["properties"]["containers"][1]["properties"]["environmentVariables"]
    assert {"name": "MONGODB_URI", "secureValue": "<redacted>"} in sidecar_env
    assert "hunter2" not in out


def test_module_without_image_gets_a_note(app: typer.Typer, manifest: Path) -> None:
    code, out, err = run(app, "aci", "-m", str(manifest), "--module", "local-only")
    assert code == 0
    assert "local-only:latest" in err and json.loads(out)


def test_unknown_module_and_bad_manifest_are_clear_errors(app: typer.Typer, manifest: Path,
                                                          tmp_path: Path) -> None:
    code, out, err = run(app, "kubernetes", "-m", str(manifest), "--module", "nope")
    assert code == 2 and out == ""
    assert "no module named 'nope'" in err and "detector, local-only" in err
    code, _, err = run(app, "kubernetes", "-m", str(tmp_path / "missing.yaml"), "--module", "detector")
    assert code == 2 and "manifest file not found" in err
    code, _, err = run(app, "nomad", "-m", str(manifest), "--module", "detector")
    assert code != 0
