// Key Vault in RBAC mode, for the secrets Ion cannot avoid (the MongoDB connection string).
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Key Vault name.')
param keyVaultName string
@description('Log Analytics workspace receiving the vault\'s audit logs.')
param logAnalyticsId string
@description('Dispatcher identity principal id (reads secrets through Key Vault references).')
param dispatcherPrincipalId string

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109:the Function App resolves Key Vault references over the public endpoint (no VNet); access is RBAC only
  //checkov:skip=CKV_AZURE_189:as above: public endpoint with RBAC; use private endpoints when the Function App gets VNet integration
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow' // the Function App resolves Key Vault references over the public endpoint (no VNet)
    }
  }
}

resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: vault
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

resource dispatcherSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, dispatcherPrincipalId, secretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Key Vault name.')
output name string = vault.name
@description('Key Vault URI.')
output uri string = vault.properties.vaultUri
