"""The canary's live numbers from Azure Monitor, on the recording transport.

What azure-mgmt-monitor's ``metrics.list`` puts on the wire for each of the two queries
(the endpoint resource's metrics API, api-version 2024-02-01, the metric names, namespace,
aggregation, window, time grain and the ``$filter`` on the deployment), and how an answer
shaped as the REST spec's example (azure-rest-api-specs
specification/monitor/resource-manager/Microsoft.Insights/stable/2024-02-01/examples/
GetMetric.json) becomes a TrafficSample.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.azure.endpoint_metrics import AzureEndpointMetrics
from shared.domain.canary import TrafficSample
from shared.ports import AccessDenied, NotFound, TransientError
from tests.contract.ml_workspace import ARM, ARM_SCOPE, RG, SUB, WORKSPACE, WS
from tests.contract.recording import Canned, FakeCredential, RecordingTransport, error

ENDPOINT, CANARY = "spam-endpoint", "green"
RESOURCE = f"{WORKSPACE}/onlineEndpoints/{ENDPOINT}"
METRICS = "^" + ARM + RESOURCE + r"/providers/Microsoft\.Insights/metrics\?"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 1, 9, 3, tzinfo=UTC)
MINUTES = ["2026-03-01T09:00:00Z", "2026-03-01T09:01:00Z", "2026-03-01T09:02:00Z"]


def series(values: list[float | None], **dimensions: str) -> dict[str, Any]:
    return {
        "metadatavalues": [
            {"name": {"value": name, "localizedValue": name}, "value": value}
            for name, value in dimensions.items()
        ],
        "data": [
            {"timeStamp": stamp} | ({} if value is None else {"average": value})
            for stamp, value in zip(MINUTES, values, strict=True)
        ],
    }


def answer(metric: str, unit: str, *timeseries: dict[str, Any]) -> dict[str, Any]:
    """An answer shaped as GetMetric.json: one metric, its time series, per-minute points."""
    return {
        "cost": 3,
        "timespan": "2026-03-01T09:00:00Z/2026-03-01T09:03:00Z",
        "interval": "PT1M",
        "value": [
            {
                "id": f"{RESOURCE}/providers/Microsoft.Insights/metrics/{metric}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": metric, "localizedValue": metric},
                "displayDescription": "",
                "unit": unit,
                "timeseries": list(timeseries),
                "errorCode": "Success",
            }
        ],
        "namespace": "microsoft.machinelearningservices/workspaces/onlineendpoints",
        "resourceregion": "westeurope",
    }


REQUESTS = answer(
    "RequestsPerMinute",
    "Count",
    series([10, 12, 8], deployment=CANARY, statusCodeClass="2xx"),
    series([3, 0, 0], deployment=CANARY, statusCodeClass="4xx"),
    series([1, 0, 2], deployment=CANARY, statusCodeClass="5xx"),
)
LATENCY = answer("RequestLatency_P95", "Milliseconds", series([40, 50, 60], deployment=CANARY))


def metrics(transport: RecordingTransport) -> tuple[AzureEndpointMetrics, FakeCredential]:
    credential = FakeCredential()
    adapter = AzureEndpointMetrics(
        subscription_id=SUB,
        resource_group=RG,
        workspace_name=WS,
        credential=credential,
        transport=transport,
    )
    return adapter, credential


def routed(transport: RecordingTransport, requests: Canned, latency: Canned) -> None:
    transport.add("GET", METRICS + r".*metricnames=RequestsPerMinute", requests, repeat=True)
    transport.add("GET", METRICS + r".*metricnames=RequestLatency_P95", latency, repeat=True)


def test_two_queries_per_deployment_on_the_endpoint_s_metrics_api_with_an_arm_token() -> None:
    transport = RecordingTransport()
    routed(transport, Canned(200, REQUESTS), Canned(200, LATENCY))
    adapter, credential = metrics(transport)

    adapter.deployment_sample(ENDPOINT, CANARY, START, END)

    by_class = transport.one("GET", "metricnames=RequestsPerMinute")
    assert by_class.path == f"{RESOURCE}/providers/Microsoft.Insights/metrics"
    assert by_class.query == {
        "api-version": "2024-02-01",
        "metricnames": "RequestsPerMinute",
        "metricnamespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "aggregation": "Average",
        "timespan": "2026-03-01T09:00:00Z/2026-03-01T09:03:00Z",
        "interval": "PT1M",
        "top": "10",
        "$filter": "deployment eq 'green' and statusCodeClass eq '*'",
    }
    latency = transport.one("GET", "metricnames=RequestLatency_P95")
    assert latency.path == by_class.path
    assert latency.query == by_class.query | {
        "metricnames": "RequestLatency_P95",
        "$filter": "deployment eq 'green'",
    }
    assert latency.headers["Authorization"] == "Bearer fake-token"
    assert credential.requested() == {ARM_SCOPE}
    assert by_class.host == latency.host == "management.azure.com"


def test_the_answers_become_requests_5xx_and_a_request_weighted_p95() -> None:
    transport = RecordingTransport()
    routed(transport, Canned(200, REQUESTS), Canned(200, LATENCY))
    adapter, _ = metrics(transport)

    sample = adapter.deployment_sample(ENDPOINT, CANARY, START, END)

    # Minutes of 14, 12 and 10 requests (every class); 3 of them 5xx, 4xx not counted.
    assert (sample.requests, sample.errors) == (36, 3)
    assert sample.p95_ms == pytest.approx((40 * 14 + 50 * 12 + 60 * 10) / 36)


def test_minutes_without_a_value_and_a_window_without_traffic() -> None:
    transport = RecordingTransport()
    quiet = answer("RequestsPerMinute", "Count")  # no time series at all
    routed(transport, Canned(200, quiet), Canned(200, answer("RequestLatency_P95", "ms")))
    adapter, _ = metrics(transport)
    assert adapter.deployment_sample(ENDPOINT, CANARY, START, END) == TrafficSample(0, 0, None)

    gaps = RecordingTransport()
    sparse = answer("RequestsPerMinute", "Count", series([None, 5, None], statusCodeClass="2xx"))
    no_weights = answer("RequestLatency_P95", "ms", series([None, None, 30]))
    routed(gaps, Canned(200, sparse), Canned(200, no_weights))
    adapter, _ = metrics(gaps)
    # A P95 from a minute the request counts do not cover: a plain mean of what there is.
    assert adapter.deployment_sample(ENDPOINT, CANARY, START, END) == TrafficSample(5, 0, 30.0)


@pytest.mark.parametrize(
    ("canned", "raised"),
    [
        (error(403, "AuthorizationFailed", "no Microsoft.Insights/metrics/read"), AccessDenied),
        (error(401, "InvalidAuthenticationToken", "expired"), AccessDenied),
        (error(404, "ResourceNotFound", "no such endpoint"), NotFound),
        (error(429, "TooManyRequests", "slow down"), TransientError),
        (error(503, "ServiceUnavailable", "try later"), TransientError),
    ],
)
def test_what_azure_monitor_answers_maps_onto_the_port(
    canned: Canned, raised: type[Exception]
) -> None:
    transport = RecordingTransport()
    routed(transport, canned, canned)
    adapter, _ = metrics(transport)
    with pytest.raises(raised):
        adapter.deployment_sample(ENDPOINT, CANARY, START, END)


@pytest.mark.parametrize(
    ("endpoint", "deployment"),
    [(ENDPOINT, "green' or deployment eq 'blue"), (ENDPOINT, ""), ("../x", CANARY)],
)
def test_a_name_that_is_not_azure_ml_s_never_reaches_the_filter(
    endpoint: str, deployment: str
) -> None:
    transport = RecordingTransport()
    adapter, _ = metrics(transport)
    with pytest.raises(ValueError, match="not an Azure ML"):
        adapter.deployment_sample(endpoint, deployment, START, END)
    assert transport.requests == []
