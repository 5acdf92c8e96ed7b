"""`ion render` prints a valid spec for every module of the example pipeline, for every executor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from azure.batch import models

from shared.manifest import load_manifest
from tests.fakes.azurebatch import check_known_fields
from tests.fakes.kubernetes import to_dict, to_model

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "examples" / "media" / "modules.azure.yaml"


def render(executor: str, module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "render", executor, "-m", str(MANIFEST), "--module", module],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("module", [m.name for m in load_manifest(MANIFEST)])
def test_every_example_module_renders_for_every_executor(module: str) -> None:
    secret, job = list(yaml.safe_load_all(render("kubernetes", module)))
    assert secret["kind"] == "Secret" and job["kind"] == "Job"
    model = to_model(job, "V1Job")  # a misspelled or misplaced field would not survive the round trip
    assert to_dict(model) == json.loads(json.dumps(job))
    assert model.spec.template.spec.containers[0].image.endswith(f"ion-media-{module}:1")

    task = json.loads(render("azurebatch", module))
    check_known_fields(models.BatchTaskCreateOptions(task))  # every field is one the SDK knows
    assert task["constraints"]["maxTaskRetryCount"] == 0
    assert f"ion-media-{module}:1" in task["commandLine"]

    group = json.loads(render("aci", module))
    images = [c["properties"]["image"] for c in group["properties"]["containers"]]
    assert any(image.endswith(f"ion-media-{module}:1") for image in images)
