// Log Analytics workspace and workspace-based Application Insights; telemetry is sent with Entra ID.
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Log Analytics workspace name.')
param logAnalyticsName string
@description('Application Insights name.')
param appInsightsName string
@description('Principal allowed to send telemetry (the dispatcher identity).')
param publisherPrincipalId string
@description('Days logs are kept.')
param retentionDays int = 30

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true // ingestion with Entra ID only (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, publisherPrincipalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: publisherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Log Analytics workspace id.')
output logAnalyticsId string = workspace.id
@description('Application Insights connection string.')
output appInsightsConnectionString string = appInsights.properties.ConnectionString
