// Ion on Azure: messaging, metadata, blobs, the dispatcher Function App and the chosen executors.
// Deploy into an existing resource group: az deployment group create -g RG -f main.bicep -p ion.bicepparam
targetScope = 'resourceGroup'

@description('Base name of every resource: 3-16 lowercase letters and digits, unique enough for global names (storage, Service Bus, Cosmos DB, Key Vault, registry). Empty: "ion" and a hash of the resource group id.')
@maxLength(16)
param name string = ''

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Tags put on every resource.')
param tags object = {}

@description('Service Bus topics: every event type the manifest subscribes to or publishes (ion infra params writes them).')
param topics array

@description('Service Bus subscriptions, one per module: [{name: module name, topic: the event type it subscribes to}] (ion infra params writes them).')
param subscriptions array

@description('Service Bus tier: Standard or Premium (topics need at least Standard).')
@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

@description('Deliveries of one message before Service Bus dead-letters it; also the dispatcher\'s ION_MAX_DELIVERY_COUNT.')
@minValue(1)
@maxValue(2000)
param maxDeliveryCount int = 5

@description('Peek-lock duration of the subscriptions, ISO 8601 (dispatch returns in seconds).')
param lockDuration string = 'PT1M'

@description('Time to live of an event on the bus, ISO 8601; expired events are dead-lettered.')
param messageTimeToLive string = 'P14D'

@description('Duplicate detection window, ISO 8601: a republished event id within it is dropped.')
param duplicateDetectionWindow string = 'PT1H'

@description('Metadata store: cosmos (Azure Cosmos DB for NoSQL, identity-based) or mongodb (Azure Cosmos DB for MongoDB, connection string in Key Vault).')
@allowed([
  'cosmos'
  'mongodb'
])
param metadataStore string = 'cosmos'

@description('Database name of the metadata store (COSMOS_DATABASE or MONGODB_DATABASE).')
param metadataDatabase string = 'ion'

@description('NoSQL containers of Ion\'s metadata store and their partition key paths (shared/metadata/cosmos.py CONTAINERS); created here because data-plane roles cannot create them.')
param cosmosContainers array = [
  {
    name: 'event_contexts'
    partitionKey: '/id'
  }
  {
    name: 'jobs'
    partitionKey: '/id'
  }
  {
    name: 'insights'
    partitionKey: '/correlation_id'
  }
]

@description('Blob container for Ion\'s files (ION_BLOB_CONTAINER).')
param blobContainer string = 'ion'

@description('Blob (in the "deployments" container) holding the Function App package; the app runs from it.')
param packageBlobName string = 'ion-functions.zip'

@description('NCRONTAB schedule of the reconciler timer function (ION_RECONCILE_SCHEDULE).')
param reconcileSchedule string = '*/30 * * * * *'

@description('Image of the sidecar that runs beside every module (ION_SIDECAR_IMAGE). Empty: ion-sidecar:latest in the deployed registry.')
param sidecarImage string = ''

@description('Always-ready instances of the Elastic Premium plan.')
@minValue(1)
@maxValue(20)
param minimumInstances int = 1

@description('Most instances the Elastic Premium plan scales out to with the subscriptions\' queue depth.')
@minValue(1)
@maxValue(100)
param maximumInstances int = 20

@description('Container registry tier (Premium adds private link, geo-replication and retention).')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param registrySku string = 'Standard'

@description('Deploy an AKS cluster with a namespace for the kubernetes executor.')
param enableKubernetes bool = false

@description('Kubernetes namespace of Ion\'s jobs.')
param kubernetesNamespace string = 'ion'

@description('Kubernetes service account of Ion\'s jobs, federated with the jobs identity (workload identity).')
param kubernetesServiceAccount string = 'ion-jobs'

@description('VM size of the AKS nodes that run jobs.')
param kubernetesVmSize string = 'Standard_D4ds_v5'

@description('Most AKS nodes the job pool autoscales to.')
@minValue(1)
param kubernetesMaxNodes int = 10

@description('Deploy an Azure Batch account and pool for the azurebatch executor.')
param enableBatch bool = false

@description('VM size of the Batch pool when no module needs a GPU.')
param batchVmSize string = 'Standard_D4ds_v5'

@description('Most dedicated nodes of the Batch pool (the autoscale formula follows pending tasks).')
@minValue(1)
param batchMaxNodes int = 10

@description('GPU VM size of the Batch pool, used instead of batchVmSize when a module needs a GPU (ion infra params sets it); empty: a CPU pool.')
param batchGpuVmSize string = ''

@description('Give the dispatcher the right to run Azure Container Instances groups in this resource group (aci executor).')
param enableAci bool = false

var baseName = empty(name) ? 'ion${take(uniqueString(resourceGroup().id), 8)}' : name
var names = {
  logAnalytics: '${baseName}-log'
  appInsights: '${baseName}-appi'
  dispatcherIdentity: '${baseName}-id-dispatcher'
  jobsIdentity: '${baseName}-id-jobs'
  storage: '${baseName}st'
  serviceBus: '${baseName}-sb'
  cosmos: '${baseName}-cosmos'
  keyVault: '${baseName}-kv'
  registry: '${baseName}acr'
  plan: '${baseName}-plan'
  functionApp: '${baseName}-func'
  aks: '${baseName}-aks'
  batch: '${baseName}batch'
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'ion-monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    publisherPrincipalId: identities.outputs.dispatcherPrincipalId
  }
}

module identities 'modules/identities.bicep' = {
  name: 'ion-identities'
  params: {
    location: location
    tags: tags
    dispatcherName: names.dispatcherIdentity
    jobsName: names.jobsIdentity
  }
}

module storage 'modules/storage.bicep' = {
  name: 'ion-storage'
  params: {
    location: location
    tags: tags
    storageName: names.storage
    blobContainer: blobContainer
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    dispatcherPrincipalId: identities.outputs.dispatcherPrincipalId
    jobsPrincipalId: identities.outputs.jobsPrincipalId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'ion-servicebus'
  params: {
    location: location
    tags: tags
    namespaceName: names.serviceBus
    sku: serviceBusSku
    topics: topics
    subscriptions: subscriptions
    maxDeliveryCount: maxDeliveryCount
    lockDuration: lockDuration
    messageTimeToLive: messageTimeToLive
    duplicateDetectionWindow: duplicateDetectionWindow
    dispatcherPrincipalId: identities.outputs.dispatcherPrincipalId
    jobsPrincipalId: identities.outputs.jobsPrincipalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'ion-keyvault'
  params: {
    location: location
    tags: tags
    keyVaultName: names.keyVault
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    dispatcherPrincipalId: identities.outputs.dispatcherPrincipalId
  }
}

module metadata 'modules/metadata.bicep' = {
  name: 'ion-metadata'
  params: {
    location: location
    tags: tags
    accountName: names.cosmos
    metadataStore: metadataStore
    databaseName: metadataDatabase
    containers: cosmosContainers
    keyVaultName: keyVault.outputs.name
    principalIds: [
      identities.outputs.dispatcherPrincipalId
      identities.outputs.jobsPrincipalId
    ]
  }
}

module registry 'modules/registry.bicep' = {
  name: 'ion-registry'
  params: {
    location: location
    tags: tags
    registryName: names.registry
    sku: registrySku
    pullPrincipalIds: [
      identities.outputs.jobsPrincipalId
    ]
  }
}

module kubernetes 'modules/kubernetes.bicep' = if (enableKubernetes) {
  name: 'ion-kubernetes'
  params: {
    location: location
    tags: tags
    clusterName: names.aks
    namespaceName: kubernetesNamespace
    serviceAccountName: kubernetesServiceAccount
    vmSize: kubernetesVmSize
    maxNodes: kubernetesMaxNodes
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    registryName: registry.outputs.name
    jobsIdentityName: identities.outputs.jobsName
    dispatcherPrincipalId: identities.outputs.dispatcherPrincipalId
  }
}

module batch 'modules/batch.bicep' = if (enableBatch) {
  name: 'ion-batch'
  params: {
    location: location
    tags: tags
    accountName: names.batch
    vmSize: batchVmSize
    gpuVmSize: batchGpuVmSize
    maxNodes: batchMaxNodes
    registryLoginServer: registry.outputs.loginServer
    jobsIdentityId: identities.outputs.jobsId
    dispatcherPrincipalId: identities.outputs.dispatcherPrincipalId
  }
}

module aci 'modules/aci.bicep' = if (enableAci) {
  name: 'ion-aci'
  params: {
    dispatcherPrincipalId: identities.outputs.dispatcherPrincipalId
    jobsIdentityName: identities.outputs.jobsName
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'ion-functionapp'
  params: {
    location: location
    tags: tags
    planName: names.plan
    functionAppName: names.functionApp
    minimumInstances: minimumInstances
    maximumInstances: maximumInstances
    dispatcherIdentityId: identities.outputs.dispatcherId
    dispatcherClientId: identities.outputs.dispatcherClientId
    jobsIdentityId: identities.outputs.jobsId
    jobsClientId: identities.outputs.jobsClientId
    storageName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    blobContainer: blobContainer
    packageBlobName: packageBlobName
    serviceBusHost: serviceBus.outputs.host
    metadataStore: metadataStore
    metadataDatabase: metadataDatabase
    cosmosEndpoint: metadata.outputs.endpoint
    mongodbUriSecretUri: metadata.outputs.mongodbUriSecretUri
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    reconcileSchedule: reconcileSchedule
    maxDeliveryCount: maxDeliveryCount
    sidecarImage: empty(sidecarImage) ? '${registry.outputs.loginServer}/ion-sidecar:latest' : sidecarImage
    enableKubernetes: enableKubernetes
    kubernetesNamespace: kubernetesNamespace
    kubernetesServiceAccount: kubernetesServiceAccount
    enableBatch: enableBatch
    batchAccountEndpoint: enableBatch ? batch.outputs.endpoint : ''
    batchGpuVmSize: batchGpuVmSize
    enableAci: enableAci
    registryLoginServer: registry.outputs.loginServer
  }
}

@description('Name of the Function App running the dispatchers and the reconciler.')
output functionAppName string = functionApp.outputs.name

@description('Default host name of the Function App (submit endpoint).')
output functionAppHostName string = functionApp.outputs.hostName

@description('Fully qualified Service Bus namespace (SERVICEBUS_FULLY_QUALIFIED_NAMESPACE).')
output serviceBusNamespace string = serviceBus.outputs.host

@description('Blob endpoint of the storage account (AZURE_STORAGE_ACCOUNT_URL).')
output storageAccountUrl string = storage.outputs.blobEndpoint

@description('Storage account name; the Function App package goes to its "deployments" container.')
output storageAccountName string = storage.outputs.name

@description('Cosmos DB account endpoint (COSMOS_ENDPOINT for cosmos; the account for mongodb).')
output cosmosEndpoint string = metadata.outputs.endpoint

@description('Key Vault URI.')
output keyVaultUri string = keyVault.outputs.uri

@description('Login server of the container registry for module and sidecar images.')
output registryLoginServer string = registry.outputs.loginServer

@description('Client id of the dispatcher identity (the Function App).')
output dispatcherClientId string = identities.outputs.dispatcherClientId

@description('Client id of the jobs identity (sidecars on every executor).')
output jobsClientId string = identities.outputs.jobsClientId

@description('Resource id of the jobs identity.')
output jobsIdentityId string = identities.outputs.jobsId

@description('AKS cluster name; empty when the kubernetes executor is not deployed.')
output kubernetesClusterName string = enableKubernetes ? names.aks : ''

@description('Batch account endpoint; empty when the azurebatch executor is not deployed.')
output batchAccountEndpoint string = enableBatch ? batch.outputs.endpoint : ''

@description('Application Insights connection string (not a secret: it names the ingestion endpoint).')
output appInsightsConnectionString string = monitoring.outputs.appInsightsConnectionString
