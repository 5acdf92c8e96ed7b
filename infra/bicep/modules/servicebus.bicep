// Service Bus: one topic per event type, one subscription per module (named after the module).
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Namespace name.')
param namespaceName string
@description('Standard or Premium.')
param sku string
@description('Topic names (event types).')
param topics array
@description('Subscriptions: [{name, topic}].')
param subscriptions array
@description('Deliveries before a message is dead-lettered.')
param maxDeliveryCount int
@description('Peek-lock duration, ISO 8601.')
param lockDuration string
@description('Message time to live, ISO 8601.')
param messageTimeToLive string
@description('Duplicate detection window, ISO 8601.')
param duplicateDetectionWindow string
@description('Dispatcher identity principal id.')
param dispatcherPrincipalId string
@description('Jobs identity principal id.')
param jobsPrincipalId string

var dataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var dataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = [for t in topics: {
  parent: namespace
  name: t
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    defaultMessageTimeToLive: messageTimeToLive
    supportOrdering: false
  }
}]

resource subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = [for s in subscriptions: {
  name: '${namespace.name}/${s.topic}/${s.name}'
  properties: {
    maxDeliveryCount: maxDeliveryCount
    lockDuration: lockDuration
    defaultMessageTimeToLive: messageTimeToLive
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
  }
  dependsOn: [
    topic
  ]
}]

// The dispatcher receives from its subscriptions and publishes first events (submit endpoint).
resource dispatcherReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, dispatcherPrincipalId, dataReceiver)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataReceiver)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource dispatcherSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, dispatcherPrincipalId, dataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Sidecars only publish child events.
resource jobsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, jobsPrincipalId, dataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender)
    principalId: jobsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Fully qualified namespace host name.')
output host string = '${namespace.name}.servicebus.windows.net'
