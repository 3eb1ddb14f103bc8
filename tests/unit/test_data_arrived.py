"""BlobCreated → on_blob_created → validation, dedupe, coalescing → one training job."""

from __future__ import annotations

import pytest

from shared.adapters.local import system_events as topics
from shared.services.data_arrived import WINDOW
from tests.conftest import GOOD_CSV, STORAGE_TOPIC, World
from tests.fakes import InMemoryBlobStore


def test_a_burst_of_uploads_becomes_one_job_after_the_quiet_window(world: World) -> None:
    for i in range(3):
        world.deliver("on_blob_created", world.upload(f"spam/part-{i}.csv"))
        world.clock.advance(5)
    world.reconcile()
    assert world.platform.submitted == []  # still inside the 60 s quiet window

    world.clock.advance(61)
    world.reconcile()
    world.reconcile()

    [job] = world.platform.submitted
    assert job.dataset == "spam"
    assert job.data_url == "https://contosodata.blob.core.windows.net/training-data/spam/"
    assert job.tags["blob_count"] == "3"
    assert job.name.startswith("train-spam-")
    assert world.outcomes("data.received") == ["accepted"] * 3
    assert world.outcomes("training.submitted") == ["accepted"]


def test_the_same_event_delivered_five_times_starts_one_job(world: World) -> None:
    event = world.upload("spam/part-1.csv")
    for _ in range(5):
        world.deliver("on_blob_created", event)
    world.clock.advance(61)
    world.reconcile()

    assert len(world.platform.submitted) == 1
    assert world.outcomes("data.received") == ["accepted"] + ["duplicate"] * 4


def test_a_redelivery_with_a_new_event_id_is_a_duplicate_by_business_key(world: World) -> None:
    event = world.upload("spam/part-1.csv")
    world.deliver("on_blob_created", event)
    world.deliver("on_blob_created", {**event, "id": "another-delivery-id"})
    assert world.outcomes("data.received") == ["accepted", "duplicate"]


def test_a_thousand_events_for_one_prefix_start_exactly_one_job(world: World) -> None:
    for i in range(1000):
        world.deliver("on_blob_created", world.upload(f"spam/burst/part-{i:04d}.csv"))
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    assert job.tags["blob_count"] == "1000"


def test_a_window_that_never_goes_quiet_closes_at_the_maximum_age(world: World) -> None:
    for i in range(20):
        world.deliver("on_blob_created", world.upload(f"spam/part-{i}.csv"))
        world.clock.advance(50)  # never 60 s quiet; 1000 s in all > 900 s max
        world.reconcile()
    assert len(world.platform.submitted) == 1


def test_a_transient_submission_failure_is_retried_on_the_next_tick(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/part-1.csv"))
    world.clock.advance(61)
    world.platform.transient_failures = 1
    world.reconcile()
    assert world.platform.submitted == []
    assert world.state.get(WINDOW, "spam").value["status"] == "open"  # type: ignore[union-attr]
    world.reconcile()
    assert len(world.platform.submitted) == 1


@pytest.mark.parametrize(
    ("blob_path", "data", "content_type", "reason"),
    [
        ("top-level.csv", b"label,text\nham,hi\n", "text/csv", "dataset folder"),
        ("spam/notes.exe", b"label,text\nham,hi\n", "text/csv", "extension"),
        ("spam/part.csv", b"label,text\nham,hi\n", "image/png", "content type"),
        ("spam/part.csv", b"name,phone\nann,1\n", "text/csv", "label"),
        ("spam/empty.csv", b"", "text/csv", "empty"),
        ("spam/bad.csv", b"label,text\n\xff\xfe broken", "text/csv", "UTF-8"),
    ],
)
def test_bad_blobs_are_rejected_audited_and_start_nothing(
    world: World, blob_path: str, data: bytes, content_type: str, reason: str
) -> None:
    world.deliver("on_blob_created", world.upload(blob_path, data, content_type))
    world.clock.advance(1000)
    world.reconcile()

    [entry] = [e for e in world.audit.entries if e.action == "data.received"]
    assert entry.outcome == "rejected"
    assert reason.lower() in entry.reason.lower()
    assert world.state.list(WINDOW) == []
    assert world.platform.submitted == []


@pytest.mark.parametrize(
    "path",
    ["spam/../../etc/passwd.csv", "spam/%2e%2e/x.csv", "spam\\..\\x.csv", "spam/a\x07b.csv"],
)
def test_forged_paths_are_rejected(world: World, path: str) -> None:
    event = world.upload("spam/ok.csv")
    event["data"]["url"] = event["data"]["url"].replace("spam/ok.csv", path)
    event["subject"] = event["subject"].replace("spam/ok.csv", path)
    world.deliver("on_blob_created", event)
    assert world.outcomes("data.received") + world.outcomes("event.received") == ["rejected"]
    assert world.state.list(WINDOW) == []


def test_a_blob_from_another_account_is_rejected(world: World) -> None:
    event = world.upload("spam/ok.csv")
    event["data"]["url"] = event["data"]["url"].replace("contosodata", "attacker")
    world.deliver("on_blob_created", event)
    [entry] = [e for e in world.audit.entries if e.outcome == "rejected"]
    assert "account" in entry.reason
    assert world.state.list(WINDOW) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.pop("id"),
        lambda e: e["data"].pop("url"),
        lambda e: e.update(eventType="Microsoft.Storage.BlobDeleted"),
        lambda e: e["data"].update(contentLength="lots"),
    ],
)
def test_malformed_events_are_rejected_and_acknowledged(world: World, mutate: object) -> None:
    event = world.upload("spam/ok.csv")
    mutate(event)  # type: ignore[operator]
    world.deliver("on_blob_created", event)  # returns normally: Event Grid must not retry
    assert [e.outcome for e in world.audit.entries] == ["rejected"]


def test_a_transient_store_failure_raises_so_event_grid_retries(world: World) -> None:
    from shared.ports import TransientError

    class FlakyBlobs:
        def properties(self, url: str) -> object:
            raise TransientError("storage 503")

        def read_head(self, url: str, max_bytes: int) -> bytes:
            raise AssertionError("not reached")

    event = world.upload("spam/ok.csv")
    world.deps.__dict__["blobs"] = FlakyBlobs()  # frozen dataclass: swap the port for this test
    with pytest.raises(TransientError):
        world.deliver("on_blob_created", event)
    assert world.state.list(WINDOW) == []
    assert world.outcomes("data.received") == []


def test_a_blob_deleted_after_its_event_is_rejected_and_leaves_nothing(world: World) -> None:
    event = world.upload("spam/gone.csv")
    del world.blobs.blobs["spam/gone.csv"]
    world.deliver("on_blob_created", event)  # returns normally: no retry brings it back
    world.deliver("on_blob_created", event)  # Event Grid delivers twice all the same

    # Judged on the store's word each time: nothing was remembered as handled.
    assert world.outcomes("data.received") == ["rejected", "rejected"]
    reasons = {e.reason for e in world.audit.entries if e.action == "data.received"}
    assert reasons == {"blob no longer exists"}
    assert world.state.list(WINDOW) == []
    world.deliver("on_blob_created", world.upload("spam/gone.csv"))  # uploaded again: new data
    world.clock.advance(61)
    world.reconcile()
    assert world.outcomes("data.received")[-1] == "accepted"
    [job] = world.platform.submitted
    assert job.tags["blob_count"] == "1"


def test_a_blob_deleted_while_it_is_read_is_retried_then_rejected(world: World) -> None:
    from shared.ports import NotFound

    class Vanishing(InMemoryBlobStore):
        """Deleted between its properties and the read of its first bytes."""

        def read_head(self, url: str, max_bytes: int) -> bytes:
            self.blobs.clear()
            return super().read_head(url, max_bytes)

    blobs = Vanishing(world.blobs.account_url)
    world.deps.__dict__["blobs"] = blobs  # frozen dataclass: swap the port for this test
    event = topics.blob_created(STORAGE_TOPIC, blobs.put("spam/gone.csv", GOOD_CSV, "text/csv"))
    with pytest.raises(NotFound):  # the function fails: Event Grid redelivers
        world.deliver("on_blob_created", event)
    assert world.outcomes("data.received") == []
    assert world.state.list(WINDOW) == []

    world.deliver("on_blob_created", event)  # the redelivery finds no blob: acknowledged
    assert world.outcomes("data.received") == ["rejected"]
    assert world.audit.entries[-1].reason == "blob no longer exists"


def test_the_job_trains_on_accepted_files_only(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/good-1.csv"))
    world.deliver("on_blob_created", world.upload("spam/notes.csv", b"name,phone\nann,1\n"))
    world.deliver("on_blob_created", world.upload("spam/good-2.csv"))
    world.blobs.put("spam/good-2.csv", b"label,text\nham,changed after it was accepted\n")
    world.clock.advance(61)
    world.reconcile()

    [job] = world.platform.submitted
    assert job.files == (world.blobs.url_for("spam/good-1.csv"),)


def test_files_accepted_in_earlier_windows_are_trained_on_again(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/batch-1.csv"))
    world.clock.advance(61)
    world.reconcile()
    world.deliver("on_blob_created", world.upload("spam/batch-2.csv"))
    world.clock.advance(61)
    world.reconcile()

    first, second = world.platform.submitted
    assert len(first.files) == 1
    assert second.files == tuple(
        sorted(world.blobs.url_for(p) for p in ("spam/batch-1.csv", "spam/batch-2.csv"))
    )
