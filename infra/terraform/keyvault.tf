# Key Vault in RBAC mode, for the secrets Ion cannot avoid (the MongoDB connection string).
resource "azurerm_key_vault" "ion" {
  #checkov:skip=CKV_AZURE_109:the Function App resolves Key Vault references over the public endpoint (no VNet); access is RBAC only
  #checkov:skip=CKV_AZURE_189:as above: public endpoint with RBAC; use private endpoints when the Function App gets VNet integration
  #checkov:skip=CKV2_AZURE_32:no private endpoint: the Function App has no VNet integration (see CKV_AZURE_109)
  name                          = local.names.key_vault
  resource_group_name           = data.azurerm_resource_group.this.name
  location                      = local.location
  tags                          = var.tags
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true
  soft_delete_retention_days    = 90
  purge_protection_enabled      = true
  public_network_access_enabled = true

  network_acls {
    bypass         = "AzureServices"
    default_action = "Allow" # the Function App resolves Key Vault references over the public endpoint (no VNet)
  }
}

resource "azurerm_monitor_diagnostic_setting" "key_vault_audit" {
  name                       = "audit"
  target_resource_id         = azurerm_key_vault.ion.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.ion.id

  enabled_log {
    category_group = "audit"
  }
}

resource "azurerm_role_assignment" "dispatcher_secrets" {
  scope                = azurerm_key_vault.ion.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}

# Terraform writes the secret through the data plane (Bicep goes through Resource Manager), so the
# principal running Terraform needs to be a secrets officer of this vault.
resource "azurerm_role_assignment" "deployer_secrets" {
  count                = local.is_cosmos ? 0 : 1
  scope                = azurerm_key_vault.ion.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
