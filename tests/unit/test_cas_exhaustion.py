"""Compare-and-set that keeps losing: after its bounded retries a write gives up as a transient
failure, so the caller retries later (Event Grid redelivers, the API answers 503), and nothing
is remembered as handled that was not. A rival writer rewrites the contended document before
each of ours, through a state store that wraps the world's."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest

from shared.domain.values import Stored
from shared.ports import ConcurrencyConflict
from shared.services.api_guard import RATE
from shared.services.data_arrived import WINDOW, WINDOW_BLOB
from tests.conftest import World
from tests.fakes import InMemoryStateStore
from tests.unit.test_api_helpers import call


class Contended:
    """The world's store, where another writer changes a document of ``kind`` before every
    compare-and-set of ours, so each of ours loses."""

    def __init__(self, inner: InMemoryStateStore, kind: str) -> None:
        self.inner, self.kind = inner, kind
        self.lost = 0

    def get(self, kind: str, key: str) -> Stored | None:
        return self.inner.get(kind, key)

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        return self.inner.list(kind, prefix)

    def list_where(self, kind: str, field: str, values: Collection[str]) -> Sequence[Stored]:
        return self.inner.list_where(kind, field, values)

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        current = self.inner.get(kind, key)
        if kind == self.kind and current is not None:
            self.inner.put(kind, key, current.value, etag=current.etag)  # the rival's write
            self.lost += 1
        return self.inner.put(kind, key, value, etag=etag)


def contend(world: World, kind: str) -> Contended:
    store = Contended(world.state, kind)
    world.deps.__dict__["state"] = store  # frozen dataclass: swap the port for this test
    return store


def calm(world: World) -> None:
    world.deps.__dict__["state"] = world.state


def test_a_window_too_contended_to_join_is_redelivered_and_then_trained_on(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/first.csv"))
    rivals = contend(world, WINDOW)
    event = world.upload("spam/second.csv")

    with pytest.raises(ConcurrencyConflict, match="too contended"):  # Event Grid redelivers
        world.deliver("on_blob_created", event)
    assert rivals.lost == 50  # bounded: it gave up instead of spinning
    assert world.outcomes("data.received") == ["accepted"]  # nothing said about the second

    calm(world)
    world.deliver("on_blob_created", event)  # the redelivery: not taken for handled already
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    assert job.tags["blob_count"] == "2"
    members = {s.value["url"] for s in world.state.list(WINDOW_BLOB)}
    assert members == {world.blobs.url_for(f"spam/{name}.csv") for name in ("first", "second")}


def test_the_redelivery_after_exhaustion_is_audited_as_accepted(world: World) -> None:
    """The exhausted attempt left its window membership behind; the redelivery of the same
    event finishes it: accepted once, counted once."""
    world.deliver("on_blob_created", world.upload("spam/first.csv"))
    contend(world, WINDOW)
    event = world.upload("spam/second.csv")
    with pytest.raises(ConcurrencyConflict):
        world.deliver("on_blob_created", event)
    calm(world)
    world.deliver("on_blob_created", event)
    assert world.outcomes("data.received") == ["accepted", "accepted"]
    [window] = world.state.list(WINDOW)
    assert window.value["blobs"] == 2
    world.deliver("on_blob_created", event)  # and once done, a redelivery is a duplicate
    assert world.outcomes("data.received") == ["accepted", "accepted", "duplicate"]


def test_a_rate_counter_too_contended_to_count_answers_503(world: World) -> None:
    rivals = contend(world, RATE)
    assert call("api_list_endpoints").status == 200  # the counter's document exists now
    rivals.lost = 0

    reply = call("api_list_endpoints")

    assert rivals.lost == 8
    assert (reply.status, reply.body["error"]) == (503, "unavailable")
    assert reply.headers["retry-after"] == "5"
