# One user-assigned identity per component: the dispatcher (Function App) and the jobs (sidecars).
resource "azurerm_user_assigned_identity" "dispatcher" {
  name                = local.names.dispatcher_identity
  resource_group_name = data.azurerm_resource_group.this.name
  location            = local.location
  tags                = var.tags
}

resource "azurerm_user_assigned_identity" "jobs" {
  name                = local.names.jobs_identity
  resource_group_name = data.azurerm_resource_group.this.name
  location            = local.location
  tags                = var.tags
}
