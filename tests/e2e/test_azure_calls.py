"""Azure calls per event on the Azure backend (issue 15), counted by method and path on the
recording transport while the registered function handles one event: an accepted
BlobCreated, the same event redelivered, and a rejected one. Storage is Azurite (forwarded,
still recorded); Key Vault and Logs Ingestion are canned.

The counts are pinned to CALLS, where each call has its reason: a new call fails this test
until it is added there with one (the README's table is rendered from the same list by
`make bench`). With BENCH_AZURE_CALLS=path the counts are also written there for
bench/bench_azure_calls.py."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from azure.storage.blob import ContainerClient, ContentSettings

from shared.adapters.local import system_events as topics
from shared.devhost import delivery
from tests.azurite import Azurite
from tests.conftest import GOOD_CSV, STORAGE_TOPIC
from tests.contract.recording import Recorded
from tests.e2e.test_azure_backend import World, world  # noqa: F401 (the fixture)

# (call, reason, how many for an accepted / duplicate / rejected BlobCreated)
AUDIT = (
    (
        "GET ~audit/head",
        "the chain's head, read on a process's first append or when its last head was refused"
        " (the warm-up event here); after that the sink seals on the head it wrote",
        0,
    ),
    (
        "POST $batch ~audit",
        "one transaction: the new head (If-Match: the ETag this process's last one returned)"
        " and the outbox row",
        1,
    ),
    ("GET outbox rows", "flush: every outbox row not yet shipped, oldest first", 1),
    ("POST Logs Ingestion", "ship the sealed record to the `_CL` table through the DCR", 1),
    ("DELETE outbox row", "the shipped record leaves the outbox", 1),
)
CALLS: tuple[tuple[str, str, int, int, int], ...] = (
    ("GET handled/<event key>", "dedupe by the event id", 1, 1, 0),
    ("HEAD blob", "the blob's ETag, size and type, compared with the event's claims", 1, 0, 0),
    ("GET handled/<blob key>", "dedupe by the blob version (a redelivery under a new id)", 1, 0, 0),
    ("GET blob (range)", "the first bytes: the header a training file must have", 1, 0, 0),
    ("GET dataset_file", "the dataset's record of this path (the latest version wins)", 1, 0, 0),
    ("POST dataset_file", "insert that record (or PUT with If-Match when it exists)", 1, 0, 0),
    ("GET window", "the dataset's coalescing window", 1, 0, 0),
    (
        "POST window_blob",
        "this blob version joins the window (insert: a second one conflicts)",
        1,
        0,
        0,
    ),
    ("PUT window", "the window's count and quiet deadline, with If-Match", 1, 0, 0),
    ("POST handled x2", "remember the event key and the blob key", 2, 0, 0),
    *((call, reason, n, n, n) for call, reason, n in AUDIT),
)


def shape(request: Recorded, blob_host: str) -> str:
    """The call as CALLS names it."""
    path, method = request.path, request.method
    if "/dataCollectionRules/" in path:
        return "POST Logs Ingestion"
    if path.endswith("/$batch"):
        first = re.search(rb'"PartitionKey": "([^"]*)"', request.body or b"")
        return f"POST $batch {first.group(1).decode() if first else '?'}"
    if request.host == blob_host:
        return "GET blob (range)" if method == "GET" else f"{method} blob"
    entity = re.search(r"\(PartitionKey='([^']*)',RowKey='([^']*)'\)$", path)
    if entity is None:
        if method == "GET":
            return "GET outbox rows"
        kind = json.loads(request.body or b"{}").get("PartitionKey", "?")
        return f"POST {kind}"
    kind, row = entity.groups()
    if kind == "~audit":
        return "GET ~audit/head" if row == "head" else f"{method} outbox row"
    if kind == "handled":
        return f"{method} handled/<key>"
    return f"{method} {kind}"


def calls(built: World, azurite: Azurite, deliver: Any) -> Counter[str]:
    before = len(built.transport.requests)
    deliver()
    host = f"127.0.0.1:{azurite.blob_port}"
    return Counter(shape(r, host) for r in built.transport.requests[before:])


def upload(built: World, azurite: Azurite, name: str) -> dict[str, Any]:
    settings = built.settings
    url = f"{settings.storage_account_url}/{settings.training_container}/{name}"
    container = ContainerClient(
        settings.storage_account_url, settings.training_container, azurite.credential
    )
    container.upload_blob(name, GOOD_CSV, content_settings=ContentSettings("text/csv"))
    return topics.blob_created(STORAGE_TOPIC, built.backend.deps.blobs.properties(url))


def expected(column: int) -> Counter[str]:
    """CALLS' column as ``shape`` names the calls (both handled keys are one shape)."""
    counts: Counter[str] = Counter()
    for call, _, *numbers in CALLS:
        name = re.sub(r"handled/<[a-z ]+>", "handled/<key>", call).replace(" x2", "")
        if numbers[column]:
            counts[name] += numbers[column]
    return counts


def test_calls_per_blob_created_accepted_duplicate_and_rejected(
    world: World,  # noqa: F811
    azurite: Azurite,
) -> None:
    warm = upload(world, azurite, "spam/warm.csv")
    delivery.invoke("on_blob_created", warm)  # the chain key, the table, the first token
    event = upload(world, azurite, "spam/a.csv")
    accepted = calls(world, azurite, lambda: delivery.invoke("on_blob_created", event))
    duplicate = calls(world, azurite, lambda: delivery.invoke("on_blob_created", event))
    forged = {**event, "id": "forged-1", "subject": event["subject"] + "/../x.csv"}
    rejected = calls(world, azurite, lambda: delivery.invoke("on_blob_created", forged))
    outcomes = [row["Outcome"] for row in world.audit_rows()]
    assert outcomes[-3:] == ["accepted", "duplicate", "rejected"], outcomes
    counted = {"accepted": accepted, "duplicate": duplicate, "rejected": rejected}
    if out := os.environ.get("BENCH_AZURE_CALLS"):
        Path(out).write_text(json.dumps({k: dict(v) for k, v in counted.items()}, indent=2))
    for column, name in enumerate(counted):
        assert counted[name] == expected(column), (name, counted[name])
