// Event Grid: one system topic per event source (data storage account, ML workspace,
// container registry), each with its own identity, and one subscription per entry of
// infra/event-routing.json, the file the local host reads too, so routes cannot drift.
// Deliveries that still fail after the retries are dead-lettered to the data account's
// dead-letter container, written with the topic's identity (no SAS, no keys).

param location string
param tags object
param namePrefix string
param logAnalyticsId string

param dataStorageAccountId string
param dataStorageAccountName string
param deadLetterContainerName string
param workspaceId string
param containerRegistryId string

@description('The Azure ML experiment the app submits its training jobs under (MLOPS_MODEL_NAME): the run-event routes name it as the {experimentName} placeholder, so only this app\'s runs are delivered.')
param experimentName string

@description('Resource id of the Function App; each subscription targets <id>/functions/<name>.')
param functionAppId string

@description('Create the subscriptions. They need the functions to exist, so the first azd provision (before azd deploy) leaves them out; the postdeploy hook provisions again with true.')
param deploySubscriptions bool

@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 10

@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

var routing = loadJsonContent('../event-routing.json')

// Which Azure resource each routing "topic" key names, and the system topic type for it.
var sources = {
  storage: { id: dataStorageAccountId, topicType: 'Microsoft.Storage.StorageAccounts' }
  ml_workspace: { id: workspaceId, topicType: 'Microsoft.MachineLearningServices.Workspaces' }
  container_registry: { id: containerRegistryId, topicType: 'Microsoft.ContainerRegistry.Registries' }
}
var sourceKeys = [ 'storage', 'ml_workspace', 'container_registry' ]

var roles = loadJsonContent('../built-in-roles.json')

resource topics 'Microsoft.EventGrid/systemTopics@2022-06-15' = [
  for key in sourceKeys: {
    name: '${namePrefix}-${replace(key, '_', '-')}'
    location: location
    tags: tags
    identity: { type: 'SystemAssigned' }
    properties: {
      source: sources[key].id
      topicType: sources[key].topicType
    }
  }
]

resource dataAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageAccountName
}

resource dataBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataAccount
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobService
  name: deadLetterContainerName
}

// Storage Blob Data Contributor, scoped to the dead-letter container and not the account: a
// topic writes dead letters and cannot touch the training data.
resource deadLetterWriters 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (key, i) in sourceKeys: {
    name: guid(deadLetterContainer.id, topics[i].id, roles.storageBlobDataContributor)
    scope: deadLetterContainer
    properties: {
      principalId: topics[i].identity.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    }
  }
]

resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for (key, i) in sourceKeys: {
    name: 'to-log-analytics'
    scope: topics[i]
    properties: {
      workspaceId: logAnalyticsId
      logs: [ { categoryGroup: 'allLogs', enabled: true } ]
      metrics: [ { category: 'AllMetrics', enabled: true } ]
    }
  }
]

module subscriptions 'event-subscription.bicep' = [
  for route in (deploySubscriptions ? routing.subscriptions : []): {
    name: 'evgs-${route.name}'
    params: {
      systemTopicName: '${namePrefix}-${replace(route.topic, '_', '-')}'
      // The one deployment-time value a route names; the local host fills in the same one.
      route: json(replace(string(route), '{experimentName}', experimentName))
      functionAppId: functionAppId
      deadLetterAccountId: dataStorageAccountId
      deadLetterContainerName: deadLetterContainerName
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    dependsOn: [ topics, deadLetterWriters ]
  }
]

output topicNames array = [for (key, i) in sourceKeys: topics[i].name]
output routeNames array = [for route in routing.subscriptions: route.name]
