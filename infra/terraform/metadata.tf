# The metadata store: Azure Cosmos DB for NoSQL (identity-based, keys off) or Azure Cosmos DB for
# MongoDB, whose connection string goes to Key Vault and reaches the Function App as a reference.
resource "azurerm_cosmosdb_account" "metadata" {
  #checkov:skip=CKV_AZURE_101:the Function App and the jobs reach Cosmos DB over its public endpoint (no VNet); access is Entra ID only for NoSQL
  #checkov:skip=CKV_AZURE_99:no IP filter: Function App and job outbound addresses are not fixed; access is by role assignment
  #checkov:skip=CKV_AZURE_100:encrypted with Microsoft-managed keys; a customer-managed key is an organisation's choice to add
  #checkov:skip=CKV_AZURE_140:local authentication is off for NoSQL; MongoDB clients can only authenticate with the account's keys
  name                               = local.names.cosmos
  resource_group_name                = data.azurerm_resource_group.this.name
  location                           = local.location
  tags                               = var.tags
  offer_type                         = "Standard"
  kind                               = local.is_cosmos ? "GlobalDocumentDB" : "MongoDB"
  local_authentication_disabled      = local.is_cosmos
  access_key_metadata_writes_enabled = false
  minimal_tls_version                = "Tls12"
  public_network_access_enabled      = true
  mongo_server_version               = local.is_cosmos ? null : "7.0"

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = local.location
    failover_priority = 0
  }

  dynamic "capabilities" {
    for_each = local.is_cosmos ? [] : ["EnableMongo"]
    content {
      name = capabilities.value
    }
  }

  backup {
    type = "Continuous"
    tier = "Continuous7Days"
  }
}

resource "azurerm_cosmosdb_sql_database" "metadata" {
  count               = local.is_cosmos ? 1 : 0
  name                = var.metadata_database
  resource_group_name = data.azurerm_resource_group.this.name
  account_name        = azurerm_cosmosdb_account.metadata.name
}

resource "azurerm_cosmosdb_sql_container" "metadata" {
  for_each            = local.is_cosmos ? { for c in var.cosmos_containers : c.name => c.partition_key } : {}
  name                = each.key
  resource_group_name = data.azurerm_resource_group.this.name
  account_name        = azurerm_cosmosdb_account.metadata.name
  database_name       = azurerm_cosmosdb_sql_database.metadata[0].name
  partition_key_paths = [each.value]
}

# Cosmos DB Built-in Data Contributor (data plane) for both identities.
resource "azurerm_cosmosdb_sql_role_assignment" "metadata" {
  for_each            = local.is_cosmos ? local.component_principals : {}
  resource_group_name = data.azurerm_resource_group.this.name
  account_name        = azurerm_cosmosdb_account.metadata.name
  role_definition_id  = "${azurerm_cosmosdb_account.metadata.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002"
  principal_id        = each.value
  scope               = azurerm_cosmosdb_account.metadata.id
}

resource "azurerm_cosmosdb_mongo_database" "metadata" {
  count               = local.is_cosmos ? 0 : 1
  name                = var.metadata_database
  resource_group_name = data.azurerm_resource_group.this.name
  account_name        = azurerm_cosmosdb_account.metadata.name
}

# Written at apply time from the account itself: the value is never in the repository.
resource "azurerm_key_vault_secret" "mongodb_uri" {
  #checkov:skip=CKV_AZURE_41:the connection string lives as long as the account key; an expiry would stop the dispatcher, rotate the key instead
  count        = local.is_cosmos ? 0 : 1
  name         = "mongodb-uri"
  key_vault_id = azurerm_key_vault.ion.id
  value        = azurerm_cosmosdb_account.metadata.primary_mongodb_connection_string
  content_type = "text/plain"
  depends_on   = [azurerm_role_assignment.deployer_secrets]
}
