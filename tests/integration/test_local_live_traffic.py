"""The local router records what users see: every routed request's outcome and latency, per
deployment, read back through the local LiveTraffic adapter; probes that name a deployment
(the smoke test) are not live traffic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.adapters.local import inference_server as server
from shared.adapters.local.endpoints import LocalEndpoints
from shared.adapters.local.live_traffic import LocalLiveTraffic
from shared.adapters.local.platform_db import PlatformDB
from shared.domain.values import DeploymentSpec, ModelRef
from shared.ports import TransientError
from tests.tools import missing_tool

pytestmark = pytest.mark.slow

ENDPOINT = "live-endpoint"
# A model server that fails (HTTP 500 from azmlinfsrv) on the input "boom" when it is the
# deployment named green, and answers everything else.
ENTRY_SCRIPT = """
import json
import os

def init():
    pass

def run(raw_data):
    data = json.loads(raw_data)["data"]
    if os.environ.get("MLOPS_DEPLOYMENT") == "green" and "boom" in data:
        raise RuntimeError("the canary cannot score this")
    return {"deployment": os.environ.get("MLOPS_DEPLOYMENT")}
"""


@pytest.fixture
def router(tmp_path: Path) -> Iterator[tuple[LocalEndpoints, PlatformDB]]:
    if not server.azmlinfsrv().is_file():
        missing_tool(f"azmlinfsrv not found at {server.azmlinfsrv()} (`make` builds it)")
    entry = tmp_path / "score.py"
    entry.write_text(ENTRY_SCRIPT)
    (tmp_path / "model").mkdir()
    db = PlatformDB(tmp_path / "ml" / "platform.db")
    local = LocalEndpoints(
        ml_dir=tmp_path / "ml",
        db=db,
        entry_script=entry,
        model_path=lambda _: tmp_path / "model",
        ready_timeout=60.0,
        request_timeout=10.0,
    )
    local.ensure_endpoint(ENDPOINT)
    for name in ("blue", "green"):
        local.begin_deployment(DeploymentSpec(ENDPOINT, name, ModelRef("m", "1")))
    for name in ("blue", "green"):
        assert local.wait_for_deployment(ENDPOINT, name, timeout=60).state == "succeeded"
    local.set_traffic(ENDPOINT, {"blue": 50, "green": 50})
    yield local, db
    local.close()


def test_routed_requests_are_sampled_per_deployment_with_their_failures(
    router: tuple[LocalEndpoints, PlatformDB],
) -> None:
    endpoints, db = router
    start = datetime.now(UTC) - timedelta(seconds=1)
    served = {"blue": 0, "green": 0}
    failed = 0
    for i in range(40):
        try:
            answer = endpoints.invoke(ENDPOINT, {"data": ["boom" if i % 2 else "fine"]})
            served[answer["deployment"]] += 1
        except TransientError:
            failed += 1
    endpoints.invoke(ENDPOINT, {"data": ["fine"]}, deployment="green")  # a probe
    with pytest.raises(TransientError):
        endpoints.invoke(ENDPOINT, {"data": ["boom"]}, deployment="green")  # a failing probe
    end = datetime.now(UTC) + timedelta(seconds=1)

    live = LocalLiveTraffic(db)
    blue = live.deployment_sample(ENDPOINT, "blue", start, end)
    green = live.deployment_sample(ENDPOINT, "green", start, end)

    assert blue.requests + green.requests == 40
    assert (blue.requests, blue.errors) == (served["blue"], 0)
    assert (green.requests - green.errors, green.errors) == (served["green"], failed)
    assert failed > 0, "some boom reached green (50% of 20 requests)"
    assert blue.p95_ms is not None and green.p95_ms is not None and blue.p95_ms > 0
    stats = endpoints.deployment_stats(ENDPOINT, "green")
    assert stats["requests"] == green.requests + 2  # the counters keep the probes as well
