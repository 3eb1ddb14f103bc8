"""``Idempotency-Key`` on the manual API's POSTs: a retry gets the first answer, never a
second rollout, even when the retries race."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from functions.api.idempotency import KIND
from shared import bootstrap
from shared.domain.values import ModelVersion, Stored
from shared.ports import TransientError
from shared.services.rollouts import ROLLOUT
from tests.conftest import World
from tests.fakes import InMemoryStateStore
from tests.fakes.ml_platform import FakeMLPlatform
from tests.unit.test_api_helpers import (
    BOB_OID,
    DEPLOYER,
    Reply,
    principal_header,
    redeploy,
    serve,
    settle,
)


def started(world: World) -> int:
    return len(world.deps.state.list(ROLLOUT))


def use(
    world: World,
    *,
    platform: FakeMLPlatform | None = None,
    state: InMemoryStateStore | None = None,
) -> None:
    """Swap a fake in for the whole test, for the functions and the helpers alike."""
    world.platform = platform or world.platform
    world.state = state or world.state
    world.platform.app_state = world.state  # where add_model records its job as ours
    world.deps = replace(world.deps, platform=world.platform, state=world.state)
    bootstrap.install(world.deps)


def test_a_retried_post_gets_the_first_answer_and_starts_one_rollout(world: World) -> None:
    serve(world, "1", "2")
    first = redeploy("1", key="drill-2025-01-01")
    retries = [redeploy("1", key="drill-2025-01-01") for _ in range(3)]

    assert first.status == 202
    for retry in retries:
        assert (retry.status, retry.body) == (first.status, first.body)
        assert retry.headers["location"] == first.headers["location"]
        assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert started(world) == 3
    assert world.outcomes("operator.redeploy") == ["accepted"]


def test_a_replay_still_answers_after_the_rollout_moved_on(world: World) -> None:
    serve(world, "1", "2")
    first = redeploy("1", key="k1")
    settle(world)
    assert redeploy("1", key="k1").body == first.body


def test_the_same_key_with_another_body_is_422(world: World) -> None:
    serve(world, "1", "2")
    assert redeploy("1", key="k1").status == 202
    reply = redeploy("1", key="k1", reason="a different reason")
    assert (reply.status, reply.body["error"]) == (422, "idempotency_key_reused")
    assert started(world) == 3
    refusal = world.audit.entries[-1]
    assert (refusal.action, refusal.outcome, refusal.details["status"]) == (
        "api.redeploy",
        "rejected",
        422,
    )


def test_keys_belong_to_their_principal(world: World) -> None:
    serve(world, "1", "2")
    carol = principal_header(BOB_OID, "carol", DEPLOYER)
    assert redeploy("1", key="k1").status == 202
    # Not alice's answer: carol's request is judged on its own (a rollout is active).
    assert redeploy("1", key="k1", principal=carol).status == 409


def test_a_refusal_is_not_replayed_a_retry_is_judged_afresh(world: World) -> None:
    serve(world, "1", "2")
    assert redeploy("1").status == 202  # now a rollout is active
    assert redeploy("2", key="k1").status == 409
    settle(world)
    assert redeploy("2", key="k1").status == 202


@pytest.mark.parametrize("key", ["", "has space", "a/b", "x" * 129, "ключ"])
def test_an_invalid_key_is_400(world: World, key: str) -> None:
    serve(world, "1", "2")
    reply = redeploy("1", key=key or " ")
    assert (reply.status, reply.body["error"]) == (400, "invalid_request")
    assert "Idempotency-Key" in reply.body["message"]
    assert started(world) == 2


class ReentrantPlatform(FakeMLPlatform):
    """While the first request is inside the service, its retry arrives (a client timeout)."""

    def __init__(self, smoke_set: Sequence[tuple[str, str]]) -> None:
        super().__init__(smoke_set)
        self.armed = False
        self.inner: list[Reply] = []

    def get_model(self, name: str, version: str) -> ModelVersion:
        if self.armed and not self.inner:
            self.inner.append(redeploy("1", key="k1"))
        return super().get_model(name, version)


def test_a_retry_while_the_first_is_running_is_told_to_wait(world: World) -> None:
    platform = ReentrantPlatform(world.deps.smoke_set)
    use(world, platform=platform)
    serve(world, "1", "2")
    platform.armed = True

    first = redeploy("1", key="k1")
    [during] = platform.inner
    assert (during.status, during.body["error"]) == (409, "request_in_progress")
    assert during.headers["retry-after"] == "1"
    assert first.status == 202
    assert redeploy("1", key="k1").body == first.body
    assert started(world) == 3


class LockedStateStore(InMemoryStateStore):
    """Atomic compare-and-set, as SQLite and Table storage are, for real threads."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def get(self, kind: str, key: str) -> Stored | None:
        with self.lock:
            return super().get(kind, key)

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        with self.lock:
            return super().put(kind, key, value, etag=etag)

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        with self.lock:
            return super().list(kind, prefix)


def test_concurrent_retries_start_one_rollout(world: World) -> None:
    store = LockedStateStore()
    use(world, state=store)
    serve(world, "1", "2")
    barrier = threading.Barrier(8)

    def retry(_: int) -> Reply:
        barrier.wait()
        return redeploy("1", key="k-race")

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(retry, range(8)))

    accepted = [r for r in replies if r.status == 202]
    assert accepted
    assert {r.body["operation_id"] for r in accepted} == {accepted[0].body["operation_id"]}
    assert all(r.body.get("error") == "request_in_progress" for r in replies if r.status != 202)
    assert len(store.list(ROLLOUT)) == 3


class SettleFailsStateStore(InMemoryStateStore):
    """The write that records the answer fails once: the worker 'dies' after the effect."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        if kind == KIND and value.get("status") == "done" and self.failures:
            self.failures -= 1
            raise TransientError("table storage timed out")
        return super().put(kind, key, value, etag=etag)


def test_an_abandoned_claim_is_taken_over_and_repeats_the_same_operation(world: World) -> None:
    store = SettleFailsStateStore()
    use(world, state=store)
    serve(world, "1", "2")

    first = redeploy("1", key="k1")
    assert first.status == 202  # the rollout started, so its answer still goes back
    assert redeploy("1", key="k1").status == 409  # the claim looks in progress
    world.clock.advance(301)  # past the Functions timeout: its worker is gone
    again = redeploy("1", key="k1")
    assert (again.status, again.body) == (202, first.body)
    assert len(store.list(ROLLOUT)) == 3
