// The storage account: the Functions host's storage, the Function App package and Ion's blob container.
// Shared-key access is off: the host, the dispatcher and the sidecars all use their identities.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Storage account name.')
param storageName string
@description('Blob container for Ion\'s files.')
param blobContainer string
@description('Log Analytics workspace receiving the blob logs.')
param logAnalyticsId string
@description('Dispatcher identity principal id.')
param dispatcherPrincipalId string
@description('Jobs identity principal id.')
param jobsPrincipalId string

var blobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35:the Function App and the jobs reach storage over its public endpoint (no VNet); shared keys are off, access is by role assignment
  //checkov:skip=CKV_AZURE_43:the name is computed ('<name>st'); the name parameter allows only lowercase letters and digits
  name: storageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    isLocalUserEnabled: false
    allowCrossTenantReplication: false
    sasPolicy: {
      expirationAction: 'Log'
      sasExpirationPeriod: '0.01:00:00'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource ionContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: blobContainer
  properties: {
    publicAccess: 'None'
  }
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'deployments'
  properties: {
    publicAccess: 'None'
  }
}

// Blob reads, writes and deletes are logged to the workspace.
resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'blob-logs'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

// The Functions host keeps leases and timers in blobs and reads its package: it needs Blob Data Owner
// on the account (the documented role for identity-based AzureWebJobsStorage).
resource dispatcherBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, dispatcherPrincipalId, blobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwner)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Sidecars read inputs and write outputs in Ion's container only.
resource jobsBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(ionContainer.id, jobsPrincipalId, blobDataContributor)
  scope: ionContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: jobsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Storage account name.')
output name string = account.name
@description('Blob endpoint.')
output blobEndpoint string = account.properties.primaryEndpoints.blob
