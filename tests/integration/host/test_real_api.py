"""The app's own HTTP functions behind `mlops serve`: EasyAuth in front of the manual API,
with tokens from `mlops token` (the home's signing key), over real HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from shared.devhost.easyauth import OID_CLAIM, EasyAuth
from shared.devhost.functions_registry import registered
from shared.devhost.host_keys import load_signing_key
from tests.integration.host.hostproc import HostProcess, http, start_host

API_ROUTES = {
    fn.get_trigger().route for fn in registered().values() if fn.get_trigger().type == "httpTrigger"
}
pytestmark = pytest.mark.skipif(
    not {"endpoints", "openapi.json"} <= API_ROUTES, reason="the manual API is not registered"
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    running = start_host(tmp_path_factory.mktemp("api-home"))
    yield running
    assert running.stop() == 0


def forged_principal_header(role: str) -> str:
    claims = [{"typ": OID_CLAIM, "val": "mallory"}, {"typ": "roles", "val": role}]
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def token(host: HostProcess, *roles: str, name: str = "alice") -> dict[str, str]:
    issued = EasyAuth(load_signing_key(host.home)).issue(name, roles)
    return {"Authorization": f"Bearer {issued}"}


def test_the_openapi_document_is_public(host: HostProcess) -> None:
    answer = http("GET", f"{host.url}/api/openapi.json")
    assert answer.status == 200
    assert "openapi" in answer.json()


def test_the_api_needs_a_token(host: HostProcess) -> None:
    answer = http("GET", f"{host.url}/api/endpoints")
    assert (answer.status, answer.headers["WWW-Authenticate"]) == (401, "Bearer")


def test_a_forged_principal_without_a_token_is_refused_by_easyauth(host: HostProcess) -> None:
    forged = {"X-MS-CLIENT-PRINCIPAL": forged_principal_header("MLOps.Deployer")}
    assert http("GET", f"{host.url}/api/endpoints", headers=forged).status == 401


def test_a_forged_principal_beside_a_token_is_replaced(host: HostProcess) -> None:
    # A token without roles, plus a forged header claiming the Reader role: the function
    # sees only the principal EasyAuth derived from the token, so it answers 403.
    forged = {"X-MS-CLIENT-PRINCIPAL": forged_principal_header("MLOps.Reader")}
    answer = http("GET", f"{host.url}/api/endpoints", headers={**token(host), **forged})
    assert answer.status == 403


def test_a_reader_token_reads_the_endpoints(host: HostProcess) -> None:
    answer = http("GET", f"{host.url}/api/endpoints", headers=token(host, "MLOps.Reader"))
    assert answer.status == 200
    assert "endpoints" in answer.json()
