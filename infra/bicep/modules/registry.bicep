// The container registry for module and sidecar images; pulls use identities, the admin user is off.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Registry name.')
param registryName string
@description('Basic, Standard or Premium.')
param sku string
@description('Principals given AcrPull.')
param pullPrincipalIds array

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  //checkov:skip=CKV_AZURE_139:executors (Batch, ACI, AKS) pull over the public endpoint; pulls need an identity with AcrPull, anonymous pull and the admin user are off
  //checkov:skip=CKV_AZURE_163:image scanning is Microsoft Defender for Containers, enabled per subscription, not by this template
  //checkov:skip=CKV_AZURE_166:quarantine needs the Premium tier and a scanner; choose registrySku Premium and enable it where required
  name: registryName
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
  }
}

resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in pullPrincipalIds: {
  name: guid(registry.id, p, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: p
    principalType: 'ServicePrincipal'
  }
}]

@description('Registry name.')
output name string = registry.name
@description('Registry login server.')
output loginServer string = registry.properties.loginServer
