"""Audit records shaped into what the report draws: model versions (metrics and gate
decision), rollout lanes (phases with their audit times) and outcome counts by action.

Pure functions of the records: no I/O, no clock (``generated_at`` closes open rollouts).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.domain.audit import OUTCOMES, AuditRecord
from shared.ops.render.report.svg import clip
from shared.ops.render.text import short_actor
from shared.ops.views import live_check
from shared.ops.views.metrics import CHARTED
from shared.ops.views.metrics import METRICS as ALL_METRICS

METRICS = CHARTED
TABLE_METRICS = ALL_METRICS
DECISIONS = ("passed", "failed", "rejected")
ENDINGS = ("completed", "rolled_back", "superseded", "failed")
IN_PROGRESS = "in progress"


@dataclass(frozen=True)
class ModelVersionPoint:
    """A registered model version as the gate last judged it."""

    target: str  # name@version as audited: attacker-influenced when rejected
    label: str  # "v3" for the app's model, else the target
    time: datetime
    seq: int
    metrics: Mapping[str, float]  # only tags that parse as finite numbers
    decision: str  # one of DECISIONS
    reason: str


@dataclass(frozen=True)
class Step:
    phase: str
    start: datetime
    reason: str


@dataclass(frozen=True)
class RolloutLane:
    rollout_id: str
    kind: str
    model: str
    deployment: str
    requested_by: str
    steps: tuple[Step, ...]  # the phases before the ending, in audit order
    ending: str  # one of ENDINGS, or IN_PROGRESS
    start: datetime
    end: datetime
    ending_reason: str
    live: str = ""  # the live numbers its canary decision used (views/live_check.py)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def segments(self) -> list[tuple[Step, float, float]]:
        """Each phase with its start and end, in seconds since the lane's start."""
        bounds = [*(s.start for s in self.steps[1:]), self.end]
        return [
            (step, _since(self.start, step.start), _since(self.start, until))
            for step, until in zip(self.steps, bounds, strict=True)
        ]


@dataclass(frozen=True)
class ReportData:
    records: int
    first: datetime | None
    last: datetime | None
    versions: tuple[ModelVersionPoint, ...]  # by registration time
    rollouts: tuple[RolloutLane, ...]  # by start time
    outcomes: Mapping[str, Mapping[str, int]]  # action -> outcome -> count, actions sorted


def shape(records: Sequence[AuditRecord], generated_at: datetime) -> ReportData:
    times = [t for t in (parse_time(r.time) for r in records) if t is not None]
    return ReportData(
        records=len(records),
        first=min(times, default=None),
        last=max(times, default=None),
        versions=model_versions(records),
        rollouts=rollout_lanes(records, generated_at),
        outcomes=outcome_counts(records),
    )


def parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def model_versions(records: Iterable[AuditRecord]) -> tuple[ModelVersionPoint, ...]:
    """One point per model version: its last gate decision (duplicates decide nothing)."""
    latest: dict[str, AuditRecord] = {}
    for record in records:
        if record.action == "model.registered" and record.outcome != "duplicate":
            latest[record.target] = record
    names = Counter(target.rpartition("@")[0] for target in latest)
    main = names.most_common(1)[0][0] if names else ""
    points = [_version_point(r, main) for r in latest.values()]
    return tuple(sorted((p for p in points if p), key=lambda p: (p.time, p.seq)))


def _version_point(record: AuditRecord, main_name: str) -> ModelVersionPoint | None:
    when = parse_time(record.time)
    if when is None:
        return None
    tags = _mapping(record.details.get("tags"))
    name, _, version = record.target.rpartition("@")
    decision = decide(record.outcome, tags.get("gate"))
    gate_reason = str(tags.get("gate_reason", ""))
    return ModelVersionPoint(
        target=record.target,
        label=clip(f"v{version}" if name == main_name and version else record.target, 40),
        time=when,
        seq=record.seq,
        metrics={k: v for k in TABLE_METRICS if (v := _metric(tags.get(k))) is not None},
        decision=decision,
        reason=gate_reason if decision == "passed" and gate_reason else record.reason,
    )


def decide(outcome: str, gate: object) -> str:
    """passed: deployed; failed: the training job's gate said no; rejected: refused here
    (no gate tag, below a floor, not this app's model)."""
    if outcome == "accepted":
        return "passed"
    return "failed" if isinstance(gate, str) and gate and gate != "passed" else "rejected"


def _metric(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def rollout_lanes(
    records: Iterable[AuditRecord], generated_at: datetime
) -> tuple[RolloutLane, ...]:
    grouped: dict[str, list[AuditRecord]] = defaultdict(list)
    for record in records:
        rid = record.details.get("rollout_id")
        if record.action.startswith("rollout.") and isinstance(rid, str) and rid:
            grouped[rid].append(record)
    lanes = [_lane(rid, group, generated_at) for rid, group in grouped.items()]
    return tuple(sorted((lane for lane in lanes if lane), key=lambda lane: lane.start))


def _lane(rid: str, group: list[AuditRecord], generated_at: datetime) -> RolloutLane | None:
    timed = [(t, r) for r in group if (t := parse_time(r.time)) is not None]
    if not timed:
        return None
    timed.sort(key=lambda pair: pair[1].seq)
    steps = [Step(r.action.removeprefix("rollout."), t, r.reason) for t, r in timed]
    last_time, last = timed[-1]
    if steps[-1].phase in ENDINGS:
        ending, end, ending_reason = steps.pop().phase, last_time, last.reason
    else:  # still running: its current phase lasts until the report was made
        ending, end, ending_reason = IN_PROGRESS, max(generated_at, last_time), ""
    first = timed[0][1]
    deployment, _, model = first.target.partition(" ")
    return RolloutLane(
        rollout_id=rid,
        kind=str(first.details.get("kind", "")),
        model=model or deployment,
        deployment=last.target.partition(" ")[0],
        requested_by=clip(requester(first.details, first.actor), 60),
        steps=tuple(steps),
        ending=ending,
        start=timed[0][0],
        end=end,
        ending_reason=ending_reason,
        live=live_check.summary(live_check.by_rollout(group).get(rid)),
    )


def requester(details: Mapping[str, Any], actor: str) -> str:
    """The operator's name when a person asked, else the event source's short name."""
    name = _mapping(details.get("principal")).get("name")
    if isinstance(name, str) and name:
        return name
    return short_actor(str(details.get("requested_by") or actor))


def outcome_counts(records: Iterable[AuditRecord]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        counts[record.action][record.outcome] += 1
    order: dict[str, int] = {name: i for i, name in enumerate(OUTCOMES)}
    return {
        action: dict(sorted(counts[action].items(), key=lambda kv: order.get(kv[0], 99)))
        for action in sorted(counts)
    }


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _since(start: datetime, moment: datetime) -> float:
    return max((moment - start).total_seconds(), 0.0)
