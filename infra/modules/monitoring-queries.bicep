// What operators look at and get paged by, built on one set of KQL files
// (infra/monitoring/queries/*.kql): a Log Analytics query pack with every query, an Azure
// Monitor workbook made of the same queries (infra/monitoring/workbook.json, generated from
// them by `python -m infra.monitoring.build_workbook`), and log search alert rules whose
// queries are those files' text. infra/monitoring/README.md says which query answers what.

param location string
param tags object

@description('Prefix of the pack, alert rule and action group names.')
param namePrefix string

@description('The Log Analytics workspace: what the queries, the workbook and the alert rules read.')
param logAnalyticsId string

@description('Resource id of an existing action group the alert rules notify. Empty: the rules notify the group created for alertEmail, or nobody (they still fire and show under Monitor > Alerts).')
param actionGroupId string = ''

@description('E-mail address for a new action group, used only when actionGroupId is empty.')
param alertEmail string = ''

@description('Failed function invocations within 15 minutes above which the function-errors alert fires.')
@minValue(0)
param functionErrorThreshold int = 5

// The pack's index, generated from the .kql headers: title, description, categories, labels.
var catalog = loadJsonContent('../monitoring/queries.json').queries

// The query texts. Bicep loads a file only by a literal path, so one line per query;
// tests/infra/test_monitoring_bicep.py holds these keys equal to the .kql files and to
// queries.json.
var bodies = {
  'failures-last-day': loadTextContent('../monitoring/queries/failures-last-day.kql')
  'rejected-by-reason': loadTextContent('../monitoring/queries/rejected-by-reason.kql')
  'gate-decisions': loadTextContent('../monitoring/queries/gate-decisions.kql')
  'rollouts-by-endpoint': loadTextContent('../monitoring/queries/rollouts-by-endpoint.kql')
  'manual-actions': loadTextContent('../monitoring/queries/manual-actions.kql')
  'uploads-around': loadTextContent('../monitoring/queries/uploads-around.kql')
  'correlation-story': loadTextContent('../monitoring/queries/correlation-story.kql')
  'audit-chain-check': loadTextContent('../monitoring/queries/audit-chain-check.kql')
  'alert-dead-letter': loadTextContent('../monitoring/queries/alert-dead-letter.kql')
  'alert-rollout-rolled-back': loadTextContent('../monitoring/queries/alert-rollout-rolled-back.kql')
  'alert-training-failed': loadTextContent('../monitoring/queries/alert-training-failed.kql')
  'alert-gate-failed': loadTextContent('../monitoring/queries/alert-gate-failed.kql')
  'alert-function-errors': loadTextContent('../monitoring/queries/alert-function-errors.kql')
}

resource pack 'Microsoft.OperationalInsights/queryPacks@2019-09-01' = {
  name: '${namePrefix}-queries'
  location: location
  tags: tags
  properties: {}
}

// Query names must be GUIDs: derived from the file name, so a redeploy updates in place.
resource packQueries 'Microsoft.OperationalInsights/queryPacks/queries@2019-09-01' = [
  for query in items(catalog): {
    parent: pack
    name: guid(pack.id, query.key)
    properties: {
      displayName: query.value.displayName
      description: query.value.description
      body: bodies[query.key]
      related: {
        categories: query.value.categories
        resourceTypes: [ 'microsoft.operationalinsights/workspaces' ]
      }
      tags: { labels: query.value.labels, file: [ '${query.key}.kql' ] }
    }
  }
]

// Shown under the workspace's Workbooks (sourceId) and Monitor > Workbooks. The JSON's one
// placeholder is its fallback resource: the workspace its queries run on.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, namePrefix, 'mlops-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'MLOps: audit trail and function health (${namePrefix})'
    category: 'workbook'
    sourceId: toLower(logAnalyticsId)
    version: 'Notebook/1.0'
    serializedData: replace(loadTextContent('../monitoring/workbook.json'), '__LOG_ANALYTICS_WORKSPACE_ID__', logAnalyticsId)
  }
}

// Without an action group of their own, operators can still be told by e-mail.
var createActionGroup = empty(actionGroupId) && !empty(alertEmail)

resource emailGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (createActionGroup) {
  name: '${namePrefix}-alerts'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'mlops'
    enabled: true
    emailReceivers: [ { name: 'operators', emailAddress: alertEmail, useCommonAlertSchema: true } ]
  }
}

var actionGroups = !empty(actionGroupId) ? [ actionGroupId ] : (createActionGroup ? [ emailGroup.id ] : [])

// One rule per alert query; the rule counts the query's rows in the window.
// The dead-letter rule reads the data account's blob logs (StorageBlobLogs), not the Event
// Grid topics' DeadLetteredCount metric: it fires on the fact itself, a blob written to the
// dead-letter container, whichever of the three system topics wrote it, with one rule and a
// query in the pack (a metric alert is per topic, and a topic that cannot write the blob
// counts the event as dropped, not dead-lettered). The blob service's diagnostic setting
// (allLogs, storage-account.bicep) is what sends those writes to the workspace.
// Windows are 15 minutes every 5: long enough for ingestion delay and for audit records a
// failed upload kept in the app's outbox; autoMitigate makes each rule stateful, so a row
// seen by three evaluations notifies once.
// A rule's query is validated against the workspace when the rule is created, and a table
// that does not exist yet fails the deployment. StorageBlobLogs and AppRequests appear only
// when the first blob log or request telemetry arrives, after the first provision, so the
// rules reading them skip that validation (lateTable); MLOpsAudit_CL is created by
// monitoring.bicep before this module runs and stays validated.
var alerts = [
  { query: 'alert-dead-letter', severity: 1, threshold: 0, lateTable: true }
  { query: 'alert-rollout-rolled-back', severity: 2, threshold: 0, lateTable: false }
  { query: 'alert-training-failed', severity: 2, threshold: 0, lateTable: false }
  { query: 'alert-gate-failed', severity: 3, threshold: 0, lateTable: false }
  { query: 'alert-function-errors', severity: 2, threshold: functionErrorThreshold, lateTable: true }
]

// 2023-12-01: the stable api-version that declares skipQueryValidation.
resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in alerts: {
    name: '${namePrefix}-${alert.query}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: catalog[alert.query].displayName
      description: catalog[alert.query].description
      severity: alert.severity
      enabled: true
      scopes: [ logAnalyticsId ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: bodies[alert.query]
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      autoMitigate: true
      skipQueryValidation: alert.lateTable
      actions: { actionGroups: actionGroups }
    }
  }
]

output queryPackName string = pack.name
output workbookId string = workbook.id
output alertRuleNames array = [for (alert, i) in alerts: alertRules[i].name]
