"""`mlops explain`: the whole story of one event or operation, from the audit trail alone.

An upload's records do not share one correlation id: the event's own records carry the
event id, training carries the coalescing window's first event id, the model's records the
model event's id, and its rollout that same id. The links are in the records themselves
(``details.window_id``, the model's ``tags.window_id`` / ``tags.job_name``, and
``details.rollout_id``; shared/domain/audit_links.py), so the story is the closure over those
links, read through a ``Trail`` whose indexes make its cost proportional to the story.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.domain.audit import AuditRecord
from shared.domain.audit_links import links

# The stage a record tells, by action prefix, in the order a story runs.
_STAGES = (
    ("event.", "event"),
    ("data.", "event"),
    ("image.", "event"),
    ("training.", "training"),
    ("model.", "model"),
    ("operator.", "operator"),
    ("api.", "operator"),
    ("rollout.", "rollout"),
)
MIN_PREFIX = 6


class StoryNotFound(LookupError):
    pass


class AmbiguousId(LookupError):
    pass


@dataclass(frozen=True)
class Step:
    record: AuditRecord
    stage: str
    offset: float  # seconds since the story's first record
    took: float  # seconds since the previous step


@dataclass(frozen=True)
class Story:
    key: str
    correlation_ids: tuple[str, ...]
    steps: tuple[Step, ...]
    spans: Mapping[str, float] = field(default_factory=dict)  # e.g. "training": 5.2

    @property
    def outcome(self) -> str:
        return _outcome(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "correlation_ids": list(self.correlation_ids),
            "outcome": self.outcome,
            "spans_seconds": dict(self.spans),
            "steps": [
                {
                    "stage": s.stage,
                    "offset_seconds": round(s.offset, 3),
                    "took_seconds": round(s.took, 3),
                    **s.record.to_dict(),
                }
                for s in self.steps
            ],
        }


class Trail(Protocol):
    """What a story is read through: each call costs what it returns, so the local trail
    answers from its indexes (correlation id, link ids, target) and the cost of a story is
    proportional to the story, not to the trail."""

    def story_records(self, correlation_ids: Collection[str]) -> list[AuditRecord]:
        """Every record with one of these correlation ids, in sequence order."""
        ...

    def linked_correlations(self, links: Collection[str]) -> set[str]:
        """The correlation ids of the records that carry one of these link ids."""
        ...

    def targeted_correlations(self, target: str) -> set[str]: ...

    def prefixed_correlations(self, prefix: str) -> set[str]: ...


class RecordsTrail:
    """A trail held in memory (an export, a test's records), indexed once on construction."""

    def __init__(self, records: Iterable[AuditRecord]) -> None:
        self._by_correlation: dict[str, list[AuditRecord]] = defaultdict(list)
        self._by_link: dict[str, set[str]] = defaultdict(set)
        self._by_target: dict[str, set[str]] = defaultdict(set)
        for record in records:
            self._by_correlation[record.correlation_id].append(record)
            self._by_target[record.target].add(record.correlation_id)
            for link in record_links(record):
                self._by_link[link].add(record.correlation_id)

    def story_records(self, correlation_ids: Collection[str]) -> list[AuditRecord]:
        found = (r for c in correlation_ids for r in self._by_correlation.get(c, ()))
        return sorted(found, key=_seq)

    def linked_correlations(self, links: Collection[str]) -> set[str]:
        return set().union(*(self._by_link.get(link, ()) for link in links))

    def targeted_correlations(self, target: str) -> set[str]:
        return set(self._by_target.get(target, ()))

    def prefixed_correlations(self, prefix: str) -> set[str]:
        return {c for c in self._by_correlation if c.startswith(prefix)}


def explain(records: Sequence[AuditRecord] | Trail, key: str) -> Story:
    """The story ``key`` names: a correlation id (or a unique prefix of one), an operation or
    rollout id, a coalescing window id, a job name, or a model reference such as
    ``spam-classifier@3``."""
    trail = RecordsTrail(records) if isinstance(records, Sequence) else records
    chosen = _closure(trail, _seeds(trail, key))
    steps = _steps(chosen)
    ordered = tuple(dict.fromkeys(r.correlation_id for r in chosen))
    return Story(key, ordered, steps, _spans(chosen))


def stage(record: AuditRecord) -> str:
    for prefix, name in _STAGES:
        if record.action.startswith(prefix):
            return name
    return "other"


def record_links(record: AuditRecord) -> set[str]:
    return links(record.action, record.target, record.details)


def _seq(record: AuditRecord) -> int:
    return record.seq


def _seeds(trail: Trail, key: str) -> set[str]:
    key = key.strip()
    if not key:
        raise StoryNotFound("give a correlation id, operation id, job name or model@version")
    if trail.story_records([key]):
        return {key}
    linked = trail.linked_correlations([key]) | trail.targeted_correlations(key)
    if linked:
        return linked
    if len(key) >= MIN_PREFIX:
        prefixed = trail.prefixed_correlations(key)
        if len(prefixed) > 1:
            shown = ", ".join(sorted(prefixed)[:5])
            raise AmbiguousId(f"{key!r} starts {len(prefixed)} correlation ids: {shown}")
        if prefixed:
            return prefixed
    raise StoryNotFound(f"no audit record mentions {key!r}")


def _closure(trail: Trail, seeds: set[str]) -> list[AuditRecord]:
    """The records of every correlation id reachable from ``seeds`` through link ids."""
    correlations = set(seeds)
    while True:
        records = trail.story_records(correlations)
        links_seen = set().union(*(record_links(r) for r in records))
        grown = trail.linked_correlations(links_seen)
        if grown <= correlations:
            return records
        correlations |= grown


def _steps(records: Sequence[AuditRecord]) -> tuple[Step, ...]:
    if not records:
        return ()
    start = _time(records[0])
    steps, previous = [], start
    for record in records:
        moment = _time(record)
        steps.append(
            Step(record, stage(record), (moment - start).total_seconds(), _gap(previous, moment))
        )
        previous = moment
    return tuple(steps)


def _spans(records: Sequence[AuditRecord]) -> dict[str, float]:
    """How long the story spent waiting to train, training, rolling out, and in all."""
    if not records:
        return {}
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for record in records:
        moment = _time(record)
        first.setdefault(record.action, moment)
        last[record.action] = moment
    spans = {"total": _gap(_time(records[0]), _time(records[-1]))}
    received = first.get("data.received")
    submitted = first.get("training.submitted")
    finished = last.get("training.completed") or last.get("training.failed")
    planned = first.get("rollout.planned")
    settled = (
        last.get("rollout.completed")
        or last.get("rollout.rolled_back")
        or last.get("rollout.failed")
    )
    if received and submitted:
        spans["coalescing"] = _gap(received, submitted)
    if submitted and finished:
        spans["training"] = _gap(submitted, finished)
    if planned and settled:
        spans["rollout"] = _gap(planned, settled)
    return spans


def _outcome(steps: Sequence[Step]) -> str:
    if not steps:
        return "nothing recorded"
    records = [s.record for s in steps]
    last = records[-1]
    by_action = {r.action: r for r in records}
    if rolled := by_action.get("rollout.rolled_back"):
        return f"rolled back: {rolled.reason}"
    if done := by_action.get("rollout.completed"):
        return f"{done.target} serving ({done.reason})"
    if failed := by_action.get("training.failed"):
        return f"training failed: {failed.reason}"
    refused = [r for r in records if r.action == "model.registered" and r.outcome == "rejected"]
    if refused and not any(r.action.startswith("rollout.") for r in records):
        return f"not deployed: {refused[-1].target} rejected: {refused[-1].reason}"
    if all(r.outcome in ("rejected", "duplicate") for r in records):
        return f"{last.outcome}: {last.reason}"
    if last.outcome in ("failed", "rejected"):
        return f"{last.outcome} at {last.action}: {last.reason}"
    return f"in progress: last step {last.action} ({last.reason})"


def _time(record: AuditRecord) -> datetime:
    return datetime.fromisoformat(record.time)


def _gap(earlier: datetime, later: datetime) -> float:
    return max((later - earlier).total_seconds(), 0.0)
