"""Azure Batch executor: a Batch job per module on one pool, one task per attempt.

How a task runs the module and its sidecar: the task runs on the node (not in a container), as an
elevated auto-user, and drives Docker itself:

1. it creates `$AZ_BATCH_TASK_WORKING_DIR/ion` and starts the sidecar container with it mounted at
   /ion, in its own network namespace (Docker's default bridge: outbound access, no host ports);
2. it runs the module container in the sidecar's network namespace (`--network container:<sidecar>`),
   so the module reaches the sidecar on localhost while several tasks on one node never compete for
   a host port, with the same folder at /ion and the module's CPU, memory and GPU limits;
3. it stops the sidecar and exits with the module's exit code; a trap removes both containers when
   the task ends any other way (terminate, maxWallClockTime).

Batch's own container tasks (containerSettings) run one container per task, so they cannot place
a sidecar beside the module; hence the command line.

Secrets: SHARED_SECRET and the sidecar's provider keys are task environment settings and the command
line passes them to Docker by name (`-e SHARED_SECRET`), never by value. Batch has no secure task
environment: anyone allowed to read the task through the Batch API can read its environment
settings, so give that permission only to whom may see a job's secret.
"""

from __future__ import annotations

import logging
import shlex
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigurationError
from shared.executors.azure_calls import call_azure
from shared.executors.base import ExecutionState, ExecutionStatus, Executor, JobLaunch
from shared.executors.container_spec import MOUNT_PATH, ContainerJob, container_job
from shared.executors.names import batch_id
from shared.models import JobRecord, ModuleSpec
from shared.settings import IonSettings, split_csv

log = logging.getLogger(__name__)

DOCKER_START_FAILED = 125  # `docker run` itself failed: image pull, registry auth, daemon


class AzureBatchSettings(BaseSettings):
    """Azure Batch executor settings (environment variables ION_BATCH_*).

    - ION_BATCH_ACCOUNT_URL: the account endpoint, e.g. https://acct.westeurope.batch.azure.com.
    - ION_BATCH_ACCOUNT_NAME / ION_BATCH_ACCOUNT_KEY: shared-key access; without a key the executor
      uses DefaultAzureCredential (managed identity with AZURE_CLIENT_ID, az login, ...).
    - ION_BATCH_POOL_ID: the pool every task runs on (default `ion`).
    - ION_BATCH_CREATE_POOL: create the pool from the settings below when it does not exist (default
      true). Pools that need a managed identity or a virtual network are better created by infra.
    - ION_BATCH_VM_SIZE: VM size of a created pool (default Standard_D2s_v3).
    - ION_BATCH_IMAGE: container-capable marketplace image as publisher:offer:sku:version
      (default microsoft-dsvm:ubuntu-hpc:2204:latest) and ION_BATCH_NODE_AGENT_SKU its node agent.
    - ION_BATCH_DEDICATED_NODES / ION_BATCH_LOW_PRIORITY_NODES: fixed node counts, or
      ION_BATCH_AUTOSCALE_FORMULA (with ION_BATCH_AUTOSCALE_INTERVAL_MINUTES) to autoscale instead.
    - ION_BATCH_TASK_SLOTS_PER_NODE: tasks one node runs at once.
    - ION_BATCH_GPU_VM_SIZES: comma-separated VM sizes that have GPUs; a module asking for a GPU runs
      only when the pool's VM size is one of them.
    - ION_BATCH_REGISTRY_SERVER / ION_BATCH_REGISTRY_IDENTITY: a container registry the pool's nodes
      log in to with a user-assigned identity (resource id) assigned to the pool.
    - ION_BATCH_SIDECAR_PORT: the sidecar's port inside a task's network namespace (default 8080).
    - ION_BATCH_IDENTITY_CLIENT_ID: client id of the jobs' user-assigned identity (assigned to the
      pool); the sidecar uses it as AZURE_CLIENT_ID instead of the dispatcher's own identity.
    Task directories are kept for ION_RETENTION_SECONDS after a task ends.
    """

    model_config = SettingsConfigDict(env_prefix="ION_BATCH_", extra="ignore")

    account_url: str | None = None
    account_name: str | None = None
    account_key: SecretStr | None = None
    pool_id: str = "ion"
    create_pool: bool = True
    vm_size: str = "Standard_D2s_v3"
    image: str = "microsoft-dsvm:ubuntu-hpc:2204:latest"
    node_agent_sku: str = "batch.node.ubuntu 22.04"
    dedicated_nodes: int = Field(default=1, ge=0)
    low_priority_nodes: int = Field(default=0, ge=0)
    autoscale_formula: str | None = None
    autoscale_interval_minutes: int = Field(default=5, ge=5)
    task_slots_per_node: int = Field(default=1, ge=1)
    gpu_vm_sizes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    registry_server: str | None = None
    registry_identity: str | None = None
    sidecar_port: int = Field(default=8080, ge=1, le=65535)
    identity_client_id: str | None = None

    @field_validator("gpu_vm_sizes", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        return split_csv(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if len(value.split(":")) != 4:
            raise ValueError("ION_BATCH_IMAGE must be publisher:offer:sku:version")
        return value


def batch_job_id(module: str) -> str:
    """The Batch job that holds a module's tasks."""
    return batch_id(f"ion-{module}")


def task_id(execution: str) -> str:
    return batch_id(execution)


def _memory_mb(module: ModuleSpec) -> int:
    return max(4, int(module.resources.memory_gib * 1024))


def _docker_env(plain: dict[str, str], secret_names: list[str]) -> list[str]:
    args: list[str] = []
    for name, value in sorted(plain.items()):
        args += ["-e", f"{name}={value}"]
    for name in secret_names:
        args += ["-e", name]  # by name: Docker copies the value from the task's environment
    return args


class _Shell(str):
    """A command-line fragment that refers to shell variables: written as is, not quoted."""


def _render(argv: list[str]) -> str:
    return " ".join(arg if isinstance(arg, _Shell) else shlex.quote(arg) for arg in argv)


def task_script(job: JobLaunch, spec: ContainerJob) -> str:
    """The bash script the task runs (see the module docstring)."""
    suffix = "$AZ_BATCH_JOB_ID-$AZ_BATCH_TASK_ID"
    volume = _Shell(f'"$ION_DIR":{MOUNT_PATH}')
    sidecar = [
        "docker", "run", "-d", "--name", _Shell('"$SC"'), "-v", volume,
        *_docker_env(spec.sidecar_env, spec.secret_names), spec.sidecar_image,
    ]
    resources = job.module.resources
    module = [
        "docker", "run", "--name", _Shell('"$MOD"'), "--network", _Shell('container:"$SC"'), "-v", volume,
        "--cpus", str(resources.cpu_cores), "--memory", f"{_memory_mb(job.module)}m",
    ]
    if resources.gpu:
        module += ["--gpus", str(resources.gpu)]
    module += _docker_env(spec.module_env, ["SHARED_SECRET"])
    command = spec.module_command or []
    if command:
        module += ["--entrypoint", command[0]]
    module += [spec.module_image, *command[1:]]
    lines = [
        "set -u",
        'ION_DIR="$AZ_BATCH_TASK_WORKING_DIR/ion"',
        f'SC="ion-sidecar-{suffix}"',
        f'MOD="ion-module-{suffix}"',
        'mkdir -p "$ION_DIR" && chmod 0777 "$ION_DIR"',
        'cleanup() { docker rm -f "$MOD" "$SC" >/dev/null 2>&1; }',
        "trap cleanup EXIT",
        "trap 'exit 143' TERM INT",
        f"{_render(sidecar)} >/dev/null || exit {DOCKER_START_FAILED}",
        _render(module),
        "rc=$?",
        'docker stop -t 10 "$SC" >/dev/null 2>&1',
        'exit "$rc"',
    ]
    return "\n".join(lines)


def build_task(job: JobLaunch, batch: AzureBatchSettings, ion: IonSettings) -> Any:
    """The Batch task of one attempt (azure.batch.models.BatchTaskCreateOptions)."""
    from azure.batch import models

    spec = container_job(job, ion, batch.sidecar_port)
    if batch.identity_client_id:
        # The pool's nodes carry the jobs' identity, not the dispatcher's.
        spec = replace(spec, sidecar_env={**spec.sidecar_env, "AZURE_CLIENT_ID": batch.identity_client_id})
    script = task_script(job, spec)
    return models.BatchTaskCreateOptions(
        id=task_id(job.execution_id),
        display_name=f"{job.module.name} {job.record.job_id} attempt {job.record.attempt}"[:1024],
        command_line=f"/bin/bash -c {shlex.quote(script)}",
        environment_settings=[
            models.EnvironmentSetting(name=name, value=value)
            for name, value in sorted(spec.secret_env.items())
        ],
        constraints=models.BatchTaskConstraints(
            max_wall_clock_time=timedelta(seconds=spec.timeout_seconds),
            retention_time=timedelta(seconds=max(60, int(ion.retention_seconds))),
            max_task_retry_count=0,
        ),
        user_identity=models.UserIdentity(
            auto_user=models.AutoUserSpecification(scope="pool", elevation_level="admin")
        ),
    )


def build_batch_job(module: str, batch: AzureBatchSettings) -> Any:
    from azure.batch import models

    return models.BatchJobCreateOptions(
        id=batch_job_id(module),
        display_name=f"Ion module {module}",
        pool_info=models.BatchPoolInfo(pool_id=batch.pool_id),
        constraints=models.BatchJobConstraints(max_task_retry_count=0),
        metadata=[models.BatchMetadataItem(name="ion-module", value=module)],
    )


def build_pool(batch: AzureBatchSettings, sidecar_image: str) -> Any:
    from azure.batch import models

    publisher, offer, sku, version = batch.image.split(":")
    registries = []
    if batch.registry_server:
        registries.append(models.ContainerRegistryReference(
            registry_server=batch.registry_server,
            identity_reference=(
                models.BatchNodeIdentityReference(resource_id=batch.registry_identity)
                if batch.registry_identity else None
            ),
        ))
    options: dict[str, Any] = {}
    if batch.autoscale_formula:
        options.update(
            enable_auto_scale=True,
            auto_scale_formula=batch.autoscale_formula,
            auto_scale_evaluation_interval=timedelta(minutes=batch.autoscale_interval_minutes),
        )
    else:
        options.update(
            target_dedicated_nodes=batch.dedicated_nodes, target_low_priority_nodes=batch.low_priority_nodes
        )
    return models.BatchPoolCreateOptions(
        id=batch.pool_id,
        vm_size=batch.vm_size,
        virtual_machine_configuration=models.VirtualMachineConfiguration(
            image_reference=models.BatchVmImageReference(
                publisher=publisher, offer=offer, sku=sku, version=version
            ),
            node_agent_sku_id=batch.node_agent_sku,
            container_configuration=models.BatchContainerConfiguration(
                type="dockerCompatible",
                container_image_names=[sidecar_image],  # pre-pulled: every task starts one
                container_registries=registries or None,
            ),
        ),
        task_slots_per_node=batch.task_slots_per_node,
        **options,
    )


class AzureBatchExecutor(Executor):
    name = "azurebatch"

    def __init__(self, client: Any, settings: AzureBatchSettings, ion_settings: IonSettings) -> None:
        self._client = client  # azure.batch.BatchClient
        self.settings = settings
        self.ion_settings = ion_settings
        self._ready_jobs: set[str] = set()
        self._pool_vm_size: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: IonSettings) -> AzureBatchExecutor:
        from azure.batch import BatchClient
        from azure.core.credentials import AzureNamedKeyCredential

        batch = AzureBatchSettings()
        if not batch.account_url:
            raise ConfigurationError(
                "Azure Batch", "ION_BATCH_ACCOUNT_URL", "no Batch account endpoint is set"
            )
        credential: Any
        if batch.account_key is not None:
            if not batch.account_name:
                raise ConfigurationError(
                    "Azure Batch", "ION_BATCH_ACCOUNT_NAME", "a shared key needs the account name"
                )
            credential = AzureNamedKeyCredential(batch.account_name, batch.account_key.get_secret_value())
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return cls(BatchClient(batch.account_url, credential), batch, settings)

    # --- launch -------------------------------------------------------------------------------

    def launch(self, job: JobLaunch) -> None:
        self._ensure_job(job.module.name)
        if job.module.resources.gpu and (self._pool_vm_size or "").lower() not in {
            size.lower() for size in self.settings.gpu_vm_sizes
        }:
            raise ConfigurationError(
                "Azure Batch", "ION_BATCH_GPU_VM_SIZES / ION_BATCH_POOL_ID",
                f"module {job.module.name!r} asks for {job.module.resources.gpu} GPU(s) but pool "
                f"{self.settings.pool_id!r} has VM size {self._pool_vm_size!r}, not one of the GPU sizes "
                f"{self.settings.gpu_vm_sizes}",
            )
        task = build_task(job, self.settings, self.ion_settings)
        self._call("add task", self._client.create_task, batch_job_id(job.module.name), task, exists_ok=True)
        log.info("azurebatch: launched task %s in job %s", task.id, batch_job_id(job.module.name))

    def _ensure_job(self, module: str) -> None:
        from azure.batch import models

        job_id = batch_job_id(module)
        with self._lock:
            if job_id in self._ready_jobs:
                return
            if self._pool_vm_size is None:
                pool = self._call("get pool", self._client.get_pool, self.settings.pool_id, missing_ok=True)
                if pool is None:
                    if not self.settings.create_pool:
                        raise ConfigurationError(
                            "Azure Batch", "ION_BATCH_POOL_ID",
                            f"pool {self.settings.pool_id!r} does not exist and ION_BATCH_CREATE_POOL is off",
                        )
                    self._call("create pool", self._client.create_pool,
                               build_pool(self.settings, self.ion_settings.sidecar_image), exists_ok=True)
                    self._pool_vm_size = self.settings.vm_size
                else:
                    self._pool_vm_size = getattr(pool, "vm_size", None) or self.settings.vm_size
            existing = self._call("get job", self._client.get_job, job_id, missing_ok=True)
            if existing is None:
                self._call("create job", self._client.create_job, build_batch_job(module, self.settings),
                           exists_ok=True)
            elif getattr(existing, "state", None) not in (None, models.BatchJobState.ACTIVE):
                raise ConfigurationError(
                    "Azure Batch", "ION_BATCH_POOL_ID",
                    f"Batch job {job_id!r} is {existing.state}, not active; delete it so Ion recreates it",
                )
            self._ready_jobs.add(job_id)

    def _call(self, what: str, method: Any, *args: Any, exists_ok: bool = False,
              missing_ok: bool = False) -> Any:
        return call_azure(
            "azurebatch", "Azure Batch", "ION_BATCH_ACCOUNT_KEY or the identity's Batch role", what,
            method, *args, exists_ok=exists_ok, missing_ok=missing_ok,
        )

    # --- status -------------------------------------------------------------------------------

    def status(self, record: JobRecord) -> ExecutionStatus:
        from azure.batch import models

        job_id, tid = batch_job_id(record.module), task_id(record.execution_id)
        task = self._call("get task", self._client.get_task, job_id, tid, missing_ok=True)
        if task is None:
            return ExecutionStatus(ExecutionState.UNKNOWN, reason=f"no Batch task {tid} in job {job_id}")
        state = task.state
        if state in (models.BatchTaskState.ACTIVE, models.BatchTaskState.PREPARING):
            return ExecutionStatus(ExecutionState.PENDING)
        if state == models.BatchTaskState.RUNNING:
            return ExecutionStatus(ExecutionState.RUNNING)
        info = task.execution_info
        code = getattr(info, "exit_code", None)
        failure = getattr(info, "failure_info", None)
        if getattr(info, "result", None) == models.BatchTaskExecutionResult.SUCCESS and code == 0:
            return ExecutionStatus(ExecutionState.SUCCEEDED, exit_code=0)
        if failure is not None and code in (None, 0):
            return ExecutionStatus(ExecutionState.FAILED, exit_code=code, reason=_failure_reason(failure))
        if code == DOCKER_START_FAILED:
            return ExecutionStatus(
                ExecutionState.FAILED, exit_code=code,
                reason="containers could not start (image pull, registry login or Docker error)",
            )
        if code == 143:
            return ExecutionStatus(ExecutionState.FAILED, exit_code=code,
                                   reason="task terminated (timed out or cancelled)")
        reason = f"module exited with code {code}"
        return ExecutionStatus(ExecutionState.FAILED, exit_code=code, reason=reason)

    # --- cancel / cleanup ---------------------------------------------------------------------

    def cancel(self, record: JobRecord) -> None:
        job_id, tid = batch_job_id(record.module), task_id(record.execution_id)
        # 409 (TaskCompleted): a finished task has nothing left to stop.
        self._call("terminate task", self._client.terminate_task, job_id, tid,
                   missing_ok=True, exists_ok=True)

    def cleanup(self, record: JobRecord) -> None:
        job_id = batch_job_id(record.module)
        for key in record.execution_ids():
            tid = task_id(key)
            self._call("delete task", self._client.delete_task, job_id, tid, missing_ok=True)


def _failure_reason(failure: Any) -> str:
    code = getattr(failure, "code", None) or "failure"
    message = getattr(failure, "message", None) or ""
    raw = getattr(failure, "category", None)
    category = str(getattr(raw, "value", raw) or "")
    if "wallclock" in code.lower() or "wallclock" in message.lower().replace(" ", ""):
        return f"timed out (maxWallClockTime): {message}".rstrip(": ")
    if code == "TaskEnded":  # the service ended it: wall-clock limit or a terminate request
        return f"task ended before the module finished (timeout or cancel): {message}".rstrip(": ")
    source = "Batch service error" if category.lower() == "servererror" else "task failed"
    return f"{source}: {code}: {message}".rstrip(": ")
