"""The client of the manual API (``mlops status --url``): GET with a bearer token, one-line
errors that say how to get a token when the API refuses one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from shared.domain.principal import READER

TOKEN_ENV = "MLOPS_TOKEN"  # noqa: S105 (the variable's name, not a secret)
TOKEN_HINT = (
    f"get a token with `mlops token --name you --roles {READER}` locally, or "
    "`az account get-access-token --resource api://<api-client-id>` in Azure, "
    f"and pass it with --token or {TOKEN_ENV}"
)


class ApiError(Exception):
    """The API could not be read; the message is one line, ready for stderr."""


def fetch_endpoints(url: str, token: str) -> list[dict[str, Any]]:
    """``GET {url}/api/endpoints``'s endpoints; raises ApiError."""
    body = fetch(url, "/api/endpoints", token)
    endpoints = body.get("endpoints") if isinstance(body, dict) else None
    if not isinstance(endpoints, list):
        raise ApiError(f"{url} answered without an endpoints list")
    return [view for view in endpoints if isinstance(view, dict)]


def fetch(url: str, path: str, token: str, timeout: float = 30.0) -> Any:
    """GET a JSON document from the API; raises ApiError with a one-line reason."""
    target = f"{url.rstrip('/')}{path}"
    if not target.startswith(("http://", "https://")):
        raise ApiError(f"--url must start with http:// or https://, not {url!r}")
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token.strip()}"
    request = urllib.request.Request(target, headers=headers)  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise ApiError(_refusal(target, error.code, error.read())) from None
    except (urllib.error.URLError, OSError) as error:
        raise ApiError(f"cannot reach {target}: {getattr(error, 'reason', error)}") from None
    except ValueError:
        raise ApiError(f"{target} did not answer JSON") from None


def _refusal(target: str, status: int, body: bytes) -> str:
    try:
        doc = json.loads(body)
        said = str(doc.get("message") or doc.get("error") or "") if isinstance(doc, dict) else ""
    except ValueError:
        said = body.decode(errors="replace")
    said = " ".join(said.split())[:200]
    answer = f"{target} answered {status}" + (f" ({said})" if said else "")
    return f"{answer}: {TOKEN_HINT}" if status in (401, 403) else answer


def active_operations(
    url: str, token: str, endpoints: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each active rollout as its operation (since when, who asked, what kind); the
    endpoint's summary of it when the operation cannot be read (it may have just ended)."""
    found = []
    for view in endpoints:
        active = view.get("active_rollout")
        if not isinstance(active, dict):
            continue
        try:
            operation = fetch(url, f"/api/operations/{quote(str(active['operation_id']))}", token)
        except (ApiError, KeyError):
            operation = None
        found.append(operation if isinstance(operation, dict) else active)
    return found
