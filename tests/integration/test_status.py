"""`mlops status`: the report from the ports, its tables, the CLI on a real local home, and
`--url` against a running host's manual API (bearer tokens, 401 and 403)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from shared.adapters.local import backend as local_backend
from shared.adapters.local.backend import LocalBackend
from shared.devhost.easyauth import EasyAuth
from shared.devhost.host_keys import load_signing_key
from shared.domain.audit import AuditEntry, AuditRecord, ChainReport
from shared.domain.audit_verify import verify_chain
from shared.domain.rollout import Phase, Rollout, Transition
from shared.domain.values import ModelRef
from shared.ops.cli import main
from shared.ops.render.tables import render
from shared.ops.views.status import build_status
from shared.services.data_arrived import WINDOW
from shared.services.injection import inject
from shared.services.operations import Principal, redeploy
from shared.services.reconciler import JOB
from shared.services.rollouts import LOCK, REQUESTER, ROLLOUT
from shared.settings import Settings
from tests.conftest import World, model_registered
from tests.fakes import TEST_CHAIN_KEY, RecordingAuditSink
from tests.integration.host.hostproc import HostProcess, start_host

ENDPOINT = "spam-endpoint"
MODEL = "spam-classifier"
ALICE = Principal("0b7c-alice", "alice", ("MLOps.Deployer",))
TAGS = {"gate": "passed", "gate_reason": "beats champion", "accuracy": "0.9900", "f1": "0.9600"}
ANSI = re.compile(r"\x1b\[")
KEYS = {
    "source",
    "endpoint",
    "models",
    "active_rollouts",
    "recent_rollouts",
    "open_windows",
    "jobs",
    "running_jobs",
    "parked",
    "quarantined_files",
    "pending_events",
    "dead_letters",
    "audit",
}
# The timer must not advance the rollout seeded by hand while the test reads it.
QUIET_TIMER = {"MLOPS_RECONCILE_SCHEDULE": "0 0 0 1 1 *"}


class Events:
    def __init__(self, pending: int = 0, dead: Sequence[Path] = ()) -> None:
        self._pending, self._dead = pending, list(dead)

    def pending(self) -> int:
        return self._pending

    def dead_letters(self) -> Sequence[Path]:
        return self._dead


class Trail:
    """The recording sink seen as the audit trail `status` reads."""

    def __init__(self, sink: RecordingAuditSink) -> None:
        self._sink = sink

    def records(self, *, action_prefix: str = "") -> Sequence[AuditRecord]:
        return [r for r in self._sink.records if r.action.startswith(action_prefix)]

    def verify(self) -> ChainReport:
        return verify_chain((r.to_dict() for r in self._sink.records), key=TEST_CHAIN_KEY)


def text(report: dict[str, Any]) -> str:
    out = io.StringIO()
    render(report, Console(file=out, width=100, highlight=False))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def serve_two_versions_then_redeploy(world: World) -> None:
    """v1 then v2 roll out; Alice asks for v1 back, which waits in its canary."""
    for version in ("1", "2"):
        world.platform.add_model(MODEL, version, TAGS)
        world.deliver("on_model_registered", model_registered(MODEL, version, {"gate": "passed"}))
        for _ in range(5):
            world.reconcile()
            world.clock.advance(301)
    inject(redeploy, world.deps)(
        ENDPOINT,
        ModelRef(MODEL, "1"),
        principal=ALICE,
        reason="v2 misfiles invoices",
        operation_key="op-key-1",
        supersede=False,
    )
    world.reconcile()
    world.reconcile()


def test_the_report_shows_serving_metrics_and_the_rollout_in_flight(world: World) -> None:
    serve_two_versions_then_redeploy(world)
    report = build_status(world.deps, Events(), Trail(world.audit))

    assert set(report) == KEYS
    assert report["endpoint"]["traffic"] == {"green": 90, "blue": 10}
    assert {d["name"]: (d["model"], d["traffic"]) for d in report["endpoint"]["deployments"]} == {
        "blue": (f"{MODEL}:1", 10),
        "green": (f"{MODEL}:2", 90),
    }
    v1 = report["models"][0]
    assert (v1["accuracy"], v1["f1"], v1["precision"], v1["gate"]) == (0.99, 0.96, None, "passed")
    assert (v1["decision"], v1["deployments"]) == ("accepted", ["blue"])
    assert v1["registered"].startswith("2025-01-01T00:00")
    [active] = report["active_rollouts"]
    assert (active["phase"], active["kind"], active["colour"]) == ("canary", "manual", "blue")
    assert active["requested_by"] == {"actor": ALICE.actor, "name": "alice"}
    assert report["audit"]["chain_valid"] is True

    shown = text(report)
    assert "Endpoint spam-endpoint" in shown
    assert re.search(r"green\s+90%\s+spam-classifier:2\s+succeeded", shown)
    assert "traffic: blue 10% · green 90%" in shown or "traffic: green 90% · blue 10%" in shown
    assert re.search(r"1\s+passed\s+0\.990\s+-\s+-\s+0\.960\s+-\s+blue", shown)
    assert re.search(
        r"Rollout in flight\n.*\n.*\n\S+\s+manual\s+spam-classifier:1\s+blue\s+canary", shown
    )
    assert "alice" in shown
    assert max(len(line) for line in shown.splitlines()) <= 100


def test_pending_training_jobs_events_and_dead_letters(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/a.csv"))
    report = build_status(
        world.deps, Events(2, [Path("dl/on_blob_created/e1.json")]), Trail(world.audit)
    )
    [window] = report["open_windows"]
    assert (window["dataset"], window["blobs"]) == ("spam", 1)
    assert window["due"] == "2025-01-01T00:01:00+00:00"  # the 60 s quiet gap after the blob
    shown = text(report)
    assert re.search(
        r"Pending coalesced training\n.*\n.*\nspam\s+1\s+2025-01-01 00:00:00\s+2025-01-01 00:01:00",
        shown,
    )
    assert "Events: 2 pending, 1 dead letter(s)" in shown and "dl/on_blob_created/e1.json" in shown

    world.clock.advance(61)
    world.reconcile()
    report = build_status(world.deps, Events(), Trail(world.audit))
    assert report["open_windows"] == []
    [job] = report["jobs"]
    assert (job["status"], job["dataset"], job["submitted"][:16]) == (
        "running",
        "spam",
        "2025-01-01T00:01",
    )
    assert report["running_jobs"] == [job["name"]]
    assert re.search(rf"{job['name']}\s+running\s+spam\s+2025-01-01 00:01:01", text(report))


def test_a_broken_chain_is_shown_in_red_words(world: World) -> None:
    report = build_status(world.deps, Events(), Trail(world.audit))
    report["audit"] = {"records": 3, "chain_valid": False, "first_bad_seq": 2, "problem": "hash"}
    assert "Audit: 3 records, chain BROKEN at seq 2: hash" in text(report)


def seed(home: Path, *, with_work: bool) -> Rollout:
    """A real local home with an endpoint and a rollout in its canary (written as the
    rollout service stores it); ``with_work`` adds an open window, a job and an event."""
    settings = Settings(home=home)
    backend = local_backend.build(settings)
    try:
        backend.platform.ensure_endpoint(settings.endpoint_name)
        rollout = _canary(settings)
        state = backend.deps.state
        state.put(ROLLOUT, rollout.id, rollout.to_dict(), etag=None)
        state.put(LOCK, rollout.endpoint, {"rollout_id": rollout.id}, etag=None)
        state.put(REQUESTER, rollout.id, {"principal": {"name": "alice"}}, etag=None)
        if with_work:
            _work(backend)
    finally:
        backend.close()
    return rollout


def _canary(settings: Settings) -> Rollout:
    steps = tuple(
        Transition(f"2026-11-26T10:0{i}:00+00:00", phase, "")
        for i, phase in enumerate((Phase.DEPLOYING, Phase.SMOKE_TESTING, Phase.CANARY))
    )
    return Rollout(
        id="ro-0123456789abcdef0123",
        endpoint=settings.endpoint_name,
        model=ModelRef(settings.model_name, "2"),
        image=None,
        kind="manual",
        actor=ALICE.actor,
        reason="v1 misfiles invoices",
        correlation_id="op-1",
        colour="green",
        previous="blue",
        previous_model=ModelRef(settings.model_name, "1"),
        phase=Phase.CANARY,
        phase_since=steps[-1].time,
        history=steps,
    )


def _work(backend: LocalBackend) -> None:
    stamp = "2026-11-26T10:00:00+00:00"
    window: dict[str, Any] = {"dataset": "spam", "window_id": "w1", "status": "open"}
    window |= {"opened": stamp, "last_event": stamp, "first_event": "ev-1", "blobs": 2}
    backend.deps.state.put(WINDOW, "spam", window, etag=None)
    job = {"dataset": "spam", "window_id": "w0", "status": "running", "correlation_id": "ev-0"}
    backend.deps.state.put(JOB, "train-spam-w0", job, etag=None)
    backend.audit.append(
        AuditEntry("reconciler", "training.submitted", "train-spam-w0", "accepted")
    )
    backend.events.publish(model_registered(MODEL, "9"))


def test_the_cli_on_a_local_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rollout = seed(tmp_path, with_work=True)
    assert main(["--home", str(tmp_path), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == KEYS and report["source"] == "local"
    assert report["endpoint"] == {
        "name": ENDPOINT,
        "serving": None,
        "traffic": {},
        "deployments": [],
    }
    [active] = report["active_rollouts"]
    assert (active["operation_id"], active["phase"]) == (rollout.id, "canary")
    assert active["requested_by"] == {"actor": ALICE.actor, "name": "alice"}
    assert report["open_windows"][0]["due"] == "2026-11-26T10:01:00+00:00"
    assert [j["name"] for j in report["jobs"]] == report["running_jobs"] == ["train-spam-w0"]
    assert report["pending_events"] == 1
    assert report["audit"]["records"] == 1 and report["audit"]["chain_valid"] is True

    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["--home", str(tmp_path), "status"]) == 0
    out = capsys.readouterr().out
    assert not ANSI.search(out)  # not a terminal: no colour codes
    assert all(len(line) <= 100 and line == line.rstrip() for line in out.splitlines())
    assert re.search(rf"{rollout.id}\s+manual\s+spam-classifier:2\s+green\s+canary", out)
    assert "2026-11-26 10:02:00" in out and "alice" in out
    assert "Events: 1 pending, 0 dead letter(s)" in out


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    home = tmp_path_factory.mktemp("status-home")
    seed(home, with_work=False)
    running = start_host(home, env=QUIET_TIMER)
    yield running
    assert running.stop() == 0


def token(home: Path, *roles: str) -> str:
    return EasyAuth(load_signing_key(home)).issue("reader", list(roles))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["status", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_url_reads_the_hosts_api(
    host: HostProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_TOKEN", token(host.home, "MLOps.Reader"))
    code, out, err = run(capsys, "--url", host.url, "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["source"], doc["url"]) == ("api", host.url)
    [endpoint] = doc["endpoints"]
    assert endpoint["name"] == ENDPOINT
    assert endpoint["active_rollout"]["phase"] == "canary"
    [operation] = doc["active_operations"]
    assert (operation["operation_id"], operation["kind"]) == ("ro-0123456789abcdef0123", "manual")
    assert operation["requested_by"] == {"actor": ALICE.actor, "name": "alice"}
    assert "models" in doc["not_available"]

    code, out, _ = run(capsys, "--url", host.url + "/")
    assert code == 0
    assert "Endpoint spam-endpoint: no deployments" in out
    assert re.search(
        r"ro-0123456789abcdef0123\s+manual\s+spam-classifier:2\s+green\s+canary\s+"
        r"2026-11-26 10:02:00\s+alice",
        out,
    )
    assert "need the local backend" in out


def test_url_without_a_good_token_fails_in_one_line(
    host: HostProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "--url", host.url)
    assert (code, out, err.count("\n")) == (1, "", 1)
    assert err.startswith(f"mlops status: {host.url}/api/endpoints answered 401")
    assert "`mlops token --name you --roles MLOps.Reader`" in err
    assert "az account get-access-token --resource api://" in err

    code, _, err = run(capsys, "--url", host.url, "--token", token(host.home))  # no role
    assert code == 1 and err.count("\n") == 1
    assert "answered 403" in err and "--roles MLOps.Reader" in err

    code, _, err = run(capsys, "--url", "http://127.0.0.1:9", "--token", "x")
    assert code == 1 and err.startswith("mlops status: cannot reach http://127.0.0.1:9/api/")
