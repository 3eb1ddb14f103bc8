"""Azure ML SDK errors as the ports' errors: the shared mapping (``_errors``) plus what the
MLPlatform port promises on top of it: a client error is a ValueError carrying the service's
message, and the SDK's own validation errors are ValueErrors too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.ai.ml.exceptions import ValidationException
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.adapters.azure._errors import is_transient
from shared.ports import NotFound, TransientError

_MAX_MESSAGE = 500


@contextmanager
def translated(what: str) -> Iterator[None]:
    """NotFound (404), TransientError (408, 409, 429, 5xx, connection), ValueError (other
    4xx, SDK validation); ``what`` names the resource in messages."""
    try:
        yield
    except ResourceNotFoundError:
        raise NotFound(f"{what} does not exist") from None
    except ValidationException as error:
        raise ValueError(f"{what}: {error.message[:_MAX_MESSAGE]}") from None
    except Exception as error:
        # 409 from Azure ML: another operation on the resource is in progress; try later.
        if is_transient(error) or getattr(error, "status_code", None) == 409:
            raise TransientError(f"{what}: {describe(error)}") from error
        if isinstance(error, HttpResponseError):
            raise ValueError(f"{what}: {describe(error)}") from None
        raise


def describe(error: BaseException) -> str:
    """Status, the service's own message (bounded) and any Retry-After it sent. The SDK's
    retry policy has already waited that out; the event's redelivery waits again."""
    if not isinstance(error, HttpResponseError):
        return type(error).__name__
    odata = getattr(error, "error", None)
    text = str(getattr(odata, "message", None) or error.reason or "")
    parts = [f"HTTP {error.status_code}", text.splitlines()[0][:_MAX_MESSAGE] if text else ""]
    headers = getattr(error.response, "headers", None) or {}
    retry_after = headers.get("Retry-After")
    if retry_after:
        parts.append(f"(Retry-After {retry_after}s)")
    return " ".join(p for p in parts if p)
