"""How Azure SDK failures map onto the port errors, shared by every Azure adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.ports import NotFound, TransientError

# Throttling, timeouts and server faults are worth a redelivery; other 4xx are not.
_TRANSIENT_STATUS = frozenset({408, 429})
# The SDKs' own retry policies: bounded, exponential, Retry-After honoured.
RETRY_OPTIONS: dict[str, float | int] = {
    "retry_total": 3,
    "retry_backoff_factor": 0.8,
    "retry_backoff_max": 8,
}


def sdk_options(overrides: dict[str, Any]) -> dict[str, Any]:
    """Our retry defaults, then whatever the caller (a test, say) sets explicitly."""
    return {**RETRY_OPTIONS, **overrides}


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        return status in _TRANSIENT_STATUS or status >= 500
    return False


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise SDK errors as NotFound / TransientError; ``what`` names the resource (never
    a value). Anything else (auth, bad request) propagates as a bug to look at."""
    try:
        yield
    except ResourceNotFoundError:
        raise NotFound(f"{what} does not exist") from None
    except (HttpResponseError, ServiceRequestError, ServiceResponseError) as error:
        if is_transient(error):
            raise TransientError(f"{what}: {_describe(error)}") from error
        raise


def _describe(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    return f"HTTP {status}" if status else type(error).__name__
