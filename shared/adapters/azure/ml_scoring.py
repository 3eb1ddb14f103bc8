"""Scoring through a managed online endpoint with an Entra ID token.

Not ``MLClient.online_endpoints.invoke``: in azure-ai-ml 1.35 it writes the Authorization and
``azureml-model-deployment`` headers into a module-level dict (``EndpointInvokeFields.
DEFAULT_HEADER``), so a call aimed at one deployment pins every later endpoint-wide call of the
process to it, and threads share each other's tokens. This does the same on the wire (GET the
endpoint for its scoring URI, a token for ``https://ml.azure.com/.default``, POST the JSON)
with headers of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.ai.ml import MLClient
from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse

from shared.adapters.azure.ml_errors import translated
from shared.ports import TransientError

SCORING_SCOPE = "https://ml.azure.com/.default"
_MAX_MESSAGE = 500


def bearer_client(
    credential: TokenCredential,
    scope: str,
    transport: HttpTransport | None = None,  # type: ignore[type-arg]
) -> PipelineClient[HttpRequest, HttpResponse]:
    """An azure-core client for Azure ML's data-plane calls the SDK does not wrap (scoring,
    the MLflow tracking API): the app's token for ``scope``, two retries, absolute URLs."""
    return PipelineClient(
        base_url="",
        policies=[RetryPolicy(retry_total=2), BearerTokenCredentialPolicy(credential, scope)],
        transport=transport,
    )


class EndpointScorer:
    def __init__(
        self,
        ml_client: MLClient,
        credential: TokenCredential,
        *,
        transport: HttpTransport | None = None,  # type: ignore[type-arg]
        timeout: float = 30.0,
    ) -> None:
        self._ml = ml_client
        self._timeout = timeout
        self._client = bearer_client(credential, SCORING_SCOPE, transport)

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        target = f"{endpoint}/{deployment}" if deployment else endpoint
        with translated(f"endpoint {endpoint}"):
            scoring_uri = str(self._ml.online_endpoints.get(endpoint).scoring_uri)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        request = HttpRequest("POST", scoring_uri, headers=headers, json=dict(payload))
        try:
            response = self._client.send_request(request, timeout=self._timeout)
        except (ServiceRequestError, ServiceResponseError) as error:
            raise TransientError(f"{target} unreachable: {type(error).__name__}") from None
        return _result(target, response)


def _result(target: str, response: HttpResponse) -> Any:
    status = response.status_code
    if 400 <= status < 500 and status not in (408, 429):
        raise ValueError(f"{target} rejected the request: {status} {_message(response)}")
    if status != 200:
        raise TransientError(f"{target} answered {status}: {_message(response)}")
    try:
        return response.json()
    except ValueError:
        raise TransientError(f"{target} answered with invalid JSON") from None


def _message(response: HttpResponse) -> str:
    """The server's own explanation, bounded."""
    try:
        body = response.json()
    except ValueError:
        return response.text().strip()[:_MAX_MESSAGE]
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    return (body if isinstance(body, str) else json.dumps(body))[:_MAX_MESSAGE]
