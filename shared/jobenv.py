"""The environment a job's module and sidecar get: written once, used by every executor."""

from __future__ import annotations

from shared.executors.base import JobLaunch
from shared.settings import IonSettings

# Settings a sidecar needs to reach the providers, by kind. Secret ones are kept apart so container
# executors can put them in a Secret / secure variable instead of the spec.
PLAIN_SETTING_NAMES = {
    "ION_MESSAGING": "messaging",
    "ION_METADATA": "metadata",
    "ION_BLOB": "blob",
    "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE": "servicebus_namespace",
    "MONGODB_DATABASE": "mongodb_database",
    "COSMOS_ENDPOINT": "cosmos_endpoint",
    "COSMOS_DATABASE": "cosmos_database",
    "AZURE_STORAGE_ACCOUNT_URL": "storage_account_url",
    "ION_BLOB_CONTAINER": "blob_container",
    "AZURE_CLIENT_ID": "azure_client_id",
    "ION_MAX_DELIVERY_COUNT": "max_delivery_count",
    "ION_MAX_EVENT_BYTES": "max_event_bytes",
    "ION_SIDECAR_GRACE_SECONDS": "sidecar_grace_seconds",
}
SECRET_SETTING_NAMES = {
    "SERVICEBUS_CONNECTION_STRING": "servicebus_connection_string",
    "MONGODB_URI": "mongodb_uri",
    "COSMOS_KEY": "cosmos_key",
    "AZURE_STORAGE_CONNECTION_STRING": "storage_connection_string",
}


def provider_environment(settings: IonSettings) -> tuple[dict[str, str], dict[str, str]]:
    """(plain, secret) environment variables that point a sidecar at the same providers."""
    plain: dict[str, str] = {}
    for name, attr in PLAIN_SETTING_NAMES.items():
        value = getattr(settings, attr)
        if value is not None:
            plain[name] = str(value)
    plain["ION_HOME"] = str(settings.home_dir)
    secret: dict[str, str] = {}
    for name, attr in SECRET_SETTING_NAMES.items():
        value = getattr(settings, attr)
        if value is not None:
            secret[name] = value.get_secret_value()
    return plain, secret


def module_environment(job: JobLaunch, port: int, base_dir: str) -> dict[str, str]:
    """The module contract's environment, plus the module's own `env` from the manifest."""
    return {
        **job.module.env,
        "SHARED_SECRET": job.secret,
        "SIDECAR_PORT": str(port),
        "SIDECAR_BASE_DIR": base_dir,
        "ION_EVENT_ID": job.event.id,
        "ION_CORRELATION_ID": job.event.correlation_id,
        "ION_EVENT_TYPE": job.event.type,
        "ION_MODULE_NAME": job.module.name,
    }


def sidecar_job_environment(job: JobLaunch, port: int, base_dir: str) -> dict[str, str]:
    """What a sidecar must know about its job (not the provider settings, not the secret)."""
    return {
        "SIDECAR_PORT": str(port),
        "SIDECAR_BASE_DIR": base_dir,
        "ION_EVENT_ID": job.event.id,
        "ION_CORRELATION_ID": job.event.correlation_id,
        "ION_EVENT_TYPE": job.event.type,
        "ION_MODULE_NAME": job.module.name,
        "ION_JOB_ID": job.record.job_id,
        "ION_ATTEMPT": str(job.record.attempt),
        "ION_PUBLISHES": ",".join(job.module.publishes),
    }
