# The container registry for module and sidecar images; pulls use identities, the admin user is off.
resource "azurerm_container_registry" "ion" {
  #checkov:skip=CKV_AZURE_139:executors (Batch, ACI, AKS) pull over the public endpoint; pulls need an identity with AcrPull, anonymous pull and the admin user are off
  #checkov:skip=CKV_AZURE_163:image scanning is Microsoft Defender for Containers, enabled per subscription, not by this template
  #checkov:skip=CKV_AZURE_164:content trust needs the Premium tier; choose registry_sku Premium and enable it where required
  #checkov:skip=CKV_AZURE_165:geo-replication needs the Premium tier and a second region; one region serves one deployment
  #checkov:skip=CKV_AZURE_166:quarantine needs the Premium tier and a scanner; choose registry_sku Premium and enable it where required
  #checkov:skip=CKV_AZURE_167:retention of untagged manifests needs the Premium tier
  #checkov:skip=CKV_AZURE_233:zone redundancy needs the Premium tier
  #checkov:skip=CKV_AZURE_237:dedicated data endpoints need the Premium tier
  name                    = local.names.registry
  resource_group_name     = data.azurerm_resource_group.this.name
  location                = local.location
  tags                    = var.tags
  sku                     = var.registry_sku
  admin_enabled           = false
  anonymous_pull_enabled  = false
}

resource "azurerm_role_assignment" "jobs_pull" {
  scope                = azurerm_container_registry.ion.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  principal_type       = "ServicePrincipal"
}
