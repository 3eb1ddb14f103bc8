"""Shared by the Event Grid triggers: parse, hand to one service, map the result.

A rejected event is audited and acknowledged (returning normally), so Event Grid does not
retry it; anything transient raises, so Event Grid redelivers (and dead-letters at last).

The worker hands a trigger ``func.EventGridEvent`` or, for an event in CloudEvents 1.0,
``func.CloudEvent`` (whatever the annotation says): both go back to the JSON they came from
and through the domain's one parser, which checks specversion and refuses ``data_base64``.
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
from shared.services.injection import inject

log = logging.getLogger("mlops.events")

TriggerEvent = func.EventGridEvent | func.CloudEvent


def handle_event[E](event: TriggerEvent, expected: type[E], service: Callable[..., Any]) -> None:
    """``service(parsed event, **the ports it names)``; see shared/services/injection.py."""
    deps = bootstrap.deps()
    raw = as_raw_event(event)
    try:
        parsed = parse_event(raw)
        if not isinstance(parsed, expected):
            raise Rejected(f"event type {str(_claimed(raw, 'type'))[:100]!r} is not handled here")
    except Rejected as rejected:
        _audit_rejection(deps, raw, rejected)
        log.warning("rejected event %s: %s", event.id, rejected.reason)
        return
    try:
        outcome = inject(service, deps)(parsed)
    except Rejected as rejected:  # the service audited it with its own context
        log.warning("rejected event %s: %s", event.id, rejected.reason)
        return
    log.info("event %s (%s): %s", event.id, _claimed(raw, "type"), outcome)


def as_raw_event(event: TriggerEvent) -> dict[str, Any]:
    """The trigger's object back in the schema it arrived in, for the domain parser."""
    if isinstance(event, func.CloudEvent):
        return {
            **event.extension_attrs,  # data_base64 and any other attribute, for the parser
            "specversion": event.specversion,
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "time": event.time.isoformat() if event.time else None,
            "data": event.get_json(),
        }
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "dataVersion": event.data_version,
        "data": event.get_json(),
    }


def _claimed(raw: dict[str, Any], name: str) -> object:
    """An envelope field in either schema: type, source (topic) or id."""
    cloud = "specversion" in raw
    key = {"type": "type" if cloud else "eventType", "source": "source" if cloud else "topic"}
    return raw.get(key.get(name, name))


def _audit_rejection(deps: Deps, raw: dict[str, Any], rejected: Rejected) -> None:
    deps.audit.append(
        AuditEntry(
            actor=str(_claimed(raw, "source") or "unknown")[:300],
            action="event.received",
            target=str(raw.get("subject") or "")[:300],
            outcome="rejected",
            reason=rejected.reason,
            correlation_id=str(raw.get("id") or "")[:128],
            details={"event_type": str(_claimed(raw, "type") or "")[:128], "field": rejected.field},
        )
    )
