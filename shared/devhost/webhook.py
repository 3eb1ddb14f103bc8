"""``/runtime/webhooks/eventgrid``: Event Grid's way into the app's Event Grid functions.

As the Functions host's Event Grid extension: the ``eventgrid_extension`` system key (or the
master key) is required; the subscription validation handshake (Event Grid schema) and the
CloudEvents abuse-protection ``OPTIONS`` handshake are answered; each event of a batch is
handed to the function on its own; any failure answers 500 so Event Grid retries the batch.

The body is split by the domain's one batch parser (``parse_batch``) and the handshake's
event read by ``parse_event``: nothing here parses an event a second way. A batch over
MAX_EVENTS_PER_DELIVERY is 413 before any function runs. A handshake is one validation event
and nothing else: a batch that mixes one with real events is refused whole (400), since
answering the handshake would acknowledge the real events without handling them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shared.devhost.delivery import invoke
from shared.devhost.functions_registry import user_function
from shared.devhost.host_keys import HostKeys, matches_any
from shared.devhost.messages import Head, Prepared, Reply, presented_keys
from shared.domain.errors import Rejected
from shared.domain.events import CLOUDEVENT_BATCH as CLOUDEVENT_BATCH  # client.py posts it
from shared.domain.events import (
    SUBSCRIPTION_VALIDATION,
    SubscriptionValidation,
    TooManyEvents,
    event_type,
    parse_batch,
    parse_event,
)

log = logging.getLogger("mlops.host.eventgrid")

PATH = "/runtime/webhooks/eventgrid"
# aeg-event-type, as the extension's HttpRequestProcessor reads it (case-insensitive). The
# extension answers 400 without it; the local host takes it as a notification, so that the
# Event Grid publisher client can post to the webhook directly.
_NOTIFICATION, _VALIDATION, _UNSUBSCRIBE = "notification", "subscriptionvalidation", "unsubscribe"


class EventGridWebhook:
    def __init__(self, functions: Mapping[str, Any], keys: HostKeys) -> None:
        self._functions = functions
        self._accepted = (keys.eventgrid, keys.master)

    def prepare(self, head: Head) -> Prepared:
        if head.method not in ("POST", "OPTIONS"):
            return Reply.error(405, "use POST", {"Allow": "POST, OPTIONS"})
        keys = presented_keys(head, "x-functions-key", "aeg-sas-key")
        if not matches_any(keys, self._accepted):
            return Reply.error(401, "a valid eventgrid_extension key is required")
        name = head.param("functionName") or ""
        try:
            user_function(name, "eventGridTrigger", self._functions)
        except KeyError:
            return Reply.error(404, "no Event Grid function of that name")
        if head.method == "OPTIONS":
            return _abuse_protection(head)
        return lambda body: self._deliver(name, head, body)

    def _deliver(self, name: str, head: Head, body: bytes) -> Reply:
        kind = (head.header("aeg-event-type") or _NOTIFICATION).strip().lower()
        if kind == _UNSUBSCRIBE:
            return Reply(202)
        if kind not in (_NOTIFICATION, _VALIDATION):
            return Reply.error(400, "aeg-event-type is not Notification or SubscriptionValidation")
        try:
            events = parse_batch(body, head.header("content-type") or "")
        except TooManyEvents as error:
            return Reply.error(413, error.reason)
        except Rejected as error:
            return Reply.error(400, error.reason)
        validations = [e for e in events if event_type(e) == SUBSCRIPTION_VALIDATION]
        if kind == _VALIDATION or validations:
            if len(events) != 1 or len(validations) != 1:
                return Reply.error(
                    400, "a subscription validation delivery is one validation event, alone"
                )
            return _validation_response(validations[0])
        failed = sum(not self._deliver_one(name, event) for event in events)
        if failed:
            return Reply.error(500, "the function failed; the delivery should be retried")
        return Reply(200)  # Event Grid takes any 2xx; the SDK's publisher client wants 200

    def _deliver_one(self, name: str, event: Mapping[str, Any]) -> bool:
        try:
            invoke(name, event, self._functions)
        except Exception:  # logged here with the detail; the caller only learns "failed"
            log.exception("%s failed on event %s", name, str(event.get("id", ""))[:100])
            return False
        return True


def _validation_response(raw: Mapping[str, Any]) -> Reply:
    try:
        event = parse_event(raw)
    except Rejected as error:
        return Reply.error(400, f"the validation event is malformed: {error.reason}")
    if not isinstance(event, SubscriptionValidation):  # parse_event keys on the same type
        return Reply.error(400, "the validation event is malformed")
    log.info("answered the subscription validation handshake for event %s", event.meta.id)
    return Reply.json(200, {"validationResponse": event.validation_code})


def _abuse_protection(head: Head) -> Reply:
    """CloudEvents 1.0 webhook validation: allow the requesting origin to deliver."""
    origin = head.header("WebHook-Request-Origin")
    if not origin:
        return Reply.error(400, "WebHook-Request-Origin is required")
    return Reply(200, b"", {"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})
