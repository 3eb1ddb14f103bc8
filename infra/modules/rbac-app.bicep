// What the Function App's identity and the endpoint identity may do: the allow-list that
// tests/infra/test_roles.py checks, grant by grant. Every grant names one resource (a
// container, a table, the vault, the DCR ...), never the resource group, and every name is
// guid(scope, principal, role), so a redeploy finds the same assignment instead of a duplicate.

param functionPrincipalId string
param endpointPrincipalId string
param endpointIdentityName string
param workspaceName string
param hostStorageAccountName string
param dataStorageAccountName string
param trainingContainerName string
param stateTableName string
param mlStorageAccountName string
param keyVaultName string
param containerRegistryName string
param dataCollectionRuleName string
param applicationInsightsName string

var roles = loadJsonContent('../built-in-roles.json')

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
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

resource dataTableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: dataAccount
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: dataTableService
  name: stateTableName
}

resource mlStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: mlStorageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: containerRegistryName
}

resource auditRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' existing = {
  name: dataCollectionRuleName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource endpointIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: endpointIdentityName
}

// Only the Azure ML actions the app's MLPlatform adapter calls, assignable on this workspace
// alone. No */delete on jobs or models, no compute or workspace writes, no secrets listing.
resource mlOperatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(workspace.id, 'mlops-function-ml-operator')
  properties: {
    // Role names are unique per tenant: the workspace id's hash keeps two deployments apart.
    roleName: 'MLOps function ML operator ${workspace.name} ${uniqueString(workspace.id)}'
    description: 'Submit and follow training jobs, read models, run blue/green rollouts on online endpoints.'
    type: 'CustomRole'
    assignableScopes: [ workspace.id ]
    permissions: [
      {
        actions: [
          // MLClient reads the workspace (discovery URL, default datastore) before any call.
          'Microsoft.MachineLearningServices/workspaces/read'
          // Submit the coalesced training job and poll its status (reconciler).
          'Microsoft.MachineLearningServices/workspaces/jobs/read'
          'Microsoft.MachineLearningServices/workspaces/jobs/write'
          // Job submission resolves the compute target and the training_data datastore.
          'Microsoft.MachineLearningServices/workspaces/computes/read'
          'Microsoft.MachineLearningServices/workspaces/datastores/read'
          // Read registered versions and their gate tags (never trusted from the event).
          'Microsoft.MachineLearningServices/workspaces/models/read'
          'Microsoft.MachineLearningServices/workspaces/models/versions/read'
          // Blue/green: create the endpoint once, shift traffic (an endpoint write).
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write'
          // Create the new colour, read its state, delete the old or the rolled-back one.
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/write'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/delete'
          // Smoke test and canary checks score the new deployment (aad_token endpoints).
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action'
          // A deployment names an environment (the serving image, by digest) and the scoring
          // code snapshot: both are versioned assets the rollout registers or reuses.
          'Microsoft.MachineLearningServices/workspaces/environments/read'
          'Microsoft.MachineLearningServices/workspaces/environments/versions/read'
          'Microsoft.MachineLearningServices/workspaces/environments/versions/write'
          'Microsoft.MachineLearningServices/workspaces/codes/read'
          'Microsoft.MachineLearningServices/workspaces/codes/versions/read'
          'Microsoft.MachineLearningServices/workspaces/codes/versions/write'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource fnMlOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, functionPrincipalId, mlOperatorRole.id)
  scope: workspace
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: mlOperatorRole.id
  }
}

// New training data is read (validated, hashed), never written, and only in its container.
resource fnTrainingReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(trainingContainer.id, functionPrincipalId, roles.storageBlobDataReader)
  scope: trainingContainer
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
  }
}

// Idempotency keys, coalescing windows, rollouts and the audit outbox: this one table.
resource fnStateTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stateTable.id, functionPrincipalId, roles.storageTableDataContributor)
  scope: stateTable
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource fnSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// Audit records go in through the DCR (Logs Ingestion API): publish only, on this rule only.
resource fnAuditPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditRule.id, functionPrincipalId, roles.monitoringMetricsPublisher)
  scope: auditRule
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// Application Insights has local auth off: telemetry is accepted with this role's token only.
resource fnTelemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// The Functions host's own storage (AzureWebJobsStorage__* identity connection: locks, timer
// schedule state) and the Flex Consumption deployment package. Blob Data Owner is what the
// Functions host requires for an identity-based AzureWebJobsStorage; it is scoped to the host
// account, which holds no training data, state or dead letters.
resource fnHostStorageOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionPrincipalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Creating an online endpoint that runs as the endpoint identity is an "assign" of that
// identity: Managed Identity Operator on that one identity, not on the resource group.
resource fnAssignEndpointIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(endpointIdentity.id, functionPrincipalId, roles.managedIdentityOperator)
  scope: endpointIdentity
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.managedIdentityOperator)
  }
}

// The endpoints pull the serving image by digest ...
resource endpointAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, endpointPrincipalId, roles.acrPull)
  scope: registry
  properties: {
    principalId: endpointPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}

// ... and download the registered model's files from the workspace's artifact store.
resource endpointModelReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(mlStorage.id, endpointPrincipalId, roles.storageBlobDataReader)
  scope: mlStorage
  properties: {
    principalId: endpointPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
  }
}

output mlOperatorRoleId string = mlOperatorRole.id
