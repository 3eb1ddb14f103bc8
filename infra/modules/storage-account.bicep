// One locked-down storage account: Entra ID only (no shared keys, so no SAS and no
// connection strings), no public blobs, TLS 1.2 over HTTPS. Used three times: the Functions
// host, the training data (with the dead-letter container and the state table), and the
// Azure ML workspace's own artifact store, so that no identity that writes one can touch another.

param location string
param tags object

@minLength(3)
@maxLength(24)
param name string

@description('Blob containers to create (private).')
param containers array = []

@description('Tables to create.')
param tables array = []

@description('Log Analytics workspace that receives the diagnostic settings.')
param logAnalyticsId string

@description('Days a deleted blob or container can be restored.')
param softDeleteDays int = 7

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: No VNet in this deployment: the Flex Consumption app, Event Grid and Azure ML compute reach the account over its public endpoint, with Entra ID only (shared keys off). Private endpoints are the follow-up in architecture/decisions.md.
  // checkov:skip=CKV_AZURE_59: Same reason as CKV_AZURE_35: public network access stays on (no VNet); anonymous and shared-key access are both off.
  // checkov:skip=CKV_AZURE_206: Locally redundant on purpose: training data, state and packages are reproducible; the audit trail lives in Log Analytics, not here.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
        queue: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: softDeleteDays }
    containerDeleteRetentionPolicy: { enabled: true, days: softDeleteDays }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: { publicAccess: 'None' }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource storageTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tables: {
    parent: tableService
    name: table
  }
]

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalyticsId
    metrics: [ { category: 'Transaction', enabled: true } ]
  }
}

// Every read, write and delete of a blob (and every authorisation failure) is logged.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'Transaction', enabled: true } ]
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'Transaction', enabled: true } ]
  }
}

output id string = account.id
output name string = account.name
// Without the trailing slash: MLOPS_STORAGE_ACCOUNT_URL is compared with event URLs as is.
output blobEndpoint string = substring(account.properties.primaryEndpoints.blob, 0, length(account.properties.primaryEndpoints.blob) - 1)
output tableEndpoint string = substring(account.properties.primaryEndpoints.table, 0, length(account.properties.primaryEndpoints.table) - 1)
