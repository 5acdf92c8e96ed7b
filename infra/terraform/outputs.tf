output "function_app_name" {
  description = "Name of the Function App running the dispatchers and the reconciler."
  value       = azurerm_linux_function_app.dispatcher.name
}

output "function_app_host_name" {
  description = "Default host name of the Function App (submit endpoint)."
  value       = azurerm_linux_function_app.dispatcher.default_hostname
}

output "service_bus_namespace" {
  description = "Fully qualified Service Bus namespace (SERVICEBUS_FULLY_QUALIFIED_NAMESPACE)."
  value       = local.service_bus_host
}

output "storage_account_url" {
  description = "Blob endpoint of the storage account (AZURE_STORAGE_ACCOUNT_URL)."
  value       = local.blob_endpoint
}

output "storage_account_name" {
  description = "Storage account name; the Function App package goes to its \"deployments\" container."
  value       = azurerm_storage_account.ion.name
}

output "cosmos_endpoint" {
  description = "Cosmos DB account endpoint (COSMOS_ENDPOINT for cosmos; the account for mongodb)."
  value       = azurerm_cosmosdb_account.metadata.endpoint
}

output "key_vault_uri" {
  description = "Key Vault URI."
  value       = azurerm_key_vault.ion.vault_uri
}

output "registry_login_server" {
  description = "Login server of the container registry for module and sidecar images."
  value       = azurerm_container_registry.ion.login_server
}

output "dispatcher_client_id" {
  description = "Client id of the dispatcher identity (the Function App)."
  value       = azurerm_user_assigned_identity.dispatcher.client_id
}

output "jobs_client_id" {
  description = "Client id of the jobs identity (sidecars on every executor)."
  value       = azurerm_user_assigned_identity.jobs.client_id
}

output "jobs_identity_id" {
  description = "Resource id of the jobs identity."
  value       = azurerm_user_assigned_identity.jobs.id
}

output "kubernetes_cluster_name" {
  description = "AKS cluster name; empty when the kubernetes executor is not deployed."
  value       = var.enable_kubernetes ? azurerm_kubernetes_cluster.jobs[0].name : ""
}

output "batch_account_endpoint" {
  description = "Batch account endpoint; empty when the azurebatch executor is not deployed."
  value       = local.batch_endpoint
}

output "app_insights_connection_string" {
  description = "Application Insights connection string (not a secret: it names the ingestion endpoint)."
  value       = azurerm_application_insights.ion.connection_string
  sensitive   = true
}
