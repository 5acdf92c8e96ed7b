"""`ion infra params`: the manifest's topology as Bicep and Terraform parameter files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shared.cli.main import app
from shared.infra_params import (
    DEFAULT_GPU_VM_SIZE,
    InfraParamsError,
    infra_parameters,
    manifest_topology,
    render_bicepparam,
)
from shared.manifest import Manifest, load_manifest, parse_manifest

TEST_MANIFEST = Path(__file__).with_name("modules.yaml")
runner = CliRunner()


def manifest(*modules: Mapping[str, object]) -> Manifest:
    return parse_manifest({"modules": [dict(m) for m in modules]})


def module(name: str, subscribes_to: str, executor: str = "kubernetes", **extra: object) -> dict[str, object]:
    return {"name": name, "subscribes_to": subscribes_to, "executor": executor, "image": f"r.io/{name}:1", **extra}


def test_topology_of_the_test_pipeline() -> None:
    topology = manifest_topology(load_manifest(TEST_MANIFEST))
    assert topology.topics == ["new_link", "file_downloaded", "video.transcoded", "audio_extracted",
                               "transcript_ready", "thumbnail_ready", "indexed"]
    assert topology.subscriptions[1] == {"name": "transcoder", "topic": "file_downloaded"}
    assert topology.executors == ["kubernetes", "azurebatch", "aci"]
    assert topology.gpu_modules == ["transcoder"]


def test_only_the_executors_the_modules_use_are_enabled() -> None:
    params = infra_parameters(manifest(module("a", "x", publishes=["y"]), module("b", "y", "aci")))
    assert (params["enable_kubernetes"], params["enable_batch"], params["enable_aci"]) == (True, False, True)
    assert params["batch_gpu_vm_size"] == ""
    assert params["topics"] == ["x", "y"]


def test_a_gpu_module_on_batch_gets_a_gpu_pool() -> None:
    gpu = module("t", "x", "azurebatch", resources={"gpu": 1})
    assert infra_parameters(manifest(gpu))["batch_gpu_vm_size"] == DEFAULT_GPU_VM_SIZE
    on_k8s = module("t", "x", "kubernetes", resources={"gpu": 1})
    assert infra_parameters(manifest(on_k8s))["batch_gpu_vm_size"] == ""


def test_local_modules_are_refused_by_name() -> None:
    local = {"name": "splitter", "subscribes_to": "x", "command": ["python", "s.py"]}
    with pytest.raises(InfraParamsError, match=r"splitter use executor 'local'"):
        infra_parameters(manifest(local, module("b", "x")))


def test_bicepparam_text() -> None:
    text = render_bicepparam({"topics": ["a.b", "it's"], "subscriptions": [{"name": "m", "topic": "a.b"}],
                              "enable_aci": False, "max_delivery_count": 5}, "../infra/bicep/main.bicep")
    assert text == (
        "using '../infra/bicep/main.bicep'\n\n"
        "param topics = [\n  'a.b'\n  'it\\'s'\n]\n"
        "param subscriptions = [\n  {\n    name: 'm'\n    topic: 'a.b'\n  }\n]\n"
        "param enableAci = false\n"
        "param maxDeliveryCount = 5\n"
    )


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["infra", "params", *args])


def test_cli_writes_tfvars(tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "ion.tfvars.json"
    result = invoke("-m", str(TEST_MANIFEST), "--format", "terraform", "-o", str(out), "--name", "ionprod1",
                    "--metadata", "mongodb")
    assert result.exit_code == 0, result.output
    values = json.loads(out.read_text())
    assert values["name"] == "ionprod1"
    assert values["metadata_store"] == "mongodb"
    assert values["enable_batch"] is True
    assert {s["name"] for s in values["subscriptions"]} == {
        "downloader", "transcoder", "transcriber", "thumbnailer", "indexer"}


def test_cli_writes_bicepparam_next_to_the_template(tmp_path: Path) -> None:
    out = tmp_path / "ion.bicepparam"
    result = invoke("-m", str(TEST_MANIFEST), "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    using = text.splitlines()[0]
    assert using.startswith("using '") and using.endswith("infra/bicep/main.bicep'")
    target = (out.parent / using[len("using '"):-1]).resolve()
    assert target == Path(__file__).resolve().parents[2] / "infra" / "bicep" / "main.bicep"
    assert "param enableKubernetes = true" in text


def test_cli_arm_json_parameters(tmp_path: Path) -> None:
    out = tmp_path / "ion.parameters.json"
    assert invoke("-m", str(TEST_MANIFEST), "-o", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    assert document["parameters"]["topics"]["value"][0] == "new_link"
    assert document["contentVersion"] == "1.0.0.0"


def test_cli_prints_to_stdout() -> None:
    result = invoke("-m", str(TEST_MANIFEST), "--format", "terraform")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["topics"][0] == "new_link"


def test_cli_bad_manifest_names_the_problem_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "modules.yaml"
    bad.write_text("modules:\n  - name: Bad_Name\n    subscribes_to: x\n    image: r/i\n    executor: aci\n")
    out = tmp_path / "out.tfvars.json"
    result = invoke("-m", str(bad), "-f", "terraform", "-o", str(out))
    assert result.exit_code == 2
    assert "modules[0] (Bad_Name)" in result.output and "field 'name'" in result.output
    assert not out.exists()


def test_cli_local_manifest_is_refused(tmp_path: Path) -> None:
    local = tmp_path / "modules.yaml"
    local.write_text("modules:\n  - name: splitter\n    subscribes_to: x\n    command: [python, s.py]\n")
    result = invoke("-m", str(local))
    assert result.exit_code == 2
    assert "splitter use executor 'local'" in result.output


def test_cli_rejects_a_bad_name() -> None:
    result = invoke("-m", str(TEST_MANIFEST), "--name", "Ion-Prod")
    assert result.exit_code == 2
    assert "lowercase letters and digits" in result.output


def test_cli_missing_manifest(tmp_path: Path) -> None:
    result = invoke("-m", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "manifest file not found" in result.output
