// The metadata store: Azure Cosmos DB for NoSQL (identity-based, keys off) or Azure Cosmos DB for
// MongoDB, whose connection string goes to Key Vault and reaches the Function App as a reference.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Cosmos DB account name.')
param accountName string
@description('cosmos or mongodb.')
param metadataStore string
@description('Database name.')
param databaseName string
@description('Key Vault receiving the MongoDB connection string.')
param keyVaultName string
@description('Principals given the Cosmos DB Built-in Data Contributor role (NoSQL).')
param principalIds array
@description('NoSQL containers: [{name, partitionKey}].')
param containers array

var isCosmos = metadataStore == 'cosmos'
// Cosmos DB Built-in Data Contributor (data plane).
var dataContributor = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  //checkov:skip=CKV_AZURE_101:the Function App and the jobs reach Cosmos DB over its public endpoint (no VNet); access is Entra ID only for NoSQL
  //checkov:skip=CKV_AZURE_99:no IP filter: Function App and job outbound addresses are not fixed; access is by role assignment
  name: accountName
  location: location
  tags: tags
  kind: isCosmos ? 'GlobalDocumentDB' : 'MongoDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
      }
    ]
    // MongoDB clients authenticate with the account's keys; NoSQL uses Entra ID only.
    disableLocalAuth: isCosmos
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    capabilities: isCosmos ? [] : [
      {
        name: 'EnableMongo'
      }
    ]
    apiProperties: isCosmos ? null : {
      serverVersion: '7.0'
    }
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
  }
}

resource sqlDatabase 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = if (isCosmos) {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource sqlContainer 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [for c in containers: if (isCosmos) {
  parent: sqlDatabase
  name: c.name
  properties: {
    resource: {
      id: c.name
      partitionKey: {
        paths: [
          c.partitionKey
        ]
        kind: 'Hash'
      }
    }
  }
}]

resource dataRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = [for p in principalIds: if (isCosmos) {
  parent: account
  name: guid(account.id, p, dataContributor)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributor}'
    principalId: p
    scope: account.id
  }
}]

resource mongoDatabase 'Microsoft.DocumentDB/databaseAccounts/mongodbDatabases@2024-05-15' = if (!isCosmos) {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Written at deploy time from the account itself: the value is never in the repository.
resource mongodbUri 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!isCosmos) {
  //checkov:skip=CKV_AZURE_114:contentType is set ('text/plain'); the check does not read properties of conditional resources
  //checkov:skip=CKV_AZURE_41:the connection string lives as long as the account key; an expiry would stop the dispatcher, rotate the key instead
  parent: vault
  name: 'mongodb-uri'
  properties: {
    contentType: 'text/plain'
    value: isCosmos ? '' : account.listConnectionStrings().connectionStrings[0].connectionString
  }
}

@description('Account endpoint.')
output endpoint string = account.properties.documentEndpoint
@description('Versionless URI of the MongoDB connection string secret; empty for cosmos.')
output mongodbUriSecretUri string = isCosmos ? '' : '${vault.properties.vaultUri}secrets/mongodb-uri'
