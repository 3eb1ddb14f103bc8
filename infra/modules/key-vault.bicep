// The only place secrets live. RBAC mode (no access policies: who may read a secret is an
// Azure role assignment, reviewed with every other one), soft delete with purge protection
// (a deleted secret can be recovered, and not destroyed early, even by an administrator).

param location string
param tags object
param name string
param logAnalyticsId string

@description('Object id of whoever runs azd / the pipeline (AZURE_PRINCIPAL_ID); empty: no grant.')
param deployerPrincipalId string = ''

@allowed([ 'User', 'ServicePrincipal', 'Group' ])
param deployerPrincipalType string = 'User'

var roles = loadJsonContent('../built-in-roles.json')

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

// The postprovision hook (infra/hooks/create-audit-chain-key.sh) creates the audit chain key
// once, if absent: a data-plane write, which the app's own Key Vault Secrets User role cannot
// do and Bicep must not (a secret resource would replace the value on every deployment, and
// a new key breaks every record sealed before). Key Vault Secrets Officer, on this vault
// only, for whoever deploys (Learn: "Provide access to Key Vault keys, certificates, and
// secrets with Azure role-based access control", built-in roles). Like the deployer's blob
// grant in rbac-workspace.bicep, only when azd names the deployer.
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
