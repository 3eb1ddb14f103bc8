"""Delivering events to a running host's webhook over HTTP, as Event Grid does: used by
``mlops upload`` / ``mlops send-event`` and by the host's own local Event Grid pump."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared.adapters.local.event_grid import Subscription
from shared.devhost.webhook import CLOUDEVENT_BATCH, PATH

DEFAULT_URL = "http://127.0.0.1:7071"


@dataclass(frozen=True)
class Delivery:
    function: str
    event_ids: tuple[str, ...]
    status: int
    answer: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "events": list(self.event_ids),
            "status": self.status,
            "answer": self.answer,
        }


class DeliveryFailed(Exception):
    pass


def deliver(
    base_url: str,
    function: str,
    events: Sequence[Mapping[str, Any]],
    key: str,
    timeout: float = 120.0,
) -> Delivery:
    """POST ``events`` to the webhook for ``function``, in their own schema; the key goes in
    a header so it never lands in a URL or an access log."""
    cloud = all("specversion" in event for event in events)
    request = urllib.request.Request(  # noqa: S310 (the URL names the local host)
        f"{base_url.rstrip('/')}{PATH}?functionName={quote(function)}",
        data=json.dumps(list(events)).encode(),
        method="POST",
        headers={
            "Content-Type": CLOUDEVENT_BATCH if cloud else "application/json",
            "aeg-event-type": "Notification",
            "x-functions-key": key,
        },
    )
    ids = tuple(str(event.get("id", "")) for event in events)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Delivery(function, ids, response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Delivery(function, ids, error.code, error.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryFailed(f"cannot reach the host at {base_url}: {reason}") from None


def by_function(
    events: Sequence[Mapping[str, Any]], routing: Sequence[Subscription]
) -> dict[str, list[Mapping[str, Any]]]:
    """Which function each event goes to, by the subscriptions' filters (an event may fan
    out to several); raises DeliveryFailed for an event no subscription takes."""
    batches: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        functions = [sub.function for sub in routing if sub.matches(event)]
        if not functions:
            raise DeliveryFailed(
                f"no subscription in the routing takes event {str(event.get('id'))[:100]!r};"
                " name the function with --function"
            )
        for function in functions:
            batches.setdefault(function, []).append(event)
    return batches


def pump_delivery(base_url: str, key: str) -> Callable[[str, Mapping[str, Any]], None]:
    """A ``deliver(function, event)`` for ``LocalEventGrid.pump`` that goes over HTTP."""

    def deliver_one(function: str, event: Mapping[str, Any]) -> None:
        result = deliver(base_url, function, [event], key)
        if not result.ok:
            raise DeliveryFailed(f"{function} answered {result.status}")

    return deliver_one
