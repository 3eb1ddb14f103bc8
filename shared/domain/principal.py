"""Who calls the manual API: the principal App Service Authentication vouches for.

In Azure, App Service Authentication validates the caller's Entra ID token, strips any
client-sent ``X-MS-CLIENT-PRINCIPAL`` header and sets its own: base64 of JSON
``{"auth_typ", "claims": [{"typ", "val"}], "name_typ", "role_typ"}``. The function reads
only that header; a missing or malformed one means the request did not come through it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.events import invisible

HEADER = "X-MS-CLIENT-PRINCIPAL"
READER = "MLOps.Reader"
DEPLOYER = "MLOps.Deployer"

OID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")

MAX_HEADER = 16 * 1024  # far above a real token's claims, far below an abuse of memory
MAX_CLAIMS = 200
MAX_NAME = 256
MAX_ROLE = 128
# Entra object ids are GUIDs; this admits them and other opaque ids that stay safe in keys.
_OBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class Unauthenticated(Exception):
    """No principal the function can trust; the message says what was wrong, never echoes it."""


@dataclass(frozen=True)
class Principal:
    object_id: str
    name: str
    roles: tuple[str, ...]

    @property
    def actor(self) -> str:
        return f"user:{self.object_id}"

    def has_any(self, roles: frozenset[str]) -> bool:
        return not roles.isdisjoint(self.roles)

    def audit_details(self) -> dict[str, Any]:
        """Who, for the details of every audit record this principal causes."""
        return {
            "principal": {"object_id": self.object_id, "name": self.name, "roles": [*self.roles]}
        }


def parse_client_principal(header: str | None) -> Principal:
    """The principal in an ``X-MS-CLIENT-PRINCIPAL`` value; raises Unauthenticated."""
    if not header:
        raise Unauthenticated("no authenticated principal")
    if len(header) > MAX_HEADER:
        raise Unauthenticated("principal header is too large")
    try:
        raw = base64.b64decode(header.strip(), validate=True)
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise Unauthenticated("principal header is not base64-encoded JSON") from None
    if not isinstance(document, dict):
        raise Unauthenticated("principal header is not a JSON object")
    claims = _claims(document)
    name_typ = _typ(document, "name_typ", "name")
    role_typ = _typ(document, "role_typ", "roles")
    object_id = next((val for typ, val in claims if typ in OID_CLAIMS), "")
    if not _OBJECT_ID.fullmatch(object_id):
        raise Unauthenticated("principal has no valid object id claim")
    name = next((val for typ, val in claims if typ == name_typ), "")
    role_types = {role_typ, *ROLE_CLAIMS}
    # Roles are compared exactly: one with hidden characters is dropped, never cleaned into
    # a role it only resembles.
    roles = dict.fromkeys(
        val for typ, val in claims if typ in role_types and _printable(val, MAX_ROLE) == val
    )
    return Principal(object_id, _printable(name, MAX_NAME), tuple(r for r in roles if r))


def _claims(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    claims = document.get("claims")
    if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
        raise Unauthenticated("principal claims are missing or too many")
    pairs = []
    for claim in claims:
        if not isinstance(claim, dict):
            raise Unauthenticated("a principal claim is not an object")
        typ, val = claim.get("typ"), claim.get("val")
        if not isinstance(typ, str) or not isinstance(val, str):
            raise Unauthenticated("a principal claim lacks a string typ or val")
        pairs.append((typ, val))
    return pairs


def _typ(document: Mapping[str, Any], field: str, default: str) -> str:
    value = document.get(field, default)
    if not isinstance(value, str) or not value:
        raise Unauthenticated(f"principal {field} is not a string")
    return value


def _printable(value: str, limit: int) -> str:
    """Names and roles go into audit records and logs: no control or format characters."""
    kept = "".join(c for c in value if not invisible(c))
    return kept.strip()[:limit]
