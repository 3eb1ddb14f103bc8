// The Azure ML workspace (user-assigned identity, high business impact), the CPU cluster the
// training job runs on (scales to zero), and the datastore that names the training-data
// container for jobs. Endpoints and deployments are not here: the app creates and rolls them.

param location string
param tags object
param name string
param logAnalyticsId string

@description('Resource id of the workspace identity (also the compute cluster\'s identity).')
param workspaceIdentityId string

param storageAccountId string
param keyVaultId string
param applicationInsightsId string
param containerRegistryId string

@description('Public network access to the workspace. Explicit: "Disabled" needs private endpoints and a VNet this template does not create.')
@allowed([ 'Enabled', 'Disabled' ])
param publicNetworkAccess string

param computeName string = 'cpu-cluster'
param computeVmSize string = 'Standard_DS3_v2'

@minValue(1)
param computeMaxNodes int = 2

@description('Storage account and container the training data lands in (the data account).')
param trainingDataAccountName string
param trainingDataContainer string
param trainingDatastoreName string = 'training_data'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' = {
  // checkov:skip=CKV_AZURE_243: No managed VNet or private endpoints in this deployment; public network access is the explicit publicNetworkAccess parameter (architecture/decisions.md).
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic', tier: 'Basic' }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${workspaceIdentityId}': {} }
  }
  properties: {
    friendlyName: name
    primaryUserAssignedIdentity: workspaceIdentityId
    // High business impact: less diagnostic data collected by Microsoft, encrypted scratch disks.
    hbiWorkspace: true
    publicNetworkAccess: publicNetworkAccess
    storageAccount: storageAccountId
    keyVault: keyVaultId
    applicationInsights: applicationInsightsId
    containerRegistry: containerRegistryId
    // The workspace's own datastores use identities, not account keys (shared keys are off).
    systemDatastoresAuthMode: 'identity'
    // Environment images are built on the cluster (which holds AcrPush), not by ACR Tasks with
    // an admin user.
    imageBuildCompute: computeName
    v1LegacyMode: false
  }
}

resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = {
  parent: workspace
  name: computeName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${workspaceIdentityId}': {} }
  }
  properties: {
    computeType: 'AmlCompute'
    // No SSH, no keys: the cluster is reachable only through jobs.
    disableLocalAuth: true
    properties: {
      vmSize: computeVmSize
      vmPriority: 'Dedicated'
      osType: 'Linux'
      remoteLoginPortPublicAccess: 'Disabled'
      enableNodePublicIp: true
      scaleSettings: {
        minNodeCount: 0
        maxNodeCount: computeMaxNodes
        nodeIdleTimeBeforeScaleDown: 'PT120S'
      }
    }
  }
}

// Jobs read training data as azureml://datastores/training_data/paths/<dataset>/ with the
// cluster's identity (credentialsType None = identity-based access).
resource trainingDatastore 'Microsoft.MachineLearningServices/workspaces/datastores@2024-10-01' = {
  parent: workspace
  name: trainingDatastoreName
  properties: {
    datastoreType: 'AzureBlob'
    accountName: trainingDataAccountName
    containerName: trainingDataContainer
    endpoint: environment().suffixes.storage
    protocol: 'https'
    serviceDataAccessAuthIdentity: 'WorkspaceUserAssignedIdentity'
    credentials: { credentialsType: 'None' }
  }
}

resource workspaceDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: workspace
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

output id string = workspace.id
output name string = workspace.name
output computeName string = cluster.name
output trainingDatastoreName string = trainingDatastore.name
