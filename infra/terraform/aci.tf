# The aci executor: the dispatcher may run container groups in this resource group, with the jobs
# identity attached, and nothing else (a custom role at resource group scope).
resource "azurerm_role_definition" "aci_launcher" {
  count       = var.enable_aci ? 1 : 0
  name        = "Ion ACI launcher (${data.azurerm_resource_group.this.name})"
  scope       = data.azurerm_resource_group.this.id
  description = "Create, read and delete Azure Container Instances groups running Ion jobs."

  permissions {
    actions = [
      "Microsoft.ContainerInstance/containerGroups/read",
      "Microsoft.ContainerInstance/containerGroups/write",
      "Microsoft.ContainerInstance/containerGroups/delete",
      "Microsoft.ContainerInstance/containerGroups/stop/action",
      "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
    ]
    not_actions = []
  }

  assignable_scopes = [data.azurerm_resource_group.this.id]
}

resource "azurerm_role_assignment" "dispatcher_aci_launcher" {
  count              = var.enable_aci ? 1 : 0
  scope              = data.azurerm_resource_group.this.id
  role_definition_id = azurerm_role_definition.aci_launcher[0].role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type     = "ServicePrincipal"
}

# Attaching the jobs identity to a container group needs Managed Identity Operator on that identity only.
resource "azurerm_role_assignment" "dispatcher_assign_jobs_identity" {
  count                = var.enable_aci ? 1 : 0
  scope                = azurerm_user_assigned_identity.jobs.id
  role_definition_name = "Managed Identity Operator"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}
