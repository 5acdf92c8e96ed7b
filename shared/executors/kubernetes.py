"""Kubernetes executor: one batch/v1 Job per attempt, the sidecar as a native sidecar container.

The pod has the module as its only main container and the sidecar as an init container with
`restartPolicy: Always` (a native sidecar, Kubernetes 1.29+): the kubelet starts it first, waits
for its readiness probe on /healthz (run inside the container: the sidecar listens on 127.0.0.1
only), and stops it when the module exits, so the Job completes with
the module. Both mount one emptyDir at /ion. Ion does the retrying, so `backoffLimit` is 0.

The shared secret and the sidecar's provider keys live in a per-attempt Secret, referenced by
`secretKeyRef` (module: SHARED_SECRET only) and `envFrom` (sidecar: every key), never as literals in
the pod spec. Once the Job exists the Secret gets an ownerReference to it, so Kubernetes deletes the
Secret with the Job (ttlSecondsAfterFinished, cancel, cleanup).
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigurationError, IonError, TransientError
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.executors.container_spec import (
    MOUNT_PATH,
    SECRET_KEY,
    VOLUME_NAME,
    container_job,
    health_command,
)
from shared.executors.names import dns_label, label_value
from shared.models import JobRecord
from shared.settings import IonSettings, split_csv

log = logging.getLogger(__name__)

MODULE_CONTAINER = "module"
SIDECAR_CONTAINER = "sidecar"
LABEL_PREFIX = "ion.platform"
# Waiting reasons that mean the pod will never start by itself.
_STUCK_REASONS = {
    "ErrImagePull": "image pull failed",
    "ImagePullBackOff": "image pull failed",
    "InvalidImageName": "invalid image name",
    "CreateContainerConfigError": "container configuration error",
    "CreateContainerError": "container could not be created",
}


class KubernetesSettings(BaseSettings):
    """Kubernetes executor settings (environment variables ION_K8S_*).

    - ION_K8S_NAMESPACE: namespace of the Jobs and Secrets (default `ion`).
    - ION_K8S_SERVICE_ACCOUNT: service account of the pods (e.g. one federated for workload identity).
    - ION_K8S_WORKLOAD_IDENTITY: `true` labels pods `azure.workload.identity/use: "true"` (AKS).
    - ION_K8S_IMAGE_PULL_SECRETS: comma-separated names of image pull secrets.
    - ION_K8S_SIDECAR_PORT: the sidecar's port inside the pod (default 8080).
    - ION_K8S_SIDECAR_CPU / ION_K8S_SIDECAR_MEMORY: the sidecar's requests and limits.
    - ION_K8S_GPU_RESOURCE: extended resource name for GPUs (default `nvidia.com/gpu`).
    - ION_K8S_KUBECONFIG / ION_K8S_CONTEXT: kubeconfig file and context used outside a cluster
      (in a cluster the pod's service account is used).
    Retention of finished Jobs (ttlSecondsAfterFinished) is ION_RETENTION_SECONDS.
    """

    model_config = SettingsConfigDict(env_prefix="ION_K8S_", extra="ignore")

    namespace: str = "ion"
    service_account: str | None = None
    workload_identity: bool = False
    image_pull_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sidecar_port: int = Field(default=8080, ge=1, le=65535)
    sidecar_cpu: str = "250m"
    sidecar_memory: str = "256Mi"
    gpu_resource: str = "nvidia.com/gpu"
    kubeconfig: str | None = None
    context: str | None = None

    @field_validator("image_pull_secrets", mode="before")
    @classmethod
    def _pull_secrets(cls, value: Any) -> Any:
        return split_csv(value)


def job_name(execution: str) -> str:
    """Name of the Job (and its Secret) of one attempt."""
    return dns_label(f"ion-{execution}")


def _labels(job: JobLaunch) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "ion-job",
        "app.kubernetes.io/managed-by": "ion",
        f"{LABEL_PREFIX}/module": label_value(job.module.name),
        f"{LABEL_PREFIX}/event-id": label_value(job.event.id),
        f"{LABEL_PREFIX}/attempt": str(job.record.attempt),
        f"{LABEL_PREFIX}/job-id": label_value(job.record.job_id),
    }


def _annotations(job: JobLaunch) -> dict[str, str]:
    # Labels may be shortened; annotations keep the exact ids for `kubectl describe`.
    return {
        f"{LABEL_PREFIX}/job-id": job.record.job_id,
        f"{LABEL_PREFIX}/event-id": job.event.id,
        f"{LABEL_PREFIX}/correlation-id": job.event.correlation_id,
    }


def _env_list(env: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in sorted(env.items())]


def build_secret(job: JobLaunch, k8s: KubernetesSettings, ion: IonSettings) -> dict[str, Any]:
    """The per-attempt Secret holding SHARED_SECRET and the sidecar's provider keys."""
    spec = container_job(job, ion, k8s.sidecar_port)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": job_name(job.execution_id),
            "namespace": k8s.namespace,
            "labels": _labels(job),
        },
        "type": "Opaque",
        "stringData": dict(sorted(spec.secret_env.items())),
    }


def build_job(job: JobLaunch, k8s: KubernetesSettings, ion: IonSettings) -> dict[str, Any]:
    """The batch/v1 Job of one attempt (API form, camelCase), exactly as launch submits it."""
    spec = container_job(job, ion, k8s.sidecar_port)
    name = job_name(job.execution_id)
    resources = job.module.resources
    module_resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": resources.cpu, "memory": resources.memory},
        "limits": {"cpu": resources.cpu, "memory": resources.memory},
    }
    if resources.gpu:
        module_resources["requests"][k8s.gpu_resource] = str(resources.gpu)
        module_resources["limits"][k8s.gpu_resource] = str(resources.gpu)
    sidecar_env = dict(spec.sidecar_env)
    if k8s.workload_identity:
        # The workload identity webhook sets AZURE_CLIENT_ID from the service account's annotation;
        # the dispatcher's own client id would point the sidecar at the wrong identity.
        sidecar_env.pop("AZURE_CLIENT_ID", None)
    mounts = [{"name": VOLUME_NAME, "mountPath": MOUNT_PATH}]
    module: dict[str, Any] = {
        "name": MODULE_CONTAINER,
        "image": spec.module_image,
        "env": [
            *_env_list(spec.module_env),
            {"name": SECRET_KEY, "valueFrom": {"secretKeyRef": {"name": name, "key": SECRET_KEY}}},
        ],
        "resources": module_resources,
        "volumeMounts": mounts,
    }
    if spec.module_command:
        module["command"] = spec.module_command
    sidecar: dict[str, Any] = {
        "name": SIDECAR_CONTAINER,
        "image": spec.sidecar_image,
        "restartPolicy": "Always",
        "env": _env_list(sidecar_env),
        "envFrom": [{"secretRef": {"name": name}}],
        # startupProbe: the kubelet starts the module only once the sidecar answers.
        "startupProbe": {
            "exec": {"command": health_command(k8s.sidecar_port)},
            "periodSeconds": 1,
            "timeoutSeconds": 3,
            "failureThreshold": 60,
        },
        "readinessProbe": {
            "exec": {"command": health_command(k8s.sidecar_port)},
            "periodSeconds": 2,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": k8s.sidecar_cpu, "memory": k8s.sidecar_memory},
            "limits": {"cpu": k8s.sidecar_cpu, "memory": k8s.sidecar_memory},
        },
        "volumeMounts": mounts,
    }
    pod_labels = _labels(job)
    if k8s.workload_identity:
        pod_labels["azure.workload.identity/use"] = "true"
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "initContainers": [sidecar],
        "containers": [module],
        "volumes": [{"name": VOLUME_NAME, "emptyDir": {}}],
    }
    if k8s.service_account:
        pod_spec["serviceAccountName"] = k8s.service_account
    if k8s.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": secret} for secret in k8s.image_pull_secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": k8s.namespace,
            "labels": _labels(job),
            "annotations": _annotations(job),
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.timeout_seconds,
            "ttlSecondsAfterFinished": int(ion.retention_seconds),
            "template": {
                "metadata": {"labels": pod_labels, "annotations": _annotations(job)},
                "spec": pod_spec,
            },
        },
    }


class KubernetesExecutor(Executor):
    name = "kubernetes"

    def __init__(
        self, batch_api: Any, core_api: Any, settings: KubernetesSettings, ion_settings: IonSettings
    ) -> None:
        self._batch = batch_api  # kubernetes.client.BatchV1Api
        self._core = core_api  # kubernetes.client.CoreV1Api
        self.settings = settings
        self.ion_settings = ion_settings

    @classmethod
    def from_settings(cls, settings: IonSettings) -> KubernetesExecutor:
        from kubernetes import client, config

        k8s = KubernetesSettings()
        try:
            config.load_incluster_config()
        except config.ConfigException:
            try:
                config.load_kube_config(config_file=k8s.kubeconfig, context=k8s.context)
            except (config.ConfigException, OSError) as exc:
                raise ConfigurationError(
                    "Kubernetes", "ION_K8S_KUBECONFIG / ION_K8S_CONTEXT", f"no cluster configuration: {exc}"
                ) from None
        api = client.ApiClient()
        return cls(client.BatchV1Api(api), client.CoreV1Api(api), k8s, settings)

    # --- launch -------------------------------------------------------------------------------

    def launch(self, job: JobLaunch) -> None:
        namespace = self.settings.namespace
        name = job_name(job.execution_id)
        secret = build_secret(job, self.settings, self.ion_settings)
        body = build_job(job, self.settings, self.ion_settings)
        # The Secret first: the pod needs it to start. If it exists (a redelivered launch), the
        # existing one is used by both containers, so module and sidecar still agree.
        self._call("create Secret", self._core.create_namespaced_secret, namespace, secret, exists_ok=True)
        created = self._call("create Job", self._batch.create_namespaced_job, namespace, body, exists_ok=True)
        if created is None:
            created = self._call("read Job", self._batch.read_namespaced_job, name, namespace)
        uid = getattr(getattr(created, "metadata", None), "uid", None)
        if uid:
            owner = {
                "metadata": {
                    "ownerReferences": [
                        {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid}
                    ]
                }
            }
            self._call("set Secret owner", self._core.patch_namespaced_secret, name, namespace, owner)
        log.info("kubernetes: launched job %s in namespace %s", name, namespace)

    def _call(self, what: str, method: Any, *args: Any, exists_ok: bool = False,
              missing_ok: bool = False, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return method(*args, **kwargs)
        except ApiException as exc:
            if exists_ok and exc.status == 409:
                return None
            if missing_ok and exc.status == 404:
                return None
            raise _translate(what, exc, self.settings.namespace) from None
        except (OSError, ConnectionError) as exc:
            raise TransientError(f"kubernetes: {what}: cluster unreachable ({type(exc).__name__})") from None
        except Exception as exc:
            # urllib3 errors (timeouts, protocol errors) do not share a base class with OSError.
            if type(exc).__module__.startswith("urllib3"):
                kind = type(exc).__name__
                raise TransientError(f"kubernetes: {what}: cluster unreachable ({kind})") from None
            raise

    # --- status -------------------------------------------------------------------------------

    def status(self, record: JobRecord) -> ExecutionStatus:
        namespace = self.settings.namespace
        name = job_name(record.execution_id)
        job = self._call("read Job", self._batch.read_namespaced_job, name, namespace, missing_ok=True)
        if job is None:
            return ExecutionStatus(ExecutionState.UNKNOWN, reason=f"no Kubernetes Job {name}")
        conditions = {c.type: c for c in (getattr(job.status, "conditions", None) or []) if c.status == "True"}
        pods = self._pods(name)
        if "Complete" in conditions:
            return ExecutionStatus(ExecutionState.SUCCEEDED, exit_code=0)
        if "Failed" in conditions:
            return self._failed(conditions["Failed"], pods, record)
        for pod in pods:
            stuck = _stuck_reason(pod)
            if stuck:
                return ExecutionStatus(ExecutionState.FAILED, reason=stuck)
        if any(getattr(pod.status, "phase", None) == "Running" for pod in pods) or getattr(job.status, "active", None):
            return ExecutionStatus(ExecutionState.RUNNING)
        return ExecutionStatus(ExecutionState.PENDING)

    def _pods(self, name: str) -> list[Any]:
        result = self._call(
            "list pods", self._core.list_namespaced_pod, self.settings.namespace,
            label_selector=f"job-name={name}",
        )
        return list(getattr(result, "items", None) or [])

    def _failed(self, condition: Any, pods: list[Any], record: JobRecord) -> ExecutionStatus:
        reason = condition.reason or "Failed"
        if reason == "DeadlineExceeded":
            return ExecutionStatus(ExecutionState.FAILED, reason="timed out (Job deadline exceeded)")
        for pod in pods:
            pod_reason = getattr(pod.status, "reason", None)
            if pod_reason:  # Evicted, NodeLost, Shutdown, ...
                message = getattr(pod.status, "message", None) or ""
                return ExecutionStatus(
                    ExecutionState.FAILED, reason=f"pod {pod_reason.lower()}: {message}".rstrip(": ")
                )
            terminated = _module_terminated(pod)
            if terminated is not None:
                code = terminated.exit_code
                why = f" ({terminated.reason})" if terminated.reason not in (None, "Error") else ""
                return ExecutionStatus(
                    ExecutionState.FAILED, exit_code=code, reason=f"module exited with code {code}{why}"
                )
        message = condition.message or ""
        return ExecutionStatus(ExecutionState.FAILED, reason=f"{reason}: {message}".rstrip(": "))

    # --- cancel / cleanup ---------------------------------------------------------------------

    def cancel(self, record: JobRecord) -> None:
        name = job_name(record.execution_id)
        self._call(
            "delete Job", self._batch.delete_namespaced_job, name, self.settings.namespace,
            propagation_policy="Background", missing_ok=True,
        )

    def cleanup(self, record: JobRecord) -> None:
        for key in record.execution_ids():
            name = job_name(key)
            self._call(
                "delete Job", self._batch.delete_namespaced_job, name, self.settings.namespace,
                propagation_policy="Background", missing_ok=True,
            )
            self._call(
                "delete Secret", self._core.delete_namespaced_secret, name, self.settings.namespace,
                missing_ok=True,
            )


def _module_terminated(pod: Any) -> Any:
    for status in getattr(pod.status, "container_statuses", None) or []:
        if status.name == MODULE_CONTAINER:
            return getattr(getattr(status, "state", None), "terminated", None)
    return None


def _stuck_reason(pod: Any) -> str | None:
    statuses = [
        *(getattr(pod.status, "init_container_statuses", None) or []),
        *(getattr(pod.status, "container_statuses", None) or []),
    ]
    for status in statuses:
        waiting = getattr(getattr(status, "state", None), "waiting", None)
        reason = getattr(waiting, "reason", None)
        if reason in _STUCK_REASONS:
            message = getattr(waiting, "message", None) or ""
            return f"{_STUCK_REASONS[reason]} ({status.name}: {reason}) {message}".strip()
    return None


def _translate(what: str, exc: Any, namespace: str) -> IonError:
    status = exc.status or 0
    detail = exc.reason or ""
    if exc.body:
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(exc.body).get("message", detail)
    if status in (0, 429) or status >= 500:
        return TransientError(f"kubernetes: {what}: HTTP {status} {detail}".rstrip())
    if status in (401, 403):
        return ConfigurationError(
            "Kubernetes", "ION_K8S_NAMESPACE / ION_K8S_SERVICE_ACCOUNT / cluster RBAC",
            f"{what} in namespace {namespace!r} was refused (HTTP {status}): {detail}",
        )
    return IonError(f"kubernetes: {what} failed (HTTP {status}): {detail}")
