# Log Analytics workspace and workspace-based Application Insights; telemetry is sent with Entra ID.
resource "azurerm_log_analytics_workspace" "ion" {
  name                = local.names.log_analytics
  resource_group_name = data.azurerm_resource_group.this.name
  location            = local.location
  tags                = var.tags
  sku                 = "PerGB2018"
  retention_in_days   = 30
}

resource "azurerm_application_insights" "ion" {
  name                = local.names.app_insights
  resource_group_name = data.azurerm_resource_group.this.name
  location            = local.location
  tags                = var.tags
  application_type    = "web"
  workspace_id        = azurerm_log_analytics_workspace.ion.id
  # Ingestion with Entra ID only (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
  local_authentication_disabled = true
}

resource "azurerm_role_assignment" "dispatcher_telemetry" {
  scope                = azurerm_application_insights.ion.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}
