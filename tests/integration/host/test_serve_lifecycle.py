"""`mlops serve` end to end as a process: an upload over the webhook, the timer submitting
the training job, the model's event pumped back through the webhook, a deployment server
started; then SIGTERM stops everything and leaves no process behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.ops.cli import main
from shared.ops.demo import data as demodata
from tests.integration.host.hostproc import cmdline, descendants, start_host

pytestmark = pytest.mark.slow


def test_timer_pump_and_a_clean_shutdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    quick = {
        "MLOPS_COALESCE_QUIET_SECONDS": "0",
        "MLOPS_MIN_ACCURACY": "0.5",
        "MLOPS_MIN_F1": "0.3",
    }
    host = start_host(home, "--reconcile-every", "1", env=quick)
    try:
        data = demodata.write_tsv(tmp_path / "part-001.tsv", demodata.generate(600, seed=11))
        assert (
            main(["--home", str(home), "upload", str(data), "--prefix", "spam", "--url", host.url])
            == 0
        )
        assert capsys.readouterr().out.strip().endswith(": 200")
        host.wait_for_audit("training.submitted", timeout=30)  # the timer ticked
        host.wait_for_audit("rollout.deploying", timeout=120)  # ModelRegistered was pumped
        children = descendants(host.process.pid)
        assert any(b"azmlinfsrv" in Path(f"/proc/{p}/cmdline").read_bytes() for p in children)
    finally:
        started = time.monotonic()
        code = host.stop(timeout=60)
    assert code == 0
    assert time.monotonic() - started < 30
    assert host.process.stdout is not None
    assert host.process.stdout.read().strip() == "mlops host stopped"
    assert [pid for pid in children if cmdline(pid)] == []
