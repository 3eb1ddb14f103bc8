"""Request and response plumbing of the manual API: the one place refusals become status codes.

Every call goes the same way: authentication in front, in Azure (503) → principal (401) →
rate limit (429) → role (403) → handler.
Refusals are answered ``{"error": CODE, "message": ...}`` with a message that names the
problem; internal details go to the log under the request id, never to the caller.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from functions.api.idempotency import Answer, KeyInProgress, KeyReused
from shared import bootstrap
from shared.domain.errors import Rejected
from shared.domain.principal import HEADER, Principal, Unauthenticated, parse_client_principal
from shared.ports import ConcurrencyConflict, TransientError
from shared.services.api_guard import (
    AuthenticationOff,
    Forbidden,
    RateLimited,
    audit_refusal,
    count_request,
    require_authentication_in_front,
    require_role,
)
from shared.services.deps import Deps
from shared.services.injection import inject
from shared.services.operations import (
    NothingToRollBack,
    UnknownEndpoint,
    UnknownModelVersion,
)
from shared.services.retrain import NoAcceptedFiles
from shared.services.rollout_requests import RolloutConflict
from shared.services.views import UnknownOperation

log = logging.getLogger("mlops.api")

JSON = "application/json"
MAX_BODY = 16 * 1024
_BASE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class HttpError(Exception):
    """A refusal with its status; ``audit`` is false when a service already recorded it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        audit: bool = True,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        self.audit = audit


@dataclass(frozen=True)
class Call:
    req: func.HttpRequest
    deps: Deps
    principal: Principal
    request_id: str

    def run[R](self, use_case: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """``use_case`` with the ports its signature names (shared/services/injection.py)."""
        return inject(use_case, self.deps)(*args, **kwargs)


def serve(
    req: func.HttpRequest,
    *,
    action: str,
    roles: frozenset[str],
    target: str,
    handler: Callable[[Call], Answer],
) -> func.HttpResponse:
    """Authenticate, count, authorise, run ``handler``; map whatever it raises."""
    request_id = uuid.uuid4().hex
    deps = bootstrap.deps()
    principal: Principal | None = None
    try:
        require_authentication_in_front(deps.settings.backend, os.environ)
        principal = parse_client_principal(req.headers.get(HEADER))
        inject(count_request, deps)(principal)
        require_role(principal, roles)
        answer = handler(Call(req, deps, principal, request_id))
    except Exception as exc:  # every failure becomes an answer; the unexpected are logged
        error = _as_http_error(exc, request_id)
        if error.audit:
            details = {"status": error.status, "error": error.code, "method": req.method}
            inject(audit_refusal, deps)(
                principal=principal,
                action=action,
                target=target,
                reason=error.message,
                request_id=request_id,
                details=details,
            )
        log.info(
            "%s %s refused %d %s [%s]", req.method, action, error.status, error.code, request_id
        )
        return error_response(error, request_id)
    return respond(answer, request_id)


def respond(answer: Answer, request_id: str = "") -> func.HttpResponse:
    headers = {**_BASE_HEADERS, **answer.headers}
    if request_id:
        headers["X-Request-Id"] = request_id
    return func.HttpResponse(
        json.dumps(answer.body, separators=(",", ":")),
        status_code=answer.status,
        headers=headers,
        mimetype=JSON,
        charset="utf-8",
    )


def error_response(error: HttpError, request_id: str) -> func.HttpResponse:
    body = {"error": error.code, "message": error.message}
    return respond(Answer(error.status, body, error.headers), request_id)


def json_body(req: func.HttpRequest) -> dict[str, Any]:
    """The body as a JSON object: 415 unless Content-Type is application/json (UTF-8),
    413 past MAX_BODY, 400 for anything that is not one well-formed JSON object."""
    media, _, params = (req.headers.get("Content-Type") or "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') if params else "utf-8"
    if media.strip().lower() != JSON or charset not in ("utf-8", "utf8"):
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json")
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY:
        raise HttpError(413, "payload_too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        document = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpError(400, "malformed_json", "the body is not well-formed UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise HttpError(400, "invalid_request", "the body must be a JSON object")
    return document


def invalid(rejected: Rejected) -> HttpError:
    return HttpError(400, "invalid_request", rejected.reason)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")  # two values for one field: which would we use?
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _as_http_error(exc: Exception, request_id: str) -> HttpError:
    """Map a refusal; services audit their own (NotFound, Rejected, RolloutConflict)."""
    match exc:
        case HttpError():
            return exc
        case AuthenticationOff():
            log.error("%s [%s]", exc, request_id)
            return HttpError(503, "authentication_off", str(exc), headers={"Retry-After": "300"})
        case Unauthenticated():
            challenge = {"WWW-Authenticate": 'Bearer realm="mlops"'}
            return HttpError(401, "unauthenticated", str(exc), headers=challenge)
        case RateLimited():
            retry = {"Retry-After": str(exc.retry_after)}
            return HttpError(429, "rate_limited", str(exc), headers=retry, audit=exc.first)
        case Forbidden():
            return HttpError(403, "forbidden", str(exc))
        case KeyReused():
            return HttpError(422, "idempotency_key_reused", str(exc))
        case KeyInProgress():
            return HttpError(409, "request_in_progress", str(exc), headers={"Retry-After": "1"})
        case RolloutConflict():
            active = exc.active
            message = (
                f"rollout {active.id} ({active.phase.value}) is already active on "
                f'{active.endpoint}; send "supersede": true to replace it'
            )
            return HttpError(409, "rollout_active", message, audit=False)
        case NothingToRollBack():
            return HttpError(409, "nothing_to_roll_back", str(exc), audit=False)
        case NoAcceptedFiles():
            return HttpError(404, "nothing_to_train", str(exc), audit=False)
        case UnknownEndpoint() | UnknownModelVersion() | UnknownOperation():
            return HttpError(404, "not_found", f"unknown {exc}", audit=False)
        case Rejected():
            return HttpError(422, "not_deployable", exc.reason, audit=False)
        case ConcurrencyConflict():
            message = "another request changed the endpoint at the same time; retry"
            return HttpError(409, "concurrent_change", message, headers={"Retry-After": "1"})
        case TransientError():
            log.warning("transient failure [%s]: %s", request_id, exc)
            return HttpError(
                503,
                "unavailable",
                "a dependency is busy; retry",
                headers={"Retry-After": "5"},
                audit=False,
            )
    log.exception("unexpected failure [%s]", request_id)
    return HttpError(500, "internal", f"internal error (request {request_id})", audit=False)
