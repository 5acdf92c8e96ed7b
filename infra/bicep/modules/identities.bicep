// One user-assigned identity per component: the dispatcher (Function App) and the jobs (sidecars).
@description('Azure region.')
param location string
@description('Tags.')
param tags object
@description('Name of the dispatcher identity.')
param dispatcherName string
@description('Name of the jobs identity.')
param jobsName string

resource dispatcher 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: dispatcherName
  location: location
  tags: tags
}

resource jobs 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: jobsName
  location: location
  tags: tags
}

@description('Dispatcher identity resource id.')
output dispatcherId string = dispatcher.id
@description('Dispatcher identity client id.')
output dispatcherClientId string = dispatcher.properties.clientId
@description('Dispatcher identity principal id.')
output dispatcherPrincipalId string = dispatcher.properties.principalId
@description('Jobs identity resource id.')
output jobsId string = jobs.id
@description('Jobs identity name.')
output jobsName string = jobs.name
@description('Jobs identity client id.')
output jobsClientId string = jobs.properties.clientId
@description('Jobs identity principal id.')
output jobsPrincipalId string = jobs.properties.principalId
