"""The canary phase judged on live traffic as well as the smoke set: through the timer
function, with the fake platform and a live-traffic source whose samples a test sets."""

from __future__ import annotations

import html
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from shared import bootstrap
from shared.domain.audit import AuditRecord, ChainReport
from shared.domain.canary import TrafficSample
from shared.domain.rollout import Phase, Rollout
from shared.domain.values import ModelRef
from shared.ops.render.report import build_report
from shared.ops.render.tables import render
from shared.ops.render.text import story_text
from shared.ops.views.report import shape
from shared.ops.views.status import build_status
from shared.ops.views.story import explain
from shared.ports import AccessDenied, TransientError
from shared.services.rollouts import ROLLOUT
from tests.conftest import World, model_registered
from tests.fakes import RecordedLiveTraffic

ENDPOINT, MODEL = "spam-endpoint", "spam-classifier"
CLEAN = TrafficSample(requests=400, errors=2, p95_ms=30.0)
NOW = datetime(2025, 1, 2, tzinfo=UTC)


@pytest.fixture
def live(world: World) -> RecordedLiveTraffic:
    """The world's services with a live-traffic source (canary bake 300 s, cap 3,600 s)."""
    traffic = RecordedLiveTraffic()
    world.deps = replace(world.deps, traffic=traffic)
    bootstrap.install(world.deps)
    return traffic


def rollouts(world: World) -> list[Rollout]:
    return [Rollout.from_dict(s.value) for s in world.state.list(ROLLOUT)]


def register(world: World, version: str) -> None:
    good = {"gate": "passed", "gate_reason": "ok", "accuracy": "0.99", "f1": "0.96"}
    world.platform.add_model(MODEL, version, good)
    world.deliver("on_model_registered", model_registered(MODEL, version, {"gate": "passed"}))


def to_canary(world: World) -> Rollout:
    """v1 serving on blue, v2 on green at its 10% canary share."""
    register(world, "1")
    for _ in range(4):
        world.reconcile()
    register(world, "2")
    world.reconcile()
    world.reconcile()
    canary = rollouts(world)[-1]
    assert canary.phase == Phase.CANARY
    assert world.platform.traffic[ENDPOINT] == {"blue": 90, "green": 10}
    return canary


def bake(world: World, seconds: float) -> Rollout:
    world.clock.advance(seconds)
    world.reconcile()
    return rollouts(world)[-1]


def test_a_canary_with_clean_live_traffic_is_promoted_with_its_numbers_audited(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=45, errors=0, p95_ms=35.0)
    canary = to_canary(world)

    assert bake(world, 299).phase == Phase.CANARY
    assert live.asked == []  # nothing is judged before the bake time
    promoted = bake(world, 1)

    assert promoted.phase in (Phase.PROMOTED, Phase.COMPLETED)
    assert world.platform.traffic[ENDPOINT] == {"green": 100}
    start = canary.history[-1].time
    asked = [(d, s.isoformat(timespec="seconds"), e) for _, d, s, e in live.asked]
    assert asked == [("blue", start, world.clock.now()), ("green", start, world.clock.now())]
    *_, record = [e for e in world.audit.entries if e.action == "rollout.promoted"]
    assert "smoke re-score accuracy" in record.reason
    assert "live traffic within margins (canary 0/45 5xx (0.0%), p95 35 ms;" in record.reason
    assert record.details["live"]["canary"] == {
        "requests": 45,
        "errors": 0,
        "error_rate": 0.0,
        "p95_ms": 35.0,
    }
    assert record.details["live"]["serving"]["requests"] == 400
    assert record.details["live"]["verdict"] == "promote"


def test_a_canary_failing_live_requests_is_rolled_back_with_the_numbers(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=44, errors=6, p95_ms=31.0)
    to_canary(world)

    done = bake(world, 300)

    assert done.phase == Phase.ROLLED_BACK
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    assert "green" in world.platform.deleted
    [record] = [e for e in world.audit.entries if e.action == "rollout.rolled_back"]
    assert record.outcome == "rolled_back"
    assert record.reason.startswith(
        "live traffic: canary 5xx rate 13.6% above the allowed 2.5% (canary 6/44 5xx (13.6%),"
    )
    assert record.reason.endswith("traffic back on blue")
    assert record.details["live"]["verdict"] == "roll_back"
    assert record.details["live"]["canary"]["errors"] == 6


def test_a_slow_canary_is_rolled_back(world: World, live: RecordedLiveTraffic) -> None:
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=50, errors=0, p95_ms=200.0)
    to_canary(world)
    done = bake(world, 300)
    assert done.phase == Phase.ROLLED_BACK
    assert "canary p95 200 ms above the allowed 70 ms" in done.history[-1].note


def test_a_canary_without_enough_traffic_bakes_on_and_is_rolled_back_at_the_cap(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=3, errors=0, p95_ms=30.0)
    to_canary(world)

    assert bake(world, 300).phase == Phase.CANARY  # waiting for traffic, no record
    assert bake(world, 3000).phase == Phase.CANARY
    assert world.platform.traffic[ENDPOINT] == {"blue": 90, "green": 10}
    done = bake(world, 300)  # 3,600 s: the cap

    assert done.phase == Phase.ROLLED_BACK
    assert "3 of 20 canary requests by the cap; not enough to judge" in done.history[-1].note
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}


def test_a_metrics_source_that_is_down_is_waited_for_until_the_cap(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.failure = TransientError("metrics API: HTTP 503")
    to_canary(world)
    assert bake(world, 300).phase == Phase.CANARY
    done = bake(world, 3300)
    assert done.phase == Phase.ROLLED_BACK
    assert done.history[-1].note.startswith("live traffic still unreadable at the cap: metrics")


def test_a_metrics_source_that_refuses_the_app_rolls_the_canary_back_at_once(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.failure = AccessDenied("HTTP 403; it needs Monitoring Reader on the workspace")
    to_canary(world)
    done = bake(world, 300)
    assert done.phase == Phase.ROLLED_BACK
    assert "live traffic could not be read: HTTP 403" in done.history[-1].note


def test_a_canary_re_score_failure_says_it_was_the_re_score(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=50, errors=0, p95_ms=30.0)
    to_canary(world)
    world.platform.behaviour[ModelRef(MODEL, "2")] = "down"  # stops answering mid-canary

    done = bake(world, 300)

    assert done.phase == Phase.ROLLED_BACK
    assert done.history[-1].note.startswith(
        "canary re-score: green did not answer the smoke test: green is not answering"
    )


class _Trail:
    """The recording sink as the audit trail `mlops status` reads."""

    def __init__(self, world: World) -> None:
        self.sink = world.audit

    def records(self, *, action_prefix: str = "") -> list[AuditRecord]:
        return [r for r in self.sink.records if r.action.startswith(action_prefix)]

    def verify(self) -> ChainReport:
        return ChainReport(True, len(self.sink.records))


class _NoEvents:
    def pending(self) -> int:
        return 0

    def dead_letters(self) -> list[Path]:
        return []


def test_status_explain_and_the_report_show_the_live_numbers_the_decision_used(
    world: World, live: RecordedLiveTraffic
) -> None:
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=44, errors=6, p95_ms=31.0)
    to_canary(world)
    done = bake(world, 300)
    shown = "roll_back: canary 6/44 5xx (13.6%), p95 31 ms vs serving 2/400 5xx (0.5%), p95 30 ms"

    report = build_status(world.deps, _NoEvents(), _Trail(world))
    [recent] = [r for r in report["recent_rollouts"] if r["id"] == done.id]
    assert recent["live"] == shown
    out = io.StringIO()
    render(report, Console(file=out, width=200, highlight=False))
    assert shown in out.getvalue()

    story = story_text(explain(world.audit.records, done.id))
    assert f"live traffic: {shown}" in story

    [lane] = [
        lane for lane in shape(world.audit.records, NOW).rollouts if lane.rollout_id == done.id
    ]
    assert lane.live == shown
    assert html.escape(shown) in build_report(world.audit.records, None, None, NOW)


def test_with_late_metrics_the_canary_is_judged_on_a_window_that_ends_the_delay_before_now(
    world: World, live: RecordedLiveTraffic
) -> None:
    """Azure Monitor ingests metrics minutes late: the bake counts only what the source has
    seen, so a canary failing in its last minutes is still in the numbers (decision 269)."""
    settings = replace(world.deps.settings, canary_metrics_delay_seconds=180.0)
    world.deps = replace(world.deps, settings=settings)
    bootstrap.install(world.deps)
    live.samples[(ENDPOINT, "blue")] = CLEAN
    live.samples[(ENDPOINT, "green")] = TrafficSample(requests=45, errors=0, p95_ms=35.0)
    canary = to_canary(world)

    assert bake(world, 300).phase == Phase.CANARY  # the bake, but not yet as the source sees it
    assert live.asked == []
    promoted = bake(world, 180)

    assert promoted.phase in (Phase.PROMOTED, Phase.COMPLETED)
    start = datetime.fromisoformat(canary.phase_since)
    ends = {end for *_, end in live.asked}
    assert ends == {world.clock.now() - timedelta(seconds=180)}
    assert all(end - start == timedelta(seconds=300) for end in ends)
