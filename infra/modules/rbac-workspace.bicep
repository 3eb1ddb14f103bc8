// What the compute cluster's identity may do while a training job runs. Granted before the
// workspace module creates the cluster. Every grant is scoped to one resource.
//
// The workspace itself runs as its system-assigned identity, whose role assignments Azure ML
// creates when it creates the workspace (Learn: "Set up authentication between Azure Machine
// Learning and other services", workspace identity types); this template grants it nothing.
// The cluster's user-assigned identity gets what Learn lists for a job's own data access with
// identity-based datastores, and no more.

param computePrincipalId string
param mlStorageAccountName string
param dataStorageAccountName string
param trainingContainerName string
param containerRegistryName string

@description('Object id of whoever runs azd / the pipeline (AZURE_PRINCIPAL_ID); empty: no grant.')
param deployerPrincipalId string = ''

@allowed([ 'User', 'ServicePrincipal', 'Group' ])
param deployerPrincipalType string = 'User'

var roles = loadJsonContent('../built-in-roles.json')

resource mlStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: mlStorageAccountName
}

resource dataAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageAccountName
}

resource dataBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataAccount
  name: 'default'
}

resource trainingContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobService
  name: trainingContainerName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: containerRegistryName
}

// Job outputs and the model the job registers land in the workspace's (identity-based)
// default datastore: Storage Blob Data Contributor for a cluster's user-assigned identity
// (Learn: "Disable shared key access for your workspace's storage account", role assignments,
// "Model Registry and ML Flow"). The account name is all the template knows: the workspace
// names its containers after its own id when it is created.
resource computeBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(mlStorage.id, computePrincipalId, roles.storageBlobDataContributor)
  scope: mlStorage
  properties: {
    principalId: computePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// The job's environment image is pulled from the workspace's registry with the cluster's
// identity (Learn: "Set up authentication ...", "grant the managed service identity ... ACRPull
// role"): pull only; Azure ML builds and pushes the image with the workspace identity.
resource computeAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, computePrincipalId, roles.acrPull)
  scope: registry
  properties: {
    principalId: computePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}

// Jobs read the training data (training_data datastore, identity-based) with the cluster's
// identity: "at least Storage Blob Data Reader" (Learn: "Access data for training jobs on
// compute using managed identity"), here on that one container, not the account.
resource computeTrainingReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(trainingContainer.id, computePrincipalId, roles.storageBlobDataReader)
  scope: trainingContainer
  properties: {
    principalId: computePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
  }
}

// Whoever deploys works with the workspace's identity-based default datastores (the first
// training job, outputs and models in studio): Learn ("Disable shared key access ...") asks
// for Storage Blob Data Contributor on that account for such users, and only there.
resource deployerBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(mlStorage.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: mlStorage
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// The pipelines build the serving image in the registry (az acr build: a quick build of ACR
// Tasks, infra/pipelines/build-serving-image.sh) and read the run's pushed digest. AcrPush does
// not schedule runs; Container Registry Tasks Contributor holds scheduleRun,
// listBuildSourceUploadUrl, runs/read and runs/listLogSasUrl, and no data-plane permission
// (Learn: "Azure Container Registry roles directory reference"). On this registry's RBAC
// permissions mode the quick build pushes with the run's own token.
resource deployerAcrTasks 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(registry.id, deployerPrincipalId, roles.containerRegistryTasksContributor)
  scope: registry
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.containerRegistryTasksContributor)
  }
}
