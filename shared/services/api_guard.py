"""The manual API's guards: authentication in front (in Azure), app roles, a per-principal
rate limit and audited refusals."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from typing import Any

from shared.domain.audit import AuditEntry
from shared.domain.principal import Principal
from shared.ports import AuditSink, Clock, ConcurrencyConflict, StateStore, TransientError
from shared.services.config import ServiceSettings

log = logging.getLogger(__name__)

# App Service sets these in a Function App's environment (the "Environment variables and app
# settings" reference); none is a setting of ours. The Functions host turns its own App
# Service Authentication middleware on from WEBSITE_AUTH_ENABLED ("True"/"False", any case).
FUNCTION_APP_VARIABLES = ("WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID", "FUNCTIONS_WORKER_RUNTIME")
AUTH_ENABLED = "WEBSITE_AUTH_ENABLED"
RATE = "api_rate"  # key: digest of the object id; value: {"window": minute, "count": calls}
WINDOW_SECONDS = 60
_CAS_ATTEMPTS = 8


class AuthenticationOff(Exception):
    """In a Function App without App Service Authentication in front, the principal header is
    whatever the caller sent: nothing the API does may rest on it."""


class Forbidden(Exception):
    """The principal is authenticated but holds none of the roles the operation needs."""


class RateLimited(Exception):
    """Past the per-principal limit; ``first`` is true for the call that crossed it."""

    def __init__(self, retry_after: int, *, first: bool) -> None:
        super().__init__(f"more than the allowed requests per minute; retry in {retry_after}s")
        self.retry_after = retry_after
        self.first = first


def require_authentication_in_front(backend: str, env: Mapping[str, str]) -> None:
    """Raise AuthenticationOff in a Function App (or with the Azure backend) unless App
    Service Authentication is on. The local host sets WEBSITE_AUTH_ENABLED for its stand-in;
    elsewhere (tests, the CLI) nothing sits in front and nothing is claimed."""
    hosted = backend == "azure" or any(env.get(name) for name in FUNCTION_APP_VARIABLES)
    if hosted and env.get(AUTH_ENABLED, "").strip().lower() != "true":
        raise AuthenticationOff(
            "App Service Authentication is off for this Function App (WEBSITE_AUTH_ENABLED is "
            "not True), so the caller's identity cannot be trusted and every API request is "
            "refused: turn authentication on (authsettingsV2) and restart the app"
        )


def require_role(principal: Principal, allowed: frozenset[str]) -> None:
    if not principal.has_any(allowed):
        raise Forbidden(f"this operation needs the app role {' or '.join(sorted(allowed))}")


def count_request(
    principal: Principal, *, state: StateStore, clock: Clock, settings: ServiceSettings
) -> None:
    """Count one call in the principal's fixed one-minute window; raise RateLimited past
    the limit. One document per principal, updated by compare-and-set, so every Function
    instance counts against the same window and two racing calls are both counted."""
    limit = settings.api_rate_limit_per_minute
    now = clock.now()
    start = now.replace(second=0, microsecond=0)
    window = start.isoformat()
    retry_after = max(1, math.ceil(WINDOW_SECONDS - (now - start).total_seconds()))
    key = hashlib.sha256(principal.object_id.encode()).hexdigest()
    for _ in range(_CAS_ATTEMPTS):
        stored = state.get(RATE, key)
        count = 0
        if stored is not None and stored.value.get("window") == window:
            count = int(stored.value.get("count", 0))
        if count > limit:  # refused before in this window: no write, so a flood costs reads
            raise RateLimited(retry_after, first=False)
        value = {"window": window, "count": count + 1}
        try:
            state.put(RATE, key, value, etag=stored.etag if stored else None)
        except ConcurrencyConflict:
            continue
        if count + 1 > limit:
            raise RateLimited(retry_after, first=True)
        return
    raise TransientError("the rate-limit counter is busy")


def audit_refusal(
    *,
    audit: AuditSink,
    principal: Principal | None,
    action: str,
    target: str,
    reason: str,
    request_id: str,
    details: Mapping[str, Any],
) -> None:
    """A refused call, recorded with whoever made it (``anonymous`` when no principal)."""
    who = principal.audit_details() if principal else {}
    audit.append(
        AuditEntry(
            actor=principal.actor if principal else "anonymous",
            action=action,
            target=target[:300],
            outcome="rejected",
            reason=reason[:500],
            correlation_id=request_id,
            details={**who, **details},
        )
    )
