"""What every container executor places in a job: the module and sidecar containers' environment.

Kubernetes, Batch and ACI differ in how they express a job, not in what the module and sidecar
get: this module computes that once from shared.jobenv, with secret values kept apart from plain
ones so each executor can put them in its own secret store (Secret, secure variable, task env).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.executors.base import JobLaunch
from shared.jobenv import module_environment, provider_environment, sidecar_job_environment
from shared.settings import IonSettings

BASE_DIR = "/ion/"  # SIDECAR_BASE_DIR in containers (module contract)
VOLUME_NAME = "ion"
MOUNT_PATH = "/ion"
SECRET_KEY = "SHARED_SECRET"
# ION_HOME from the dispatcher's settings is a path on the dispatcher's machine; inside a job the
# sidecar gets a scratch folder of its own (outside the shared /ion directory).
CONTAINER_ION_HOME = "/tmp/ion-home"
# Shown by `ion render` instead of a real secret.
SECRET_PLACEHOLDER = "<generated at launch>"


@dataclass(frozen=True)
class ContainerJob:
    """The two containers of one attempt, with plain and secret environment separated."""

    module_image: str
    module_command: list[str] | None
    sidecar_image: str
    module_env: dict[str, str]  # plain values only (SHARED_SECRET excluded)
    sidecar_env: dict[str, str]  # plain values only
    secret_env: dict[str, str] = field(repr=False)  # SHARED_SECRET + provider keys; the sidecar gets all
    timeout_seconds: int = 600

    @property
    def secret_names(self) -> list[str]:
        return sorted(self.secret_env)



def container_job(job: JobLaunch, settings: IonSettings, port: int) -> ContainerJob:
    if not job.module.image:
        raise ValueError(f"module {job.module.name!r}: a container executor needs an image")
    module_env = module_environment(job, port, BASE_DIR)
    secret_value = module_env.pop(SECRET_KEY)
    plain, secret = provider_environment(settings)
    plain["ION_HOME"] = CONTAINER_ION_HOME
    sidecar_env = {**plain, **sidecar_job_environment(job, port, BASE_DIR)}
    return ContainerJob(
        module_image=job.module.image,
        module_command=list(job.module.command) if job.module.command else None,
        sidecar_image=settings.sidecar_image,
        module_env=module_env,
        sidecar_env=sidecar_env,
        secret_env={SECRET_KEY: secret_value, **secret},
        timeout_seconds=max(1, int(job.module.timeout.total_seconds())),
    )


def health_command(port: int) -> list[str]:
    """A readiness check run inside the sidecar container.

    The sidecar listens on 127.0.0.1 only (the module reaches it on localhost; nothing else should),
    so an HTTP probe from outside the container could not reach /healthz: probe from inside.
    """
    script = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=2)"
    )
    return ["python", "-c", script]
