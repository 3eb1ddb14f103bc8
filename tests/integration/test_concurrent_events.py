"""Concurrent deliveries on the real SQLite state store still coalesce into one job."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shared import bootstrap
from shared.adapters.local import system_events as topics
from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.adapters.local.blob_store import LocalBlobStore
from shared.adapters.local.state_store import SqliteStateStore
from shared.devhost import delivery
from shared.services.data_arrived import WINDOW
from shared.services.deps import Deps
from shared.services.injection import inject
from shared.services.reconciler import reconcile
from tests.conftest import ACCOUNT, STORAGE_TOPIC, World
from tests.fakes import NoSecrets

DATA = b"label,text\nham,see you at noon\nspam,WIN a prize now call 0900\n"


def test_parallel_and_repeated_deliveries_start_one_job(world: World, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs", ACCOUNT, "training-data")
    deps = Deps(
        world.deps.settings,
        world.platform,
        blobs,
        SqliteStateStore(tmp_path / "state.db"),
        NoSecrets(),
        SqliteAuditSink(tmp_path / "audit.db", world.clock),
        world.clock,
        world.deps.smoke_set,
        world.deps.registry,
    )
    bootstrap.install(deps)
    events = [
        topics.blob_created(STORAGE_TOPIC, blobs.upload(f"spam/p-{i:03d}.csv", DATA, "text/csv"))
        for i in range(120)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:  # each event delivered twice, in parallel
        list(pool.map(lambda e: delivery.invoke("on_blob_created", e), events + events))

    window = deps.state.get(WINDOW, "spam")
    assert window is not None and window.value["blobs"] == 120
    world.clock.advance(61)
    inject(reconcile, deps)()
    inject(reconcile, deps)()
    [job] = world.platform.submitted
    assert job.tags["blob_count"] == "120"
    outcomes = [r.outcome for r in deps.audit.records(action_prefix="data.")]  # type: ignore[attr-defined]
    assert outcomes.count("accepted") == 120
    assert outcomes.count("duplicate") == 120
