"""Shared by the Event Grid triggers: parse, hand to one service, map the result.

A rejected event is audited and acknowledged (returning normally), so Event Grid does not
retry it; anything transient raises, so Event Grid redelivers (and dead-letters at last).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared import bootstrap
from shared.domain.audit import AuditEntry
from shared.domain.errors import Rejected
from shared.domain.events import parse_event
from shared.services.deps import Deps

log = logging.getLogger("mlops.events")


def handle_event[E](
    event: func.EventGridEvent, expected: type[E], service: Callable[[E, Deps], Any]
) -> None:
    deps = bootstrap.deps()
    try:
        parsed = parse_event(as_eventgrid_dict(event))
        if not isinstance(parsed, expected):
            raise Rejected(f"event type {event.event_type[:100]!r} is not handled here")
    except Rejected as rejected:
        _audit_rejection(deps, event, rejected)
        log.warning("rejected event %s: %s", event.id, rejected.reason)
        return
    try:
        outcome = service(parsed, deps)
    except Rejected as rejected:  # the service audited it with its own context
        log.warning("rejected event %s: %s", event.id, rejected.reason)
        return
    log.info("event %s (%s): %s", event.id, event.event_type, outcome)


def as_eventgrid_dict(event: func.EventGridEvent) -> dict[str, Any]:
    """The trigger's object back in the Event Grid schema the domain parser reads."""
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "dataVersion": event.data_version,
        "data": event.get_json(),
    }


def _audit_rejection(deps: Deps, event: func.EventGridEvent, rejected: Rejected) -> None:
    deps.audit.append(
        AuditEntry(
            actor=str(event.topic or "unknown")[:300],
            action="event.received",
            target=str(event.subject or "")[:300],
            outcome="rejected",
            reason=rejected.reason,
            correlation_id=str(event.id or "")[:128],
            details={"event_type": str(event.event_type or "")[:128], "field": rejected.field},
        )
    )
