// secure-mlops-azure: everything in one resource group. azd provisions this file
// (azure.yaml); the modules under modules/ each own one concern and say why they are built
// the way they are. Role assignments live in rbac-*.bicep and event-grid.bicep, and the
// deployer's secret write on the vault in key-vault.bicep.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags derive from it. azd also accepts _ . ( ): names use a hyphen for each (envSlug); start and end it with a letter or digit.')
param environmentName string

@minLength(1)
@description('Region for every resource.')
param location string

@description('Client id of the Entra app registration protecting the HTTP API (infra/hooks/create-app-registration.sh creates it). Empty: the API answers 401 to everything until it is set.')
param apiClientId string = ''

@description('Token audiences the API accepts (default: api://<apiClientId> and the client id).')
param apiAllowedAudiences array = []

@description('Browser origins allowed to call the API; never "*".')
param corsAllowedOrigins array = []

@description('Public network access of the Azure ML workspace. Stated explicitly: "Disabled" needs a VNet and private endpoints this template does not create.')
@allowed([ 'Enabled', 'Disabled' ])
param mlPublicNetworkAccess string = 'Enabled'

@description('Create the Event Grid subscriptions. They target functions that exist only after azd deploy, so the postdeploy hook provisions again with true.')
param deployEventSubscriptions bool = false

@description('Object id of whoever deploys (azd sets AZURE_PRINCIPAL_ID); gets blob write on the ML artifact store, to submit the first training job, and secret write on the vault, for the postprovision hook that creates the audit chain key.')
param principalId string = ''

@allowed([ 'User', 'ServicePrincipal', 'Group' ])
param principalType string = 'User'

@minValue(1)
@maxValue(20)
param computeMaxNodes int = 2

param computeVmSize string = 'Standard_DS3_v2'

@description('Name of the managed online endpoint. Empty: spam-endpoint-<token> (onlineEndpointName). Overridden, it must be unique in the Azure region: 3-32 letters, digits and single hyphens, starting with a letter.')
@maxLength(32)
param endpointName string = ''
param modelName string = 'spam-classifier'

@description('Key Vault secret holding the audit chain key (MLOPS_AUDIT_KEY_SECRET): the postprovision hook creates it under this name, the app reads it under this name.')
param auditKeySecretName string = 'audit-chain-key'

@description('NCRONTAB schedule of the reconcile_rollouts timer.')
param reconcileSchedule string = '0 */1 * * * *'

@description('Repositories in the registry that may roll forward (comma separated). infra/event-routing.json routes ImagePushed events from mlops/sklearn-serving only: another repository needs its own route.')
param allowedRepositories string = 'mlops/sklearn-serving'

@description('Resource id of an existing action group the alert rules notify (infra/monitoring/README.md). Empty: an e-mail group for alertEmail, or no notification.')
param alertActionGroupId string = ''

@description('E-mail address the alert rules notify when no alertActionGroupId is given.')
param alertEmail string = ''

@description('Failed function invocations within 15 minutes above which the function-errors alert fires.')
param alertFunctionErrorThreshold int = 5

var tags = { 'azd-env-name': environmentName, project: 'secure-mlops-azure' }
var token = toLower(uniqueString(subscription().id, environmentName, location))
// azd accepts environment names with _ . ( ) (its deployment-name rule), which sites, plans,
// Log Analytics and the ML workspace refuse in a name: each becomes a hyphen (Learn: "Naming
// rules and restrictions for Azure resources"). Names only: the azd-env-name tag stays exact.
var envSlug = replace(replace(replace(replace(environmentName, '_', '-'), '.', '-'), '(', '-'), ')', '-')
var prefix = 'mlops-${envSlug}'
// An online endpoint's name is its host name, <name>.<region>.inference.ml.azure.com, so it
// must be unique in the region across all of Azure (Learn: "Deploy and score a machine
// learning model by using an online endpoint"): a plain 'spam-endpoint' would collide with
// anyone else's, and the first rollout would fail. The token keeps it ours.
var onlineEndpointName = empty(endpointName) ? 'spam-endpoint-${take(token, 8)}' : endpointName

// Names the app reads as settings; also the containers and table created below.
var trainingContainer = 'training-data'
var deadLetterContainer = 'deadletter'
var deploymentContainer = 'app-package'
var stateTable = 'mlopsstate'
var computeName = 'cpu-cluster'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${prefix}'
  location: location
  tags: tags
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
    functionIdentityName: 'id-${prefix}-func'
    endpointIdentityName: 'id-${prefix}-endpoint'
    computeIdentityName: 'id-${prefix}-compute'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${prefix}'
    applicationInsightsName: 'appi-${prefix}'
    dataCollectionRuleName: 'dcr-${prefix}-audit'
  }
}

// The query pack, workbook and alert rules on that workspace (infra/monitoring/).
module monitoringQueries 'modules/monitoring-queries.bicep' = {
  name: 'monitoring-queries'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: prefix
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    actionGroupId: alertActionGroupId
    alertEmail: alertEmail
    functionErrorThreshold: alertFunctionErrorThreshold
  }
}

// Functions host storage: AzureWebJobsStorage and the deployment package. Nothing else.
module hostStorage 'modules/storage-account.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'sthost${token}'
    containers: [ deploymentContainer ]
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

// Training data, Event Grid dead letters, and the app's state table.
module dataStorage 'modules/storage-account.bicep' = {
  name: 'data-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'stdata${token}'
    containers: [ trainingContainer, deadLetterContainer ]
    tables: [ stateTable ]
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

// The ML workspace's artifact store (models, job outputs, code snapshots).
module mlStorage 'modules/storage-account.bicep' = {
  name: 'ml-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'stml${token}'
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${token}'
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module registry 'modules/container-registry.bicep' = {
  name: 'container-registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'cr${token}'
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

module workspaceAccess 'modules/rbac-workspace.bicep' = {
  name: 'rbac-workspace'
  scope: rg
  params: {
    computePrincipalId: identities.outputs.computePrincipalId
    mlStorageAccountName: mlStorage.outputs.name
    dataStorageAccountName: dataStorage.outputs.name
    trainingContainerName: trainingContainer
    containerRegistryName: registry.outputs.name
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module workspace 'modules/ml-workspace.bicep' = {
  name: 'ml-workspace'
  scope: rg
  params: {
    location: location
    tags: tags
    // Workspace names are at most 33 characters.
    name: 'mlw-${take(envSlug, 20)}-${take(token, 6)}'
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    computeIdentityId: identities.outputs.computeIdentityId
    storageAccountId: mlStorage.outputs.id
    keyVaultId: keyVault.outputs.id
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    containerRegistryId: registry.outputs.id
    publicNetworkAccess: mlPublicNetworkAccess
    computeName: computeName
    computeVmSize: computeVmSize
    computeMaxNodes: computeMaxNodes
    trainingDataAccountName: dataStorage.outputs.name
    trainingDataContainer: trainingContainer
  }
  dependsOn: [ workspaceAccess ]
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'func-${prefix}-${take(token, 6)}'
    planName: 'plan-${prefix}'
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    identityId: identities.outputs.functionIdentityId
    identityClientId: identities.outputs.functionClientId
    hostStorageAccountName: hostStorage.outputs.name
    hostStorageBlobEndpoint: hostStorage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainer
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    apiClientId: apiClientId
    apiAllowedAudiences: apiAllowedAudiences
    corsAllowedOrigins: corsAllowedOrigins
    // Every name is a shared.settings.Settings field (MLOPS_<FIELD>); together with the
    // module's host settings they cover AZURE_REQUIRED_SETTINGS (tests/infra/test_app_settings.py).
    mlopsSettings: {
      MLOPS_BACKEND: 'azure'
      MLOPS_SUBSCRIPTION_ID: subscription().subscriptionId
      MLOPS_RESOURCE_GROUP: rg.name
      MLOPS_WORKSPACE_NAME: workspace.outputs.name
      MLOPS_COMPUTE_NAME: workspace.outputs.computeName
      MLOPS_STORAGE_ACCOUNT_URL: dataStorage.outputs.blobEndpoint
      MLOPS_TRAINING_CONTAINER: trainingContainer
      MLOPS_TABLE_SERVICE_URL: dataStorage.outputs.tableEndpoint
      MLOPS_STATE_TABLE: stateTable
      MLOPS_KEY_VAULT_URL: keyVault.outputs.uri
      MLOPS_AUDIT_INGESTION_ENDPOINT: monitoring.outputs.auditIngestionEndpoint
      MLOPS_AUDIT_DCR_ID: monitoring.outputs.auditDcrImmutableId
      MLOPS_AUDIT_STREAM: monitoring.outputs.auditStreamName
      MLOPS_AUDIT_KEY_SECRET: auditKeySecretName
      MLOPS_ENDPOINT_IDENTITY_ID: identities.outputs.endpointIdentityId
      MLOPS_ENDPOINT_NAME: onlineEndpointName
      MLOPS_MODEL_NAME: modelName
      MLOPS_ALLOWED_REGISTRIES: registry.outputs.loginServer
      MLOPS_ALLOWED_REPOSITORIES: allowedRepositories
      MLOPS_RECONCILE_SCHEDULE: reconcileSchedule
    }
  }
}

module appAccess 'modules/rbac-app.bicep' = {
  name: 'rbac-app'
  scope: rg
  params: {
    functionPrincipalId: identities.outputs.functionPrincipalId
    endpointPrincipalId: identities.outputs.endpointPrincipalId
    endpointIdentityName: identities.outputs.endpointIdentityName
    workspaceName: workspace.outputs.name
    hostStorageAccountName: hostStorage.outputs.name
    dataStorageAccountName: dataStorage.outputs.name
    trainingContainerName: trainingContainer
    stateTableName: stateTable
    mlStorageAccountName: mlStorage.outputs.name
    keyVaultName: keyVault.outputs.name
    containerRegistryName: registry.outputs.name
    dataCollectionRuleName: monitoring.outputs.dataCollectionRuleName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module eventGrid 'modules/event-grid.bicep' = {
  name: 'event-grid'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: 'evgt-${prefix}'
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    dataStorageAccountId: dataStorage.outputs.id
    dataStorageAccountName: dataStorage.outputs.name
    deadLetterContainerName: deadLetterContainer
    workspaceId: workspace.outputs.id
    containerRegistryId: registry.outputs.id
    experimentName: modelName // the experiment ml_platform.py submits jobs under
    functionAppId: functionApp.outputs.id
    deploySubscriptions: deployEventSubscriptions
  }
  // The app must hold its roles before the first event arrives.
  dependsOn: [ appAccess ]
}

// azd stores every output in the environment (.azure/<env>/.env); the pipelines and the
// README read them with `azd env get-value NAME`.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_FUNCTION_CLIENT_ID string = identities.outputs.functionClientId
output AZURE_ENDPOINT_IDENTITY_CLIENT_ID string = identities.outputs.endpointClientId
output AZURE_ML_WORKSPACE_NAME string = workspace.outputs.name
output AZURE_ML_COMPUTE_NAME string = workspace.outputs.computeName
output AZURE_ML_TRAINING_DATASTORE string = workspace.outputs.trainingDatastoreName
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_LOG_ANALYTICS_NAME string = monitoring.outputs.logAnalyticsName
output AZURE_LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.logAnalyticsCustomerId
output AZURE_DATA_STORAGE_ACCOUNT_NAME string = dataStorage.outputs.name
output AZURE_API_CLIENT_ID string = apiClientId
output EVENT_SUBSCRIPTIONS_DEPLOYED bool = deployEventSubscriptions
output MLOPS_SUBSCRIPTION_ID string = subscription().subscriptionId
output MLOPS_RESOURCE_GROUP string = rg.name
output MLOPS_WORKSPACE_NAME string = workspace.outputs.name
output MLOPS_STORAGE_ACCOUNT_URL string = dataStorage.outputs.blobEndpoint
output MLOPS_TRAINING_CONTAINER string = trainingContainer
output MLOPS_TABLE_SERVICE_URL string = dataStorage.outputs.tableEndpoint
output MLOPS_STATE_TABLE string = stateTable
output MLOPS_KEY_VAULT_URL string = keyVault.outputs.uri
output MLOPS_AUDIT_INGESTION_ENDPOINT string = monitoring.outputs.auditIngestionEndpoint
output MLOPS_AUDIT_DCR_ID string = monitoring.outputs.auditDcrImmutableId
output MLOPS_AUDIT_STREAM string = monitoring.outputs.auditStreamName
output MLOPS_AUDIT_KEY_SECRET string = auditKeySecretName
output MLOPS_ENDPOINT_IDENTITY_ID string = identities.outputs.endpointIdentityId
output MLOPS_ENDPOINT_NAME string = onlineEndpointName
output MLOPS_ALLOWED_REGISTRIES string = registry.outputs.loginServer
