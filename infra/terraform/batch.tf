# The azurebatch executor: a Batch account (Entra ID only) and one container-capable pool (GPU-sized when
# a module needs a GPU), running as the jobs identity and pulling images from the registry with it.
resource "azurerm_batch_account" "jobs" {
  #checkov:skip=CKV_AZURE_76:Batch encrypts with Microsoft-managed keys; the account holds no data, only task definitions
  count                         = var.enable_batch ? 1 : 0
  name                          = local.names.batch
  resource_group_name           = data.azurerm_resource_group.this.name
  location                      = local.location
  tags                          = var.tags
  pool_allocation_mode          = "BatchService"
  allowed_authentication_modes  = ["AAD"]
  public_network_access_enabled = true

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.jobs.id]
  }
}

resource "azurerm_batch_pool" "jobs" {
  count               = var.enable_batch ? 1 : 0
  name                = "ion"
  resource_group_name = data.azurerm_resource_group.this.name
  account_name        = azurerm_batch_account.jobs[0].name
  vm_size             = var.batch_gpu_vm_size != "" ? var.batch_gpu_vm_size : var.batch_vm_size
  node_agent_sku_id   = "batch.node.ubuntu 22.04"
  max_tasks_per_node  = 1

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.jobs.id]
  }

  storage_image_reference {
    publisher = "microsoft-dsvm"
    offer     = "ubuntu-hpc"
    sku       = "2204"
    version   = "latest"
  }

  container_configuration {
    type = "DockerCompatible"
    container_registries {
      registry_server           = azurerm_container_registry.ion.login_server
      user_assigned_identity_id = azurerm_user_assigned_identity.jobs.id
    }
  }

  disk_encryption {
    disk_encryption_target = "OsDisk"
  }

  disk_encryption {
    disk_encryption_target = "TemporaryDisk"
  }

  # Nodes follow the pending tasks, and go back to zero when idle.
  auto_scale {
    evaluation_interval = "PT5M"
    formula             = "$pending = max($PendingTasks.GetSample(1)); $TargetDedicatedNodes = min(${var.batch_max_nodes}, $pending); $NodeDeallocationOption = taskcompletion;"
  }
}

resource "azurerm_role_assignment" "dispatcher_batch_submitter" {
  count                = var.enable_batch ? 1 : 0
  scope                = azurerm_batch_account.jobs[0].id
  role_definition_name = "Azure Batch Job Submitter"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "dispatcher_batch_reader" {
  count                = var.enable_batch ? 1 : 0
  scope                = azurerm_batch_account.jobs[0].id
  role_definition_name = "Azure Batch Account Reader"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}
