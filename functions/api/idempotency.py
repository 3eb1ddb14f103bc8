"""``Idempotency-Key`` for the manual API's POSTs: a retry gets the first answer.

One document per (principal, key), inserted only if absent, so of two concurrent retries one
claims the key and runs; the other finds the claim and waits (or, once the first is done,
gets its answer). The operation key passed to the service is chosen when the key is claimed
and kept with it, so a takeover after a crash repeats the same (idempotent) operation.
Refusals are not replayed: they started nothing, so a retry is judged afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain.principal import Principal
from shared.ports import Clock, ConcurrencyConflict, StateStore, TransientError

log = logging.getLogger(__name__)

KIND = "api_idempotency"
TTL = timedelta(hours=24)  # after this a key may be used for a new request
STALE = timedelta(minutes=5)  # the Functions timeout: a claim this old lost its worker
_ATTEMPTS = 4


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as stored for replay: status, JSON body and headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class KeyReused(Exception):
    """The key was used by this principal for a different request."""


class KeyInProgress(Exception):
    """The first request with this key is still running."""


@dataclass(frozen=True)
class _Claim:
    key: str
    value: Mapping[str, Any]
    etag: str


def fingerprint(action: str, target: str, body: Mapping[str, Any]) -> str:
    canonical = json.dumps([action, target, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_operation_key() -> str:
    return uuid.uuid4().hex


def run_once(
    principal: Principal,
    key: str,
    request_fingerprint: str,
    run: Callable[[str], Answer],
    *,
    state: StateStore,
    clock: Clock,
) -> tuple[Answer, bool]:
    """``run(operation_key)`` at most once per (principal, key); returns the answer and
    whether it is a replay. Raises KeyReused or KeyInProgress."""
    claimed = _claim(state, clock, principal, key, request_fingerprint)
    if isinstance(claimed, Answer):
        return claimed, True
    try:
        answer = run(str(claimed.value["operation_key"]))
    except BaseException:
        _settle(state, claimed, {"status": "released"})
        raise
    if 200 <= answer.status < 300:
        stored = {"status": answer.status, "body": answer.body, "headers": answer.headers}
        _settle(state, claimed, {"status": "done", "answer": stored})
    else:
        _settle(state, claimed, {"status": "released"})
    return answer, False


def _claim(
    state: StateStore, clock: Clock, principal: Principal, key: str, fp: str
) -> _Claim | Answer:
    doc_key = hashlib.sha256(f"{principal.object_id}\n{key}".encode()).hexdigest()
    for _ in range(_ATTEMPTS):
        now = clock.now()
        stored = state.get(KIND, doc_key)
        if stored is None or _age(stored.value, now) > TTL:
            value = _pending(fp, new_operation_key(), now)
            etag = stored.etag if stored else None
        else:
            current = stored.value
            if current.get("fingerprint") != fp:
                raise KeyReused("this Idempotency-Key was used for a different request")
            if current.get("status") == "done":
                answer = current["answer"]
                return Answer(int(answer["status"]), answer["body"], answer["headers"])
            if current.get("status") == "pending" and _age(current, now) <= STALE:
                raise KeyInProgress("a request with this Idempotency-Key is still running")
            # Released (refused before) or abandoned: run again with the same operation key.
            value = _pending(fp, str(current["operation_key"]), now)
            etag = stored.etag
        try:
            new_etag = state.put(KIND, doc_key, value, etag=etag)
        except ConcurrencyConflict:
            continue  # a concurrent retry changed it first: look again
        return _Claim(doc_key, value, new_etag)
    raise KeyInProgress("a request with this Idempotency-Key is still running")


def _pending(fp: str, operation_key: str, now: datetime) -> dict[str, Any]:
    return {
        "fingerprint": fp,
        "status": "pending",
        "operation_key": operation_key,
        "at": now.isoformat(),
    }


def _age(value: Mapping[str, Any], now: datetime) -> timedelta:
    return now - datetime.fromisoformat(str(value["at"]))


def _settle(state: StateStore, claim: _Claim, change: Mapping[str, Any]) -> None:
    """Best effort: the operation already ran, so its answer goes back even if this write
    fails; the claim then stays pending until STALE and a retry repeats the same operation."""
    try:
        state.put(KIND, claim.key, {**claim.value, **change}, etag=claim.etag)
    except ConcurrencyConflict:
        log.warning("idempotency claim %s was taken over before it settled", claim.key[:12])
    except TransientError as error:
        log.warning("idempotency claim %s not settled: %s", claim.key[:12], error)
