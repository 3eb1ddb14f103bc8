"""A reconciler tick against history: the registered timer function on the local backend with
1,000 finished rollouts and 1,000 finished jobs in the state store, against the same tick on
an empty store (same run, medians), and the store's read of the 1 active rollout with and
without that history, beside the old full listing."""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from azure.functions.timer import TimerRequest  # noqa: E402

from bench.table import at_most, row  # noqa: E402
from shared import bootstrap  # noqa: E402
from shared.adapters.local import backend as local_backend  # noqa: E402
from shared.devhost.functions_registry import user_function  # noqa: E402
from shared.domain.rollout import TERMINAL, Phase  # noqa: E402
from shared.ports import StateStore  # noqa: E402
from shared.services.reconciler import JOB  # noqa: E402
from shared.services.rollouts import ROLLOUT  # noqa: E402
from shared.settings import Settings  # noqa: E402

HISTORY = 1000
RUNS = 15
ACTIVE = tuple(phase.value for phase in Phase if phase not in TERMINAL)


def median_ms(action: Callable[[], object]) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return round(1000 * statistics.median(samples), 3)


def fill(state: StateStore, finished: int) -> None:
    for n in range(finished):
        rollout = {"id": f"ro-{n:05d}", "phase": "completed", "endpoint": "ep", "history": []}
        state.put(ROLLOUT, f"ro-{n:05d}", rollout, etag=None)
        state.put(JOB, f"train-{n:05d}", {"status": "completed", "window_id": f"w{n}"}, etag=None)
    # The one active rollout, as a document (stepping it would start a deployment).
    state.put(ROLLOUT, "ro-active", {"id": "ro-active", "phase": "canary"}, etag=None)


def measure(home: Path, finished: int) -> dict[str, float]:
    settings = Settings(home=home)
    backend = local_backend.build(settings)
    state = backend.deps.state
    fill(state, finished)
    active = median_ms(lambda: state.list_where(ROLLOUT, "phase", ACTIVE))
    full = median_ms(lambda: state.list(ROLLOUT))
    # The tick with nothing active: what history alone costs it.
    current = state.get(ROLLOUT, "ro-active")
    assert current is not None
    state.put(ROLLOUT, "ro-active", {**current.value, "phase": "completed"}, etag=current.etag)
    bootstrap.install(backend.deps)
    try:
        tick = user_function("reconcile_rollouts", "timerTrigger")
        tick(TimerRequest())  # warm up
        ticked = median_ms(lambda: tick(TimerRequest()))
    finally:
        bootstrap.install(None)
        backend.close()
    return {"list_active_ms": active, "list_all_ms": full, "tick_ms": ticked}


def main() -> dict[str, Any]:
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        empty = measure(Path(tmp) / "empty", 0)
        history = measure(Path(tmp) / "history", HISTORY)
    ratio = round(history["tick_ms"] / empty["tick_ms"], 2)
    detail = (
        f"the timer function on the local backend, median of {RUNS}: {history['tick_ms']} ms"
        f" with {HISTORY:,} finished rollouts and {HISTORY:,} finished jobs vs"
        f" {empty['tick_ms']} ms with none; the 1 active rollout read through the store's"
        f" index in {history['list_active_ms']} ms ({empty['list_active_ms']} ms without the"
        f" history), where listing every rollout (the old tick) takes {history['list_all_ms']} ms"
    )
    figure = "reconciler tick with 1,000 finished rollouts vs none"
    return {
        "rows": [
            row(figure, ratio, "×", "≤ 1.2 (cost of active items)", at_most(ratio, 1.2), detail)
        ],
        "empty": empty,
        "history": history,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
