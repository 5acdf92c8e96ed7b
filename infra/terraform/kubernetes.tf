# The kubernetes executor: an AKS cluster (Entra ID + Azure RBAC, no local accounts, workload identity),
# Ion's namespace, the jobs identity federated with the jobs' service account, and the dispatcher's
# rights limited to that namespace.
resource "azurerm_kubernetes_cluster" "jobs" {
  #checkov:skip=CKV_AZURE_6:the dispatcher's outbound addresses are not fixed; the API server requires Entra ID with Azure RBAC, local accounts are off
  #checkov:skip=CKV_AZURE_115:a private cluster needs the dispatcher in a VNet; the public API server requires Entra ID
  #checkov:skip=CKV_AZURE_117:OS disks are ephemeral and host encryption is on; a disk encryption set is an organisation's choice to add
  count                     = var.enable_kubernetes ? 1 : 0
  name                      = local.names.aks
  resource_group_name       = data.azurerm_resource_group.this.name
  location                  = local.location
  tags                      = var.tags
  dns_prefix                = local.names.aks
  sku_tier                  = "Standard"
  local_account_disabled    = true
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  azure_policy_enabled      = true
  automatic_upgrade_channel = "stable"
  node_os_upgrade_channel   = "NodeImage"

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = true
  }

  network_profile {
    network_plugin = "azure"
    network_policy = "azure"
  }

  oms_agent {
    log_analytics_workspace_id = azurerm_log_analytics_workspace.ion.id
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = "Standard_D4ds_v5"
    node_count                   = 2
    os_disk_type                 = "Ephemeral"
    max_pods                     = 50
    host_encryption_enabled      = true
    only_critical_addons_enabled = true
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "jobs" {
  count                   = var.enable_kubernetes ? 1 : 0
  name                    = "jobs"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.jobs[0].id
  mode                    = "User"
  vm_size                 = var.kubernetes_vm_size
  auto_scaling_enabled    = true
  node_count              = 1
  min_count               = 1
  max_count               = var.kubernetes_max_nodes
  os_disk_type            = "Ephemeral"
  max_pods                = 50
  host_encryption_enabled = true
  tags                    = var.tags
}

resource "azapi_resource" "jobs_namespace" {
  count     = var.enable_kubernetes ? 1 : 0
  type      = "Microsoft.ContainerService/managedClusters/managedNamespaces@2025-10-01"
  name      = var.kubernetes_namespace
  parent_id = azurerm_kubernetes_cluster.jobs[0].id
  location  = local.location
  body = {
    properties = {
      adoptionPolicy = "IfIdentical"
      deletePolicy   = "Delete"
      defaultNetworkPolicy = {
        ingress = "AllowSameNamespace"
        egress  = "AllowAll"
      }
    }
  }
}

resource "azurerm_federated_identity_credential" "jobs" {
  count               = var.enable_kubernetes ? 1 : 0
  name                = "aks-${var.kubernetes_namespace}-${var.kubernetes_service_account}"
  resource_group_name = data.azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.jobs.id
  issuer              = azurerm_kubernetes_cluster.jobs[0].oidc_issuer_url
  subject             = "system:serviceaccount:${var.kubernetes_namespace}:${var.kubernetes_service_account}"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_role_assignment" "kubelet_pull" {
  count                = var.enable_kubernetes ? 1 : 0
  scope                = azurerm_container_registry.ion.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_kubernetes_cluster.jobs[0].kubelet_identity[0].object_id
  principal_type       = "ServicePrincipal"
}

# The dispatcher creates Jobs and Secrets in Ion's namespace only.
resource "azurerm_role_assignment" "dispatcher_kubernetes_writer" {
  count                = var.enable_kubernetes ? 1 : 0
  scope                = azapi_resource.jobs_namespace[0].id
  role_definition_name = "Azure Kubernetes Service RBAC Writer"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "dispatcher_kubernetes_user" {
  count                = var.enable_kubernetes ? 1 : 0
  scope                = azurerm_kubernetes_cluster.jobs[0].id
  role_definition_name = "Azure Kubernetes Service Cluster User Role"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}
