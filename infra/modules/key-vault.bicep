// The only place secrets live. RBAC mode (no access policies: who may read a secret is an
// Azure role assignment, reviewed with every other one), soft delete with purge protection
// (a deleted secret can be recovered, and not destroyed early, even by an administrator).

param location string
param tags object
param name string
param logAnalyticsId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: No VNet in this deployment: the Flex Consumption app reads secrets over the public endpoint, with Entra ID and RBAC (see architecture/decisions.md).
  // checkov:skip=CKV_AZURE_189: Public network access stays on for the same reason as CKV_AZURE_109 (no VNet); every call still needs Entra ID and an RBAC role.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'audit', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
