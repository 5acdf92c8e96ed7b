# Service Bus: one topic per event type, one subscription per module (named after the module).
resource "azurerm_servicebus_namespace" "ion" {
  #checkov:skip=CKV_AZURE_201:customer-managed keys need the Premium tier; events are small and hold references, not files
  #checkov:skip=CKV_AZURE_199:double encryption needs the Premium tier and a customer-managed key (see CKV_AZURE_201)
  #checkov:skip=CKV_AZURE_204:the Function App and the jobs reach Service Bus over its public endpoint (no VNet); local auth is off, access is by role assignment
  name                         = local.names.service_bus
  resource_group_name          = data.azurerm_resource_group.this.name
  location                     = local.location
  tags                         = var.tags
  sku                          = var.service_bus_sku
  capacity                     = var.service_bus_sku == "Premium" ? 1 : 0
  premium_messaging_partitions = var.service_bus_sku == "Premium" ? 1 : 0
  local_auth_enabled           = false
  minimum_tls_version          = "1.2"

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_servicebus_topic" "topic" {
  for_each                                = toset(var.topics)
  name                                    = each.value
  namespace_id                            = azurerm_servicebus_namespace.ion.id
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = var.duplicate_detection_window
  default_message_ttl                     = var.message_time_to_live
  support_ordering                        = false
}

resource "azurerm_servicebus_subscription" "subscription" {
  for_each                                  = { for s in var.subscriptions : s.name => s }
  name                                      = each.key
  topic_id                                  = azurerm_servicebus_topic.topic[each.value.topic].id
  max_delivery_count                        = var.max_delivery_count
  lock_duration                             = var.lock_duration
  default_message_ttl                       = var.message_time_to_live
  dead_lettering_on_message_expiration      = true
  dead_lettering_on_filter_evaluation_error = true
}

# The dispatcher receives from its subscriptions and publishes first events (submit endpoint).
resource "azurerm_role_assignment" "dispatcher_receiver" {
  scope                = azurerm_servicebus_namespace.ion.id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "dispatcher_sender" {
  scope                = azurerm_servicebus_namespace.ion.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.dispatcher.principal_id
  principal_type       = "ServicePrincipal"
}

# Sidecars only publish child events.
resource "azurerm_role_assignment" "jobs_sender" {
  scope                = azurerm_servicebus_namespace.ion.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  principal_type       = "ServicePrincipal"
}
