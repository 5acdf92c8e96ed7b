"""From the module manifest to the deployment's parameters, and the Function App's settings.

The Bicep and Terraform trees in infra/ take the same inputs: the topics (every event type the
manifest subscribes to or publishes), one subscription per module, and which executors to deploy.
`function_app_settings()` is the one authoritative list of the Function App's app settings, derived
from the settings classes, so the infra tests can compare both trees against the code.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from shared.errors import IonError
from shared.manifest import Manifest
from shared.settings import IonSettings

ParamsFormat = Literal["bicep", "terraform"]
MetadataKind = Literal["cosmos", "mongodb"]
CLOUD_EXECUTORS = ("kubernetes", "azurebatch", "aci")

# Batch VM size for GPU modules when the manifest asks for a GPU (a T4: the smallest current GPU size).
DEFAULT_GPU_VM_SIZE = "Standard_NC4as_T4_v3"


class InfraParamsError(IonError):
    """The manifest cannot be deployed as it is; the message says which module and why."""


# --- The Function App's settings ------------------------------------------------------------------

# IonSettings fields the Function App is not given, and why. A field added to IonSettings and not
# listed here is deployed (in the "core" group), so the infra tests notice it.
CORE_SETTINGS_NOT_DEPLOYED: dict[str, str] = {
    "home": "local state only; on Azure every provider is a service",
    "servicebus_connection_string": "identity-based: SERVICEBUS_FULLY_QUALIFIED_NAMESPACE",
    "cosmos_key": "identity-based: the Cosmos DB data-plane role assignment",
    "storage_connection_string": "identity-based: AZURE_STORAGE_ACCOUNT_URL",
    "reconcile_seconds": "the local loop's period; the timer function uses ION_RECONCILE_SCHEDULE",
}

# IonSettings fields that belong to one metadata store; the rest of the deployed ones are "core".
METADATA_SETTINGS: dict[str, MetadataKind] = {
    "cosmos_endpoint": "cosmos",
    "cosmos_database": "cosmos",
    "mongodb_uri": "mongodb",  # a Key Vault reference, resolved by the Functions host
    "mongodb_database": "mongodb",
}

# Settings the Functions host itself reads (not Ion's code): the runtime, its identity-based storage and
# Service Bus trigger connections, telemetry and the run-from-package source.
FUNCTIONS_HOST_SETTINGS: tuple[str, ...] = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "ServiceBusConnection__fullyQualifiedNamespace",
    "ServiceBusConnection__credential",
    "ServiceBusConnection__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID",
)

# The Functions app's own settings class (ION_RECONCILE_SCHEDULE, ...), deployed with the host's.
FUNCTIONS_SETTINGS_MODULE = "dispatcher_functions.app_settings"

# The executor settings classes live beside their executors, in these modules.
EXECUTOR_SETTINGS_MODULES: dict[str, str] = {
    "kubernetes": "shared.executors.kubernetes",
    "azurebatch": "shared.executors.azurebatch",
    "aci": "shared.executors.aci",
}

# Executor and Functions app settings the Function App is not given, and why (by variable name).
_DEFAULTS_FIT = "the executor's default fits the deployed resources; add the app setting to change it"
_POOL_BY_INFRA = "infra creates the pool (ION_BATCH_CREATE_POOL=false), so pool shape settings are unused"
EXECUTOR_SETTINGS_NOT_DEPLOYED: dict[str, str] = {
    "ION_K8S_IMAGE_PULL_SECRETS": "the AKS kubelet identity pulls from the registry (AcrPull)",
    "ION_K8S_CONTEXT": "the kubeconfig's current context is used",
    "ION_K8S_SIDECAR_PORT": _DEFAULTS_FIT,
    "ION_K8S_SIDECAR_CPU": _DEFAULTS_FIT,
    "ION_K8S_SIDECAR_MEMORY": _DEFAULTS_FIT,
    "ION_K8S_GPU_RESOURCE": _DEFAULTS_FIT,
    "ION_BATCH_ACCOUNT_NAME": "identity-based: the dispatcher has Azure Batch Job Submitter",
    "ION_BATCH_ACCOUNT_KEY": "identity-based: the account allows Entra ID authentication only",
    "ION_BATCH_VM_SIZE": _POOL_BY_INFRA,
    "ION_BATCH_IMAGE": _POOL_BY_INFRA,
    "ION_BATCH_NODE_AGENT_SKU": _POOL_BY_INFRA,
    "ION_BATCH_DEDICATED_NODES": _POOL_BY_INFRA,
    "ION_BATCH_LOW_PRIORITY_NODES": _POOL_BY_INFRA,
    "ION_BATCH_AUTOSCALE_FORMULA": _POOL_BY_INFRA,
    "ION_BATCH_AUTOSCALE_INTERVAL_MINUTES": _POOL_BY_INFRA,
    "ION_BATCH_TASK_SLOTS_PER_NODE": _POOL_BY_INFRA,
    "ION_BATCH_SIDECAR_PORT": _DEFAULTS_FIT,
    "ION_ACI_REGISTRY_IDENTITY": "defaults to ION_ACI_IDENTITY, the jobs identity, which has AcrPull",
    "ION_ACI_SUBNET_ID": "container groups get no VNet in this deployment",
    "ION_ACI_GPU_SKU": _DEFAULTS_FIT,
    "ION_ACI_SIDECAR_CPU": _DEFAULTS_FIT,
    "ION_ACI_SIDECAR_MEMORY_GB": _DEFAULTS_FIT,
    "ION_ACI_SIDECAR_PORT": _DEFAULTS_FIT,
    "ION_SUBMIT_MAX_BYTES": "the default is the Functions host's own request size limit (100 MB)",
}


def setting_env_name(settings_class: type[BaseSettings], field_name: str) -> str:
    """The environment variable a settings field is read from (its first alias, else prefix + name)."""
    info = settings_class.model_fields[field_name]
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        if isinstance(first, str):
            return first
    if info.alias:
        return info.alias
    prefix = str(settings_class.model_config.get("env_prefix") or "")
    return (prefix + field_name).upper()


def _settings_classes(module_name: str) -> list[type[BaseSettings]]:
    module = importlib.import_module(module_name)
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value is not BaseSettings
        and value.__module__ == module.__name__
    ]


def executor_setting_names(executor: str) -> list[str]:
    """Environment names of an executor's settings class(es), those the Function App is given."""
    try:
        module_name = EXECUTOR_SETTINGS_MODULES[executor]
    except KeyError:
        raise InfraParamsError(f"unknown cloud executor {executor!r} ({', '.join(CLOUD_EXECUTORS)})") from None
    return _deployed_setting_names(module_name)


def _deployed_setting_names(module_name: str) -> list[str]:
    classes = _settings_classes(module_name)
    if not classes:
        raise InfraParamsError(f"{module_name} defines no settings class")
    names: dict[str, None] = {}
    for settings_class in classes:
        for field_name in settings_class.model_fields:
            name = setting_env_name(settings_class, field_name)
            if name not in EXECUTOR_SETTINGS_NOT_DEPLOYED:
                names.setdefault(name)
    return list(names)


def function_app_setting_groups() -> dict[str, list[str]]:
    """Every app setting the Function App gets, by the condition that deploys it.

    Groups: "host" and "core" always; "cosmos" or "mongodb" by the metadata store; "kubernetes",
    "azurebatch", "aci" when that executor is deployed.
    """
    host = list(FUNCTIONS_HOST_SETTINGS) + _deployed_setting_names(FUNCTIONS_SETTINGS_MODULE)
    groups: dict[str, list[str]] = {"host": host, "core": [], "cosmos": [], "mongodb": []}
    for field_name in IonSettings.model_fields:
        if field_name in CORE_SETTINGS_NOT_DEPLOYED:
            continue
        group = METADATA_SETTINGS.get(field_name, "core")
        groups[group].append(setting_env_name(IonSettings, field_name))
    for executor in CLOUD_EXECUTORS:
        groups[executor] = executor_setting_names(executor)
    return groups


def function_app_setting_names(
    metadata: MetadataKind = "cosmos", executors: Iterable[str] = CLOUD_EXECUTORS
) -> set[str]:
    """The exact set of app settings for one deployment choice."""
    groups = function_app_setting_groups()
    names = set(groups["host"]) | set(groups["core"]) | set(groups[metadata])
    for executor in executors:
        names |= set(groups[executor])
    return names


# --- The manifest's topology ----------------------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """What the manifest asks of the deployment."""

    topics: list[str]
    subscriptions: list[dict[str, str]]  # [{"name": module, "topic": event type}]
    executors: list[str]  # cloud executors the modules use, in CLOUD_EXECUTORS order
    gpu_modules: list[str] = field(default_factory=list)  # modules asking for a GPU


def manifest_topology(manifest: Manifest) -> Topology:
    used = {m.executor for m in manifest}
    return Topology(
        topics=manifest.event_types(),
        subscriptions=[{"name": m.name, "topic": m.subscribes_to} for m in manifest],
        executors=[e for e in CLOUD_EXECUTORS if e in used],
        gpu_modules=[m.name for m in manifest if m.resources.gpu > 0],
    )


# --- Parameters -----------------------------------------------------------------------------------

# Logical parameter -> (Bicep name, Terraform name). Both trees declare every one of these.
PARAMETER_NAMES: dict[str, tuple[str, str]] = {
    "name": ("name", "name"),
    "topics": ("topics", "topics"),
    "subscriptions": ("subscriptions", "subscriptions"),
    "enable_kubernetes": ("enableKubernetes", "enable_kubernetes"),
    "enable_batch": ("enableBatch", "enable_batch"),
    "enable_aci": ("enableAci", "enable_aci"),
    "batch_gpu_vm_size": ("batchGpuVmSize", "batch_gpu_vm_size"),
    "metadata_store": ("metadataStore", "metadata_store"),
    "sidecar_image": ("sidecarImage", "sidecar_image"),
    "max_delivery_count": ("maxDeliveryCount", "max_delivery_count"),
}


def infra_parameters(
    manifest: Manifest,
    *,
    metadata: MetadataKind = "cosmos",
    name: str | None = None,
    sidecar_image: str | None = None,
    gpu_vm_size: str = DEFAULT_GPU_VM_SIZE,
) -> dict[str, Any]:
    """Logical parameters (keys of PARAMETER_NAMES) for a manifest; unset ones keep the template default."""
    local = [m.name for m in manifest if m.executor == "local"]
    if local:
        raise InfraParamsError(
            f"{_source(manifest)}: module(s) {', '.join(local)} use executor 'local', which does not run "
            "on Azure; set executor to kubernetes, azurebatch or aci"
        )
    topology = manifest_topology(manifest)
    batch_gpu = [m.name for m in manifest if m.resources.gpu > 0 and m.executor == "azurebatch"]
    params: dict[str, Any] = {
        "topics": topology.topics,
        "subscriptions": topology.subscriptions,
        "enable_kubernetes": "kubernetes" in topology.executors,
        "enable_batch": "azurebatch" in topology.executors,
        "enable_aci": "aci" in topology.executors,
        "batch_gpu_vm_size": gpu_vm_size if batch_gpu else "",
        "metadata_store": metadata,
        "max_delivery_count": IonSettings.model_fields["max_delivery_count"].default,
    }
    if name is not None:
        params["name"] = name
    if sidecar_image is not None:
        params["sidecar_image"] = sidecar_image
    return params


def _source(manifest: Manifest) -> str:
    return str(manifest.path) if manifest.path else "modules.yaml"


def _bicep_value(value: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = "".join(f"{pad}  {_bicep_value(v, indent + 1)}\n" for v in value)
        return f"[\n{items}{pad}]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = "".join(f"{pad}  {k}: {_bicep_value(v, indent + 1)}\n" for k, v in value.items())
        return f"{{\n{items}{pad}}}"
    raise TypeError(f"cannot write {type(value).__name__} as a Bicep value")


def render_bicepparam(params: Mapping[str, Any], template: str = "./main.bicep") -> str:
    lines = [f"using '{template}'", ""]
    for key, value in params.items():
        lines.append(f"param {PARAMETER_NAMES[key][0]} = {_bicep_value(value)}")
    return "\n".join(lines) + "\n"


def render_arm_parameters(params: Mapping[str, Any]) -> str:
    document = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {PARAMETER_NAMES[k][0]: {"value": v} for k, v in params.items()},
    }
    return json.dumps(document, indent=2) + "\n"


def render_tfvars(params: Mapping[str, Any]) -> str:
    return json.dumps({PARAMETER_NAMES[k][1]: v for k, v in params.items()}, indent=2) + "\n"


def render_parameters(params: Mapping[str, Any], fmt: ParamsFormat, output: Path | None = None,
                      template: Path | None = None) -> str:
    """The parameter file's text: `.bicepparam` (or ARM JSON when output ends in .json) or `.tfvars.json`."""
    if fmt == "terraform":
        return render_tfvars(params)
    if output is not None and output.suffix == ".json":
        return render_arm_parameters(params)
    using = "./main.bicep"
    if template is not None and output is not None:
        using = _relative_posix(template, output.parent)
    return render_bicepparam(params, using)


def _relative_posix(target: Path, start: Path) -> str:
    relative = Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    return relative if relative.startswith(".") else f"./{relative}"
