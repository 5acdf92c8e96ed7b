"""Azure Container Instances executor: one container group per attempt, module and sidecar inside.

Both containers share the group's localhost and an emptyDir volume at /ion; restartPolicy is Never.
The shared secret and the sidecar's provider keys are secure environment variables (not returned
by the API). The group runs as a user-assigned managed identity, which also pulls the images.

Ending a group: a group ends when all its containers have ended. The sidecar exits after a
successful /done, but a module that fails (or never calls /done) would leave it running, so:
- the module container's state alone decides the attempt's status: once it has terminated, status
  reports success or failure at once and stops the group (stopping ends the sidecar and billing);
- the sidecar runs under `timeout` (the module's timeout plus a margin), so a group is bounded even
  when nobody polls it;
- a module running longer than its timeout (kept in the group's tags) is reported as timed out and
  its group stopped.
Creating is get-first: an existing group is never re-submitted (a PUT would update and restart it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigurationError
from shared.executors.azure_calls import call_azure
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.executors.container_spec import MOUNT_PATH, VOLUME_NAME, container_job, health_command
from shared.executors.names import aci_group_name
from shared.models import JobRecord
from shared.settings import IonSettings

log = logging.getLogger(__name__)

MODULE_CONTAINER = "module"
SIDECAR_CONTAINER = "sidecar"
TIMEOUT_TAG = "ion-timeout-seconds"
SIDECAR_MARGIN_SECONDS = 300  # the sidecar outlives the module's timeout by this much at most


class AciSettings(BaseSettings):
    """Azure Container Instances executor settings (environment variables ION_ACI_*).

    - ION_ACI_SUBSCRIPTION_ID, ION_ACI_RESOURCE_GROUP, ION_ACI_LOCATION: where groups are created.
    - ION_ACI_IDENTITY: resource id of the user-assigned managed identity the group runs as (the
      sidecar reaches the providers with it); ION_ACI_IDENTITY_CLIENT_ID: its client id, given to the
      sidecar as AZURE_CLIENT_ID.
    - ION_ACI_REGISTRY_SERVER: registry to pull images from, with ION_ACI_REGISTRY_IDENTITY (resource
      id of a user-assigned identity with AcrPull; defaults to ION_ACI_IDENTITY).
    - ION_ACI_SUBNET_ID: optional subnet resource id for private networking.
    - ION_ACI_GPU_SKU: GPU SKU for modules that ask for GPUs (K80, P100, V100).
    - ION_ACI_SIDECAR_CPU / ION_ACI_SIDECAR_MEMORY_GB: the sidecar container's resources.
    - ION_ACI_SIDECAR_PORT: the sidecar's port inside the group (default 8080).
    Authentication uses DefaultAzureCredential.
    """

    model_config = SettingsConfigDict(env_prefix="ION_ACI_", extra="ignore")

    subscription_id: str | None = None
    resource_group: str | None = None
    location: str = "westeurope"
    identity: str | None = None
    identity_client_id: str | None = None
    registry_server: str | None = None
    registry_identity: str | None = None
    subnet_id: str | None = None
    gpu_sku: str = "V100"
    sidecar_cpu: float = Field(default=0.5, gt=0)
    sidecar_memory_gb: float = Field(default=0.5, gt=0)
    sidecar_port: int = Field(default=8080, ge=1, le=65535)


def group_name(execution: str) -> str:
    return aci_group_name(f"ion-{execution}")


def build_container_group(job: JobLaunch, aci: AciSettings, ion: IonSettings) -> Any:
    """The container group of one attempt (azure.mgmt.containerinstance.models.ContainerGroup)."""
    from azure.mgmt.containerinstance import models

    spec = container_job(job, ion, aci.sidecar_port)
    sidecar_env = dict(spec.sidecar_env)
    if aci.identity_client_id:
        sidecar_env["AZURE_CLIENT_ID"] = aci.identity_client_id

    def variables(plain: dict[str, str], secret: dict[str, str]) -> list[Any]:
        return [
            *(models.EnvironmentVariable(name=k, value=v) for k, v in sorted(plain.items())),
            *(models.EnvironmentVariable(name=k, secure_value=v) for k, v in sorted(secret.items())),
        ]

    mounts = [models.VolumeMount(name=VOLUME_NAME, mount_path=MOUNT_PATH)]
    resources = job.module.resources
    gpu = models.GpuResource(count=resources.gpu, sku=aci.gpu_sku) if resources.gpu else None
    module = models.Container(
        name=MODULE_CONTAINER,
        image=spec.module_image,
        command=spec.module_command,
        environment_variables=variables(spec.module_env, {"SHARED_SECRET": spec.secret_env["SHARED_SECRET"]}),
        resources=models.ResourceRequirements(
            requests=models.ResourceRequests(
                cpu=resources.cpu_cores, memory_in_gb=round(resources.memory_gib, 2), gpu=gpu
            )
        ),
        volume_mounts=mounts,
    )
    sidecar_deadline = spec.timeout_seconds + SIDECAR_MARGIN_SECONDS
    sidecar = models.Container(
        name=SIDECAR_CONTAINER,
        image=spec.sidecar_image,
        command=["timeout", "-s", "TERM", str(sidecar_deadline), "ion", "sidecar"],
        environment_variables=variables(sidecar_env, spec.secret_env),
        resources=models.ResourceRequirements(
            requests=models.ResourceRequests(cpu=aci.sidecar_cpu, memory_in_gb=aci.sidecar_memory_gb)
        ),
        readiness_probe=models.ContainerProbe(
            exec_property=models.ContainerExec(command=health_command(aci.sidecar_port)),
            period_seconds=2,
        ),
        volume_mounts=mounts,
    )
    identity = None
    if aci.identity:
        identity = models.ContainerGroupIdentity(
            type="UserAssigned", user_assigned_identities={aci.identity: models.UserAssignedIdentities()}
        )
    credentials = None
    if aci.registry_server:
        credentials = [models.ImageRegistryCredential(
            server=aci.registry_server, identity=aci.registry_identity or aci.identity
        )]
    return models.ContainerGroup(
        location=aci.location,
        tags={
            "ion-module": job.module.name,
            "ion-job-id": job.record.job_id,
            "ion-event-id": job.event.id,
            "ion-attempt": str(job.record.attempt),
            TIMEOUT_TAG: str(spec.timeout_seconds),
        },
        identity=identity,
        containers=[module, sidecar],
        image_registry_credentials=credentials,
        restart_policy="Never",
        os_type="Linux",
        volumes=[models.Volume(name=VOLUME_NAME, empty_dir={})],
        subnet_ids=[models.ContainerGroupSubnetId(id=aci.subnet_id)] if aci.subnet_id else None,
    )


def _events_text(events: list[Any] | None) -> str:
    return "; ".join(f"{e.name}: {e.message}" for e in events or [] if getattr(e, "message", None))


class AciExecutor(Executor):
    name = "aci"

    def __init__(self, container_groups: Any, settings: AciSettings, ion_settings: IonSettings,
                 clock: Any = None) -> None:
        self._groups = container_groups  # ContainerInstanceManagementClient(...).container_groups
        self.settings = settings
        self.ion_settings = ion_settings
        self._now = clock or (lambda: datetime.now(UTC))
        if not settings.resource_group:
            raise ConfigurationError("Azure Container Instances", "ION_ACI_RESOURCE_GROUP", "not set")

    @classmethod
    def from_settings(cls, settings: IonSettings) -> AciExecutor:
        from azure.identity import DefaultAzureCredential
        from azure.mgmt.containerinstance import ContainerInstanceManagementClient

        aci = AciSettings()
        if not aci.subscription_id:
            raise ConfigurationError("Azure Container Instances", "ION_ACI_SUBSCRIPTION_ID", "not set")
        client = ContainerInstanceManagementClient(DefaultAzureCredential(), aci.subscription_id)
        return cls(client.container_groups, aci, settings)

    def _call(self, what: str, method: Any, *args: Any, exists_ok: bool = False,
              missing_ok: bool = False) -> Any:
        return call_azure(
            "aci", "Azure Container Instances", "the identity's role on ION_ACI_RESOURCE_GROUP", what,
            method, self.settings.resource_group, *args, exists_ok=exists_ok, missing_ok=missing_ok,
        )

    def launch(self, job: JobLaunch) -> None:
        name = group_name(job.execution_id)
        if self._call("get group", self._groups.get, name, missing_ok=True) is not None:
            return  # launched before: never re-submit (that would restart it)
        group = build_container_group(job, self.settings, self.ion_settings)
        # The PUT is accepted synchronously; provisioning continues in Azure and status follows it.
        self._call("create group", self._groups.begin_create_or_update, name, group, exists_ok=True)
        log.info("aci: launched container group %s", name)

    def status(self, record: JobRecord) -> ExecutionStatus:
        name = group_name(record.execution_id)
        group = self._call("get group", self._groups.get, name, missing_ok=True)
        if group is None:
            return ExecutionStatus(ExecutionState.UNKNOWN, reason=f"no container group {name}")
        containers = {c.name: c for c in group.containers or []}
        module_view = getattr(containers.get(MODULE_CONTAINER), "instance_view", None)
        current = getattr(module_view, "current_state", None)
        state = getattr(current, "state", None)
        if state == "Terminated":
            code = getattr(current, "exit_code", None)
            self._stop_if_running(name, group)
            if code == 0:
                return ExecutionStatus(ExecutionState.SUCCEEDED, exit_code=0)
            detail = getattr(current, "detail_status", None)
            why = f" ({detail})" if detail and detail not in ("Error", "Completed") else ""
            return ExecutionStatus(ExecutionState.FAILED, exit_code=code,
                                   reason=f"module exited with code {code}{why}")
        events = _events_text(getattr(module_view, "events", None))
        if group.provisioning_state == "Failed" or ("pull" in events.lower() and "fail" in events.lower()):
            return ExecutionStatus(ExecutionState.FAILED,
                                   reason=f"container group failed: {events or group.provisioning_state}")
        group_state = getattr(getattr(group, "instance_view", None), "state", None)
        if group_state in ("Stopped", "Failed"):
            return ExecutionStatus(ExecutionState.FAILED, reason=f"container group {group_state.lower()}")
        if state == "Running":
            started = getattr(current, "start_time", None)
            limit = int((group.tags or {}).get(TIMEOUT_TAG, "0") or 0)
            if started and limit and self._now() - started > timedelta(seconds=limit):
                self._call("stop group", self._groups.stop, name, missing_ok=True)
                return ExecutionStatus(ExecutionState.FAILED, reason=f"timed out after {limit}s")
            return ExecutionStatus(ExecutionState.RUNNING)
        return ExecutionStatus(ExecutionState.PENDING)

    def _stop_if_running(self, name: str, group: Any) -> None:
        if getattr(getattr(group, "instance_view", None), "state", None) == "Running":
            # The module has ended; the sidecar alone would keep the group (and its bill) running.
            self._call("stop group", self._groups.stop, name, missing_ok=True)

    def cancel(self, record: JobRecord) -> None:
        self._call("stop group", self._groups.stop, group_name(record.execution_id), missing_ok=True)

    def cleanup(self, record: JobRecord) -> None:
        for key in record.execution_ids():
            name = group_name(key)
            # Deletion continues in Azure; nothing here waits for it.
            self._call("delete group", self._groups.begin_delete, name, missing_ok=True)
