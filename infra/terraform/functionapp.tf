# The dispatcher Function App: Linux, Python 3.11, on an Elastic Premium (EP1) plan, which scales out
# with the subscriptions' queue depth and keeps an instance warm. It runs from a package in blob
# storage read with its identity, so no Azure Files share (and no storage key) is needed.

locals {
  dispatcher_client_id = azurerm_user_assigned_identity.dispatcher.client_id
  blob_endpoint        = azurerm_storage_account.ion.primary_blob_endpoint
  service_bus_host     = "${azurerm_servicebus_namespace.ion.name}.servicebus.windows.net"
  batch_endpoint       = var.enable_batch ? "https://${azurerm_batch_account.jobs[0].account_endpoint}" : ""

  # The Function App's settings, by the condition that deploys them; shared/infra_params.py
  # function_app_setting_groups() is the authoritative list and the infra tests compare the two.
  # The provider writes four host settings itself: FUNCTIONS_EXTENSION_VERSION
  # (functions_extension_version), FUNCTIONS_WORKER_RUNTIME (application_stack),
  # AzureWebJobsStorage__accountName (storage_account_name + storage_uses_managed_identity) and
  # APPLICATIONINSIGHTS_CONNECTION_STRING (site_config).
  settings_host = {
    AzureWebJobsStorage__credential               = "managedidentity"
    AzureWebJobsStorage__clientId                 = local.dispatcher_client_id
    ServiceBusConnection__fullyQualifiedNamespace = local.service_bus_host
    ServiceBusConnection__credential              = "managedidentity"
    ServiceBusConnection__clientId                = local.dispatcher_client_id
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING     = "Authorization=AAD;ClientId=${local.dispatcher_client_id}"
    WEBSITE_RUN_FROM_PACKAGE                      = "${local.blob_endpoint}deployments/${var.package_blob_name}"
    WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID  = azurerm_user_assigned_identity.dispatcher.id
    ION_RECONCILE_SCHEDULE                        = var.reconcile_schedule
  }

  settings_core = {
    ION_MESSAGING                        = "servicebus"
    ION_METADATA                         = var.metadata_store
    ION_BLOB                             = "azureblob"
    ION_MODULES                          = "/home/site/wwwroot/modules.yaml"
    SERVICEBUS_FULLY_QUALIFIED_NAMESPACE = local.service_bus_host
    AZURE_STORAGE_ACCOUNT_URL            = local.blob_endpoint
    ION_BLOB_CONTAINER                   = var.blob_container
    AZURE_CLIENT_ID                      = local.dispatcher_client_id
    ION_MAX_DELIVERY_COUNT               = tostring(var.max_delivery_count)
    ION_LOCK_SECONDS                     = "60"
    ION_MAX_EVENT_BYTES                  = "262144"
    ION_RETENTION_SECONDS                = "86400"
    ION_SIDECAR_GRACE_SECONDS            = "2"
    ION_SIDECAR_IMAGE                    = local.sidecar_image
  }

  settings_cosmos = {
    COSMOS_ENDPOINT = azurerm_cosmosdb_account.metadata.endpoint
    COSMOS_DATABASE = var.metadata_database
  }

  settings_mongodb = {
    MONGODB_URI      = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault.ion.vault_uri}secrets/mongodb-uri)"
    MONGODB_DATABASE = var.metadata_database
  }

  settings_kubernetes = {
    ION_K8S_NAMESPACE         = var.kubernetes_namespace
    ION_K8S_SERVICE_ACCOUNT   = var.kubernetes_service_account
    ION_K8S_WORKLOAD_IDENTITY = "true"
    ION_K8S_KUBECONFIG        = "/home/site/wwwroot/kubeconfig"
  }

  settings_azurebatch = {
    ION_BATCH_ACCOUNT_URL        = local.batch_endpoint
    ION_BATCH_POOL_ID            = "ion"
    ION_BATCH_CREATE_POOL        = "false"
    ION_BATCH_GPU_VM_SIZES       = var.batch_gpu_vm_size
    ION_BATCH_REGISTRY_SERVER    = azurerm_container_registry.ion.login_server
    ION_BATCH_REGISTRY_IDENTITY  = azurerm_user_assigned_identity.jobs.id
    ION_BATCH_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.jobs.client_id
  }

  settings_aci = {
    ION_ACI_SUBSCRIPTION_ID    = data.azurerm_client_config.current.subscription_id
    ION_ACI_RESOURCE_GROUP     = data.azurerm_resource_group.this.name
    ION_ACI_LOCATION           = local.location
    ION_ACI_IDENTITY           = azurerm_user_assigned_identity.jobs.id
    ION_ACI_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.jobs.client_id
    ION_ACI_REGISTRY_SERVER    = azurerm_container_registry.ion.login_server
  }

  app_settings = merge(
    local.settings_host,
    local.settings_core,
    local.is_cosmos ? local.settings_cosmos : local.settings_mongodb,
    var.enable_kubernetes ? local.settings_kubernetes : {},
    var.enable_batch ? local.settings_azurebatch : {},
    var.enable_aci ? local.settings_aci : {},
  )
}

resource "azurerm_service_plan" "dispatcher" {
  name                         = local.names.plan
  resource_group_name          = data.azurerm_resource_group.this.name
  location                     = local.location
  tags                         = var.tags
  os_type                      = "Linux"
  sku_name                     = "EP1"
  worker_count                 = 3
  maximum_elastic_worker_count = var.maximum_instances
  zone_balancing_enabled       = true
}

resource "azurerm_linux_function_app" "dispatcher" {
  #checkov:skip=CKV_AZURE_221:the submit endpoint is public, protected by function keys
  #checkov:skip=CKV_AZURE_70:https_only is set; the check reads the attribute of web apps
  name                                           = local.names.function_app
  resource_group_name                            = data.azurerm_resource_group.this.name
  location                                       = local.location
  tags                                           = var.tags
  service_plan_id                                = azurerm_service_plan.dispatcher.id
  storage_account_name                           = azurerm_storage_account.ion.name
  storage_uses_managed_identity                  = true
  content_share_force_disabled                   = true
  functions_extension_version                    = "~4"
  https_only                                     = true
  public_network_access_enabled                  = true
  client_certificate_enabled                     = false
  key_vault_reference_identity_id                = azurerm_user_assigned_identity.dispatcher.id
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false
  app_settings                                   = local.app_settings

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.dispatcher.id]
  }

  site_config {
    application_insights_connection_string = azurerm_application_insights.ion.connection_string
    elastic_instance_minimum               = var.minimum_instances
    app_scale_limit                        = var.maximum_instances
    # Target-based scaling from the Service Bus subscriptions' message counts.
    runtime_scale_monitoring_enabled = true
    ftps_state                       = "Disabled"
    minimum_tls_version              = "1.2"
    http2_enabled                    = true

    application_stack {
      python_version = "3.11"
    }
  }
}
