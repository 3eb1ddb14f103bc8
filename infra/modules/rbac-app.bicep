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

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-06-01' existing = {
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

// Only the Azure ML actions the app's MLPlatform adapter (shared/adapters/azure/ml_*.py) needs,
// each with why. tests/infra/test_ml_role_actions.py drives the adapter through the real
// azure-ai-ml MLClient, maps every request it sends to its action in Learn's operations list
// ("Azure permissions for AI + machine learning") and fails on a missing or an unused action.
// No wildcard, no */delete outside deployments, no compute or workspace writes, no secrets.
resource mlOperatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(workspace.id, 'mlops-function-ml-operator')
  properties: {
    // Role names are unique per tenant: the workspace id's hash keeps two deployments apart.
    roleName: 'MLOps function ML operator ${workspace.name} ${uniqueString(workspace.id)}'
    description: 'Submit and follow training jobs, read models, run blue/green rollouts on online endpoints.'
    type: 'CustomRole'
    // A custom role is assignable at a management group, subscription or resource group, not at
    // a single resource (Learn: "Understand Azure role definitions", AssignableScopes). It is
    // made assignable in this resource group only, and assigned on the workspace alone below.
    assignableScopes: [ resourceGroup().id ]
    permissions: [
      {
        // Nothing for the SDK pollers' status reads: their URLs are subscription-level
        // (.../providers/Microsoft.MachineLearningServices/locations/{location}/
        // mfeOperationsStatus/...), which a role assigned on the workspace cannot reach, and
        // AzureML Data Scientist, the built-in role Learn names for endpoint work at workspace
        // scope, has no locations/* action either. The app follows progress with the GETs below.
        actions: [
          // GET the workspace: the SDK reads its location for endpoint and deployment bodies.
          'Microsoft.MachineLearningServices/workspaces/read'
          // GET a job (idempotent submit, the reconciler), PUT the coalesced training job.
          'Microsoft.MachineLearningServices/workspaces/jobs/read'
          'Microsoft.MachineLearningServices/workspaces/jobs/write'
          // Learn "Manage roles in your workspace", "Submitting any type of run (V2)": besides
          // jobs, a job submitter needs these four. The app never deletes or cancels a job, so
          // of that row's jobs/* it takes read and write only.
          'Microsoft.MachineLearningServices/workspaces/environments/write'
          'Microsoft.MachineLearningServices/workspaces/metadata/artifacts/write'
          'Microsoft.MachineLearningServices/workspaces/environments/build/action'
          'Microsoft.MachineLearningServices/workspaces/environments/readSecrets/action'
          // The same row's workspaces/*/read, narrowed to what a job or deployment names: the
          // compute, the datastores of its inputs and outputs, its code, environment and model.
          'Microsoft.MachineLearningServices/workspaces/computes/read'
          'Microsoft.MachineLearningServices/workspaces/datastores/read'
          'Microsoft.MachineLearningServices/workspaces/codes/read'
          'Microsoft.MachineLearningServices/workspaces/environments/read'
          'Microsoft.MachineLearningServices/workspaces/models/read'
          // GET code versions by content hash (reuse a snapshot), GET environment and model
          // versions (the gate reads where a version's files are; a completed job finds its
          // model).
          'Microsoft.MachineLearningServices/workspaces/codes/versions/read'
          'Microsoft.MachineLearningServices/workspaces/environments/versions/read'
          'Microsoft.MachineLearningServices/workspaces/models/versions/read'
          // GET a training job's MLflow run on the workspace's MLflow API: the deploy gate
          // reads the metrics and gate there, not in a version's tags (Learn "Manage roles in
          // your workspace", MLflow operations: "Get a run and related data and metadata").
          'Microsoft.MachineLearningServices/workspaces/experiments/runs/read'
          // PUT the code snapshot version (after startPendingUpload hands out the upload SAS)
          // and the anonymous environment version that a job or a deployment refers to.
          'Microsoft.MachineLearningServices/workspaces/codes/versions/write'
          'Microsoft.MachineLearningServices/workspaces/environments/versions/write'
          // Blue/green: GET and PUT the endpoint (create once, shift traffic) ...
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write'
          // ... GET, PUT and DELETE the colours' deployments ...
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/write'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/delete'
          // ... and score one with an Entra token (Learn: "Authentication for managed online
          // endpoints", data plane, aad_token).
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action'
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

// The canary is judged on live traffic: the endpoints' platform metrics (RequestsPerMinute,
// RequestLatency_P95) through the metrics API of each endpoint resource, which needs
// Microsoft.Insights/metrics/read there (Learn "Azure built-in roles for Monitor": Monitoring
// Reader). The endpoints are created by the app at run time, so the grant is on their parent,
// the workspace, not on one endpoint; never on the subscription, which the batch metrics API
// (azure-monitor-querymetrics) would need (shared/adapters/azure/endpoint_metrics.py).
resource fnEndpointMetricsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, functionPrincipalId, roles.monitoringReader)
  scope: workspace
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringReader)
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
// schedule state) and the Flex Consumption deployment package. Learn ("Connecting to host
// storage with an identity"): Storage Blob Data Owner is the host-only minimum (also what the
// Flex Consumption quickstarts grant for blob); the timer trigger needs nothing more, and the
// Event Grid and HTTP triggers use no host storage. Scoped to the host account, which holds no
// training data, state or dead letters.
resource fnHostStorageOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionPrincipalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// The same table's "host only, with support for diagnostic events" row adds Storage Table
// Data Contributor: without it the host cannot write the diagnostic events that explain a host
// that fails to start, which is what a first deployment needs to see. Host account only.
resource fnHostStorageTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, functionPrincipalId, roles.storageTableDataContributor)
  scope: hostStorage
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// An ImagePushed event is only a claim: before a rollout the app reads that digest's manifest
// from the registry (shared/adapters/azure/container_registry.py). AcrPull is the built-in
// role Learn recommends for reading images, tags and manifests on a registry in "RBAC Registry
// Permissions" mode, with no control-plane or write rights ("Azure Container Registry Entra
// permissions and role assignments overview"); on this one registry only.
resource fnRegistryReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, functionPrincipalId, roles.acrPull)
  scope: registry
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
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

// Learn ("Access Azure resources from an online endpoint with a managed identity"): online
// endpoints need AcrPull on the registry and Storage Blob Data Reader on the workspace's
// default datastore; a user-assigned endpoint identity gets neither automatically ("Automatic
// role assignment for endpoint identity" is for system-assigned ones), so both are here.
// Reader, not Contributor: the deployments only read. AzureML Metrics Writer, which a
// system-assigned endpoint identity also gets, is not needed: the scoring code writes no
// workspace metrics.
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
