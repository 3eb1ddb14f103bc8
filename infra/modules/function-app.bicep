// The Function App on the Flex Consumption plan: Python 3.13, one user-assigned identity for
// everything (host storage, deployment package, Azure calls), no keys or connection strings
// to storage, HTTPS and TLS 1.2 only, FTP and remote debugging off, and App Service
// Authentication in front of the HTTP API. No site property or app setting from Learn's
// "Flex Consumption plan deprecations" table (functions-app-settings) is set:
// tests/infra/test_bicep_security.py holds that table.

param location string
param tags object
param name string
param planName string
param logAnalyticsId string

@description('Resource id and client id of the Function App\'s user-assigned identity.')
param identityId string
param identityClientId string

@description('Host storage (AzureWebJobsStorage and the deployment package), kept apart from the data account.')
param hostStorageAccountName string
param hostStorageBlobEndpoint string
param deploymentContainerName string

param applicationInsightsConnectionString string

@description('The app\'s MLOPS_* settings (names are shared.settings.Settings fields).')
param mlopsSettings object

@description('Client id (application id) of the Entra app registration that protects the API; see infra/hooks/create-app-registration.sh.')
param apiClientId string

@description('Token audiences the API accepts; defaults to api://<apiClientId> and the client id itself.')
param apiAllowedAudiences array = []

@description('Browser origins allowed to call the API. Never "*".')
param corsAllowedOrigins array = []

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([ 2048, 4096 ])
param instanceMemoryMB int = 2048

// Identity-based connections only: the host finds its storage by account name and signs in
// with the user-assigned identity; there is no AzureWebJobsStorage connection string.
var hostSettings = {
  AzureWebJobsStorage__accountName: hostStorageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  // Local auth is off on Application Insights: telemetry is sent with the identity's token.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
}
var allSettings = union(hostSettings, mlopsSettings)
var audiences = empty(apiAllowedAudiences) ? [ 'api://${apiClientId}', apiClientId ] : apiAllowedAudiences

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is a region-dependent choice left to the operator.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Client certificates stay off on purpose: Event Grid delivers to the webhook with the system key and cannot present a client certificate; API callers present Entra ID tokens, validated by authsettingsV2 below.
  // checkov:skip=CKV_AZURE_212: A fixed instance minimum does not exist on Flex Consumption (numberOfWorkers is not a setting of this plan); it scales from zero per function.
  // checkov:skip=CKV_AZURE_213: Health check is not available on Flex Consumption; liveness is watched through Application Insights and the reconciler's audit records.
  // checkov:skip=CKV_AZURE_222: No VNet in this deployment: Event Grid and operators reach the app over its public endpoint, behind App Service Authentication (API) and the Event Grid system key (webhook).
  // checkov:skip=CKV_AZURE_78: ftpsState is a deprecated site property on Flex Consumption ("FTPS not supported", Learn functions-app-settings); FTP and Kudu basic auth are off through the basicPublishingCredentialsPolicies below.
  name: name
  location: location
  // azd finds the app it deploys to by this tag (azure.yaml service "api").
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorageBlobEndpoint}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // Python 3.13 is GA (Learn functions-versions, Python pivot); Linux Consumption stops at 3.12,
      // newer versions are added to Flex Consumption only.
      runtime: { name: 'python', version: '3.13' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      remoteDebuggingEnabled: false
      http20Enabled: true
      cors: { allowedOrigins: corsAllowedOrigins, supportCredentials: false }
      appSettings: [for setting in items(allSettings): { name: setting.key, value: setting.value }]
    }
  }
}

// Publishing with user names and passwords (FTP, Kudu basic auth) is off; azd deploys with
// the deployer's Entra identity.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// App Service Authentication validates the bearer token before the app runs: no token, 401.
// The app itself then checks the MLOps.Reader / MLOps.Deployer app roles (403 without one).
// Event Grid deliveries carry the system key, not a token, so their webhook path is excluded,
// as is the public API description. The exclusion is the '/runtime/webhooks/*' prefix, not the
// one path: Microsoft spells that path both '/runtime/webhooks/eventgrid' and '.../EventGrid',
// the host routes it case-insensitively, and Learn does not say whether excludedPaths compare
// case-sensitively; the lower-case prefix matches both spellings either way. Everything under
// it is a host extension webhook that still demands its system key.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov runs its site-configuration checks on every Microsoft.Web/sites/config resource;
  // this one is authsettingsV2, which has none of those properties:
  // checkov:skip=CKV_AZURE_13: Authentication is on: this is authsettingsV2 (platform.enabled, requireAuthentication, Return401); the check reads the v1 'enabled' flag.
  // checkov:skip=CKV_AZURE_63: HTTP logging is a 'web' config setting, not an authsettingsV2 one; Flex Consumption has no web-server logs: FunctionAppLogs go to Log Analytics (siteDiagnostics).
  // checkov:skip=CKV_AZURE_65: Detailed error pages are a 'web' config setting, not an authsettingsV2 one, and are off by default.
  // checkov:skip=CKV_AZURE_66: Failed request tracing is a 'web' config setting, not an authsettingsV2 one; see CKV_AZURE_63.
  // checkov:skip=CKV_AZURE_80: .NET Framework version does not apply: a Python 3.13 app, and this is authsettingsV2.
  // checkov:skip=CKV_AZURE_88: Azure Files mounts are not used: the app keeps no files; state lives in Table storage.
  // checkov:skip=CKV_AZURE_222: Public network access is a site property (see the site's own skip), not an authsettingsV2 one.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [ '/runtime/webhooks/*', '/api/openapi.json' ]
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: { convention: 'NoProxy' }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: { allowedAudiences: audiences }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

resource planDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: plan
  properties: {
    workspaceId: logAnalyticsId
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
