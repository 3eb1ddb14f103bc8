// The Azure ML workspace (system-assigned identity, high business impact), the CPU cluster the
// training job runs on (scales to zero, its own user-assigned identity), and the datastore that
// names the training-data container for jobs. Endpoints and deployments are not here: the app
// creates and rolls them.
//
// Why the workspace is system-assigned (architecture/decisions.md): Azure ML creates the role
// assignments of a system-assigned workspace identity itself when it creates the workspace
// (Learn: "Set up authentication between Azure Machine Learning and other services", workspace
// identity types: role assignment creation "Managed by Microsoft"), including the storage
// permissions identity-based system datastores need (Learn: "Disable shared key access for your
// workspace's storage account"). A user-assigned workspace identity would need Contributor on the
// workspace, storage, registry and Application Insights and Key Vault Administrator, granted by
// this template before the workspace exists. The cluster keeps a user-assigned identity whose
// grants rbac-workspace.bicep lists.

param location string
param tags object
param name string
param logAnalyticsId string

@description('Resource id of the compute cluster\'s user-assigned identity.')
param computeIdentityId string

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

// 2025-06-01: the first GA api-version whose WorkspaceProperties declare
// systemDatastoresAuthMode (Bicep type reference, Microsoft.MachineLearningServices/workspaces;
// 2024-10-01 and 2025-04-01 do not). tests/infra/test_ml_workspace.py keeps the table.
resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-06-01' = {
  // checkov:skip=CKV_AZURE_243: No managed VNet or private endpoints in this deployment; public network access is the explicit publicNetworkAccess parameter (architecture/decisions.md).
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic', tier: 'Basic' }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    friendlyName: name
    // High business impact: less diagnostic data collected by Microsoft, encrypted scratch disks.
    hbiWorkspace: true
    publicNetworkAccess: publicNetworkAccess
    storageAccount: storageAccountId
    keyVault: keyVaultId
    applicationInsights: applicationInsightsId
    containerRegistry: containerRegistryId
    // The system datastores (and the SAS that code uploads get from startPendingUpload) use
    // Entra ID, not account keys: the storage account has shared keys off.
    systemDatastoresAuthMode: 'Identity'
    // No imageBuildCompute: it is for a registry behind a VNet (Learn: "Configure image
    // builds"); this registry is public with Entra ID only, so Azure ML builds environment
    // images itself, with the workspace identity, and the cluster only pulls them.
    v1LegacyMode: false
  }
}

resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2025-06-01' = {
  parent: workspace
  name: computeName
  location: location
  tags: tags
  // Mounts, datastores and image pulls of a job run as this identity (Learn: "Set up
  // authentication ...", compute cluster: the default managed identity).
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${computeIdentityId}': {} }
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
// cluster's identity (credentialsType None = identity-based access; Learn: "Access data for
// training jobs on compute using managed identity").
resource trainingDatastore 'Microsoft.MachineLearningServices/workspaces/datastores@2025-06-01' = {
  parent: workspace
  name: trainingDatastoreName
  properties: {
    datastoreType: 'AzureBlob'
    accountName: trainingDataAccountName
    containerName: trainingDataContainer
    endpoint: environment().suffixes.storage
    protocol: 'https'
    // The service itself (studio previews) uses no identity here, so the workspace identity
    // needs nothing on the data account; studio users read with their own identity.
    serviceDataAccessAuthIdentity: 'None'
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
