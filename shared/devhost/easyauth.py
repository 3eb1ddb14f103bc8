"""A stand-in for App Service Authentication ("EasyAuth") in front of the local host.

It mirrors the configuration we deploy: authentication required, unauthenticated requests
get 401 ("Return401"), a few paths excluded. A bearer token is a JWT signed locally (HS256,
key per MLOPS_HOME); on a valid one the principal headers are set exactly as App Service
sets them, and any principal header the client sent is removed, on every path, always.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

AUDIENCE = "api://mlops-local"
ISSUER = "https://login.local/mlops"
ALGORITHM = "HS256"
PRINCIPAL_PREFIX = "x-ms-client-principal"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
# Keep in step with the globalValidation.excludedPaths of the deployed authsettingsV2.
EXCLUDED_PATHS = ("/runtime/webhooks/*", "/api/openapi.json")
# A stable namespace, so `mlops token --name alice` always yields the same object id.
_OID_NAMESPACE = uuid.UUID("6f9619ff-8b86-d011-b42d-00cf4fc964ff")


class Unauthenticated(Exception):
    """No token, or a token that does not verify; the reason is for logs, not the client."""


@dataclass(frozen=True)
class EasyAuth:
    signing_key: bytes
    audience: str = AUDIENCE
    issuer: str = ISSUER

    def issue(
        self, name: str, roles: Sequence[str], *, oid: str | None = None, minutes: float = 60
    ) -> str:
        now, oid = int(time.time()), oid or default_oid(name)
        claims = {
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(minutes * 60),
            "oid": oid,
            "sub": oid,
            "name": name,
            "roles": list(roles),
        }
        return jwt.encode(claims, self.signing_key, algorithm=ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises Unauthenticated for a bad signature, ``alg: none``, a
        wrong audience or issuer, an expired token or one without an object id."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.signing_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "aud", "iss", "oid"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated(type(error).__name__) from None
        return claims

    def principal_headers(self, authorization: str | None) -> dict[str, str]:
        """The headers App Service adds for the bearer token in ``authorization``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("no bearer token")
        claims = self.verify(token.strip())
        return {
            "X-MS-CLIENT-PRINCIPAL": encode_principal(claims),
            "X-MS-CLIENT-PRINCIPAL-ID": str(claims["oid"]),
            "X-MS-CLIENT-PRINCIPAL-NAME": str(claims.get("name", "")),
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
        }


def requires_authentication(path: str) -> bool:
    """Every path needs a principal except the excluded ones (exact, or a prefix ending in
    '/*'; case-insensitive)."""
    path = path.rstrip("/").lower()
    return not any(
        path.startswith(rule[:-1]) if rule.endswith("/*") else path == rule
        for rule in EXCLUDED_PATHS
    )


def without_principal_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request headers minus anything a client could use to pose as a principal."""
    return [(k, v) for k, v in headers if not k.lower().startswith(PRINCIPAL_PREFIX)]


def encode_principal(claims: Mapping[str, Any]) -> str:
    """Base64 of the JSON App Service puts in ``X-MS-CLIENT-PRINCIPAL`` for Entra ID."""
    listed: list[dict[str, str]] = [
        {"typ": typ, "val": str(claims[typ])} for typ in ("aud", "iss", "iat", "exp")
    ]
    listed.append({"typ": OID_CLAIM, "val": str(claims["oid"])})
    listed.append({"typ": "name", "val": str(claims.get("name", ""))})
    listed.extend({"typ": "roles", "val": str(role)} for role in _roles(claims))
    document = {"auth_typ": "aad", "claims": listed, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(document).encode()).decode()


def default_oid(name: str) -> str:
    return str(uuid.uuid5(_OID_NAMESPACE, name))


def _roles(claims: Mapping[str, Any]) -> list[str]:
    roles = claims.get("roles", [])
    return [roles] if isinstance(roles, str) else [str(r) for r in roles or []]
