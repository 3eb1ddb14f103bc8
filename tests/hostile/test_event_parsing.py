"""Event deliveries that try the parsers (issue 12, section 3), through the real entry points:
the local host's webhook over HTTP into the app's functions, on the tests' recording fakes.

One parser: the webhook splits a delivery with the domain's ``parse_batch`` and each function
parses its event with ``parse_event``, reached through the worker's own trigger converter, so
a CloudEvent keeps its specversion and ``data_base64`` up to the parser. Refusals of the
whole delivery (400, 413) come before any function runs: no audit record per event.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.devhost.functions_registry import registered
from shared.devhost.server import HostServer
from shared.domain.events import MAX_EVENTS_PER_DELIVERY
from tests.conftest import World, to_cloud
from tests.hostile.rawhttp import KEYS, TOKEN, Answer, exchange, running_host

WEBHOOK = "/runtime/webhooks/eventgrid?functionName=on_blob_created&code=" + KEYS.eventgrid
STRUCTURED = "application/cloudevents+json; charset=utf-8"
BATCH = "application/cloudevents-batch+json"


@pytest.fixture(scope="module")
def server() -> Iterator[HostServer]:
    with running_host(registered(), request_timeout=20) as running:
        yield running


def post(
    server: HostServer,
    body: bytes,
    content_type: str = "application/json",
    target: str = WEBHOOK,
    *extra: str,
) -> Answer:
    lines = [
        f"POST {target} HTTP/1.1",
        "Host: localhost",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return exchange(server, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def deliver(server: HostServer, events: Any, content_type: str = "application/json") -> Answer:
    return post(server, json.dumps(events).encode(), content_type)


def received(world: World) -> list[tuple[str, str, str]]:
    """(event id, outcome, field) of every event-level audit record."""
    return [
        (e.correlation_id, e.outcome, str(e.details.get("field", "")))
        for e in world.audit.entries
        if e.action in ("event.received", "data.received")
    ]


def test_a_cloud_event_of_specversion_1_0_is_accepted(server: HostServer, world: World) -> None:
    event = to_cloud(world.upload("spam/a.csv"))
    assert deliver(server, event, STRUCTURED).status == 200
    assert [(i, o) for i, o, _ in received(world)] == [(event["id"], "accepted")]


@pytest.mark.parametrize(
    "specversion",
    ["0.3", "1.1", "1", "1.0.0", " 1.0", "1.0\n", "", None, 1.0, 1, True, ["1.0"], {"v": "1.0"}],
)
def test_only_the_string_1_0_is_a_cloud_events_specversion(
    server: HostServer, world: World, specversion: Any
) -> None:
    event = {**to_cloud(world.upload("spam/a.csv")), "specversion": specversion}
    assert deliver(server, event, STRUCTURED).status == 200  # acknowledged: never retried
    assert received(world) == [(event["id"], "rejected", "specversion")]


@pytest.mark.parametrize(
    "change",
    [
        {"data_base64": "eyJ1cmwiOiAieCJ9"},  # beside data
        {"data_base64": "eyJ1cmwiOiAieCJ9", "data": None},  # instead of data
        {"data_base64": "", "datacontenttype": "application/octet-stream"},
        {"data_base64": None},
    ],
    ids=["beside-data", "instead-of-data", "empty", "null"],
)
def test_binary_cloud_event_data_is_refused_not_decoded(
    server: HostServer, world: World, change: dict[str, Any]
) -> None:
    event = {**to_cloud(world.upload("spam/a.csv")), **change}
    assert deliver(server, [event], BATCH).status == 200
    assert received(world) == [(event["id"], "rejected", "data")]


def validation_event() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
        "subject": "",
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-11-26T10:00:00Z",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        "dataVersion": "1",
    }


@pytest.mark.parametrize("order", ["validation-first", "validation-last", "two-validations"])
@pytest.mark.parametrize("header", ["SubscriptionValidation", "Notification", None])
def test_a_batch_mixing_a_validation_event_with_others_is_refused_whole(
    server: HostServer, world: World, order: str, header: str | None
) -> None:
    real = world.upload("spam/a.csv")
    events = {
        "validation-first": [validation_event(), real],
        "validation-last": [real, validation_event()],
        "two-validations": [validation_event(), validation_event()],
    }[order]
    extra = [f"aeg-event-type: {header}"] if header else []
    answer = post(server, json.dumps(events).encode(), "application/json", WEBHOOK, *extra)
    assert answer.status == 400
    assert b"validationResponse" not in answer.body
    assert received(world) == []  # neither answered nor half-handled


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"validationCode": ""}},
        {"data": {"validationCode": 7}},
        {"data": {"validationCode": "c" * 300}},
        {"data": "512d38b6"},
        {"eventTime": "not a time"},
    ],
    ids=["empty-code", "number-code", "long-code", "data-not-object", "bad-time"],
)
def test_a_malformed_validation_event_gets_no_handshake(
    server: HostServer, world: World, change: dict[str, Any]
) -> None:
    extra = "aeg-event-type: SubscriptionValidation"
    body = json.dumps([{**validation_event(), **change}]).encode()
    answer = post(server, body, "application/json", WEBHOOK, extra)
    assert answer.status == 400
    assert b"validationResponse" not in answer.body


def test_a_validation_header_without_a_validation_event_is_refused(
    server: HostServer, world: World
) -> None:
    body = json.dumps([world.upload("spam/a.csv")]).encode()
    answer = post(
        server, body, "application/json", WEBHOOK, "aeg-event-type: SubscriptionValidation"
    )
    assert answer.status == 400
    assert received(world) == []


def test_an_unknown_aeg_event_type_is_refused(server: HostServer, world: World) -> None:
    body = json.dumps([world.upload("spam/a.csv")]).encode()
    answer = post(server, body, "application/json", WEBHOOK, "aeg-event-type: Whatever")
    assert answer.status == 400
    assert received(world) == []


def rejected_blob(index: int) -> dict[str, Any]:
    """A cheap event every function refuses (the container is not ours)."""
    return {
        "id": f"flood-{index}",
        "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
        "subject": "/blobServices/default/containers/other/blobs/spam/a.csv",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-26T10:00:00Z",
        "data": {},
        "dataVersion": "",
    }


@pytest.mark.parametrize(
    ("count", "event"),
    [(MAX_EVENTS_PER_DELIVERY + 1, rejected_blob), (5000, lambda i: {}), (100_000, lambda i: {})],
    ids=["one-over", "event-grid-max", "empty-objects-under-1-mib"],
)
def test_a_delivery_over_the_event_cap_is_a_413_with_no_audit_record(
    server: HostServer, world: World, count: int, event: Callable[[int], dict[str, Any]]
) -> None:
    answer = deliver(server, [event(i) for i in range(count)])
    assert answer.status == 413
    assert world.audit.entries == []


def test_a_delivery_at_the_cap_reaches_the_function_event_by_event(
    server: HostServer, world: World
) -> None:
    events = [rejected_blob(i) for i in range(MAX_EVENTS_PER_DELIVERY)]
    assert deliver(server, events).status == 200
    assert len(received(world)) == MAX_EVENTS_PER_DELIVERY


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


BODIES = {
    "nesting-past-recursion": nested(100_000).encode(),
    "nesting-at-recursion": nested(990).encode(),
    "nesting-past-cap-in-data": json.dumps([{**rejected_blob(0), "data": {}}])
    .replace('"data": {}', '"data": ' + nested(40))
    .encode(),
    "int-past-python-limit": b'[{"id": ' + b"9" * 5000 + b"}]",
    "int-past-int64": b'[{"id": ' + b"9" * 25 + b"}]",
    "negative-huge-int": b'[{"id": -' + b"9" * 5000 + b"}]",
    "float-overflow": b'[{"id": 1e999}]',
    "nan": b'[{"id": NaN}]',
    "infinity": b'[{"id": -Infinity}]',
    "not-utf8": b'[{"id": "\xff"}]',
    "lone-surrogate-escape": b'[{"id": "\\ud800"}]',
    "top-level-number": b"12",
    "top-level-null": b"null",
    "array-of-arrays": b"[[]]",
    "structured-but-array": b"[]",
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_a_body_the_parser_refuses_is_a_400_with_no_audit_record(
    server: HostServer, world: World, case: str
) -> None:
    content_type = STRUCTURED if case == "structured-but-array" else "application/json"
    answer = post(server, BODIES[case], content_type)
    if case == "lone-surrogate-escape":  # valid JSON: the event is audited as rejected instead
        assert answer.status == 200
        assert [o for _, o, _ in received(world)] == ["rejected"]
        return
    assert answer.status == 400
    assert set(json.loads(answer.body)) == {"error"}
    assert world.audit.entries == []


API = "/api/endpoints/spam-endpoint/deployments"


@pytest.mark.parametrize(
    "body",
    [
        nested(5000).encode(),  # 10 KB: under the API's 16 KiB limit, past the recursion limit
        b'{"model": "spam-classifier", "version": "1", "reason": ' + nested(990).encode() + b"}",
        b'{"model": "spam-classifier", "version": ' + b"9" * 5000 + b', "reason": "r"}',
        b'{"model": "spam-classifier", "version": "1", "reason": "r", "supersede": 1e999}',
    ],
    ids=["nesting-past-recursion", "nesting-at-recursion", "huge-int", "float-overflow"],
)
def test_the_api_answers_nesting_and_huge_numbers_with_400(
    server: HostServer, world: World, body: bytes
) -> None:
    answer = post(
        server,
        body,
        "application/json",
        API,
        f"Authorization: {TOKEN}",
        f"Idempotency-Key: {uuid.uuid4()}",
    )
    assert answer.status == 400
    assert b"Traceback" not in answer.body


def test_nothing_here_reached_a_function_as_a_500(server: HostServer, world: World) -> None:
    event = copy.deepcopy(to_cloud(world.upload("spam/b.csv")))
    assert deliver(server, [event], BATCH).status == 200
