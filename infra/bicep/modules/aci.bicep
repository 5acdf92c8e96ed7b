// The aci executor: the dispatcher may run container groups in this resource group, with the jobs
// identity attached, and nothing else (a custom role at resource group scope).
@description('Dispatcher identity principal id.')
param dispatcherPrincipalId string
@description('Jobs identity name (attached to every container group).')
param jobsIdentityName string

resource launcher 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'ion-aci-launcher')
  properties: {
    roleName: 'Ion ACI launcher (${resourceGroup().name})'
    description: 'Create, read and delete Azure Container Instances groups running Ion jobs.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.ContainerInstance/containerGroups/read'
          'Microsoft.ContainerInstance/containerGroups/write'
          'Microsoft.ContainerInstance/containerGroups/delete'
          'Microsoft.ContainerInstance/containerGroups/stop/action'
          'Microsoft.ContainerInstance/containerGroups/containers/logs/read'
          'Microsoft.Resources/subscriptions/resourceGroups/read'
        ]
        notActions: []
      }
    ]
  }
}

resource launcherAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, dispatcherPrincipalId, 'ion-aci-launcher')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', launcher.name)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: jobsIdentityName
}

// Attaching the jobs identity to a container group needs Managed Identity Operator on that identity only.
var identityOperator = 'f1a07417-d97a-45cb-824c-7a7467783830'

resource assignIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobsIdentity.id, dispatcherPrincipalId, identityOperator)
  scope: jobsIdentity
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', identityOperator)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}
