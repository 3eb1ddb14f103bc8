"""A reconciler tick reads the active jobs and rollouts through the state store's index
(list_where), never the whole history of finished ones (issue 15)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from shared import bootstrap
from shared.domain.values import Stored
from shared.services.reconciler import JOB
from shared.services.rollouts import ROLLOUT
from tests.conftest import World
from tests.fakes import InMemoryStateStore


class ReadsRecorded(InMemoryStateStore):
    """The world's documents, with every whole-kind listing and every document returned."""

    def __init__(self, docs: dict[tuple[str, str], tuple[str, str]]) -> None:
        super().__init__()
        self.docs = docs
        self.listed: list[str] = []
        self.returned = 0

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        found = super().list(kind, prefix)
        self.listed.append(kind)
        self.returned += len(found)
        return found

    def list_where(self, kind: str, field: str, values: Collection[str]) -> Sequence[Stored]:
        found = [s for s in super().list(kind) if s.value.get(field) in set(values)]
        self.returned += len(found)
        return found


def test_a_tick_with_a_long_history_reads_none_of_it(world: World) -> None:
    store = ReadsRecorded(world.state.docs)
    for n in range(200):
        store.put(ROLLOUT, f"ro-{n:03d}", {"id": f"ro-{n:03d}", "phase": "completed"}, etag=None)
        store.put(JOB, f"train-{n:03d}", {"status": "completed"}, etag=None)
    bootstrap.install(replace(world.deps, state=store))
    world.reconcile()
    assert JOB not in store.listed and ROLLOUT not in store.listed, store.listed
    assert store.returned == 0
