"""The local Functions host as a real process: `mlops serve --port 0`, each start with a fresh
MLOPS_HOME in a temp dir, driven over real HTTP from this process (same machine).

- start to ready: from spawning the process to its "listening" line (median of 3 starts);
- the Event Grid webhook: single-event BlobCreated arrays (Event Grid schema), each for a
  distinct blob that exists in the host's local blob store (written as `mlops upload` writes
  it), with the eventgrid_extension key, from 1 and then 4 client threads; every event is
  accepted (200), none is a rejection or a duplicate;
- GET /api/endpoints with a Reader token from `mlops token` (fresh home: no endpoints yet);
- SIGTERM to exit (median of the 3 starts; the last one after the load above).

The host speaks HTTP/1.0, one request per connection, so every request opens a connection.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.table import Row, at_least, row  # noqa: E402
from shared import bootstrap  # noqa: E402
from shared.adapters.local import backend as local_backend  # noqa: E402
from shared.adapters.local import system_events as topics  # noqa: E402
from shared.adapters.local.backend import local_blob_store, local_topic  # noqa: E402
from shared.adapters.local.state_store import SqliteStateStore  # noqa: E402
from shared.devhost import delivery  # noqa: E402
from shared.devhost.host_keys import load_keys  # noqa: E402
from shared.devhost.webhook import PATH  # noqa: E402
from shared.domain.principal import READER  # noqa: E402
from shared.ops.cli.commands.host import READY  # noqa: E402
from shared.services.data_arrived import WINDOW  # noqa: E402
from shared.settings import Settings  # noqa: E402

MLOPS = Path(sys.executable).parent / "mlops"
STARTS = 3
SECONDS = 3.0  # per measured phase
ROUNDS, ROUND = 5, 1.0  # host and in-process rounds, alternating
BLOBS = 4000  # more than the two webhook phases can use up in SECONDS each
# The API allows 30 calls a minute per principal; lifted so the GETs measure the work.
HOST_SETTINGS = {"MLOPS_API_RATE_LIMIT_PER_MINUTE": "100000000"}
DATA = b"label\ttext\nham\tsee you at noon\nspam\tWIN a prize now, call 09061701461\n"


@dataclass
class Host:
    process: subprocess.Popen[str]
    url: str
    home: Path
    ready_seconds: float

    def stop(self) -> float:
        """SIGTERM; the seconds until the process has exited."""
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        elapsed = time.perf_counter() - started
        if code != 0:
            raise RuntimeError(f"the host exited with {code}:\n{self.log()}")
        return elapsed

    def log(self) -> str:
        return (self.home / "host.log").read_text(errors="replace")[-3000:]


def start(home: Path) -> Host:
    home.mkdir(parents=True)
    env = {**os.environ, "MLOPS_HOME": str(home), **HOST_SETTINGS}
    started = time.perf_counter()
    with (home / "host.log").open("w") as log:
        process = subprocess.Popen(
            [str(MLOPS), "serve", "--port", "0"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    deadline = started + 60
    while process.poll() is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        line = process.stdout.readline() if ready else ""
        if line.startswith(READY):
            elapsed = time.perf_counter() - started
            return Host(process, line[len(READY) :].strip(), home, elapsed)
    process.kill()
    process.wait()
    raise RuntimeError(f"the host did not start:\n{(home / 'host.log').read_text()[-3000:]}")


def blob_events(home: Path, count: int) -> list[dict[str, Any]]:
    """Distinct blobs in the host's blob store and their BlobCreated events, as `mlops
    upload` makes them."""
    settings = Settings(home=home)
    blobs = local_blob_store(settings)
    topic = local_topic(settings, "Microsoft.Storage/storageAccounts")
    return [
        topics.blob_created(
            topic, blobs.upload(f"spam/bench/part-{i:05d}.tsv", DATA, "text/tab-separated-values")
        )
        for i in range(count)
    ]


def hammer(
    threads: int, request: Callable[[], int | None], seconds: float = SECONDS
) -> dict[str, Any]:
    """Call ``request`` from ``threads`` threads for SECONDS (or until it returns None):
    requests per second and the statuses seen."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            status = request()
            if status is None:
                return
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    elapsed = time.perf_counter() - started
    done = sum(statuses.values())
    return {
        "client_threads": threads,
        "requests": done,
        "seconds": round(elapsed, 2),
        "per_second": round(done / elapsed),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
    }


def post_event(host: Host, event: dict[str, Any], key: str) -> int:
    """One delivery as Event Grid makes it (a new connection, a JSON array, the key in a
    header), with http.client: the client shares the 2 cores with the host, and urllib's
    per-request machinery would be measured as the host's."""
    netloc = urlsplit(host.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=30)
    try:
        connection.request(
            "POST",
            f"{PATH}?functionName=on_blob_created",
            body=json.dumps([event]).encode(),
            headers={
                "Content-Type": "application/json",
                "aeg-event-type": "Notification",
                "x-functions-key": key,
            },
        )
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def webhook(
    host: Host, events: Iterator[dict[str, Any]], threads: int, seconds: float = SECONDS
) -> dict[str, Any]:
    key = load_keys(host.home).eventgrid
    lock = threading.Lock()

    def post() -> int | None:
        with lock:
            event = next(events, None)
        if event is None:
            return None
        return post_event(host, event, key)

    return hammer(threads, post, seconds)


def get_endpoints(host: Host, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (the local host)
        f"{host.url}/api/endpoints", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            answer.read()
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def api_gets(host: Host, token: str, threads: int) -> dict[str, Any]:
    return hammer(threads, lambda: get_endpoints(host, token))


def reader_token(home: Path) -> str:
    out = subprocess.run(
        [str(MLOPS), "token", "--name", "bench", "--roles", READER],
        cwd=REPO,
        env={**os.environ, "MLOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def load(host: Host, local_home: Path) -> dict[str, Any]:
    events = iter(blob_events(host.home, BLOBS))
    token = reader_token(host.home)
    results: dict[str, Any] = {}
    key = load_keys(host.home).eventgrid
    # Warm up: the first request of each kind imports modules and opens the databases.
    post_event(host, next(events), key)
    with InProcess(local_home) as local:
        rounds = [(webhook(host, events, 1, ROUND), local.round(ROUND)) for _ in range(ROUNDS)]
    results["webhook_vs_in_process_rounds"] = [
        {"host": h["per_second"], "in_process": i["per_second"]} for h, i in rounds
    ]
    results["webhook_1_client"] = webhook(host, events, 1)
    results["webhook_4_clients"] = webhook(host, events, 4)
    get_endpoints(host, token)
    results["api_gets_1_client"] = api_gets(host, token, 1)
    results["api_gets_4_clients"] = api_gets(host, token, 4)
    return results


def window_blobs(home: Path) -> int:
    """How many blobs the dataset's window holds: every event accepted should be there."""
    state = SqliteStateStore(home / "state.db")
    try:
        window = state.get(WINDOW, "spam")
        return int(window.value["blobs"]) if window else 0
    finally:
        state.close()


class InProcess:
    """The same kind of events, handled in this process through the registered function on
    a fresh local backend (no HTTP): what the host's rate is compared with, in rounds that
    alternate with the host's so both see the same machine."""

    def __init__(self, home: Path) -> None:
        self.events = iter(blob_events(home, BLOBS))
        self.backend = local_backend.build(Settings(home=home))

    def __enter__(self) -> InProcess:
        bootstrap.install(self.backend.deps)
        delivery.invoke("on_blob_created", next(self.events))  # warm up, as the host is
        return self

    def __exit__(self, *args: object) -> None:
        bootstrap.install(None)
        self.backend.close()

    def round(self, seconds: float) -> dict[str, Any]:
        def handle() -> int | None:
            event = next(self.events, None)
            if event is None:
                return None
            delivery.invoke("on_blob_created", event)
            return 200

        return hammer(1, handle, seconds)


def rows(report: dict[str, Any]) -> list[Row]:
    rounds = report["webhook_vs_in_process_rounds"]
    host = round(statistics.median(r["host"] for r in rounds))
    local = round(statistics.median(r["in_process"] for r in rounds))
    ratio = round(statistics.median(r["host"] / r["in_process"] for r in rounds), 2)
    return [
        row(
            "webhook deliveries/s through the host vs the same events in process",
            ratio,
            "×",
            "≥ 0.80",
            at_least(ratio, 0.80),
            f"{host:,}/s vs {local:,}/s (medians of {ROUNDS} alternating rounds of {ROUND:.0f} s,"
            " one client thread, the ratio the median of the rounds'),"
            " single-event BlobCreated arrays for distinct blobs, a new connection each (as"
            " Event Grid delivers; http.client); the client (this process) and the host share"
            " the 2 cores; the host answers HTTP/1.0 with a thread per request",
        ),
        row(
            "`mlops serve` start to its listening line",
            report["start_to_ready_seconds"]["median"],
            "s",
            detail=f"fresh MLOPS_HOME, median of {STARTS} starts",
        ),
        row(
            "`GET /api/endpoints` with a Reader token, 1 client thread",
            report["api_gets_1_client"]["per_second"],
            "/s",
            detail="the per-principal rate limit lifted",
        ),
    ]


def main() -> dict[str, Any]:
    logging.disable(logging.INFO)  # as the host logs: measure the work, not the console
    ready, stopped = [], []
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(STARTS):
            host = start(Path(tmp) / f"home-{run}")
            try:
                ready.append(host.ready_seconds)
                if run == STARTS - 1:
                    report.update(load(host, Path(tmp) / "in-process"))
            finally:
                if host.process.poll() is None:
                    stopped.append(host.stop())
        report["window_blobs_after_exit"] = window_blobs(host.home)
    report = {
        "start_to_ready_seconds": _summary(ready),
        **report,
        "sigterm_to_exit_seconds": {**_summary(stopped), "after_load": round(stopped[-1], 2)},
    }
    return {"rows": rows(report), **report}


def _summary(samples: list[float]) -> Mapping[str, Any]:
    return {
        "median": round(statistics.median(samples), 2),
        "samples": [round(s, 2) for s in samples],
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
