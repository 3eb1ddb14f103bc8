"""The canary's verdict on live traffic: what users saw from the canary during its bake time,
next to what they saw from the deployment serving beside it.

A canary is promoted only when its server-error rate and its p95 latency stay within the
configured margins of the serving deployment's over the same window, and only once it has
answered enough real requests for those numbers to mean something. Until then it keeps
baking; a canary that never gets enough traffic before the cap is judged by
``Margins.without_traffic``: rolled back by default (no evidence is not good evidence), or
promoted on the smoke test alone where an operator has chosen that for a quiet endpoint.

Pure: the numbers come from a ``LiveTraffic`` port (Azure Monitor, or the local router).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


@dataclass(frozen=True)
class TrafficSample:
    """One deployment's live requests over a window, as the endpoint counted them.

    ``errors`` are the requests the deployment failed (5xx, unreachable, timed out); a
    caller's bad request (4xx) is the caller's fault and not counted. ``p95_ms`` is None
    when the source reported no latency for the window."""

    requests: int
    errors: int
    p95_ms: float | None

    def __post_init__(self) -> None:
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise ValueError(f"need 0 <= errors <= requests, got {self.errors}/{self.requests}")
        if self.p95_ms is not None and self.p95_ms < 0:
            raise ValueError(f"p95 latency cannot be negative: {self.p95_ms}")

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def describe(self) -> str:
        """``5/100 5xx (5.0%), p95 12 ms``: the numbers an audit reason carries."""
        p95 = "p95 n/a" if self.p95_ms is None else f"p95 {self.p95_ms:.0f} ms"
        return f"{self.errors}/{self.requests} 5xx ({self.error_rate:.1%}), {p95}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "p95_ms": None if self.p95_ms is None else round(self.p95_ms, 3),
        }


@dataclass(frozen=True)
class Margins:
    """How far a canary may fall behind the serving deployment and still be promoted."""

    min_requests: int = 20  # canary requests in the window before its numbers count
    max_error_rate_excess: float = 0.02  # canary 5xx rate <= serving's + this (a fraction)
    max_p95_ratio: float = 1.5  # canary p95 <= serving p95 * this + max_p95_slack_ms ...
    max_p95_slack_ms: float = 25.0  # ... so 2 ms against 4 ms is not a "100% regression"
    without_traffic: Literal["roll_back", "promote"] = "roll_back"

    def __post_init__(self) -> None:
        if self.min_requests < 1:
            raise ValueError("min_requests must be at least 1")
        if not 0 <= self.max_error_rate_excess <= 1:
            raise ValueError("max_error_rate_excess is a fraction between 0 and 1")
        if self.max_p95_ratio < 1 or self.max_p95_slack_ms < 0:
            raise ValueError("max_p95_ratio must be >= 1 and max_p95_slack_ms >= 0")

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_requests": self.min_requests,
            "max_error_rate_excess": self.max_error_rate_excess,
            "max_p95_ratio": self.max_p95_ratio,
            "max_p95_slack_ms": self.max_p95_slack_ms,
            "without_traffic": self.without_traffic,
        }


class Verdict(StrEnum):
    PROMOTE = "promote"
    ROLL_BACK = "roll_back"
    WAIT = "wait"  # not enough traffic yet: keep baking


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str  # carries the numbers it rests on
    serving: TrafficSample
    canary: TrafficSample
    margins: Margins

    def details(self) -> dict[str, Any]:
        """What an audit record keeps, so `mlops explain` and the report can show it."""
        return {
            "verdict": self.verdict.value,
            "serving": self.serving.to_dict(),
            "canary": self.canary.to_dict(),
            "margins": self.margins.to_dict(),
        }


def judge(
    serving: TrafficSample, canary: TrafficSample, margins: Margins, *, out_of_time: bool
) -> Judgement:
    """The verdict on ``canary`` next to ``serving`` over the same window. ``out_of_time``:
    the bake time has reached its cap, so waiting for more traffic is no longer an answer."""

    def verdict(kind: Verdict, reason: str) -> Judgement:
        numbers = f"canary {canary.describe()}; serving {serving.describe()}"
        return Judgement(kind, f"{reason} ({numbers})", serving, canary, margins)

    if canary.requests < margins.min_requests:
        short = f"live traffic: {canary.requests} of {margins.min_requests} canary requests"
        if not out_of_time:
            return verdict(Verdict.WAIT, f"{short} so far")
        if margins.without_traffic == "promote":
            return verdict(Verdict.PROMOTE, f"{short} by the cap; promoted on the smoke test")
        return verdict(Verdict.ROLL_BACK, f"{short} by the cap; not enough to judge")
    allowed_rate = serving.error_rate + margins.max_error_rate_excess
    if canary.error_rate > allowed_rate:
        return verdict(
            Verdict.ROLL_BACK,
            f"live traffic: canary 5xx rate {canary.error_rate:.1%} above the allowed "
            f"{allowed_rate:.1%}",
        )
    if canary.p95_ms is not None and serving.p95_ms is not None:
        allowed_p95 = serving.p95_ms * margins.max_p95_ratio + margins.max_p95_slack_ms
        if canary.p95_ms > allowed_p95:
            return verdict(
                Verdict.ROLL_BACK,
                f"live traffic: canary p95 {canary.p95_ms:.0f} ms above the allowed "
                f"{allowed_p95:.0f} ms",
            )
    return verdict(Verdict.PROMOTE, "live traffic within margins")
