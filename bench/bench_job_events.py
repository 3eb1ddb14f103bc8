"""Upload to serving with and without Azure ML's run events, on Azure's documented timings.

The app's real functions and services run on the tests' fakes and a virtual clock; what is
simulated is only *when* things reach them:

- the reconciler's timer fires every minute (main.bicep's ``reconcileSchedule``);
- train.py registers the version before its job ends (the job still uploads its outputs
  and logs): ``ModelRegistered`` arrives ``GAP`` seconds before the job completes, the gate
  answers TransientError while the job runs, and Event Grid redelivers on its documented
  schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h: Learn, "Event Grid message
  delivery and retry"), without its jitter;
- with run events, ``RunCompleted`` arrives when the job completes (``on_job_finished``).

Without run events the rollout waits for the first redelivery after the job's end; with them
it starts at the end. Locally the gap is nil (the local platform announces the version when
its job has ended), so the real local stack shows no difference: this is the Azure case."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.table import at_least, row  # noqa: E402
from shared import bootstrap  # noqa: E402
from shared.adapters.local import system_events as topics  # noqa: E402
from shared.adapters.project_files import load_smoke_set  # noqa: E402
from shared.devhost import delivery  # noqa: E402
from shared.domain.values import ModelRef  # noqa: E402
from shared.ports import NotFound  # noqa: E402
from shared.services.deps import Deps  # noqa: E402
from shared.settings import Settings, service_settings  # noqa: E402
from tests.conftest import ACCOUNT, STORAGE_TOPIC, WORKSPACE_TOPIC  # noqa: E402
from tests.fakes import (  # noqa: E402
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)
from tests.fakes.ml_platform import GOOD_TAGS, FakeMLPlatform  # noqa: E402
from tests.unit.job_event_samples import sample  # noqa: E402

TICK = 60.0  # reconcileSchedule '0 */1 * * * *'
TRAINING = 300.0  # from submission to the job's end: the same with and without run events
# The documented waits (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h) read as successive.
RETRIES = (0.0, 10.0, 40.0, 100.0, 400.0, 1000.0, 2800.0, 6400.0)
# Seconds from train.py's registration to the job's end (outputs and logs uploaded, the job
# finalized): not documented, so every 15 s from 0 to 5 min, and the figure is the mean.
GAPS = tuple(float(gap) for gap in range(0, 301, 15))
HORIZON = 4 * 3600.0
MODEL = "spam-classifier"


class Simulation:
    def __init__(self, *, run_events: bool, gap: float) -> None:
        settings = Settings(storage_account_url=ACCOUNT)
        self.clock = FakeClock()
        smoke = load_smoke_set(REPO / "shared" / "smoke_set.tsv")
        self.platform = FakeMLPlatform(smoke)
        self.state = InMemoryStateStore()
        self.platform.app_state = self.state
        self.blobs = InMemoryBlobStore(ACCOUNT)
        self.deps = Deps(
            service_settings(settings),
            self.platform,
            self.blobs,
            self.state,
            NoSecrets(),
            RecordingAuditSink(self.clock),
            self.clock,
            smoke,
            InMemoryContainerRegistry(self.clock),
        )
        self.run_events, self.gap = run_events, gap
        self.now = 0.0
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.job = ""
        self.rollout_started: float | None = None
        self.registered_delivered = False

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (when, next(self.order), action))

    def run(self) -> tuple[float | None, float | None]:
        """(rollout started, serving) in seconds after the upload."""
        bootstrap.install(self.deps)
        try:
            upload = self.blobs.put("spam/part-1.csv", b"label,text\nham,hi\nspam,WIN now\n")
            self.at(0.0, lambda: delivery.invoke("on_blob_created", self._blob(upload)))
            for tick in range(1, int(HORIZON / TICK)):
                self.at(tick * TICK, self._tick)
            while self.queue:
                when, _, action = heapq.heappop(self.queue)
                self.clock.advance(when - self.now)
                self.now = when
                action()
                if self.rollout_started is None and self.deps.state.list("rollout"):
                    self.rollout_started = self.now
                if self._serving():
                    return self.rollout_started, self.now
            return self.rollout_started, None
        finally:
            bootstrap.install(None)

    def _blob(self, props: Any) -> dict[str, Any]:
        return topics.blob_created(STORAGE_TOPIC, props)

    def _tick(self) -> None:
        from azure.functions.timer import TimerRequest

        from shared.devhost.functions_registry import user_function

        user_function("reconcile_rollouts", "timerTrigger")(TimerRequest())
        if not self.job and self.platform.submitted:
            self.job = self.platform.submitted[0].name
            ends = self.now + TRAINING
            self.at(ends - self.gap, self._registered)
            self.at(ends, self._completed)

    def _registered(self) -> None:
        [request] = self.platform.submitted
        lineage = {**GOOD_TAGS, **request.tags, "job_name": self.job}
        self.platform.add_model(MODEL, "1", lineage, job=self.job)  # the job still runs
        event = _model_registered(lineage)
        registered_at = self.now
        for offset in RETRIES:
            self.at(registered_at + offset, lambda: self._attempt(event))

    def _attempt(self, event: dict[str, Any]) -> None:
        if self.registered_delivered:
            return
        try:
            delivery.invoke("on_model_registered", event)
        except Exception:  # TransientError while the job runs: Event Grid tries again
            return
        self.registered_delivered = True

    def _completed(self) -> None:
        self.platform.finish_job(self.job, ModelRef(MODEL, "1"))
        if self.run_events:
            event = sample("RunCompleted/EventGrid", runId=self.job, experimentName=MODEL)
            event["topic"] = WORKSPACE_TOPIC
            delivery.invoke("on_job_finished", event)

    def _serving(self) -> bool:
        try:
            endpoint = self.platform.get_endpoint(self.deps.settings.endpoint_name)
        except NotFound:  # the first rollout creates it
            return False
        if endpoint.serving is None or endpoint.traffic.get(endpoint.serving) != 100:
            return False
        deployment = self.platform.get_deployment(endpoint.name, endpoint.serving)
        return deployment.model == ModelRef(MODEL, "1")


def _model_registered(tags: dict[str, str]) -> dict[str, Any]:
    from tests.conftest import model_registered

    return model_registered(MODEL, "1", tags)


def main() -> dict[str, Any]:
    logging.disable(logging.WARNING)
    cases: list[dict[str, Any]] = []
    served: list[tuple[float | None, float | None]] = []
    for gap in GAPS:
        without = Simulation(run_events=False, gap=gap).run()
        with_events = Simulation(run_events=True, gap=gap).run()
        cases.append({"gap_seconds": gap, "without": without, "with": with_events})
        served.append((without[1], with_events[1]))
    measured = [(a, b) for a, b in served if a is not None and b is not None]
    saved = [a - b for a, b in measured]
    value = round(statistics.mean(saved), 1) if len(measured) == len(cases) else None
    detail = (
        f"upload to serving, mean over a registration-to-end gap of 0-300 s:"
        f" {statistics.mean(a for a, _ in measured):.0f} s without run events,"
        f" {statistics.mean(b for _, b in measured):.0f} s with them; saved {min(saved):.0f} to"
        f" {max(saved):.0f} s, in {sum(x > 0 for x in saved)} of {len(saved)} gaps. The app's"
        f" functions on fakes and a virtual clock: timer every {TICK:.0f} s (rollout steps land"
        f" on its ticks), {TRAINING:.0f} s of training, Event Grid's retry schedule for the"
        " ModelRegistered that meets a running job. Locally the gap is nil: nothing changes"
    )
    figure = "upload to serving: saved by RunCompleted (Azure's timings)"
    return {
        "rows": [row(figure, value, "s", "> 0 s", at_least(value, 0.1), detail)],
        "cases": cases,
    }


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
