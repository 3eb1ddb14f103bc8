// The registry the serving images come from. Pulls and pushes need an Entra identity with
// AcrPull / AcrPush: no admin user, no anonymous pull. The app rolls images forward by digest
// only, so a re-pushed tag cannot change what runs.
// Anonymous pull is off by default and only a preview api-version declares
// anonymousPullEnabled (Learn: Bicep change log of Microsoft.ContainerRegistry/registries), so
// the stable api-version here does not set it.
// Standard, not Premium: private endpoints need Premium, and the online deployments pull over
// the public endpoint (egress_public_network_access: enabled in
// training/endpoints/deployment.yml); tests/infra/test_bicep_security.py keeps the two in step.

param location string
param tags object
param name string
param logAnalyticsId string

@description('Premium adds private endpoints, retention of untagged manifests and dedicated data endpoints; Standard is enough while deployments pull over the public endpoint.')
@allowed([ 'Standard', 'Premium' ])
param sku string = 'Standard'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139: No VNet in this deployment: Azure ML builds and managed online endpoints pull over the public endpoint with Entra ID (AcrPull); see architecture/decisions.md.
  // checkov:skip=CKV_AZURE_163: Vulnerability scanning is Defender for Containers, enabled per subscription, not in this template.
  // checkov:skip=CKV_AZURE_166: Quarantine would hold every pushed image until an external scanner releases it; no scanner is wired here, so every push would stall.
  // checkov:skip=CKV_AZURE_233: Zone redundancy is a Premium, region-dependent choice left to the operator.
  name: name
  location: location
  tags: tags
  sku: { name: sku }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
    networkRuleBypassOptions: 'AzureServices'
    zoneRedundancy: 'Disabled'
    policies: {
      exportPolicy: { status: 'enabled' }
    }
  }
}

resource registryDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: registry
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

output id string = registry.id
output name string = registry.name
output loginServer string = registry.properties.loginServer
