"""The Event Grid webhook of `mlops serve`, over real HTTP, into the real app functions and
the real local backend. One host process for the module."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.devhost.messages import MAX_BODY_BYTES
from tests.conftest import GOOD_CSV, model_registered, to_cloud
from tests.integration.host.hostproc import WEBHOOK, HostProcess, http, start_host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    running = start_host(tmp_path_factory.mktemp("webhook-home"))
    yield running
    assert running.stop() == 0


def blob(host: HostProcess, name: str) -> dict[str, Any]:
    event: dict[str, Any] = host.blob_event(f"spam/{name}-{uuid.uuid4().hex[:8]}.csv", GOOD_CSV)
    return event


def outcome(host: HostProcess, event_id: str) -> list[str]:
    return [r.outcome for r in host.audit(correlation_id=event_id)]


def test_an_event_grid_array_is_delivered(host: HostProcess) -> None:
    event = blob(host, "eg")
    answer = host.deliver("on_blob_created", [event])
    assert answer.status == 200
    assert outcome(host, event["id"]) == ["accepted"]


def test_cloudevents_structured_and_batched_are_delivered(host: HostProcess) -> None:
    single, first, second = (to_cloud(blob(host, "ce")) for _ in range(3))
    structured = {"Content-Type": "application/cloudevents+json; charset=utf-8"}
    assert host.deliver("on_blob_created", single, structured).status == 200
    batched = {"Content-Type": "application/cloudevents-batch+json"}
    assert host.deliver("on_blob_created", [first, second], batched).status == 200
    for event in (single, first, second):
        assert outcome(host, event["id"]) == ["accepted"]


def test_each_event_of_a_batch_reaches_the_function(host: HostProcess) -> None:
    events = [blob(host, f"batch-{i}") for i in range(3)]
    forged = blob(host, "forged")
    forged["data"]["url"] = forged["data"]["url"].replace("/spam/", "/spam/../../etc/")
    assert host.deliver("on_blob_created", [*events, forged]).status == 200
    assert [outcome(host, e["id"]) for e in events] == [["accepted"]] * 3
    assert outcome(host, forged["id"]) == ["rejected"]  # acknowledged, not retried


def test_the_subscription_validation_handshake(host: HostProcess) -> None:
    validation = {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
        "subject": "",
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-11-26T10:00:00Z",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        "dataVersion": "1",
    }
    answer = host.deliver(
        "on_blob_created", [validation], {"aeg-event-type": "SubscriptionValidation"}
    )
    assert answer.status == 200
    assert answer.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}


def test_the_cloudevents_abuse_protection_handshake(host: HostProcess) -> None:
    url = f"{host.url}{WEBHOOK}?functionName=on_blob_created"
    origin = {"WebHook-Request-Origin": "eventgrid.azure.net"}
    answer = http("OPTIONS", f"{url}&code={host.keys.eventgrid}", headers=origin)
    assert answer.status == 200
    assert answer.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert answer.headers["WebHook-Allowed-Rate"] == "*"
    assert http("OPTIONS", url, headers=origin).status == 401


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("&code=wrong", {}),
        ("", {"x-functions-key": "wrong"}),
        ("", {"aeg-sas-key": "wrong"}),
        ("&code=", {}),
    ],
    ids=["none", "wrong-code", "wrong-header", "wrong-sas", "empty"],
)
def test_a_missing_or_wrong_key_is_refused(
    host: HostProcess, query: str, headers: dict[str, str]
) -> None:
    event = blob(host, "nokey")
    url = f"{host.url}{WEBHOOK}?functionName=on_blob_created{query}"
    body = json.dumps([event]).encode()
    assert http("POST", url, body, {"Content-Type": "application/json", **headers}).status == 401
    assert outcome(host, event["id"]) == []


def test_the_function_key_is_not_the_system_key(host: HostProcess) -> None:
    wrong = {"x-functions-key": host.keys.function_keys["default"]}
    assert host.deliver("on_blob_created", [blob(host, "fk")], wrong).status == 401


@pytest.mark.parametrize("how", ["code", "aeg-sas-key", "master"])
def test_the_key_is_accepted_in_each_place(host: HostProcess, how: str) -> None:
    event, keys = blob(host, how), host.keys
    base = f"{host.url}{WEBHOOK}?functionName=on_blob_created"
    url, headers = {
        "code": (f"{base}&code={keys.eventgrid}", {}),
        "aeg-sas-key": (base, {"aeg-sas-key": keys.eventgrid}),
        "master": (base, {"x-functions-key": keys.master}),
    }[how]
    answer = http("POST", url, json.dumps([event]).encode(), headers)
    assert answer.status == 200
    assert outcome(host, event["id"]) == ["accepted"]


@pytest.mark.parametrize("name", ["nope", "reconcile_rollouts", "api_list_endpoints", ""])
def test_only_event_grid_functions_are_found(host: HostProcess, name: str) -> None:
    assert host.deliver(name, [blob(host, "404")]).status == 404


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'[{"id": "x"', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"[]", "application/cloudevents+json"),
        (b"{}", "application/cloudevents-batch+json"),
    ],
    ids=["truncated", "not-utf8", "not-objects", "structured-array", "batch-object"],
)
def test_a_malformed_body_is_a_bad_request(
    host: HostProcess, body: bytes, content_type: str
) -> None:
    url = f"{host.url}{WEBHOOK}?functionName=on_blob_created&code={host.keys.eventgrid}"
    answer = http("POST", url, body, {"Content-Type": content_type})
    assert answer.status == 400
    assert set(answer.json()) == {"error"}


def test_a_body_over_one_mib_is_refused_before_it_is_read(host: HostProcess) -> None:
    url = f"{host.url}{WEBHOOK}?functionName=on_blob_created&code={host.keys.eventgrid}"
    at_limit = b"[" + b" " * (MAX_BODY_BYTES - 2) + b"]"
    assert http("POST", url, at_limit, {"Content-Type": "application/json"}).status == 200
    over = at_limit + b" "
    assert http("POST", url, over, {"Content-Type": "application/json"}).status == 413


def test_a_chunked_body_over_one_mib_is_refused(host: HostProcess) -> None:
    parts = urlsplit(host.url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    chunks = (b"[" if i == 0 else b" " * 65536 for i in range(40))  # about 2.5 MiB
    connection.request(
        "POST",
        f"{WEBHOOK}?functionName=on_blob_created&code={host.keys.eventgrid}",
        body=chunks,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    assert connection.getresponse().status == 413
    connection.close()


def test_a_small_chunked_body_is_delivered(host: HostProcess) -> None:
    event = blob(host, "chunked")
    parts = urlsplit(host.url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    body = json.dumps([event]).encode()
    connection.request(
        "POST",
        f"{WEBHOOK}?functionName=on_blob_created&code={host.keys.eventgrid}",
        body=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    assert connection.getresponse().status == 200
    connection.close()
    assert outcome(host, event["id"]) == ["accepted"]


def test_a_failing_function_answers_500_without_detail(host: HostProcess) -> None:
    # The registry has no such version yet: a transient failure, so Event Grid must retry.
    missing = model_registered("spam-classifier", "97")
    answer = host.deliver("on_model_registered", [missing])
    assert answer.status == 500
    assert set(answer.json()) == {"error"}
    assert "97" not in answer.body.decode() and "Traceback" not in answer.body.decode()
    assert "on_model_registered failed on event" in host.log  # the detail is logged


def test_one_failing_event_fails_the_batch_but_the_others_are_delivered(
    host: HostProcess,
) -> None:
    missing = model_registered("spam-classifier", "98")
    misrouted = model_registered("spam-classifier", "1")
    misrouted["eventType"] = "Microsoft.Storage.BlobCreated"  # audited as rejected here
    assert host.deliver("on_model_registered", [missing, misrouted]).status == 500
    assert outcome(host, misrouted["id"]) == ["rejected"]


def test_the_azure_eventgrid_publisher_client_is_accepted(host: HostProcess) -> None:
    eventgrid = pytest.importorskip("azure.eventgrid")
    from azure.core.credentials import AzureKeyCredential

    raw = blob(host, "sdk")
    client = eventgrid.EventGridPublisherClient(
        f"{host.url}{WEBHOOK}?functionName=on_blob_created",
        AzureKeyCredential(host.keys.eventgrid),
    )
    client.send(
        eventgrid.EventGridEvent(
            subject=raw["subject"],
            event_type=raw["eventType"],
            data=raw["data"],
            data_version="1",
            topic=raw["topic"],
            id=raw["id"],
        )
    )
    assert outcome(host, raw["id"]) == ["accepted"]


def test_the_host_answers_what_it_does_not_serve_with_401_or_404(
    host: HostProcess, tmp_path: Path
) -> None:
    assert http("GET", f"{host.url}/").status == 401  # EasyAuth guards everything else
    url = f"{host.url}{WEBHOOK}?functionName=on_blob_created&code={host.keys.eventgrid}"
    assert http("GET", url).status == 405
