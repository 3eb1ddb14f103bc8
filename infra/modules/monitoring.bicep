// Log Analytics (every diagnostic setting and the audit trail land here), workspace-based
// Application Insights with local auth off, and the audit table with the data collection
// rule the app's Logs Ingestion client writes through.

param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string
param dataCollectionRuleName string

@description('Days the workspace keeps ordinary logs and metrics.')
@minValue(30)
param retentionInDays int = 30

@description('Days the audit table stays queryable (interactive retention).')
@minValue(30)
@maxValue(730)
param auditRetentionInDays int = 365

// The audit table's columns: shared.domain.audit.AUDIT_TABLE_COLUMNS, in the same order.
// tests/infra/test_app_settings.py fails when the two differ. EventTime keeps the record's
// exact time text because the hash covers that text; TimeGenerated is the table's own clock.
var auditColumns = [
  { name: 'TimeGenerated', type: 'datetime' }
  { name: 'SchemaVersion', type: 'long' }
  { name: 'Seq', type: 'long' }
  { name: 'EventTime', type: 'string' }
  { name: 'Actor', type: 'string' }
  { name: 'Action', type: 'string' }
  { name: 'Target', type: 'string' }
  { name: 'Outcome', type: 'string' }
  { name: 'Reason', type: 'string' }
  { name: 'CorrelationId', type: 'string' }
  { name: 'Details', type: 'dynamic' }
  { name: 'PrevHash', type: 'string' }
  { name: 'Hash', type: 'string' }
]
var auditTableName = 'MLOpsAudit_CL'
var auditStreamName = 'Custom-MLOpsAudit_CL'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
    // Queries and ingestion need Entra ID: no workspace shared keys.
    features: { disableLocalAuth: true }
  }
}

// Append-only from the app's side: the app holds Monitoring Metrics Publisher on the DCR
// (ingest), never a role that deletes or purges rows.
resource auditTable 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = {
  parent: logAnalytics
  name: auditTableName
  properties: {
    plan: 'Analytics'
    retentionInDays: auditRetentionInDays
    totalRetentionInDays: auditRetentionInDays
    schema: {
      name: auditTableName
      columns: auditColumns
    }
  }
}

// kind 'Direct': the rule carries its own logs ingestion endpoint, so no separate DCE.
resource auditRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: location
  tags: tags
  kind: 'Direct'
  properties: {
    streamDeclarations: {
      '${auditStreamName}': { columns: auditColumns }
    }
    destinations: {
      logAnalytics: [
        { name: 'auditWorkspace', workspaceResourceId: logAnalytics.id }
      ]
    }
    dataFlows: [
      {
        streams: [ auditStreamName ]
        destinations: [ 'auditWorkspace' ]
        transformKql: 'source'
        outputStream: auditStreamName
      }
    ]
  }
  dependsOn: [ auditTable ]
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry is accepted only with an Entra token (the app sends
    // APPLICATIONINSIGHTS_AUTHENTICATION_STRING); the instrumentation key alone is useless.
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

// The workspace's own audit log (who queried what) goes to the workspace itself.
resource logAnalyticsDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: logAnalytics
  properties: {
    workspaceId: logAnalytics.id
    logs: [ { categoryGroup: 'audit', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

resource applicationInsightsDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: applicationInsights
  properties: {
    workspaceId: logAnalytics.id
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

// Rejected uploads (schema mismatch, throttling) show up here, not in the app.
resource auditRuleDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: auditRule
  properties: {
    workspaceId: logAnalytics.id
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

output logAnalyticsId string = logAnalytics.id
output logAnalyticsName string = logAnalytics.name
// The workspace GUID that `az monitor log-analytics query -w` takes.
output logAnalyticsCustomerId string = logAnalytics.properties.customerId
output applicationInsightsId string = applicationInsights.id
output applicationInsightsName string = applicationInsights.name
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
output dataCollectionRuleId string = auditRule.id
output dataCollectionRuleName string = auditRule.name
output auditIngestionEndpoint string = auditRule.properties.endpoints.logsIngestion
output auditDcrImmutableId string = auditRule.properties.immutableId
output auditStreamName string = auditStreamName
output auditTableName string = auditTableName
