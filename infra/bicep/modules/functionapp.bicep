// The dispatcher Function App: Linux, Python 3.11, on an Elastic Premium (EP1) plan, which scales out
// with the subscriptions' queue depth and keeps an instance warm. It runs from a package in blob
// storage read with its identity, so no Azure Files share (and no storage key) is needed.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Plan name.')
param planName string
@description('Function App name.')
param functionAppName string
@description('Always-ready instances.')
param minimumInstances int
@description('Most instances.')
param maximumInstances int
@description('Dispatcher identity resource id.')
param dispatcherIdentityId string
@description('Dispatcher identity client id.')
param dispatcherClientId string
@description('Jobs identity resource id.')
param jobsIdentityId string
@description('Jobs identity client id.')
param jobsClientId string
@description('Storage account name.')
param storageName string
@description('Storage blob endpoint.')
param storageBlobEndpoint string
@description('Ion\'s blob container.')
param blobContainer string
@description('Package blob name in the "deployments" container.')
param packageBlobName string
@description('Service Bus fully qualified namespace.')
param serviceBusHost string
@description('cosmos or mongodb.')
param metadataStore string
@description('Metadata database name.')
param metadataDatabase string
@description('Cosmos DB endpoint.')
param cosmosEndpoint string
@description('Key Vault secret URI of the MongoDB connection string.')
param mongodbUriSecretUri string
@secure()
@description('Application Insights connection string (names the ingestion endpoint; kept out of deployment logs).')
param appInsightsConnectionString string
@description('Reconciler schedule (NCRONTAB).')
param reconcileSchedule string
@description('Deliveries before dead-lettering.')
param maxDeliveryCount int
@description('Sidecar image.')
param sidecarImage string
@description('Whether the kubernetes executor is deployed.')
param enableKubernetes bool
@description('Namespace of the jobs.')
param kubernetesNamespace string
@description('Service account of the jobs.')
param kubernetesServiceAccount string
@description('Whether the azurebatch executor is deployed.')
param enableBatch bool
@description('Batch account endpoint URL.')
param batchAccountEndpoint string
@description('GPU VM size of the Batch pool; empty: a CPU pool.')
param batchGpuVmSize string
@description('Whether the aci executor is deployed.')
param enableAci bool
@description('Registry login server.')
param registryLoginServer string

// The Function App's settings, by the condition that deploys them; shared/infra_params.py
// function_app_setting_groups() is the authoritative list and the infra tests compare the two.
var hostSettings = {
  FUNCTIONS_WORKER_RUNTIME: 'python'
  FUNCTIONS_EXTENSION_VERSION: '~4'
  AzureWebJobsStorage__accountName: storageName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: dispatcherClientId
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusHost
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: dispatcherClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${dispatcherClientId}'
  WEBSITE_RUN_FROM_PACKAGE: '${storageBlobEndpoint}deployments/${packageBlobName}'
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: dispatcherIdentityId
  ION_RECONCILE_SCHEDULE: reconcileSchedule
}

var coreSettings = {
  ION_MESSAGING: 'servicebus'
  ION_METADATA: metadataStore
  ION_BLOB: 'azureblob'
  ION_MODULES: '/home/site/wwwroot/modules.yaml'
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: serviceBusHost
  AZURE_STORAGE_ACCOUNT_URL: storageBlobEndpoint
  ION_BLOB_CONTAINER: blobContainer
  AZURE_CLIENT_ID: dispatcherClientId
  ION_MAX_DELIVERY_COUNT: string(maxDeliveryCount)
  ION_LOCK_SECONDS: '60'
  ION_MAX_EVENT_BYTES: '262144'
  ION_RETENTION_SECONDS: '86400'
  ION_SIDECAR_GRACE_SECONDS: '2'
  ION_SIDECAR_IMAGE: sidecarImage
}

var cosmosSettings = {
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: metadataDatabase
}

var mongodbSettings = {
  MONGODB_URI: '@Microsoft.KeyVault(SecretUri=${mongodbUriSecretUri})'
  MONGODB_DATABASE: metadataDatabase
}

var kubernetesSettings = {
  ION_K8S_NAMESPACE: kubernetesNamespace
  ION_K8S_SERVICE_ACCOUNT: kubernetesServiceAccount
  ION_K8S_WORKLOAD_IDENTITY: 'true'
  ION_K8S_KUBECONFIG: '/home/site/wwwroot/kubeconfig'
}

var azurebatchSettings = {
  ION_BATCH_ACCOUNT_URL: batchAccountEndpoint
  ION_BATCH_POOL_ID: 'ion'
  ION_BATCH_CREATE_POOL: 'false'
  ION_BATCH_GPU_VM_SIZES: batchGpuVmSize
  ION_BATCH_REGISTRY_SERVER: registryLoginServer
  ION_BATCH_REGISTRY_IDENTITY: jobsIdentityId
  ION_BATCH_IDENTITY_CLIENT_ID: jobsClientId
}

var aciSettings = {
  ION_ACI_SUBSCRIPTION_ID: subscription().subscriptionId
  ION_ACI_RESOURCE_GROUP: resourceGroup().name
  ION_ACI_LOCATION: location
  ION_ACI_IDENTITY: jobsIdentityId
  ION_ACI_IDENTITY_CLIENT_ID: jobsClientId
  ION_ACI_REGISTRY_SERVER: registryLoginServer
}

var appSettings = union(
  hostSettings,
  coreSettings,
  metadataStore == 'cosmos' ? cosmosSettings : mongodbSettings,
  enableKubernetes ? kubernetesSettings : {},
  enableBatch ? azurebatchSettings : {},
  enableAci ? aciSettings : {}
)

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: 'EP1'
    tier: 'ElasticPremium'
    capacity: 3
  }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: maximumInstances
    zoneRedundant: true
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  //checkov:skip=CKV_AZURE_222:the submit endpoint is public, protected by function keys
  //checkov:skip=CKV_AZURE_17:callers of the submit endpoint authenticate with function keys, not client certificates
  //checkov:skip=CKV_AZURE_212:the Elastic Premium plan keeps minimumInstances always-ready instances and zone redundancy
  //checkov:skip=CKV_AZURE_213:Functions apps have no HTTP health endpoint; the platform monitors the host
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${dispatcherIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: dispatcherIdentityId
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      minimumElasticInstanceCount: minimumInstances
      functionAppScaleLimit: maximumInstances
      // Target-based scaling from the Service Bus subscriptions' message counts.
      functionsRuntimeScaleMonitoringEnabled: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      alwaysOn: false
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
  }
}

resource basicPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

@description('Function App name.')
output name string = app.name
@description('Default host name.')
output hostName string = app.properties.defaultHostName
