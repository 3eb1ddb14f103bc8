// What the Azure ML workspace identity (also its compute cluster's identity) may do. Granted
// before the workspace is created, because the workspace checks its access to its storage,
// vault and registry when it is created. Every grant is scoped to one resource.

param workspaceIdentityPrincipalId string
param mlStorageAccountName string
param dataStorageAccountName string
param trainingContainerName string
param keyVaultName string
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: containerRegistryName
}

// The workspace's artifact store: job outputs, registered models, code snapshots.
resource wsBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(mlStorage.id, workspaceIdentityPrincipalId, roles.storageBlobDataContributor)
  scope: mlStorage
  properties: {
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// The workspace's file share (code and logs of runs mount from it).
resource wsFileContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(mlStorage.id, workspaceIdentityPrincipalId, roles.storageFileDataPrivilegedContributor)
  scope: mlStorage
  properties: {
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageFileDataPrivilegedContributor)
  }
}

// The workspace keeps its own connection secrets in the vault: secrets only, no RBAC admin.
resource wsSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, workspaceIdentityPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// Environment images are built on the cluster and pushed with this identity (no admin user).
resource wsAcrPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, workspaceIdentityPrincipalId, roles.acrPush)
  scope: registry
  properties: {
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPush)
  }
}

// Training jobs read the training data (training_data datastore), and only that container.
resource wsTrainingReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(trainingContainer.id, workspaceIdentityPrincipalId, roles.storageBlobDataReader)
  scope: trainingContainer
  properties: {
    principalId: workspaceIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
  }
}

// `az ml job create` (the deploy pipeline's first training job) uploads training/src to the
// workspace's artifact store with the caller's own identity: the deployer needs blob write
// there, and only there.
resource deployerBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(mlStorage.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: mlStorage
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}
