"""Azure Batch executor against a fake BatchClient: exact requests, idempotence, status, cleanup.

The task's command line is also run by a real bash with a fake `docker` on PATH, to check the
script's quoting, the exit code it returns, and that the secret is passed by name only.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models
from azure.core.exceptions import ServiceRequestError

from shared.errors import ConfigurationError, TransientError
from shared.executors.azurebatch import (
    AzureBatchExecutor,
    AzureBatchSettings,
    batch_job_id,
    build_task,
    task_id,
)
from shared.executors.base import ExecutionState, JobLaunch
from shared.models import Event, ModuleSpec
from shared.settings import IonSettings
from tests.fakes.azurebatch import FakeBatchClient, check_known_fields, to_json

SECRET = "s3cr3t-value-that-must-never-leak-0123456789"


def make_launch(attempt: int = 1, secret: str = SECRET, **module: Any) -> JobLaunch:
    spec = ModuleSpec.model_validate({
        "name": "transcoder", "subscribes_to": "video_uploaded", "publishes": ["video_ready"],
        "executor": "azurebatch", "image": "reg.example/transcode:3", "command": ["ffmpeg-run", "--fast"],
        "env": {"PRESET": "slow and steady"}, "timeout": "2h",
        "resources": {"cpu": "4", "memory": "8Gi", "gpu": 1}, **module,
    })
    return JobLaunch.new(spec, Event.new("video_uploaded", id="evt-7", correlation_id="corr-7"), secret, attempt)


@pytest.fixture
def ion() -> IonSettings:
    return IonSettings(ION_MESSAGING="servicebus", ION_METADATA="mongodb", ION_BLOB="azureblob",
                       MONGODB_URI="mongodb://user:mongo-password@db:27017",
                       SERVICEBUS_FULLY_QUALIFIED_NAMESPACE="ns.servicebus.windows.net",
                       AZURE_STORAGE_ACCOUNT_URL="https://acct.blob.core.windows.net",
                       ION_SIDECAR_IMAGE="reg.example/ion-sidecar:1", ION_RETENTION_SECONDS=7200)


@pytest.fixture
def batch() -> AzureBatchSettings:
    return AzureBatchSettings(account_url="https://acct.westeurope.batch.azure.com", pool_id="gpu-pool",
                              vm_size="Standard_NC6s_v3", gpu_vm_sizes="Standard_NC6s_v3, Standard_NC12s_v3",
                              registry_server="reg.example", registry_identity="/subscriptions/s/rg/id/ion")


@pytest.fixture
def env(ion: IonSettings, batch: AzureBatchSettings) -> tuple[FakeBatchClient, AzureBatchExecutor]:
    client = FakeBatchClient()
    return client, AzureBatchExecutor(client, batch, ion)


def test_first_launch_creates_pool_job_and_task(env: tuple[FakeBatchClient, AzureBatchExecutor]) -> None:
    client, executor = env
    launch = make_launch()
    executor.launch(launch)
    assert [name for name, _ in client.calls] == ["get_pool", "create_pool", "get_job", "create_job",
                                                  "create_task"]
    pool = client.calls[1][1]
    assert pool == {
        "id": "gpu-pool", "vmSize": "Standard_NC6s_v3",
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204",
                               "version": "latest"},
            "nodeAgentSKUId": "batch.node.ubuntu 22.04",
            "containerConfiguration": {
                "type": "dockerCompatible", "containerImageNames": ["reg.example/ion-sidecar:1"],
                "containerRegistries": [{"registryServer": "reg.example",
                                         "identityReference": {"resourceId": "/subscriptions/s/rg/id/ion"}}],
            },
        },
        "taskSlotsPerNode": 1, "targetDedicatedNodes": 1, "targetLowPriorityNodes": 0,
    }
    assert client.calls[3][1] == {
        "id": "ion-transcoder", "displayName": "Ion module transcoder", "poolInfo": {"poolId": "gpu-pool"},
        "constraints": {"maxTaskRetryCount": 0}, "metadata": [{"name": "ion-module", "value": "transcoder"}],
    }
    request = client.calls[4][1]
    assert request["job_id"] == "ion-transcoder"
    task = request["task"]
    assert task["id"] == task_id(launch.execution_id) == launch.execution_id
    assert task["constraints"] == {
        "maxWallClockTime": "PT02H00M00S", "retentionTime": "PT02H00M00S", "maxTaskRetryCount": 0}
    assert task["userIdentity"] == {"autoUser": {"scope": "pool", "elevationLevel": "admin"}}
    assert task["environmentSettings"] == [
        {"name": "MONGODB_URI", "value": "mongodb://user:mongo-password@db:27017"},
        {"name": "SHARED_SECRET", "value": SECRET},
    ]
    # Secrets are passed to Docker by name only: never in the command line.
    assert SECRET not in task["commandLine"] and "mongo-password" not in task["commandLine"]
    script = shlex.split(task["commandLine"])[2]
    module_line = script.splitlines()[-4]
    assert "--gpus 1" in module_line and "--cpus 4.0" in module_line and "--memory 8192m" in module_line
    assert "-e SHARED_SECRET " in module_line and "-e MONGODB_URI" not in module_line
    assert "--entrypoint ffmpeg-run reg.example/transcode:3 --fast" in module_line
    assert "'PRESET=slow and steady'" in module_line


def test_task_round_trips_through_sdk_models(ion: IonSettings, batch: AzureBatchSettings) -> None:
    task = build_task(make_launch(), batch, ion)
    parsed = models.BatchTaskCreateOptions(to_json(task))
    check_known_fields(parsed)
    assert to_json(parsed) == to_json(task)


def test_launch_twice_submits_once(env: tuple[FakeBatchClient, AzureBatchExecutor],
                                   ion: IonSettings, batch: AzureBatchSettings) -> None:
    client, executor = env
    executor.launch(make_launch())
    executor.launch(make_launch(secret="another-secret-from-a-redelivery-000000"))
    assert len(client.tasks) == 1
    [stored] = client.tasks.values()
    assert {"name": "SHARED_SECRET", "value": SECRET} in stored["environmentSettings"]
    # A second executor (another dispatcher) finds the pool and job and adds nothing new.
    other = AzureBatchExecutor(client, batch, ion)
    other.launch(make_launch())
    assert len(client.pools) == 1 and len(client.jobs) == 1 and len(client.tasks) == 1
    assert "create_pool" not in [name for name, _ in client.calls[-4:]]


def test_gpu_module_needs_a_gpu_pool(ion: IonSettings) -> None:
    client = FakeBatchClient()
    settings = AzureBatchSettings(account_url="https://x", vm_size="Standard_D2s_v3")
    executor = AzureBatchExecutor(client, settings, ion)
    with pytest.raises(ConfigurationError) as caught:
        executor.launch(make_launch())
    assert "Standard_D2s_v3" in str(caught.value) and "ION_BATCH_GPU_VM_SIZES" in str(caught.value)
    assert client.tasks == {}
    executor.launch(make_launch(resources={"cpu": "1", "memory": "1Gi"}))
    assert len(client.tasks) == 1


def test_autoscale_pool(ion: IonSettings) -> None:
    client = FakeBatchClient()
    settings = AzureBatchSettings(account_url="https://x", autoscale_formula="$TargetDedicatedNodes=2;")
    AzureBatchExecutor(client, settings, ion).launch(make_launch(resources={"cpu": "1"}))
    pool = client.calls[1][1]
    assert pool["enableAutoScale"] is True and pool["autoScaleFormula"] == "$TargetDedicatedNodes=2;"
    assert pool["autoScaleEvaluationInterval"] == "PT05M00S" and "targetDedicatedNodes" not in pool


def test_status_maps_each_state(env: tuple[FakeBatchClient, AzureBatchExecutor]) -> None:
    client, executor = env
    launch = make_launch()
    record = launch.record
    assert executor.status(record).state == ExecutionState.UNKNOWN
    executor.launch(launch)
    key = (batch_job_id("transcoder"), task_id(launch.execution_id))
    assert executor.status(record).state == ExecutionState.PENDING
    client.start(*key)
    assert executor.status(record).state == ExecutionState.RUNNING
    client.finish(*key, 0)
    assert executor.status(record).state == ExecutionState.SUCCEEDED
    client.finish(*key, 3)
    failed = executor.status(record)
    assert (failed.state, failed.exit_code) == (ExecutionState.FAILED, 3)
    assert failed.reason == "module exited with code 3"
    client.finish(*key, 125)
    assert "could not start" in (executor.status(record).reason or "")
    client.fail(*key, "TaskEnded", "The task exceeded its maximum wall clock time")
    timed_out = executor.status(record)
    assert timed_out.state == ExecutionState.FAILED and (timed_out.reason or "").startswith("timed out")
    client.fail(*key, "NodeFailure", "The compute node became unusable", category="servererror")
    lost = executor.status(record)
    assert lost.reason == "Batch service error: NodeFailure: The compute node became unusable"


def test_cancel_terminates_and_cleanup_deletes(env: tuple[FakeBatchClient, AzureBatchExecutor]) -> None:
    client, executor = env
    executor.launch(make_launch(1))
    executor.launch(make_launch(2))
    record = make_launch(2).record
    client.start(batch_job_id("transcoder"), task_id(record.execution_id))
    executor.cancel(record)
    assert ("terminate_task", ("ion-transcoder", record.execution_id)) in client.calls
    assert executor.status(record).state == ExecutionState.FAILED
    executor.cancel(record)  # already completed: nothing to do
    executor.cleanup(record)
    assert client.tasks == {}
    executor.cleanup(record)
    assert executor.status(record).state == ExecutionState.UNKNOWN


def test_unreachable_service_is_transient(env: tuple[FakeBatchClient, AzureBatchExecutor]) -> None:
    client, executor = env
    client.fail_next.append(ServiceRequestError("connection refused"))
    with pytest.raises(TransientError):
        executor.launch(make_launch())


FAKE_DOCKER = """#!/bin/bash
# Fake docker CLI: records each call (one JSON list per line) and the secret it sees by name.
python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$DOCKER_LOG"
if [ "$1" = run ] && [ "$2" != -d ]; then
  printf '%s' "${SHARED_SECRET:-}" > "$DOCKER_SEEN_SECRET"
  exit "$MODULE_EXIT"
fi
exit 0
"""


@pytest.mark.parametrize("exit_code", [0, 3])
def test_task_script_runs_module_beside_sidecar(tmp_path: Path, exit_code: int, ion: IonSettings,
                                                batch: AzureBatchSettings) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    task = to_json(build_task(make_launch(), batch, ion))
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "AZ_BATCH_TASK_WORKING_DIR": str(tmp_path / "wd"),
        "AZ_BATCH_JOB_ID": "ion-transcoder", "AZ_BATCH_TASK_ID": task["id"],
        "DOCKER_LOG": str(tmp_path / "docker.log"), "DOCKER_SEEN_SECRET": str(tmp_path / "secret"),
        "MODULE_EXIT": str(exit_code),
        **{item["name"]: item["value"] for item in task["environmentSettings"]},
    }
    result = subprocess.run(shlex.split(task["commandLine"]), env=environment, timeout=60, check=False)
    assert result.returncode == exit_code
    calls = [json.loads(line) for line in (tmp_path / "docker.log").read_text().splitlines()]
    sidecar_name = f"ion-sidecar-ion-transcoder-{task['id']}"
    module_name = f"ion-module-ion-transcoder-{task['id']}"
    assert calls[0][:4] == ["run", "-d", "--name", sidecar_name]
    assert calls[1][:6] == ["run", "--name", module_name, "--network", f"container:{sidecar_name}", "-v"]
    assert calls[1][6] == f"{tmp_path / 'wd' / 'ion'}:/ion"
    assert "PRESET=slow and steady" in calls[1]
    assert calls[2] == ["stop", "-t", "10", sidecar_name]
    assert calls[3] == ["rm", "-f", module_name, sidecar_name]
    assert (tmp_path / "secret").read_text() == SECRET  # reached the module by name
    assert all(SECRET not in arg for call in calls for arg in call)
    assert (tmp_path / "wd" / "ion").is_dir()


def test_sidecar_uses_the_jobs_identity_not_the_dispatchers(ion: IonSettings, batch: AzureBatchSettings) -> None:
    dispatcher_identity = ion.model_copy(update={"azure_client_id": "dispatcher-client-id"})
    script = build_task(make_launch(), batch, dispatcher_identity).command_line
    assert "AZURE_CLIENT_ID=dispatcher-client-id" in script  # no jobs identity configured: inherited
    jobs = batch.model_copy(update={"identity_client_id": "jobs-client-id"})
    script = build_task(make_launch(), jobs, dispatcher_identity).command_line
    assert "AZURE_CLIENT_ID=jobs-client-id" in script
    assert "dispatcher-client-id" not in script
