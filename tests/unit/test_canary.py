"""The canary's verdict on live traffic (shared/domain/canary.py)."""

from __future__ import annotations

import pytest

from shared.domain.canary import Margins, TrafficSample, Verdict, judge

MARGINS = Margins(
    min_requests=20, max_error_rate_excess=0.02, max_p95_ratio=1.5, max_p95_slack_ms=25
)
SERVING = TrafficSample(requests=900, errors=9, p95_ms=40.0)  # 1.0% 5xx


def test_a_canary_within_every_margin_is_promoted_and_the_reason_carries_the_numbers() -> None:
    canary = TrafficSample(requests=100, errors=2, p95_ms=80.0)  # 2.0%; p95 <= 40*1.5+25
    result = judge(SERVING, canary, MARGINS, out_of_time=False)
    assert result.verdict == Verdict.PROMOTE
    assert result.reason == (
        "live traffic within margins (canary 2/100 5xx (2.0%), p95 80 ms;"
        " serving 9/900 5xx (1.0%), p95 40 ms)"
    )


def test_a_canary_failing_more_requests_than_the_margin_allows_is_rolled_back() -> None:
    canary = TrafficSample(requests=100, errors=4, p95_ms=30.0)  # 4% > 1% + 2%
    result = judge(SERVING, canary, MARGINS, out_of_time=False)
    assert result.verdict == Verdict.ROLL_BACK
    assert result.reason.startswith("live traffic: canary 5xx rate 4.0% above the allowed 3.0%")
    assert "canary 4/100 5xx" in result.reason and "serving 9/900 5xx" in result.reason


def test_the_error_margin_is_inclusive() -> None:
    canary = TrafficSample(requests=100, errors=3, p95_ms=30.0)  # exactly 1% + 2%
    assert judge(SERVING, canary, MARGINS, out_of_time=False).verdict == Verdict.PROMOTE


def test_a_canary_slower_than_the_latency_margin_is_rolled_back() -> None:
    canary = TrafficSample(requests=100, errors=0, p95_ms=86.0)  # > 40*1.5 + 25 = 85
    result = judge(SERVING, canary, MARGINS, out_of_time=False)
    assert result.verdict == Verdict.ROLL_BACK
    assert result.reason.startswith("live traffic: canary p95 86 ms above the allowed 85 ms")


def test_the_latency_slack_keeps_tiny_latencies_from_failing_on_their_ratio() -> None:
    serving = TrafficSample(requests=500, errors=0, p95_ms=2.0)
    canary = TrafficSample(requests=50, errors=0, p95_ms=6.0)  # 3x, but within 2*1.5+25
    assert judge(serving, canary, MARGINS, out_of_time=False).verdict == Verdict.PROMOTE


def test_a_missing_latency_is_not_compared_but_errors_still_are() -> None:
    serving = TrafficSample(requests=500, errors=0, p95_ms=None)
    clean = TrafficSample(requests=50, errors=0, p95_ms=None)
    failing = TrafficSample(requests=50, errors=5, p95_ms=None)
    assert judge(serving, clean, MARGINS, out_of_time=False).verdict == Verdict.PROMOTE
    assert judge(serving, failing, MARGINS, out_of_time=False).verdict == Verdict.ROLL_BACK
    assert "p95 n/a" in judge(serving, clean, MARGINS, out_of_time=False).reason


def test_too_little_traffic_keeps_the_canary_baking_until_the_cap() -> None:
    canary = TrafficSample(requests=19, errors=0, p95_ms=10.0)
    waiting = judge(SERVING, canary, MARGINS, out_of_time=False)
    assert waiting.verdict == Verdict.WAIT
    assert waiting.reason.startswith("live traffic: 19 of 20 canary requests so far")


def test_a_canary_with_too_little_traffic_at_the_cap_is_rolled_back_by_default() -> None:
    canary = TrafficSample(requests=3, errors=0, p95_ms=10.0)
    result = judge(SERVING, canary, MARGINS, out_of_time=True)
    assert result.verdict == Verdict.ROLL_BACK
    assert "3 of 20 canary requests by the cap; not enough to judge" in result.reason


def test_an_operator_may_promote_a_quiet_endpoint_s_canary_on_the_smoke_test_alone() -> None:
    quiet = Margins(min_requests=20, without_traffic="promote")
    result = judge(SERVING, TrafficSample(0, 0, None), quiet, out_of_time=True)
    assert result.verdict == Verdict.PROMOTE
    assert "promoted on the smoke test" in result.reason


def test_too_few_requests_are_not_judged_even_when_they_all_failed() -> None:
    # A handful of failures is the smoke test's business; live numbers need a sample.
    canary = TrafficSample(requests=5, errors=5, p95_ms=10.0)
    assert judge(SERVING, canary, MARGINS, out_of_time=False).verdict == Verdict.WAIT


def test_a_serving_deployment_without_traffic_counts_as_error_free() -> None:
    canary = TrafficSample(requests=20, errors=1, p95_ms=10.0)  # 5% > 0% + 2%
    idle = TrafficSample(0, 0, None)
    assert judge(idle, canary, MARGINS, out_of_time=False).verdict == Verdict.ROLL_BACK


def test_the_audit_details_keep_both_samples_and_the_margins() -> None:
    canary = TrafficSample(requests=100, errors=4, p95_ms=30.0)
    details = judge(SERVING, canary, MARGINS, out_of_time=False).details()
    assert details == {
        "verdict": "roll_back",
        "serving": {"requests": 900, "errors": 9, "error_rate": 0.01, "p95_ms": 40.0},
        "canary": {"requests": 100, "errors": 4, "error_rate": 0.04, "p95_ms": 30.0},
        "margins": {
            "min_requests": 20,
            "max_error_rate_excess": 0.02,
            "max_p95_ratio": 1.5,
            "max_p95_slack_ms": 25,
            "without_traffic": "roll_back",
        },
    }


@pytest.mark.parametrize(
    ("requests", "errors", "p95"), [(-1, 0, None), (3, 4, None), (3, -1, None), (3, 0, -1.0)]
)
def test_impossible_samples_are_refused(requests: int, errors: int, p95: float | None) -> None:
    with pytest.raises(ValueError):
        TrafficSample(requests, errors, p95)


@pytest.mark.parametrize(
    "fields",
    [
        {"min_requests": 0},
        {"max_error_rate_excess": -0.1},
        {"max_error_rate_excess": 1.5},
        {"max_p95_ratio": 0.9},
        {"max_p95_slack_ms": -1},
    ],
)
def test_impossible_margins_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Margins(**fields)  # type: ignore[arg-type]
