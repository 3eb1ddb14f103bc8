"""A local deployment whose azmlinfsrv process crashes while serving is down, visibly, until the
platform restarts it after a delay: the demo's canary check must see a crash, not a deployment
that went quietly from dead to serving again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.local import inference_server as server
from shared.adapters.local.endpoints import LocalEndpoints
from shared.adapters.local.platform_db import PlatformDB
from shared.domain.values import DeploymentSpec, ModelRef
from shared.ports import TransientError
from tests.tools import missing_tool
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ENDPOINT, GREEN = "crash-endpoint", "green"
DELAY = 3.0
# Enough for azmlinfsrv: no model to load, the answer names the process that gave it.
ENTRY_SCRIPT = """
import os

def init():
    pass

def run(raw_data):
    return {"pid": os.getpid()}
"""


@pytest.fixture
def endpoints(tmp_path: Path) -> Iterator[LocalEndpoints]:
    if not server.azmlinfsrv().is_file():
        missing_tool(f"azmlinfsrv not found at {server.azmlinfsrv()} (`make` builds it)")
    entry = tmp_path / "score.py"
    entry.write_text(ENTRY_SCRIPT)
    (tmp_path / "model").mkdir()
    local = LocalEndpoints(
        ml_dir=tmp_path / "ml",
        db=PlatformDB(tmp_path / "ml" / "platform.db"),
        entry_script=entry,
        model_path=lambda _: tmp_path / "model",
        ready_timeout=60.0,
        request_timeout=10.0,
        crash_restart_delay=DELAY,
    )
    local.ensure_endpoint(ENDPOINT)
    local.begin_deployment(DeploymentSpec(ENDPOINT, GREEN, ModelRef("m", "1")))
    assert local.wait_for_deployment(ENDPOINT, GREEN, timeout=60).state == "succeeded"
    local.set_traffic(ENDPOINT, {GREEN: 100})
    yield local
    local.close()


def test_a_crashed_deployment_is_down_until_its_delayed_restart(
    endpoints: LocalEndpoints,
) -> None:
    before = endpoints.invoke(ENDPOINT, {"data": ["hi"]}, deployment=GREEN)
    pid = endpoints.deployment_stats(ENDPOINT, GREEN)["pid"]
    os.killpg(pid, signal.SIGKILL)  # the whole container dies, as an OOM kill would do it
    wait_until(lambda: _exited(pid), 10, f"the killed server {pid} exited")

    crashed_at = time.monotonic()  # the next call finds the crash and starts the delay
    with pytest.raises(TransientError, match=r"is down: its server crashed \(killed by SIGKILL\)"):
        endpoints.invoke(ENDPOINT, {"data": ["hi"]}, deployment=GREEN)
    with pytest.raises(TransientError, match="is down"):
        endpoints.invoke(ENDPOINT, {"data": ["hi"]})  # routed by traffic: the same answer
    info = endpoints.get_deployment(ENDPOINT, GREEN)
    assert "crashed (killed by SIGKILL); restart in 3s" in info.error
    stats = endpoints.deployment_stats(ENDPOINT, GREEN)
    assert (stats["requests"], stats["errors"], stats["pid"]) == (3, 2, pid)

    def restarted() -> Any:
        try:
            return endpoints.invoke(ENDPOINT, {"data": ["hi"]}, deployment=GREEN)
        except TransientError as down:  # every call before the delay is over finds it down
            assert "is down: its server crashed" in str(down)
            return None

    after = wait_until(restarted, DELAY + 60, "the crashed deployment restarted", interval=0.2)
    assert time.monotonic() - crashed_at >= DELAY  # not a moment before its delay
    assert after["pid"] != before["pid"]
    assert endpoints.get_deployment(ENDPOINT, GREEN).error == ""


def _exited(pid: int) -> bool:
    """A zombie, or gone: the platform's Popen.poll() now sees the exit. (Its command line
    empties while the kernel tears it down, so "not our server any more" comes sooner.)"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
