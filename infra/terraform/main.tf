# Ion on Azure: messaging, metadata, blobs, the dispatcher Function App and the chosen executors.
# Same resources, names and outputs as infra/bicep/main.bicep.

data "azurerm_resource_group" "this" {
  name = var.resource_group_name
}

data "azurerm_client_config" "current" {}

locals {
  location  = var.location != "" ? var.location : data.azurerm_resource_group.this.location
  base_name = var.name != "" ? var.name : "ion${substr(sha1(data.azurerm_resource_group.this.id), 0, 8)}"
  names = {
    log_analytics       = "${local.base_name}-log"
    app_insights        = "${local.base_name}-appi"
    dispatcher_identity = "${local.base_name}-id-dispatcher"
    jobs_identity       = "${local.base_name}-id-jobs"
    storage             = "${local.base_name}st"
    service_bus         = "${local.base_name}-sb"
    cosmos              = "${local.base_name}-cosmos"
    key_vault           = "${local.base_name}-kv"
    registry            = "${local.base_name}acr"
    plan                = "${local.base_name}-plan"
    function_app        = "${local.base_name}-func"
    aks                 = "${local.base_name}-aks"
    batch               = "${local.base_name}batch"
  }
  is_cosmos     = var.metadata_store == "cosmos"
  sidecar_image = var.sidecar_image != "" ? var.sidecar_image : "${azurerm_container_registry.ion.login_server}/ion-sidecar:latest"
  # Both identities, for role assignments they share.
  component_principals = {
    dispatcher = azurerm_user_assigned_identity.dispatcher.principal_id
    jobs       = azurerm_user_assigned_identity.jobs.principal_id
  }
}
