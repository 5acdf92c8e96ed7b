// The azurebatch executor: a Batch account (Entra ID only) and one container-capable pool (GPU-sized when
// a module needs a GPU), running as the jobs identity and pulling images from the registry with it.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Batch account name.')
param accountName string
@description('VM size of the pool when no module needs a GPU.')
param vmSize string
@description('GPU VM size of the pool; empty: a CPU pool.')
param gpuVmSize string
@description('Most dedicated nodes of the pool.')
param maxNodes int
@description('Registry login server.')
param registryLoginServer string
@description('Jobs identity resource id (runs on the nodes, pulls images).')
param jobsIdentityId string
@description('Dispatcher identity principal id.')
param dispatcherPrincipalId string

var jobSubmitter = '48e5e92e-a480-4e71-aa9c-2778f4c13781'
var accountReader = '11076f67-66f6-4be0-8f6b-f0609fd05cc9'
// Nodes follow the pending tasks, and go back to zero when idle.
var autoScaleFormula = '$pending = max($PendingTasks.GetSample(1)); $TargetDedicatedNodes = min(${maxNodes}, $pending); $NodeDeallocationOption = taskcompletion;'
// One pool (ION_BATCH_POOL_ID): GPU-sized when a module needs a GPU.
var poolVmSize = empty(gpuVmSize) ? vmSize : gpuVmSize

resource account 'Microsoft.Batch/batchAccounts@2024-07-01' = {
  //checkov:skip=CKV_AZURE_76:Batch encrypts with Microsoft-managed keys; the account holds no data, only task definitions
  name: accountName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${jobsIdentityId}': {}
    }
  }
  properties: {
    poolAllocationMode: 'BatchService'
    allowedAuthenticationModes: [
      'AAD'
    ]
    publicNetworkAccess: 'Enabled'
  }
}

resource pool 'Microsoft.Batch/batchAccounts/pools@2024-07-01' = {
  parent: account
  name: 'ion'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${jobsIdentityId}': {}
    }
  }
  properties: {
    vmSize: poolVmSize
    taskSlotsPerNode: 1
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: {
          publisher: 'microsoft-dsvm'
          offer: 'ubuntu-hpc'
          sku: '2204'
          version: 'latest'
        }
        nodeAgentSkuId: 'batch.node.ubuntu 22.04'
        containerConfiguration: {
          type: 'DockerCompatible'
          containerRegistries: [
            {
              registryServer: registryLoginServer
              identityReference: {
                resourceId: jobsIdentityId
              }
            }
          ]
        }
        diskEncryptionConfiguration: {
          targets: [
            'OsDisk'
            'TemporaryDisk'
          ]
        }
      }
    }
    scaleSettings: {
      autoScale: {
        formula: autoScaleFormula
        evaluationInterval: 'PT5M'
      }
    }
  }
}

resource dispatcherSubmitter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, dispatcherPrincipalId, jobSubmitter)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', jobSubmitter)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource dispatcherReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, dispatcherPrincipalId, accountReader)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', accountReader)
    principalId: dispatcherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Batch account endpoint URL.')
output endpoint string = 'https://${account.properties.accountEndpoint}'
