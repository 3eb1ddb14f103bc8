"""The local Event Grid: routing by the shared JSON, at-least-once retries, dead letters."""

from __future__ import annotations

import json
from pathlib import Path

from shared.adapters.local.event_grid import LocalEventGrid, load_routing
from shared.devhost.delivery import invoke
from shared.devhost.functions_registry import registered
from tests.conftest import World, model_registered, to_cloud


def grid(tmp_path: Path) -> LocalEventGrid:
    return LocalEventGrid(tmp_path / "eventgrid.db", max_attempts=3, backoff=(0, 0, 0))


def test_routing_names_exactly_the_event_grid_functions_of_the_app() -> None:
    routed = {sub.function for sub in load_routing()}
    event_grid = {
        name for name, fn in registered().items() if fn.get_trigger().type == "eventGridTrigger"
    }
    assert routed == event_grid
    assert event_grid == {
        "on_blob_created",
        "on_model_registered",
        "on_image_pushed",
        "on_job_finished",
    }


def test_an_event_is_delivered_to_its_function(world: World, tmp_path: Path) -> None:
    events = grid(tmp_path)
    events.publish(world.upload("spam/part-1.csv"))
    assert events.pump(invoke) == 1
    assert events.pending() == 0
    assert world.outcomes("data.received") == ["accepted"]


def test_blob_events_from_other_apis_or_containers_are_filtered_out(
    world: World, tmp_path: Path
) -> None:
    events = grid(tmp_path)
    deleted_api = world.upload("spam/part-1.csv")
    deleted_api["data"]["api"] = "SetBlobMetadata"
    other = world.upload("spam/part-2.csv")
    other["subject"] = other["subject"].replace("training-data", "scratch")
    events.publish(deleted_api)
    events.publish(other)
    assert events.pending() == 0
    assert world.audit.entries == []


def test_a_cloudevents_event_is_delivered_too(world: World, tmp_path: Path) -> None:
    events = grid(tmp_path)
    events.publish(to_cloud(world.upload("spam/part-1.csv")))
    assert events.pump(invoke) == 1
    assert world.outcomes("data.received") == ["accepted"]


def test_a_failing_delivery_is_retried_then_dead_lettered(world: World, tmp_path: Path) -> None:
    events = grid(tmp_path)
    event = model_registered("spam-classifier", "9")  # not in the registry: transient error
    events.publish(event)
    for _ in range(3):
        assert events.pump(invoke) == 0
    [letter] = events.dead_letters()
    body = json.loads(letter.read_text())
    assert body["id"] == event["id"]
    assert body["deadLetterReason"] == "MaxDeliveryAttemptsExceeded"
    assert body["deliveryAttempts"] == 3
    assert events.pending() == 0


def test_a_delivery_that_succeeds_on_retry_is_not_dead_lettered(
    world: World, tmp_path: Path
) -> None:
    events = grid(tmp_path)
    events.publish(model_registered("spam-classifier", "1"))
    assert events.pump(invoke) == 0  # the registry does not know v1 yet
    world.platform.add_model("spam-classifier", "1")
    assert events.pump(invoke) == 1
    assert events.dead_letters() == []
    assert world.outcomes("model.registered") == ["accepted"]


def test_pending_deliveries_survive_a_restart(world: World, tmp_path: Path) -> None:
    grid(tmp_path).publish(world.upload("spam/part-1.csv"))
    restarted = grid(tmp_path)
    assert restarted.pending() == 1
    assert restarted.pump(invoke) == 1
