"""`mlops serve` puts its EasyAuth stand-in in front of the app and says so as App Service
does (WEBSITE_AUTH_ENABLED=True): the manual API serves even when the environment looks like
a Function App's, where it refuses every request without authentication in front."""

from __future__ import annotations

from pathlib import Path

from shared.devhost.easyauth import EasyAuth
from shared.devhost.host_keys import load_signing_key
from tests.integration.host.hostproc import http, start_host

FUNCTION_APP = {"FUNCTIONS_WORKER_RUNTIME": "python", "WEBSITE_SITE_NAME": "func-mlops-local"}


def test_the_local_host_claims_the_authentication_it_provides(tmp_path: Path) -> None:
    host = start_host(tmp_path / "home", env={**FUNCTION_APP, "WEBSITE_AUTH_ENABLED": "False"})
    try:
        token = EasyAuth(load_signing_key(host.home)).issue("alice", ["MLOps.Reader"])
        bearer = {"Authorization": f"Bearer {token}"}
        answer = http("GET", f"{host.url}/api/endpoints", headers=bearer)
        assert answer.status == 200, answer
        assert http("GET", f"{host.url}/api/endpoints").status == 401  # EasyAuth still in front
    finally:
        assert host.stop() == 0
