"""One bad item never stops the rest: how the reconciler sorts a failure.

- transient (``TransientError``, ``ConcurrencyConflict``): the item waits for the next tick;
  the Azure adapters map 408, 409, 429, 5xx and connection errors to ``TransientError``
  (``adapters/azure/_errors.is_transient``, ``ml_errors.translated``).
- permanent (``NotFound``, ``ValueError`` — which covers ``Rejected``, the adapters' 4xx and
  the SDK's validation errors —, ``LookupError`` from a malformed stored document, and
  ``IllegalTransition``): retrying cannot help, so the item is parked as failed: audited with
  the reason, kept under ``PARKED`` and shown by ``mlops status``.
- anything else is a bug or a process shutting down: logged with its traceback and retried
  next tick, never parked on a guess; the tick still goes on with the other items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.domain.rollout import IllegalTransition
from shared.ports import Clock, ConcurrencyConflict, NotFound, StateStore, TransientError

log = logging.getLogger(__name__)

PARKED = "parked"  # key: <kind>/<id>; value: kind, id, reason, at, correlation_id
QUARANTINE = "quarantine"  # key: the dataset_file key; value: dataset, url, etag, reason, at
TRANSIENT: tuple[type[Exception], ...] = (TransientError, ConcurrencyConflict)
PERMANENT: tuple[type[Exception], ...] = (NotFound, ValueError, LookupError, IllegalTransition)
_MAX_REASON = 500


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, PERMANENT) and not isinstance(error, TRANSIENT)


def reason_of(error: BaseException) -> str:
    """The error's own message, bounded (stored as received; neutralised when shown)."""
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError | IndexError):
        text = f"malformed record: {type(error).__name__} {text}"
    return text[:_MAX_REASON]


def isolated(
    what: str,
    step: Callable[[], None],
    park: Callable[[str], None],
    errors: list[str],
    parked: list[str],
) -> None:
    """Run one item's step: transient errors and surprises leave it for the next tick (noted
    in ``errors``), a permanent one parks it (noted in ``parked``). Never raises ``Exception``."""
    try:
        step()
        return
    except TRANSIENT as error:
        errors.append(f"{what}: {error}")
        return
    except Exception as error:
        if not is_permanent(error):
            log.exception("%s: unexpected error, retried next tick", what)
            errors.append(f"{what}: unexpected {type(error).__name__}")
            return
        reason = reason_of(error)
    try:
        park(reason)
    except TRANSIENT as error:  # the parking itself waits for the next tick
        errors.append(f"{what}: parking it failed: {error}")
        return
    except Exception:
        log.exception("%s: could not be parked, retried next tick", what)
        errors.append(f"{what}: could not be parked")
        return
    parked.append(f"{what}: {reason}")


def record_parked(
    state: StateStore,
    clock: Clock,
    kind: str,
    item: str,
    reason: str,
    correlation_id: str,
    **details: Any,
) -> None:
    """Keep what was parked, and why, where ``mlops status`` finds it (a window's own document
    is reused by the dataset's next window; this record stays)."""
    doc = {
        "kind": kind,
        "id": item,
        "reason": reason,
        "at": clock.now().isoformat(timespec="seconds"),
        "correlation_id": correlation_id,
        **details,
    }
    key = f"{kind}/{item}"
    stored = state.get(PARKED, key)
    state.put(PARKED, key, doc, etag=stored.etag if stored else None)


def quarantined(state: StateStore, key: str, etag: str) -> bool:
    """Whether this version of a dataset file was quarantined (a new upload is a new version
    and trains again)."""
    stored = state.get(QUARANTINE, key)
    return stored is not None and stored.value.get("etag") == etag
