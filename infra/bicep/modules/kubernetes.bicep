// The kubernetes executor: an AKS cluster (Entra ID + Azure RBAC, no local accounts, workload identity),
// Ion's namespace, the jobs identity federated with the jobs' service account, and the dispatcher's
// rights limited to that namespace.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Cluster name.')
param clusterName string
@description('Namespace of Ion\'s jobs.')
param namespaceName string
@description('Service account of Ion\'s jobs (workload identity).')
param serviceAccountName string
@description('VM size of the job nodes.')
param vmSize string
@description('Most job nodes.')
param maxNodes int
@description('Log Analytics workspace for container insights.')
param logAnalyticsId string
@description('Registry the kubelet pulls images from.')
param registryName string
@description('Jobs identity name (federated with the service account).')
param jobsIdentityName string
@description('Dispatcher identity principal id.')
param dispatcherPrincipalId string

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var aksRbacWriter = 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb'
var aksClusterUser = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f'

resource cluster 'Microsoft.ContainerService/managedClusters@2025-10-01' = {
  //checkov:skip=CKV_AZURE_172:rotation is on (enableSecretRotation 'true'); addon config values are strings, which the check does not read as true
  //checkov:skip=CKV_AZURE_6:the dispatcher's outbound addresses are not fixed; the API server requires Entra ID with Azure RBAC, local accounts are off
  name: clusterName
  location: location
  tags: tags
  sku: {
    name: 'Base'
    tier: 'Standard'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    dnsPrefix: clusterName
    enableRBAC: true
    disableLocalAccounts: true
    aadProfile: {
      managed: true
      enableAzureRBAC: true
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    autoUpgradeProfile: {
      upgradeChannel: 'stable'
      nodeOSUpgradeChannel: 'NodeImage'
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPolicy: 'azure'
    }
    addonProfiles: {
      kubeDashboard: {
        enabled: false
      }
      azurepolicy: {
        enabled: true
      }
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logAnalyticsId
        }
      }
      azureKeyvaultSecretsProvider: {
        enabled: true
        config: {
          enableSecretRotation: 'true'
        }
      }
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        count: 2
        vmSize: 'Standard_D4ds_v5'
        osType: 'Linux'
        osDiskType: 'Ephemeral'
        maxPods: 50
        enableEncryptionAtHost: true
        nodeTaints: [
          'CriticalAddonsOnly=true:NoSchedule'
        ]
      }
      {
        name: 'jobs'
        mode: 'User'
        count: 1
        minCount: 1
        maxCount: maxNodes
        enableAutoScaling: true
        vmSize: vmSize
        osType: 'Linux'
        osDiskType: 'Ephemeral'
        maxPods: 50
        enableEncryptionAtHost: true
      }
    ]
  }
}

resource namespace 'Microsoft.ContainerService/managedClusters/managedNamespaces@2025-10-01' = {
  parent: cluster
  name: namespaceName
  location: location
  properties: {
    adoptionPolicy: 'IfIdentical'
    deletePolicy: 'Delete'
    defaultNetworkPolicy: {
      ingress: 'AllowSameNamespace'
      egress: 'AllowAll'
    }
  }
}

resource jobsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: jobsIdentityName
}

resource federation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: jobsIdentity
  name: 'aks-${namespaceName}-${serviceAccountName}'
  properties: {
    issuer: cluster.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${namespaceName}:${serviceAccountName}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource kubeletPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, cluster.id, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

// The dispatcher creates Jobs and Secrets in Ion's namespace only.
resource dispatcherWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, dispatcherPrincipalId, aksRbacWriter)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksRbacWriter)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource dispatcherUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, dispatcherPrincipalId, aksClusterUser)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksClusterUser)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Cluster name.')
output name string = cluster.name
