# The storage account: the Functions host's storage, the Function App package and Ion's blob container.
# Shared-key access is off: the host, the dispatcher and the sidecars all use their identities.
resource "azurerm_storage_account" "ion" {
  #checkov:skip=CKV_AZURE_35:the Function App and the jobs reach storage over its public endpoint (no VNet); shared keys are off, access is by role assignment
  #checkov:skip=CKV_AZURE_43:the name is computed ('<name>st'); the name variable allows only lowercase letters and digits
  #checkov:skip=CKV_AZURE_59:the Function App and the jobs reach storage over its public endpoint (no VNet); anonymous blob access and shared keys are off
  #checkov:skip=CKV_AZURE_33:Ion uses no storage queues
  #checkov:skip=CKV2_AZURE_1:encrypted with Microsoft-managed keys; a customer-managed key is an organisation's choice to add
  #checkov:skip=CKV2_AZURE_33:no private endpoint: the Function App has no VNet integration (see CKV_AZURE_35)
  name                              = local.names.storage
  resource_group_name               = data.azurerm_resource_group.this.name
  location                          = local.location
  tags                              = var.tags
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  shared_access_key_enabled         = false
  allow_nested_items_to_be_public   = false
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  cross_tenant_replication_enabled  = false
  public_network_access_enabled     = true
  infrastructure_encryption_enabled = true

  sas_policy {
    expiration_period = "0.01:00:00"
    expiration_action = "Log"
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }
}

resource "azurerm_storage_container" "ion" {
  #checkov:skip=CKV2_AZURE_21:blob reads are logged by the diagnostic setting blob_logs; storage insights would need the account key, which is off
  name                  = var.blob_container
  storage_account_id    = azurerm_storage_account.ion.id
  container_access_type = "private"
}

resource "azurerm_storage_container" "deployments" {
  #checkov:skip=CKV2_AZURE_21:blob reads are logged by the diagnostic setting blob_logs; storage insights would need the account key, which is off
  name                  = "deployments"
  storage_account_id    = azurerm_storage_account.ion.id
  container_access_type = "private"
}

# Blob reads, writes and deletes are logged to the workspace.
resource "azurerm_monitor_diagnostic_setting" "blob_logs" {
  name                       = "blob-logs"
  target_resource_id         = "${azurerm_storage_account.ion.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.ion.id

  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
}

# The Functions host keeps leases and timers in blobs and reads its package: it needs Blob Data Owner
# on the account (the documented role for identity-based AzureWebJobsStorage).
resource "azurerm_role_assignment" "dispatcher_blobs" {
  scope                = azurerm_storage_account.ion.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}

# Sidecars read inputs and write outputs in Ion's container only.
resource "azurerm_role_assignment" "jobs_blobs" {
  scope                = azurerm_storage_container.ion.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  principal_type       = "ServicePrincipal"
}
