"""The canary's live numbers from Azure Monitor: the online endpoint's platform metrics.

Learn, "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
(Traffic): ``RequestsPerMinute`` (Count, aggregation Average, PT1M, dimensions
``deployment``, ``statusCode``, ``statusCodeClass``, ``modelStatusCode``) and
``RequestLatency_P95`` (Milliseconds, Average, PT1M, dimension ``deployment``). Both are
read per minute over the bake window from the metrics API of the endpoint resource
(``GET {endpoint id}/providers/Microsoft.Insights/metrics``, api-version 2024-02-01) through
azure-mgmt-monitor's ``MonitorManagementClient.metrics.list``: azure-monitor-query 2.0
removed ``MetricsQueryClient`` and points its users there or at azure-monitor-querymetrics,
whose batch API needs Monitoring Reader on the whole subscription; this one needs it on the
endpoint only, which the role on the workspace covers (infra/modules/rbac-app.bicep).

- requests: the sum over the window's minutes of every status class's per-minute count
  (``$filter=deployment eq '<name>' and statusCodeClass eq '*'`` splits them by class);
  errors: the same for ``5xx``. A minute's Average is that minute's count.
- p95: the minutes' P95 values, weighted by the requests of each minute (a quiet minute's
  P95 says less than a busy one's); the metric itself is already "the average P95 ... over
  the selected time period".
Metrics arrive a few minutes late: a window that has only just closed may still grow.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError

from shared.adapters.azure._errors import sdk_options, translated
from shared.domain.canary import TrafficSample
from shared.ports import AccessDenied

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.monitor import MonitorManagementClient

NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
REQUESTS = "RequestsPerMinute"
LATENCY_P95 = "RequestLatency_P95"
STATUS_CLASS = "statuscodeclass"  # dimension names come back in lower case
INTERVAL = "PT1M"  # the metrics' only time grain
TOP = 10  # series per query: more than the five status classes there are
# Azure ML's rule for endpoint and deployment names; it also keeps quotes out of $filter.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")


class AzureEndpointMetrics:
    """Implements ``LiveTraffic`` for the workspace's managed online endpoints."""

    def __init__(
        self,
        *,
        subscription_id: str,
        resource_group: str,
        workspace_name: str,
        credential: TokenCredential,
        **client_options: Any,
    ) -> None:
        self._subscription = subscription_id
        self._workspace = (
            f"subscriptions/{subscription_id}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace_name}"
        )
        self._credential = credential
        self._options = sdk_options(client_options)
        self._client: MonitorManagementClient | None = None
        self._lock = threading.Lock()

    def deployment_sample(
        self, endpoint: str, deployment: str, start: datetime, end: datetime
    ) -> TrafficSample:
        for kind, name in (("endpoint", endpoint), ("deployment", deployment)):
            if not _NAME.fullmatch(name):
                raise ValueError(f"not an Azure ML {kind} name: {name[:64]!r}")
        query = _Query(
            resource=f"{self._workspace}/onlineEndpoints/{endpoint}",
            timespan=f"{_iso(start)}/{_iso(end)}",
            what=f"metrics of {endpoint}/{deployment}",
        )
        by_class = self._series(
            query, REQUESTS, f"deployment eq '{deployment}' and statusCodeClass eq '*'"
        )
        per_minute: dict[datetime, float] = defaultdict(float)
        errors = 0.0
        for dimensions, points in by_class:
            for stamp, count in points:
                per_minute[stamp] += count
                if dimensions.get(STATUS_CLASS, "").lower() == "5xx":
                    errors += count
        latency = self._series(query, LATENCY_P95, f"deployment eq '{deployment}'")
        p95 = _weighted_mean([point for _, points in latency for point in points], per_minute)
        requests = round(sum(per_minute.values()))
        return TrafficSample(requests=requests, errors=min(round(errors), requests), p95_ms=p95)

    def _series(
        self, query: _Query, metric: str, filter_: str
    ) -> list[tuple[dict[str, str], list[tuple[datetime, float]]]]:
        """Each time series of ``metric``: its dimension values and (minute, Average)."""
        what = query.what
        try:
            with translated(what):
                answer = self._metrics().metrics.list(
                    query.resource,
                    timespan=query.timespan,
                    interval=INTERVAL,
                    metricnames=metric,
                    aggregation="Average",
                    top=TOP,
                    filter=filter_,
                    metricnamespace=NAMESPACE,
                )
        except HttpResponseError as error:
            if error.status_code in (401, 403):
                raise AccessDenied(
                    f"{what}: Azure Monitor refused the app's identity (HTTP "
                    f"{error.status_code}); it needs Monitoring Reader on the workspace"
                ) from error
            raise
        found = []
        for item in answer.value or []:
            if (item.name.value or "").lower() != metric.lower():
                continue
            for series in item.timeseries or []:
                dimensions = {
                    (meta.name.value or "").lower(): meta.value or ""
                    for meta in series.metadatavalues or []
                    if meta.name is not None
                }
                points = [
                    (point.time_stamp, float(point.average))
                    for point in series.data or []
                    if point.average is not None
                ]
                found.append((dimensions, points))
        return found

    def _metrics(self) -> MonitorManagementClient:
        with self._lock:
            if self._client is None:
                from azure.mgmt.monitor import MonitorManagementClient

                self._client = MonitorManagementClient(
                    self._credential, self._subscription, **self._options
                )
            return self._client


@dataclass(frozen=True)
class _Query:
    resource: str  # the endpoint's ARM id, without the leading slash the SDK adds
    timespan: str
    what: str  # names the query in errors


def _weighted_mean(
    points: list[tuple[datetime, float]], weights: dict[datetime, float]
) -> float | None:
    """The points' mean weighted by each minute's requests; a plain mean when no minute has
    a known weight; None without points."""
    if not points:
        return None
    total = sum(weights.get(stamp, 0.0) for stamp, _ in points)
    if total <= 0:
        return sum(value for _, value in points) / len(points)
    return sum(value * weights.get(stamp, 0.0) for stamp, value in points) / total


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
