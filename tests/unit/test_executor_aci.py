"""ACI executor against a fake container_groups client: exact group, idempotence, status, cleanup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from shared.errors import TransientError
from shared.executors.aci import AciExecutor, AciSettings, build_container_group, group_name
from shared.executors.base import ExecutionState, JobLaunch
from shared.models import Event, ModuleSpec
from shared.settings import IonSettings
from tests.fakes.aci import FakeContainerGroups, to_body

SECRET = "s3cr3t-value-that-must-never-leak-0123456789"
RG = "ion-jobs"
IDENTITY = "/subscriptions/sub/resourceGroups/ion/providers/Microsoft.ManagedIdentity/userAssignedIdentities/job"


def make_launch(attempt: int = 1, **module: Any) -> JobLaunch:
    spec = ModuleSpec.model_validate({
        "name": "ocr--reader", "subscribes_to": "page_scanned", "publishes": ["text_found"],
        "executor": "aci", "image": "reg.example/ocr:5", "command": ["ocr", "--lang", "en"],
        "env": {"MODE": "fast"}, "timeout": "20m",
        "resources": {"cpu": "1.5", "memory": "3Gi", "gpu": 1}, **module,
    })
    return JobLaunch.new(spec, Event.new("page_scanned", id="evt-9", correlation_id="corr-9"), SECRET, attempt)


@pytest.fixture
def ion() -> IonSettings:
    return IonSettings(ION_MESSAGING="servicebus", ION_METADATA="cosmos", ION_BLOB="azureblob",
                       SERVICEBUS_CONNECTION_STRING="Endpoint=sb://x/;SharedAccessKey=sb-key-123",
                       COSMOS_ENDPOINT="https://c.documents.azure.com",
                       AZURE_STORAGE_ACCOUNT_URL="https://acct.blob.core.windows.net",
                       ION_SIDECAR_IMAGE="reg.example/ion-sidecar:1")


@pytest.fixture
def aci() -> AciSettings:
    return AciSettings(subscription_id="sub", resource_group=RG, location="northeurope", identity=IDENTITY,
                       identity_client_id="client-123", registry_server="reg.example",
                       subnet_id="/subscriptions/sub/.../subnets/jobs", gpu_sku="V100")


@pytest.fixture
def env(ion: IonSettings, aci: AciSettings) -> tuple[FakeContainerGroups, AciExecutor]:
    groups = FakeContainerGroups()
    return groups, AciExecutor(groups, aci, ion)


def _vars(container: dict[str, Any]) -> dict[str, Any]:
    return {v["name"]: v.get("value", "<secure>" if "secureValue" in v else None)
            for v in container["properties"]["environmentVariables"]}


def test_launch_submits_the_exact_group(env: tuple[FakeContainerGroups, AciExecutor]) -> None:
    groups, executor = env
    launch = make_launch()
    executor.launch(launch)
    assert [name for name, _ in groups.calls] == ["get", "begin_create_or_update"]
    request = groups.calls[1][1]
    name = group_name(launch.execution_id)
    assert request["name"] == name and "--" not in name and len(name) <= 63
    body = request["body"]
    props = body["properties"]
    assert body["location"] == "northeurope"
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    assert body["tags"] == {"ion-module": "ocr--reader", "ion-job-id": launch.record.job_id,
                            "ion-event-id": "evt-9", "ion-attempt": "1", "ion-timeout-seconds": "1200"}
    assert props["restartPolicy"] == "Never" and props["osType"] == "Linux"
    assert props["volumes"] == [{"name": "ion", "emptyDir": {}}]
    assert props["imageRegistryCredentials"] == [{"server": "reg.example", "identity": IDENTITY}]
    assert props["subnetIds"] == [{"id": "/subscriptions/sub/.../subnets/jobs"}]
    module, sidecar = props["containers"]
    assert module["name"] == "module" and sidecar["name"] == "sidecar"
    assert module["properties"]["image"] == "reg.example/ocr:5"
    assert module["properties"]["command"] == ["ocr", "--lang", "en"]
    assert module["properties"]["resources"] == {"requests": {
        "cpu": 1.5, "memoryInGB": 3.0, "gpu": {"count": 1, "sku": "V100"}}}
    assert module["properties"]["volumeMounts"] == sidecar["properties"]["volumeMounts"] == [
        {"name": "ion", "mountPath": "/ion"}]
    assert _vars(module) == {
        "MODE": "fast", "SIDECAR_PORT": "8080", "SIDECAR_BASE_DIR": "/ion/", "ION_EVENT_ID": "evt-9",
        "ION_CORRELATION_ID": "corr-9", "ION_EVENT_TYPE": "page_scanned", "ION_MODULE_NAME": "ocr--reader",
        "SHARED_SECRET": "<secure>",
    }
    side = _vars(sidecar)
    assert side["SHARED_SECRET"] == side["SERVICEBUS_CONNECTION_STRING"] == "<secure>"
    assert side["AZURE_CLIENT_ID"] == "client-123" and side["ION_JOB_ID"] == launch.record.job_id
    assert sidecar["properties"]["command"] == ["timeout", "-s", "TERM", "1500", "ion", "sidecar"]
    assert sidecar["properties"]["readinessProbe"] == {"exec": {"command": [
        "python", "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]},
        "periodSeconds": 2}
    # Secrets travel only as secure values.
    secure = [v for c in props["containers"] for v in c["properties"]["environmentVariables"]
              if "secureValue" in v]
    assert {v["name"] for v in secure} == {"SHARED_SECRET", "SERVICEBUS_CONNECTION_STRING"}
    assert all("value" not in v for v in secure)


def test_group_round_trips_through_sdk_models(ion: IonSettings, aci: AciSettings) -> None:
    from azure.mgmt.containerinstance import models

    body = to_body(build_container_group(make_launch(), aci, ion))
    assert to_body(models.ContainerGroup.deserialize(body)) == body
    assert json.loads(json.dumps(body)) == body


def test_launch_twice_does_not_resubmit(env: tuple[FakeContainerGroups, AciExecutor]) -> None:
    groups, executor = env
    executor.launch(make_launch())
    executor.launch(make_launch())
    assert [name for name, _ in groups.calls] == ["get", "begin_create_or_update", "get"]
    assert len(groups.groups) == 1


def test_status_maps_each_state(env: tuple[FakeContainerGroups, AciExecutor]) -> None:
    groups, executor = env
    launch = make_launch()
    record, name = launch.record, group_name(launch.execution_id)
    assert executor.status(record).state == ExecutionState.UNKNOWN
    executor.launch(launch)
    assert executor.status(record).state == ExecutionState.PENDING
    groups.run(RG, name)
    assert executor.status(record).state == ExecutionState.RUNNING
    groups.finish(RG, name, 0)
    assert executor.status(record).state == ExecutionState.SUCCEEDED
    groups.finish(RG, name, 4)
    failed = executor.status(record)
    assert (failed.state, failed.exit_code, failed.reason) == (ExecutionState.FAILED, 4, "module exited with code 4")
    groups.image_pull_failed(RG, name)
    pull = executor.status(record)
    assert pull.state == ExecutionState.FAILED and "Failed to pull image" in (pull.reason or "")


def test_module_exit_stops_a_sidecar_left_running(env: tuple[FakeContainerGroups, AciExecutor]) -> None:
    groups, executor = env
    launch = make_launch()
    executor.launch(launch)
    name = group_name(launch.execution_id)
    groups.finish(RG, name, 2, sidecar_running=True)
    status = executor.status(launch.record)
    assert (status.state, status.exit_code) == (ExecutionState.FAILED, 2)
    assert groups.calls[-1] == ("stop", name)
    assert groups.groups[(RG, name)]["properties"]["instanceView"]["state"] == "Stopped"


def test_running_past_the_timeout_is_failed_and_stopped(ion: IonSettings, aci: AciSettings) -> None:
    groups = FakeContainerGroups()
    now = datetime(2030, 1, 1, tzinfo=UTC)
    executor = AciExecutor(groups, aci, ion, clock=lambda: now)
    launch = make_launch()
    executor.launch(launch)
    name = group_name(launch.execution_id)
    groups.run(RG, name, started=now - timedelta(minutes=19))
    assert executor.status(launch.record).state == ExecutionState.RUNNING
    groups.run(RG, name, started=now - timedelta(minutes=21))
    status = executor.status(launch.record)
    assert status.state == ExecutionState.FAILED and status.reason == "timed out after 1200s"
    assert groups.calls[-1] == ("stop", name)


def test_cancel_stops_and_cleanup_deletes_every_attempt(env: tuple[FakeContainerGroups, AciExecutor]) -> None:
    groups, executor = env
    executor.launch(make_launch(1))
    executor.launch(make_launch(2))
    record = make_launch(2).record
    groups.run(RG, group_name(record.execution_id))
    executor.cancel(record)
    assert groups.calls[-1] == ("stop", group_name(record.execution_id))
    assert executor.status(record).state == ExecutionState.FAILED
    executor.cleanup(record)
    assert groups.groups == {}
    assert [c for c in groups.calls if c[0] == "begin_delete"] == [
        ("begin_delete", group_name(make_launch(1).execution_id)),
        ("begin_delete", group_name(record.execution_id)),
    ]
    executor.cleanup(record)
    executor.cancel(record)


def test_throttling_is_transient(env: tuple[FakeContainerGroups, AciExecutor]) -> None:
    groups, executor = env
    error = HttpResponseError(message="Too many requests")
    error.status_code = 429
    groups.fail_next.append(error)
    with pytest.raises(TransientError):
        executor.launch(make_launch())
