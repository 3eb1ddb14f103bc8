"""The manual API's request bodies and identifiers, checked strictly.

The schemas name every field a caller may set; anything else (an image, an instance type, a
command, environment variables) is refused by name, never ignored. Each failure raises
``Rejected`` whose message names the field and never echoes an unbounded value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import Rejected
from shared.domain.events import invisible
from shared.domain.models import ModelRef
from shared.domain.validation import check_model_name, check_version

MAX_REASON = 500
MAX_IDEMPOTENCY_KEY = 128

REDEPLOY_FIELDS = ("model", "version", "reason", "supersede")
ROLLBACK_FIELDS = ("reason", "supersede")

# Azure ML online endpoint names: a letter, then letters, digits and '-', 3-32 in all.
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,31}")
_OPERATION_ID = re.compile(r"ro-[0-9a-f]{20}")
_IDEMPOTENCY_KEY = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_IDEMPOTENCY_KEY}}}")


@dataclass(frozen=True)
class RedeployRequest:
    model: ModelRef
    reason: str
    supersede: bool


@dataclass(frozen=True)
class RollbackRequest:
    reason: str
    supersede: bool


def parse_redeploy(body: Mapping[str, Any]) -> RedeployRequest:
    _only(body, REDEPLOY_FIELDS)
    name = _string(body, "model")
    version = _string(body, "version")
    try:
        check_model_name(name)
        check_version(version)
    except Rejected as rejected:  # name the field as the caller spelled it
        field = "model" if rejected.field == "model_name" else "version"
        raise Rejected(rejected.reason, field=field) from None
    return RedeployRequest(ModelRef(name, version), _reason(body), _flag(body, "supersede"))


def parse_rollback(body: Mapping[str, Any]) -> RollbackRequest:
    _only(body, ROLLBACK_FIELDS)
    return RollbackRequest(_reason(body), _flag(body, "supersede"))


def is_endpoint_name(value: str) -> bool:
    return bool(_ENDPOINT.fullmatch(value))


def is_operation_id(value: str) -> bool:
    return bool(_OPERATION_ID.fullmatch(value))


def check_idempotency_key(value: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise Rejected(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} of [A-Za-z0-9._:-]",
            field="Idempotency-Key",
        )
    return value


def _only(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(str(key) for key in body if key not in allowed)
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:10])
        raise Rejected(
            f"unknown field(s) {shown}; allowed: {', '.join(allowed)}", field=unknown[0][:40]
        )


def _string(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:
        raise Rejected(f"{field} is required", field=field)
    if not isinstance(value, str):
        raise Rejected(f"{field} must be a string", field=field)
    return value


def _reason(body: Mapping[str, Any]) -> str:
    reason = _string(body, "reason").strip()
    if not reason:
        raise Rejected("reason must not be empty", field="reason")
    if len(reason) > MAX_REASON:
        raise Rejected(f"reason is longer than {MAX_REASON} characters", field="reason")
    if any(map(invisible, reason)):
        raise Rejected("reason contains control or format characters", field="reason")
    return reason


def _flag(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise Rejected(f"{field} must be true or false", field=field)
    return value
