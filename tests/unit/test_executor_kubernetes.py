"""Kubernetes executor against fakes of BatchV1Api/CoreV1Api: exact specs, idempotence, status, cleanup."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from shared.errors import TransientError
from shared.executors.base import ExecutionState, JobLaunch
from shared.executors.kubernetes import KubernetesExecutor, KubernetesSettings, build_job, job_name
from shared.ids import job_id
from shared.models import Event, ModuleSpec
from shared.settings import IonSettings
from tests.fakes.kubernetes import FakeCluster, fake_kubernetes, to_dict, to_model

SECRET = "s3cr3t-value-that-must-never-leak-0123456789"
NS = "pipelines"


def make_launch(attempt: int = 1, secret: str = SECRET, **module: Any) -> JobLaunch:
    spec = ModuleSpec.model_validate({
        "name": "detector", "subscribes_to": "image_uploaded", "publishes": ["face_detected"],
        "executor": "kubernetes", "image": "reg.example/detector:2", "command": ["python", "detect.py"],
        "env": {"LOG_LEVEL": "debug"}, "timeout": "15m",
        "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1}, **module,
    })
    event = Event.new("image_uploaded", {"size": "big"}, id="evt-1", correlation_id="corr-1")
    return JobLaunch.new(spec, event, secret, attempt)


@pytest.fixture
def ion() -> IonSettings:
    return IonSettings(ION_MESSAGING="servicebus", ION_METADATA="cosmos", ION_BLOB="azureblob",
                       SERVICEBUS_FULLY_QUALIFIED_NAMESPACE="ns.servicebus.windows.net",
                       COSMOS_ENDPOINT="https://c.documents.azure.com", COSMOS_KEY="cosmos-key-xyz",
                       AZURE_STORAGE_ACCOUNT_URL="https://acct.blob.core.windows.net",
                       ION_SIDECAR_IMAGE="reg.example/ion-sidecar:1", ION_RETENTION_SECONDS=3600,
                       AZURE_CLIENT_ID="dispatcher-identity")


@pytest.fixture
def k8s() -> KubernetesSettings:
    return KubernetesSettings(namespace=NS, service_account="ion-jobs", image_pull_secrets="acr-a, acr-b",
                              workload_identity=True)


@pytest.fixture
def env(ion: IonSettings, k8s: KubernetesSettings) -> tuple[FakeCluster, KubernetesExecutor]:
    cluster, batch, core = fake_kubernetes()
    return cluster, KubernetesExecutor(batch, core, k8s, ion)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_launch_submits_secret_then_job_with_exact_spec(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    launch = make_launch()
    executor.launch(launch)
    name = job_name(launch.execution_id)
    assert name == f"ion-{launch.execution_id}" and len(name) <= 63
    kinds = [c[0] for c in cluster.calls]
    assert kinds == ["create_namespaced_secret", "create_namespaced_job", "patch_namespaced_secret"]

    secret = cluster.calls[0][1]
    assert secret["metadata"]["name"] == name and secret["metadata"]["namespace"] == NS
    assert secret["stringData"] == {"SHARED_SECRET": SECRET, "COSMOS_KEY": "cosmos-key-xyz"}

    job = cluster.calls[1][1]
    labels = {
        "app.kubernetes.io/name": "ion-job", "app.kubernetes.io/managed-by": "ion",
        "ion.platform/module": "detector", "ion.platform/event-id": "evt-1", "ion.platform/attempt": "1",
        "ion.platform/job-id": launch.record.job_id,
    }
    assert job["metadata"]["labels"] == labels
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 900
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["template"]["metadata"]["labels"] == {**labels, "azure.workload.identity/use": "true"}
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "ion-jobs"
    assert pod["imagePullSecrets"] == [{"name": "acr-a"}, {"name": "acr-b"}]
    assert pod["volumes"] == [{"name": "ion", "emptyDir": {}}]
    [module] = pod["containers"]
    [sidecar] = pod["initContainers"]
    assert module["image"] == "reg.example/detector:2" and module["command"] == ["python", "detect.py"]
    assert module["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
    }
    assert module["volumeMounts"] == sidecar["volumeMounts"] == [{"name": "ion", "mountPath": "/ion"}]
    assert _env(module) == {
        "LOG_LEVEL": "debug", "SIDECAR_PORT": "8080", "SIDECAR_BASE_DIR": "/ion/",
        "ION_EVENT_ID": "evt-1", "ION_CORRELATION_ID": "corr-1", "ION_EVENT_TYPE": "image_uploaded",
        "ION_MODULE_NAME": "detector",
        "SHARED_SECRET": {"secretKeyRef": {"name": name, "key": "SHARED_SECRET"}},
    }
    assert sidecar["image"] == "reg.example/ion-sidecar:1"
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["readinessProbe"]["exec"] == {"command": [
        "python", "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]}
    assert sidecar["startupProbe"]["exec"] == sidecar["readinessProbe"]["exec"]
    assert "ports" not in sidecar  # listens on the pod's localhost only
    assert sidecar["envFrom"] == [{"secretRef": {"name": name}}]
    side_env = _env(sidecar)
    assert side_env["ION_JOB_ID"] == launch.record.job_id and side_env["ION_ATTEMPT"] == "1"
    assert side_env["ION_PUBLISHES"] == "face_detected" and side_env["ION_MESSAGING"] == "servicebus"
    assert side_env["ION_HOME"] == "/tmp/ion-home"
    assert "AZURE_CLIENT_ID" not in side_env  # set by the workload identity webhook instead
    assert "COSMOS_KEY" not in side_env and "SHARED_SECRET" not in side_env
    # The secret is nowhere in the Job, in any form.
    assert SECRET not in json.dumps(job) and "cosmos-key-xyz" not in json.dumps(job)
    # The Secret is owned by the Job, so Kubernetes deletes it with the Job.
    patch = cluster.calls[2][1]
    uid = cluster.jobs[(NS, name)]["metadata"]["uid"]
    assert patch == {"name": name, "body": {"metadata": {"ownerReferences": [
        {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid}]}}}


def test_job_spec_round_trips_through_client_models(ion: IonSettings, k8s: KubernetesSettings) -> None:
    body = build_job(make_launch(), k8s, ion)
    assert to_dict(to_model(body, "V1Job")) == json.loads(json.dumps(body))


def test_launch_twice_submits_once(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    launch = make_launch()
    executor.launch(launch)
    uid = next(iter(cluster.jobs.values()))["metadata"]["uid"]
    executor.launch(make_launch(secret="another-secret-" + "y" * 32))  # redelivery: same attempt
    assert len(cluster.jobs) == 1 and len(cluster.secrets) == 1
    assert next(iter(cluster.jobs.values()))["metadata"]["uid"] == uid
    assert next(iter(cluster.secrets.values()))["stringData"]["SHARED_SECRET"] == SECRET


def test_second_attempt_is_a_new_job(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    executor.launch(make_launch(1))
    executor.launch(make_launch(2))
    assert sorted(name for _, name in cluster.jobs) == sorted(
        [job_name(make_launch(1).execution_id), job_name(make_launch(2).execution_id)]
    )


def test_status_maps_each_state(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    launch = make_launch()
    record = launch.record
    assert executor.status(record).state == ExecutionState.UNKNOWN
    executor.launch(launch)
    name = job_name(launch.execution_id)
    assert executor.status(record).state == ExecutionState.PENDING
    cluster.start(NS, name)
    assert executor.status(record).state == ExecutionState.RUNNING
    cluster.finish(NS, name, 0)
    assert executor.status(record).state == ExecutionState.SUCCEEDED
    cluster.finish(NS, name, 3)
    failed = executor.status(record)
    assert (failed.state, failed.exit_code, failed.reason) == (
        ExecutionState.FAILED, 3, "module exited with code 3")
    cluster.fail_deadline(NS, name)
    timed_out = executor.status(record)
    assert timed_out.state == ExecutionState.FAILED and "timed out" in (timed_out.reason or "")
    cluster.image_pull_error(NS, name)
    pull = executor.status(record)
    assert pull.state == ExecutionState.FAILED and "image pull failed" in (pull.reason or "")
    assert "registry/missing:1" in (pull.reason or "")
    cluster.evict(NS, name)
    evicted = executor.status(record)
    assert evicted.state == ExecutionState.FAILED
    assert evicted.reason == "pod evicted: The node was low on resource: memory."


def test_cancel_deletes_the_job_and_its_secret(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    launch = make_launch()
    executor.launch(launch)
    executor.cancel(launch.record)
    assert ("delete_namespaced_job", {"name": job_name(launch.execution_id),
                                      "propagation_policy": "Background"}) in cluster.calls
    assert cluster.jobs == {} and cluster.secrets == {}
    assert executor.status(launch.record).state == ExecutionState.UNKNOWN
    executor.cancel(launch.record)  # idempotent


def test_cleanup_removes_every_attempt_and_is_idempotent(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    executor.launch(make_launch(1))
    executor.launch(make_launch(2))
    cluster.secrets[(NS, "unrelated")] = {"metadata": {"name": "unrelated"}}
    executor.cleanup(make_launch(2).record)
    assert cluster.jobs == {}
    assert list(cluster.secrets) == [(NS, "unrelated")]
    executor.cleanup(make_launch(2).record)


def test_unreachable_api_is_transient(env: tuple[FakeCluster, KubernetesExecutor]) -> None:
    cluster, executor = env
    cluster.fail_next.append(ApiException(status=503, reason="Service Unavailable"))
    with pytest.raises(TransientError) as caught:
        executor.launch(make_launch())
    assert SECRET not in str(caught.value)


def test_long_names_stay_valid_and_distinct(ion: IonSettings, k8s: KubernetesSettings) -> None:
    long_module = "m" * 50
    first = build_job(make_launch(name=long_module), k8s, ion)
    event = Event.new("image_uploaded", id="E" * 128)
    launch = make_launch(name=long_module)
    other = JobLaunch(record=launch.record.model_copy(update={"job_id": job_id(event.id, long_module)}),
                      module=launch.module, event=event, secret=SECRET)
    second = build_job(other, k8s, ion)
    for body in (first, second):
        assert len(body["metadata"]["name"]) <= 63
        for value in body["metadata"]["labels"].values():
            assert len(value) <= 63 and value[0].isalnum() and value[-1].isalnum()
    assert first["metadata"]["name"] != second["metadata"]["name"]
    assert second["metadata"]["annotations"]["ion.platform/event-id"] == "E" * 128
