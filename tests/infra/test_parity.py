"""The Bicep and Terraform trees define the same resources, names, roles, outputs, topology and settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.infra_params import (
    CORE_SETTINGS_NOT_DEPLOYED,
    METADATA_SETTINGS,
    PARAMETER_NAMES,
    function_app_setting_groups,
    function_app_setting_names,
    infra_parameters,
    manifest_topology,
    render_arm_parameters,
    render_tfvars,
)
from shared.manifest import load_manifest
from shared.metadata.cosmos import CONTAINERS
from shared.settings import IonSettings
from tests.infra.iac import (
    BICEP,
    ROOT,
    BicepDeclaration,
    bicep_declarations,
    bicep_object_var,
    bicep_resource_kinds,
    bicep_role_ids,
    terraform_blocks,
    terraform_locals,
    terraform_resources,
)

TEST_MANIFEST = Path(__file__).with_name("modules.yaml")
EXAMPLE_MANIFESTS = sorted((ROOT / "examples").glob("*/modules.yaml"))

# Terraform resource type -> the ARM type it creates.
ARM_TYPE = {
    "azurerm_log_analytics_workspace": "Microsoft.OperationalInsights/workspaces",
    "azurerm_application_insights": "Microsoft.Insights/components",
    "azurerm_monitor_diagnostic_setting": "Microsoft.Insights/diagnosticSettings",
    "azurerm_role_assignment": "Microsoft.Authorization/roleAssignments",
    "azurerm_role_definition": "Microsoft.Authorization/roleDefinitions",
    "azurerm_user_assigned_identity": "Microsoft.ManagedIdentity/userAssignedIdentities",
    "azurerm_federated_identity_credential":
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    "azurerm_storage_account": "Microsoft.Storage/storageAccounts",
    "azurerm_storage_container": "Microsoft.Storage/storageAccounts/blobServices/containers",
    "azurerm_servicebus_namespace": "Microsoft.ServiceBus/namespaces",
    "azurerm_servicebus_topic": "Microsoft.ServiceBus/namespaces/topics",
    "azurerm_servicebus_subscription": "Microsoft.ServiceBus/namespaces/topics/subscriptions",
    "azurerm_key_vault": "Microsoft.KeyVault/vaults",
    "azurerm_key_vault_secret": "Microsoft.KeyVault/vaults/secrets",
    "azurerm_cosmosdb_account": "Microsoft.DocumentDB/databaseAccounts",
    "azurerm_cosmosdb_sql_database": "Microsoft.DocumentDB/databaseAccounts/sqlDatabases",
    "azurerm_cosmosdb_sql_container": "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers",
    "azurerm_cosmosdb_sql_role_assignment": "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments",
    "azurerm_cosmosdb_mongo_database": "Microsoft.DocumentDB/databaseAccounts/mongodbDatabases",
    "azurerm_container_registry": "Microsoft.ContainerRegistry/registries",
    "azurerm_service_plan": "Microsoft.Web/serverfarms",
    "azurerm_linux_function_app": "Microsoft.Web/sites",
    "azurerm_kubernetes_cluster": "Microsoft.ContainerService/managedClusters",
    # Bicep declares the job pool inside the cluster's agentPoolProfiles.
    "azurerm_kubernetes_cluster_node_pool": "Microsoft.ContainerService/managedClusters",
    "azurerm_batch_account": "Microsoft.Batch/batchAccounts",
    "azurerm_batch_pool": "Microsoft.Batch/batchAccounts/pools",
}
# Child resources Bicep declares that azurerm expresses as attributes of the parent.
BICEP_ONLY = {
    "Microsoft.Storage/storageAccounts/blobServices": ("azurerm_storage_account", "blob_properties"),
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies":
        ("azurerm_linux_function_app", "ftp_publish_basic_authentication_enabled"),
}
# Built-in role ids (Bicep) -> names (Terraform).
ROLE_NAMES = {
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb": "Azure Kubernetes Service RBAC Writer",
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f": "Azure Kubernetes Service Cluster User Role",
    "48e5e92e-a480-4e71-aa9c-2778f4c13781": "Azure Batch Job Submitter",
    "11076f67-66f6-4be0-8f6b-f0609fd05cc9": "Azure Batch Account Reader",
    "f1a07417-d97a-45cb-824c-7a7467783830": "Managed Identity Operator",
}
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
# Roles only the Terraform run needs: it writes the MongoDB secret through the data plane.
TERRAFORM_DEPLOYER_ROLES = {"Key Vault Secrets Officer"}
# Host settings azurerm writes itself, and the function app attribute that makes it do so.
TERRAFORM_MANAGED_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION": ("functions_extension_version",),
    "FUNCTIONS_WORKER_RUNTIME": ("site_config", "application_stack", "python_version"),
    "AzureWebJobsStorage__accountName": ("storage_uses_managed_identity",),
    "APPLICATIONINSIGHTS_CONNECTION_STRING": ("site_config", "application_insights_connection_string"),
}
SETTING_GROUPS = ("host", "core", "cosmos", "mongodb", "kubernetes", "azurebatch", "aci")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def bicep_main() -> list[BicepDeclaration]:
    return bicep_declarations(BICEP / "main.bicep")


def test_same_resource_kinds() -> None:
    terraform_kinds = set()
    for rtype, name in terraform_resources():
        if rtype == "azapi_resource":
            terraform_kinds.add(terraform_resources()[(rtype, name)]["type"].split("@")[0])
        else:
            assert rtype in ARM_TYPE, f"unmapped Terraform resource type {rtype}"
            terraform_kinds.add(ARM_TYPE[rtype])
    bicep_kinds = bicep_resource_kinds()
    for kind, (rtype, attribute) in BICEP_ONLY.items():
        assert kind in bicep_kinds
        assert any(attribute in body for (t, _), body in terraform_resources().items() if t == rtype)
    assert bicep_kinds - set(BICEP_ONLY) == terraform_kinds


def test_same_resource_names() -> None:
    bicep_names = bicep_object_var(BICEP / "main.bicep", "names")
    terraform_names = terraform_locals()["names"]
    assert {snake(k) for k in bicep_names} == set(terraform_names)
    for key, value in bicep_names.items():
        bicep_suffix = re.fullmatch(r"'\$\{baseName\}(.*)'", value)
        terraform_suffix = re.fullmatch(r"\$\{local\.base_name\}(.*)", terraform_names[snake(key)])
        assert bicep_suffix and terraform_suffix, key
        assert bicep_suffix.group(1) == terraform_suffix.group(1), key


def test_same_roles() -> None:
    bicep_roles = bicep_role_ids() - {COSMOS_DATA_CONTRIBUTOR}
    assert bicep_roles <= set(ROLE_NAMES), f"unknown role ids {bicep_roles - set(ROLE_NAMES)}"
    terraform_roles = {
        body["role_definition_name"] for (rtype, _), body in terraform_resources().items()
        if rtype == "azurerm_role_assignment" and "role_definition_name" in body
    }
    assert {ROLE_NAMES[r] for r in bicep_roles} == terraform_roles - TERRAFORM_DEPLOYER_ROLES
    cosmos = [body for (rtype, _), body in terraform_resources().items()
              if rtype == "azurerm_cosmosdb_sql_role_assignment"]
    assert cosmos and COSMOS_DATA_CONTRIBUTOR in cosmos[0]["role_definition_id"]


def test_no_owner_or_contributor_roles() -> None:
    """Least privilege: no broad built-in role anywhere."""
    for role in {ROLE_NAMES[r] for r in bicep_role_ids() if r in ROLE_NAMES}:
        assert role not in ("Owner", "Contributor", "User Access Administrator")
    for (rtype, _), body in terraform_resources().items():
        if rtype == "azurerm_role_definition":
            actions = body["permissions"][0]["actions"]
            assert all("*" not in action for action in actions)


def test_same_outputs() -> None:
    bicep_outputs = {snake(d.name) for d in bicep_main() if d.kind == "output"}
    assert bicep_outputs == set(terraform_blocks("output"))


def test_both_trees_declare_every_parameter_ion_writes() -> None:
    bicep_params = {d.name for d in bicep_main() if d.kind == "param"}
    terraform_variables = set(terraform_blocks("variable"))
    for bicep_name, terraform_name in PARAMETER_NAMES.values():
        assert bicep_name in bicep_params
        assert terraform_name in terraform_variables
    # The inputs correspond one to one (Terraform adds the resource group it deploys into).
    assert {snake(p) for p in bicep_params} == terraform_variables - {"resource_group_name"}


def test_topics_and_subscriptions_are_named_alike() -> None:
    """Both trees name a topic after the event type and a subscription after its module."""
    servicebus = (BICEP / "modules" / "servicebus.bicep").read_text(encoding="utf-8")
    assert re.search(r"topics@[^']+' = \[for t in topics: \{\n  parent: namespace\n  name: t\n", servicebus)
    assert "name: '${namespace.name}/${s.topic}/${s.name}'" in servicebus
    resources = terraform_resources()
    topic = resources[("azurerm_servicebus_topic", "topic")]
    assert topic["for_each"] == "${toset(var.topics)}" and topic["name"] == "${each.value}"
    subscription = resources[("azurerm_servicebus_subscription", "subscription")]
    assert subscription["for_each"] == "${{for s in var.subscriptions : s.name => s}}"
    assert subscription["name"] == "${each.key}"
    assert subscription["topic_id"] == "${azurerm_servicebus_topic.topic[each.value.topic].id}"
    assert subscription["dead_lettering_on_message_expiration"] is True
    assert topic["requires_duplicate_detection"] is True
    assert "requiresDuplicateDetection: true" in servicebus
    assert "deadLetteringOnMessageExpiration: true" in servicebus


@pytest.mark.parametrize("manifest_path", [TEST_MANIFEST, *EXAMPLE_MANIFESTS],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_parameter_files_carry_the_manifest_topology(manifest_path: Path) -> None:
    manifest = load_manifest(manifest_path)
    topology = manifest_topology(manifest)
    assert set(topology.topics) == {m.subscribes_to for m in manifest} | {p for m in manifest for p in m.publishes}
    assert [s["name"] for s in topology.subscriptions] == [m.name for m in manifest]
    if any(m.executor == "local" for m in manifest):
        return  # such a manifest is refused by `ion infra params` (tested in test_infra_params.py)
    params = infra_parameters(manifest)
    arm = json.loads(render_arm_parameters(params))["parameters"]
    tfvars = json.loads(render_tfvars(params))
    for key in ("topics", "subscriptions"):
        bicep_name, terraform_name = PARAMETER_NAMES[key]
        assert arm[bicep_name]["value"] == tfvars[terraform_name]
    assert tfvars["topics"] == topology.topics
    assert {(s["name"], s["topic"]) for s in tfvars["subscriptions"]} == {
        (m.name, m.subscribes_to) for m in manifest
    }
    assert set(tfvars["subscriptions"][i]["topic"] for i in range(len(manifest))) <= set(tfvars["topics"])


def test_settings_classification_covers_every_ion_setting() -> None:
    for field in set(CORE_SETTINGS_NOT_DEPLOYED) | set(METADATA_SETTINGS):
        assert field in IonSettings.model_fields, f"{field} is not an IonSettings field"


@pytest.mark.parametrize("group", SETTING_GROUPS)
def test_bicep_function_app_settings_are_the_code_s(group: str) -> None:
    bicep = bicep_object_var(BICEP / "modules" / "functionapp.bicep", f"{group}Settings")
    assert set(bicep) == set(function_app_setting_groups()[group])


@pytest.mark.parametrize("group", SETTING_GROUPS)
def test_terraform_function_app_settings_are_the_code_s(group: str) -> None:
    declared = set(terraform_locals()[f"settings_{group}"])
    if group == "host":
        app = terraform_resources()[("azurerm_linux_function_app", "dispatcher")]
        for setting, path in TERRAFORM_MANAGED_SETTINGS.items():
            node = app
            for step in path:
                node = node[step][0] if isinstance(node[step], list) else node[step]
            assert node not in (None, False, ""), f"{setting}: {'.'.join(path)} is not set"
            declared.add(setting)
    assert declared == set(function_app_setting_groups()[group])


def test_settings_are_combined_by_the_same_conditions() -> None:
    functionapp = (BICEP / "modules" / "functionapp.bicep").read_text(encoding="utf-8")
    combined = re.search(r"var appSettings = union\((.*?)\n\)", functionapp, re.DOTALL)
    assert combined
    assert [line.strip().rstrip(",") for line in combined.group(1).strip().splitlines()] == [
        "hostSettings", "coreSettings", "metadataStore == 'cosmos' ? cosmosSettings : mongodbSettings",
        "enableKubernetes ? kubernetesSettings : {}", "enableBatch ? azurebatchSettings : {}",
        "enableAci ? aciSettings : {}",
    ]
    assert "appSettings: [for setting in items(appSettings)" in functionapp
    app_settings = terraform_locals()["app_settings"]
    for part in ("local.settings_host", "local.settings_core",
                 "local.is_cosmos ? local.settings_cosmos : local.settings_mongodb",
                 "var.enable_kubernetes ? local.settings_kubernetes : {}",
                 "var.enable_batch ? local.settings_azurebatch : {}", "var.enable_aci ? local.settings_aci : {}"):
        assert part in app_settings
    app = terraform_resources()[("azurerm_linux_function_app", "dispatcher")]
    assert app["app_settings"] == "${local.app_settings}"


def test_setting_values_use_ion_names_and_defaults() -> None:
    core_bicep = bicep_object_var(BICEP / "modules" / "functionapp.bicep", "coreSettings")
    core_terraform = terraform_locals()["settings_core"]
    assert core_bicep["ION_MESSAGING"] == "'servicebus'" and core_terraform["ION_MESSAGING"] == "servicebus"
    assert core_bicep["ION_BLOB"] == "'azureblob'" and core_terraform["ION_BLOB"] == "azureblob"
    for name, field in (("ION_LOCK_SECONDS", "lock_seconds"), ("ION_MAX_EVENT_BYTES", "max_event_bytes"),
                        ("ION_RETENTION_SECONDS", "retention_seconds"),
                        ("ION_SIDECAR_GRACE_SECONDS", "sidecar_grace_seconds")):
        default = IonSettings.model_fields[field].default
        assert float(core_bicep[name].strip("'")) == float(default), name
        assert float(core_terraform[name]) == float(default), name
    # The subscriptions' max delivery count is the dispatcher's.
    assert core_bicep["ION_MAX_DELIVERY_COUNT"] == "string(maxDeliveryCount)"
    assert core_terraform["ION_MAX_DELIVERY_COUNT"] == "${tostring(var.max_delivery_count)}"
    assert terraform_blocks("variable")["max_delivery_count"]["default"] == IonSettings.model_fields[
        "max_delivery_count"].default


def test_setting_names_by_choice() -> None:
    cosmos = function_app_setting_names("cosmos", [])
    mongodb = function_app_setting_names("mongodb", ["kubernetes"])
    assert "COSMOS_ENDPOINT" in cosmos and "MONGODB_URI" not in cosmos
    assert "MONGODB_URI" in mongodb and "COSMOS_ENDPOINT" not in mongodb
    assert "ION_K8S_NAMESPACE" in mongodb and "ION_K8S_NAMESPACE" not in cosmos
    for secret in ("SERVICEBUS_CONNECTION_STRING", "COSMOS_KEY", "AZURE_STORAGE_CONNECTION_STRING",
                   "ION_BATCH_ACCOUNT_KEY"):
        assert secret not in function_app_setting_names("cosmos")


def test_cosmos_containers_match_the_store() -> None:
    main = (BICEP / "main.bicep").read_text(encoding="utf-8")
    block = re.search(r"param cosmosContainers array = \[(.*?)\n\]", main, re.DOTALL)
    assert block
    bicep = dict(re.findall(r"name: '([^']+)'\n\s+partitionKey: '([^']+)'", block.group(1)))
    terraform = {c["name"]: c["partition_key"] for c in terraform_blocks("variable")["cosmos_containers"]["default"]}
    assert bicep == terraform == CONTAINERS
