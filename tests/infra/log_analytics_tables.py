"""The Log Analytics tables the monitoring queries read, with their real columns.

``MLOpsAudit_CL`` is ours: exactly ``AUDIT_TABLE_COLUMNS`` (and the Bicep table, which
tests/infra/test_app_settings.py holds equal to it). The others are Azure's, copied from the
Azure Monitor Logs table reference (learn.microsoft.com/azure/azure-monitor/reference/tables/
<name>; source: MicrosoftDocs/azure-reference-other, azure-monitor-ref/tables/includes/
<name>-include.md): the workspace-based Application Insights tables the Function App's
telemetry lands in (the host's invocations in AppRequests, logs in AppTraces, exceptions in
AppExceptions), and StorageBlobLogs, where the data account's blob diagnostic setting
(allLogs) sends every write, dead letters included.
"""

from __future__ import annotations

from typing import Any

from shared.domain.audit import AUDIT_TABLE_COLUMNS

# Columns every Application Insights table shares.
_APP_COMMON = (
    ("AppRoleInstance", "string"),
    ("AppRoleName", "string"),
    ("AppVersion", "string"),
    ("_BilledSize", "real"),
    ("ClientBrowser", "string"),
    ("ClientCity", "string"),
    ("ClientCountryOrRegion", "string"),
    ("ClientIP", "string"),
    ("ClientModel", "string"),
    ("ClientOS", "string"),
    ("ClientStateOrProvince", "string"),
    ("ClientType", "string"),
    ("IKey", "string"),
    ("_IsBillable", "string"),
    ("ItemCount", "int"),
    ("Measurements", "dynamic"),
    ("OperationId", "string"),
    ("OperationName", "string"),
    ("ParentId", "string"),
    ("Properties", "dynamic"),
    ("ResourceGUID", "string"),
    ("_ResourceId", "string"),
    ("SDKVersion", "string"),
    ("SessionId", "string"),
    ("SourceSystem", "string"),
    ("_SubscriptionId", "string"),
    ("SyntheticSource", "string"),
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("Type", "string"),
    ("UserAccountId", "string"),
    ("UserAuthenticatedId", "string"),
    ("UserId", "string"),
)

APP_REQUESTS = (
    *_APP_COMMON,
    ("DurationMs", "real"),
    ("Id", "string"),
    ("Name", "string"),
    ("ReferencedItemId", "string"),
    ("ReferencedType", "string"),
    ("ResultCode", "string"),
    ("Source", "string"),
    ("Success", "bool"),
    ("Url", "string"),
)

APP_TRACES = (
    *_APP_COMMON,
    ("Message", "string"),
    ("ReferencedItemId", "string"),
    ("ReferencedType", "string"),
    ("SeverityLevel", "int"),
)

APP_EXCEPTIONS = (
    *_APP_COMMON,
    ("Assembly", "string"),
    ("Details", "dynamic"),
    ("ExceptionType", "string"),
    ("HandledAt", "string"),
    ("InnermostAssembly", "string"),
    ("InnermostMessage", "string"),
    ("InnermostMethod", "string"),
    ("InnermostType", "string"),
    ("Message", "string"),
    ("Method", "string"),
    ("OuterAssembly", "string"),
    ("OuterMessage", "string"),
    ("OuterMethod", "string"),
    ("OuterType", "string"),
    ("ProblemId", "string"),
    ("SeverityLevel", "int"),
)

# StatusCode is a string here ("201", or "Unknown" for an interrupted request).
STORAGE_BLOB_LOGS = (
    ("AccessTier", "string"),
    ("AccountName", "string"),
    ("AuthenticationHash", "string"),
    ("AuthenticationType", "string"),
    ("AuthorizationDetails", "dynamic"),
    ("_BilledSize", "real"),
    ("CallerIpAddress", "string"),
    ("Category", "string"),
    ("ClientRequestId", "string"),
    ("ConditionsUsed", "string"),
    ("ContentLengthHeader", "long"),
    ("CorrelationId", "string"),
    ("DestinationUri", "string"),
    ("DurationMs", "real"),
    ("Etag", "string"),
    ("_IsBillable", "string"),
    ("LastModifiedTime", "datetime"),
    ("Location", "string"),
    ("MetricResponseType", "string"),
    ("ObjectKey", "string"),
    ("OperationCount", "int"),
    ("OperationName", "string"),
    ("OperationVersion", "string"),
    ("Protocol", "string"),
    ("ReferrerHeader", "string"),
    ("RehydratePriority", "string"),
    ("RequestBodySize", "long"),
    ("RequesterAppId", "string"),
    ("RequesterAudience", "string"),
    ("RequesterObjectId", "string"),
    ("RequesterTenantId", "string"),
    ("RequesterTokenIssuer", "string"),
    ("RequesterUpn", "string"),
    ("RequestHeaderSize", "long"),
    ("RequestMd5", "string"),
    ("_ResourceId", "string"),
    ("ResponseBodySize", "long"),
    ("ResponseHeaderSize", "long"),
    ("ResponseMd5", "string"),
    ("SasExpiryStatus", "string"),
    ("SchemaVersion", "string"),
    ("ServerLatencyMs", "real"),
    ("ServiceType", "string"),
    ("SourceAccessTier", "string"),
    ("SourceSystem", "string"),
    ("SourceUri", "string"),
    ("StatusCode", "string"),
    ("StatusText", "string"),
    ("_SubscriptionId", "string"),
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("TlsVersion", "string"),
    ("Type", "string"),
    ("Uri", "string"),
    ("UserAgentHeader", "string"),
)

TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "MLOpsAudit_CL": AUDIT_TABLE_COLUMNS,
    "AppRequests": APP_REQUESTS,
    "AppTraces": APP_TRACES,
    "AppExceptions": APP_EXCEPTIONS,
    "StorageBlobLogs": STORAGE_BLOB_LOGS,
}


def schema() -> dict[str, Any]:
    """The analyzer's schema (tests/infra/kusto.cjs)."""
    return {"tables": {name: [list(c) for c in columns] for name, columns in TABLES.items()}}
