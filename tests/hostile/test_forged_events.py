"""Forged events cannot poison real ones (issue 12, section 6).

An event that names a real blob but lies about its eTag, length or content type must neither
make the true event a duplicate nor drop the file from training: the outcome is remembered
by what the store says about the blob. Every event goes through the real function entry
point (``on_blob_created`` with an ``azure.functions.EventGridEvent``), on the tests' fakes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import bootstrap
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.services.data_arrived import DATASET_FILE, WINDOW
from shared.services.deps import Deps
from shared.services.idempotency import KIND as HANDLED
from shared.settings import Settings, service_settings
from tests.conftest import ACCOUNT, World
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)
from tests.fakes.ml_platform import FakeMLPlatform

PATH = "spam/invoices.csv"
LIES: dict[str, tuple[str, Any]] = {  # claim -> (field in data, a false value)
    "etag-forged": ("eTag", '"0x8DFFFFFFFFFFFFF"'),
    "etag-empty-quotes": ("eTag", '""'),
    "type-forbidden": ("contentType", "image/png"),
    "type-allowed": ("contentType", "text/tab-separated-values"),
    "length-zero": ("contentLength", 0),
    "length-huge": ("contentLength", 10**12),
    "length-shorter": ("contentLength", 7),
    "length-longer": ("contentLength", 4096),
}


def forged(true_event: dict[str, Any], lies: dict[str, Any], event_id: str) -> dict[str, Any]:
    event = copy.deepcopy(true_event)
    event["id"] = event_id
    event["data"].update(lies)
    return event


def received(world: World) -> list[tuple[str, str]]:
    return [
        (e.correlation_id, e.outcome)
        for e in world.audit.entries
        if e.action.startswith(("data.", "event."))
    ]


def trained_files(world: World) -> tuple[str, ...]:
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    return job.files


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lie_delivered_first_does_not_make_the_true_event_a_duplicate(
    world: World, lie: str
) -> None:
    true_event = world.upload(PATH)
    field, value = LIES[lie]
    world.deliver("on_blob_created", forged(true_event, {field: value}, "forged-1"))
    world.deliver("on_blob_created", true_event)

    assert received(world) == [("forged-1", "rejected"), (true_event["id"], "accepted")]
    assert trained_files(world) == (world.blobs.url_for(PATH),)


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lie_delivered_later_does_not_drop_the_file_from_training(world: World, lie: str) -> None:
    true_event = world.upload(PATH)
    world.deliver("on_blob_created", true_event)
    field, value = LIES[lie]
    world.deliver("on_blob_created", forged(true_event, {field: value}, "forged-2"))

    assert received(world) == [(true_event["id"], "accepted"), ("forged-2", "rejected")]
    assert trained_files(world) == (world.blobs.url_for(PATH),)
    [stored] = world.state.list(DATASET_FILE)
    assert stored.value["etag"] == true_event["data"]["eTag"]  # what the store said


def test_a_lie_leaves_no_record_and_is_audited_with_both_values(world: World) -> None:
    true_event = world.upload(PATH)
    lies = {"eTag": '"0x8DBADBADBADBADB"', "contentLength": 3, "contentType": "text/plain"}
    world.deliver("on_blob_created", forged(true_event, lies, "forged-3"))

    [entry] = world.audit.entries
    assert (entry.outcome, entry.correlation_id) == ("rejected", "forged-3")
    assert "disagrees with the store" in entry.reason
    claimed = {"etag": lies["eTag"], "size": 3, "content_type": "text/plain"}
    data = true_event["data"]
    stored = {"etag": data["eTag"], "size": data["contentLength"], "content_type": "text/csv"}
    assert (entry.details["claimed"], entry.details["stored"]) == (claimed, stored)
    assert world.state.list(HANDLED) == []
    assert world.state.list(WINDOW) == [] and world.state.list(DATASET_FILE) == []


def test_a_lie_reusing_the_true_event_id_does_not_block_its_redelivery(world: World) -> None:
    true_event = world.upload(PATH)
    world.deliver("on_blob_created", forged(true_event, {"contentLength": 1}, true_event["id"]))
    world.deliver("on_blob_created", true_event)  # Event Grid retries with the same id
    assert [outcome for _, outcome in received(world)] == ["rejected", "accepted"]


def test_another_spelling_of_the_same_blob_is_the_same_blob(world: World) -> None:
    true_event = world.upload(PATH)
    world.deliver("on_blob_created", true_event)
    respelled = forged(true_event, {}, "respelled")
    url = respelled["data"]["url"].replace("contosodata", "ContosoData")
    respelled["data"]["url"] = url.replace("invoices.csv", "%69nvoices.csv")
    world.deliver("on_blob_created", respelled)

    assert received(world) == [(true_event["id"], "accepted"), ("respelled", "duplicate")]
    assert world.state.get(WINDOW, "spam").value["blobs"] == 1  # type: ignore[union-attr]
    assert len(world.state.list(DATASET_FILE)) == 1
    assert len(trained_files(world)) == 1


def test_the_etag_is_compared_without_its_http_quotes(world: World) -> None:
    true_event = world.upload(PATH)
    true_event["data"]["eTag"] = true_event["data"]["eTag"].strip('"')  # as some events carry it
    world.deliver("on_blob_created", true_event)
    assert received(world) == [(true_event["id"], "accepted")]


def test_a_blob_whose_content_is_bad_stays_rejected_whoever_announces_it(world: World) -> None:
    true_event = world.upload(PATH, b"name,phone\nann,1\n")
    world.deliver("on_blob_created", true_event)
    world.deliver("on_blob_created", forged(true_event, {}, "same-claims"))
    assert received(world) == [(true_event["id"], "rejected"), ("same-claims", "duplicate")]


# For any lies, in any order, the true event's file is accepted once and trained on ------------


@contextmanager
def fresh_world() -> Iterator[World]:
    """The conftest ``world``, built per example (hypothesis runs many in one test)."""
    settings_ = Settings(storage_account_url=ACCOUNT, coalesce_quiet_seconds=60)
    clock = FakeClock()
    smoke = load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")
    platform, state = FakeMLPlatform(smoke), InMemoryStateStore()
    audit, blobs = RecordingAuditSink(clock), InMemoryBlobStore(ACCOUNT)
    registry = InMemoryContainerRegistry(clock)
    deps = Deps(
        service_settings(settings_),
        platform,
        blobs,
        state,
        NoSecrets(),
        audit,
        clock,
        smoke,
        registry,
    )
    bootstrap.install(deps)
    try:
        yield World(deps, platform, state, audit, blobs, clock)
    finally:
        bootstrap.install(None)


claims = st.fixed_dictionaries(
    {},
    optional={
        "eTag": st.text(min_size=1, max_size=40),
        "contentLength": st.integers(min_value=0, max_value=2**40),
        "contentType": st.sampled_from(["text/csv", "text/plain", "image/png", "TEXT/CSV"]),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(claims, min_size=1, max_size=4), st.integers(min_value=0, max_value=4))
def test_any_lies_in_any_order_never_poison_the_true_event(
    lies: list[dict[str, Any]], true_at: int
) -> None:
    with fresh_world() as world:
        true_event = world.upload(PATH)
        events = [forged(true_event, lie, f"forged-{i}") for i, lie in enumerate(lies)]
        events.insert(min(true_at, len(events)), true_event)
        for event in events:
            world.deliver("on_blob_created", event)

        outcomes = dict(received(world))
        assert sorted(outcomes.values()).count("accepted") == 1  # the version, exactly once
        truth = true_event["data"]
        for event in events:
            data = event["data"]
            lying = (
                data["eTag"].strip('"') != truth["eTag"].strip('"')
                or data["contentLength"] != truth["contentLength"]
                or data["contentType"].lower() != truth["contentType"]
            )
            assert (outcomes[event["id"]] == "rejected") == lying, (event["id"], data)
        assert trained_files(world) == (world.blobs.url_for(PATH),)
