"""The README's operator walkthrough, end to end over HTTP against a real `mlops serve`.

Two uploads train v1 and v2 and roll them out on their own (the model's events come back
through the host's webhook, the timer advances the rollouts); then an operator with a
Deployer token redeploys v1 (with an Idempotency-Key, retried) and rolls back to v2, over
plain HTTP as curl would; a Reader token may not, no token is 401; and `mlops audit`,
reading the same MLOPS_HOME while the host runs, names alice and her reasons.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from shared.adapters.project_files import REPO_ROOT
from shared.devhost.easyauth import default_oid
from shared.ops.demo import data as demodata
from shared.settings import Settings
from tests.integration.host.hostproc import (
    HostProcess,
    Response,
    cmdline,
    descendants,
    http,
    start_host,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # minutes of real jobs

MLOPS = Path(sys.executable).parent / "mlops"
# Short windows so the whole story takes about a minute; the rate limit is raised because
# the test polls far more often than a person would.
HOST_ENV = {
    "MLOPS_COALESCE_QUIET_SECONDS": "0",
    "MLOPS_CANARY_SECONDS": "1",
    # Nobody sends this endpoint traffic: its canary is promoted on the smoke test at the cap.
    "MLOPS_CANARY_MAX_SECONDS": "1",
    "MLOPS_CANARY_WITHOUT_TRAFFIC": "promote",
    "MLOPS_MIN_ACCURACY": "0.5",
    "MLOPS_MIN_F1": "0.3",
    "MLOPS_API_RATE_LIMIT_PER_MINUTE": "100000",
}
REDEPLOY_REASON = "v2 flags invoices as spam (INC-4711)"
ROLLBACK_REASON = "INC-4711 was a false alarm"
T = TypeVar("T")


@dataclass
class Host:
    """The running host, the processes seen below it, and how to talk to it like a user."""

    proc: HostProcess
    env: dict[str, str]
    settings: Settings
    children: dict[int, bytes] = field(default_factory=dict)  # pid -> cmdline when seen

    @property
    def url(self) -> str:
        return self.proc.url

    def mlops(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `mlops` command, as a user runs it beside the host (same MLOPS_HOME)."""
        return subprocess.run(
            [str(MLOPS), *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def token(self, name: str, *roles: str) -> dict[str, str]:
        issued = self.mlops("token", "--roles", ",".join(roles), "--name", name)
        assert issued.returncode == 0, issued.stderr
        return {"Authorization": f"Bearer {issued.stdout.strip()}"}

    def get(self, path: str, auth: Mapping[str, str]) -> Response:
        return http("GET", f"{self.url}{path}", headers=auth)

    def post(self, path: str, auth: Mapping[str, str], body: Any, **headers: str) -> Response:
        sent = {**auth, "Content-Type": "application/json", **headers}
        return http("POST", f"{self.url}{path}", json.dumps(body).encode(), sent)

    def track(self) -> None:
        """Remember every process below the host (training jobs, azmlinfsrv servers and
        their workers), so none of them can outlive the test unnoticed."""
        for pid in descendants(self.proc.process.pid):
            if pid not in self.children and (command := cmdline(pid)):
                self.children[pid] = command

    def survivors(self) -> list[int]:
        return [pid for pid, command in self.children.items() if cmdline(pid) == command]

    def wait(self, what: str, probe: Callable[[], tuple[T | None, object]], timeout: float) -> T:
        """Call ``probe`` (returning (result or None, last answer)) until it has a result;
        fail with the last answer and the tail of the host's log."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            self.track()
            if self.proc.process.poll() is not None:
                break
            found, last = probe()
            if found is not None:
                return found
            time.sleep(0.5)
        state = "exited" if self.proc.process.poll() is not None else "running"
        pytest.fail(
            f"{what}: not within {timeout}s (host {state})\nlast answer: {last}\n"
            f"host log (tail):\n{self.proc.log[-4000:]}\n"
            f"audit (tail):\n{self.mlops('audit', '--limit', '25').stdout}"
        )

    def serving(self, version: str, timeout: float) -> dict[str, Any]:
        """Wait until ``version`` takes all traffic and no rollout is active; the view."""
        reader = self.token("reader", "MLOps.Reader")
        path = f"/api/endpoints/{self.settings.endpoint_name}"

        def probe() -> tuple[dict[str, Any] | None, object]:
            answer = self.get(path, reader)
            if answer.status != 200:
                return None, (answer.status, answer.body[:500])
            view: dict[str, Any] = answer.json()
            return (view if serves(view, version) else None), view

        return self.wait(f"v{version} serving at 100 %", probe, timeout)

    def operation(self, location: str, auth: Mapping[str, str], timeout: float) -> dict[str, Any]:
        """Poll the operation's status URL until it is no longer active."""

        def probe() -> tuple[dict[str, Any] | None, object]:
            answer = self.get(location, auth)
            if answer.status != 200:
                return None, (answer.status, answer.body[:500])
            view: dict[str, Any] = answer.json()
            return (None if view["active"] else view), view

        return self.wait(f"operation {location} finished", probe, timeout)


def serves(view: Mapping[str, Any], version: str) -> bool:
    full = [d for d in view["deployments"] if d["traffic"] == 100 and d["state"] == "succeeded"]
    return (
        view["active_rollout"] is None
        and len(full) == 1
        and full[0]["model"]["version"] == version
        and sum(view["traffic"].values()) == 100
    )


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    home = tmp_path / "home"
    env = {**os.environ, "MLOPS_HOME": str(home), **HOST_ENV}
    running = Host(
        start_host(home, "--reconcile-every", "1", env=HOST_ENV), env, Settings(home=home)
    )
    try:
        yield running
    finally:  # even when the test failed: no host, no job, no azmlinfsrv left behind
        running.track()
        try:
            running.proc.stop(timeout=60)
        except subprocess.TimeoutExpired:
            running.proc.process.kill()
            running.proc.process.wait(10)
        for pid in running.survivors():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue


def test_a_user_redeploys_and_rolls_back_over_http(host: Host, tmp_path: Path) -> None:
    endpoint = host.settings.endpoint_name
    model = host.settings.model_name

    # 1-2. Two uploads: each trains a version that rolls out on its own.
    for version, (rows, seed) in {"1": (1500, 1), "2": (3000, 2)}.items():
        data = demodata.write_tsv(tmp_path / f"part-{version}.tsv", demodata.generate(rows, seed))
        upload = host.mlops("upload", str(data), "--prefix", "spam/", "--url", host.url)
        assert upload.returncode == 0, upload.stdout + upload.stderr
        assert upload.stdout.strip().endswith(": 200"), upload.stdout
        host.serving(version, timeout=150)

    alice = host.token("alice", "MLOps.Deployer")
    alice_actor = f"user:{default_oid('alice')}"

    # 3. Redeploy v1, with an Idempotency-Key; the retry gets the same answer, no new rollout.
    redeploy = {"model": model, "version": "1", "reason": REDEPLOY_REASON}
    key = {"Idempotency-Key": "redeploy-v1-0001"}
    path = f"/api/endpoints/{endpoint}/deployments"
    first = host.post(path, alice, redeploy, **key)
    assert first.status == 202, (first.status, first.body)
    started = first.json()
    location = first.headers["Location"]
    assert location == started["status_url"] == f"/api/operations/{started['operation_id']}"
    again = host.post(path, alice, redeploy, **key)
    assert (again.status, again.json()) == (202, started)
    assert (again.headers["Location"], again.headers["Idempotent-Replayed"]) == (location, "true")

    done = host.operation(location, alice, timeout=120)
    assert (done["phase"], done["outcome"], done["kind"]) == ("completed", "succeeded", "manual")
    assert done["model"] == {"name": model, "version": "1"}
    assert done["requested_by"] == {"actor": alice_actor, "name": "alice"}
    assert done["reason"] == REDEPLOY_REASON
    assert serves(host.get(f"/api/endpoints/{endpoint}", alice).json(), "1")

    # 4. Roll back: back to the model that served before the last rollout, v2.
    back = host.post(f"/api/endpoints/{endpoint}/rollback", alice, {"reason": ROLLBACK_REASON})
    assert back.status == 202, (back.status, back.body)
    rolled = host.operation(back.headers["Location"], alice, timeout=120)
    assert (rolled["phase"], rolled["outcome"], rolled["kind"]) == (
        "completed",
        "succeeded",
        "rollback",
    )
    assert rolled["model"] == {"name": model, "version": "2"}
    assert serves(host.get(f"/api/endpoints/{endpoint}", alice).json(), "2")

    # 5. A Reader may look but not act; without a token nothing gets through.
    reader = host.token("bob", "MLOps.Reader")
    refused = host.post(f"/api/endpoints/{endpoint}/rollback", reader, {"reason": "no"})
    assert (refused.status, refused.json()["error"]) == (403, "forbidden")
    anonymous = host.post(f"/api/endpoints/{endpoint}/rollback", {}, {"reason": "no"})
    assert (anonymous.status, anonymous.headers["WWW-Authenticate"]) == (401, "Bearer")

    # 6. The audit trail, read by `mlops audit` while the host runs.
    listed = host.mlops("audit", "--jsonl")
    assert listed.returncode == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert json.loads(host.mlops("audit", "--json").stdout) == records
    by_action: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_action.setdefault(record["action"], []).append(record)
    [redeployed] = by_action["operator.redeploy"]  # one, despite the retry
    [rollback] = by_action["operator.rollback"]
    for record, operation, reason in (
        (redeployed, started["operation_id"], REDEPLOY_REASON),
        (rollback, rolled["operation_id"], ROLLBACK_REASON),
    ):
        assert (record["actor"], record["outcome"]) == (alice_actor, "accepted"), record
        assert record["correlation_id"] == operation
        assert record["details"]["request_reason"] == reason
        assert record["details"]["principal"]["name"] == "alice"
        # The operation id finds its whole story; the reconciler's later steps are hers too.
        story = host.mlops("audit", "--jsonl", "--correlation-id", operation)
        steps = [json.loads(line) for line in story.stdout.splitlines()]
        assert steps[-1]["action"] == "rollout.completed", [r["action"] for r in steps]
        assert {r["actor"] for r in steps} == {alice_actor}
        assert steps[-1]["details"]["request_reason"] == reason
        explained = json.loads(host.mlops("explain", operation, "--json").stdout)
        assert [s["seq"] for s in explained["steps"]] == [r["seq"] for r in steps]
        assert explained["outcome"].endswith("serving (" + steps[-1]["reason"] + ")")
    # "Who rolled back the endpoint?": the README's one command answers with her name.
    who = host.mlops("audit", "--action", "operator.rollback", "--outcome", "accepted")
    [row] = who.stdout.splitlines()[1:]
    assert "alice" in row and rolled["operation_id"][:8] in row
    manual = [r for r in by_action["rollout.planned"] if r["actor"] == alice_actor]
    assert len(manual) == 2  # one redeploy (retried) and one rollback
    assert any(
        r["action"] == "api.rollback"
        and r["outcome"] == "rejected"
        and r["details"]["status"] == 403
        for r in records
    )
    verified = host.mlops("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit chain valid")

    # The host stops cleanly and takes every process it started with it.
    host.track()
    assert any(b"azmlinfsrv" in command for command in host.children.values())
    assert host.proc.stop(timeout=60) == 0
    assert host.survivors() == []
