"""Local managed online endpoints: each deployment an ``azmlinfsrv`` process serving
``training/src/score.py``; an endpoint routes requests by its traffic weights.

The local backend cannot run a container image: a deployment records its image (a digest)
and tells score.py about it through ``MLOPS_SERVING_IMAGE``, but always serves the same
score.py from this checkout. A recorded deployment whose process is gone (the CLI process
that started it exited) is restarted on first use. One whose process this platform started
died after it was serving has crashed: like a container the platform restarts after a delay,
it is down until then, and requests to it fail rather than wait for a silent restart.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import requests

from shared.adapters.local import inference_server as server
from shared.adapters.local.model_registry import check_name
from shared.adapters.local.platform_db import DeploymentRow, PlatformDB
from shared.domain.values import (
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    ModelRef,
    ProvisioningState,
)
from shared.ports import NotFound, TransientError

log = logging.getLogger(__name__)


class LocalEndpoints:
    """Endpoints, deployments and traffic of the local ML platform. Thread-safe."""

    def __init__(
        self,
        *,
        ml_dir: Path,
        db: PlatformDB,
        entry_script: Path,
        model_path: Callable[[ModelRef], Path],
        ready_timeout: float,
        request_timeout: float,
        crash_restart_delay: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._ml = ml_dir
        self._db = db
        self._entry_script = entry_script
        self._model_path = model_path
        self._ready_timeout = ready_timeout
        self._request_timeout = request_timeout
        # Kubernetes waits 10 s before it first restarts a container that exited.
        self._crash_restart_delay = crash_restart_delay
        # When each request happened (epoch seconds), for the canary's live-traffic window.
        self._wall_clock = wall_clock
        self._crashes: dict[tuple[str, str], float] = {}  # when each crash was seen
        self._lock = threading.RLock()
        self._servers: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self._random = random.Random()
        self._closed = False

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        self._db.ensure_endpoint(check_name("endpoint", name))
        return self.get_endpoint(name)

    def get_endpoint(self, name: str) -> EndpointInfo:
        """The recorded state: reading an endpoint starts no process (``mlops status``)."""
        traffic = self._traffic(name)
        rows = self._db.deployments(name)
        return EndpointInfo(name, traffic, tuple(self._info(r) for r in rows))

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        with self._lock:
            self._traffic(endpoint)
            names = {row.name for row in self._db.deployments(endpoint)}
            if unknown := sorted(set(traffic) - names):
                raise ValueError(f"endpoint {endpoint} has no deployment {', '.join(unknown)}")
            for name, weight in traffic.items():
                if (
                    isinstance(weight, bool)
                    or not isinstance(weight, int)
                    or not 0 <= weight <= 100
                ):
                    raise ValueError(
                        f"traffic for {name} must be an integer 0..100, not {weight!r}"
                    )
            if sum(traffic.values()) not in (0, 100):
                raise ValueError(
                    f"traffic must sum to 100 (or all be 0), not {sum(traffic.values())}"
                )
            self._db.set_traffic(endpoint, {name: traffic.get(name, 0) for name in names})

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        """Start (or replace) an azmlinfsrv process serving ``spec.model``; returns while it
        is still "creating".

        The local backend cannot run a container image: it records ``spec.image`` (a digest)
        and tells score.py about it through ``MLOPS_SERVING_IMAGE``, but always serves the
        same score.py from this checkout."""
        check_name("deployment", spec.name)
        self._traffic(spec.endpoint)
        row = DeploymentRow(
            endpoint=spec.endpoint,
            name=spec.name,
            model_name=spec.model.name,
            model_version=spec.model.version,
            image=spec.image,
            model_dir=self._model_path(spec.model),
            state="creating",
            error="",
            pid=0,
            port=0,
        )
        with self._lock:
            self._check_open()
            self._stop(spec.endpoint, spec.name)
            self._db.put_deployment(self._start(row))
            traffic = self._traffic(spec.endpoint)
            self._db.set_traffic(spec.endpoint, {spec.name: 0, **traffic})

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        """The state is "creating" until the liveness route answers, "failed" (with the
        reason from the log) if the process exited while starting. A deployment whose process
        is gone is restarted here, lazily."""
        return self._info(self._refresh(self._row(endpoint, name)))

    def wait_for_deployment(self, endpoint: str, name: str, timeout: float) -> DeploymentInfo:
        """Poll until the deployment leaves "creating"; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while (info := self.get_deployment(endpoint, name)).state == "creating":
            if time.monotonic() > deadline:
                raise TimeoutError(f"deployment {endpoint}/{name} still creating after {timeout}s")
            time.sleep(0.2)
        return info

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        """Stop and forget a deployment. Like Azure ML, refuses one that still takes traffic."""
        with self._lock:
            traffic = self._db.traffic(endpoint)
            if traffic is None or self._db.deployment(endpoint, name) is None:
                return
            if traffic.get(name, 0) > 0:
                raise ValueError(
                    f"deployment {name} takes {traffic[name]}% of {endpoint}'s traffic;"
                    " set it to 0 before deleting it"
                )
            self._db.update_deployment(endpoint, name, state="deleting")
            self._stop(endpoint, name)
            self._db.delete_deployment(endpoint, name)
            traffic.pop(name, None)
            self._db.set_traffic(endpoint, traffic)

    def deployment_stats(self, endpoint: str, name: str) -> dict[str, int]:
        """Requests scored by a deployment since it was (re)created (errors: the deployment
        failed; client_errors: it rejected the request), and where its process runs."""
        row = self._row(endpoint, name)
        return {
            "requests": row.requests,
            "errors": row.errors,
            "client_errors": row.client_errors,
            "pid": row.pid,
            "port": row.port,
        }

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        """Score on ``deployment``, or on one the endpoint picks by its traffic weights. Every
        request is counted and recorded with its outcome and latency; only the routed ones
        are live traffic (a named deployment is a probe: the smoke test)."""
        routed = deployment is None
        row = self._ready_row(endpoint, deployment or self._pick(endpoint), routed=routed)
        url = f"http://127.0.0.1:{row.port}/score"
        started = time.monotonic()
        try:
            response = requests.post(url, json=dict(payload), timeout=self._request_timeout)
        except requests.RequestException as exc:
            self._record(row, started, routed=routed, error=True)
            raise TransientError(
                f"{endpoint}/{row.name} unreachable: {type(exc).__name__}"
            ) from None
        client_error = 400 <= response.status_code < 500
        error = response.status_code != 200 and not client_error
        self._record(row, started, routed=routed, error=error, client_error=client_error)
        if client_error:
            raise ValueError(f"{endpoint}/{row.name} rejected the request: {_message(response)}")
        if error:
            raise TransientError(
                f"{endpoint}/{row.name} answered {response.status_code}: {_message(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"{endpoint}/{row.name} answered with invalid JSON") from None

    def close(self) -> None:
        """Stop every server process started here; later calls that would start one fail."""
        with self._lock:
            self._closed = True
            for process in self._servers.values():
                server.stop_process(process)
            self._servers.clear()
            self._crashes.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the local ML platform is closed")

    def _traffic(self, endpoint: str) -> dict[str, int]:
        traffic = self._db.traffic(endpoint)
        if traffic is None:
            raise NotFound(f"endpoint {endpoint} does not exist")
        return traffic

    def _row(self, endpoint: str, name: str) -> DeploymentRow:
        self._traffic(endpoint)
        row = self._db.deployment(endpoint, name)
        if row is None:
            raise NotFound(f"deployment {endpoint}/{name} does not exist")
        return row

    def _pick(self, endpoint: str) -> str:
        live = [(name, weight) for name, weight in self._traffic(endpoint).items() if weight > 0]
        if not live:
            raise NotFound(f"endpoint {endpoint} has no deployment taking traffic")
        with self._lock:
            name, _ = self._random.choices(live, [weight for _, weight in live])[0]
        return name

    def _start(self, row: DeploymentRow) -> DeploymentRow:
        self._check_open()
        config = server.ServerConfig(
            entry_script=self._entry_script,
            model_dir=row.model_dir,
            log_path=self._log_path(row),
            env={
                "MLOPS_MODEL_NAME": row.model_name,
                "MLOPS_MODEL_VERSION": row.model_version,
                "MLOPS_DEPLOYMENT": row.name,
                "MLOPS_SERVING_IMAGE": row.image or "",
            },
        )
        port = server.free_port()
        self._servers[(row.endpoint, row.name)] = server.start_server(config, port)
        pid = self._servers[(row.endpoint, row.name)].pid
        return replace(row, state="creating", error="", pid=pid, port=port)

    def _stop(self, endpoint: str, name: str) -> None:
        self._crashes.pop((endpoint, name), None)
        process = self._servers.pop((endpoint, name), None)
        if process is not None:
            server.stop_process(process)
            return
        row = self._db.deployment(endpoint, name)
        if row is not None:
            server.stop_foreign(row.pid)

    def _refresh(self, row: DeploymentRow) -> DeploymentRow:
        """Bring a record up to date with its process, restarting a stopped one."""
        with self._lock:
            if row.state in ("failed", "deleting"):
                return row
            process = self._servers.get((row.endpoint, row.name))
            if process is not None and process.pid != row.pid:  # replaced by another process
                server.stop_process(self._servers.pop((row.endpoint, row.name)))
                process = None
            running = process.poll() is None if process is not None else server.pid_alive(row.pid)
            if running:
                if row.state == "creating" and server.is_ready(row.port):
                    return self._update(row, state="succeeded")
                return row
            if process is not None and row.state == "creating":
                tail = server.failure_reason(self._log_path(row))
                return self._update(row, state="failed", error=f"the server exited: {tail}")
            if process is not None and (down := self._crashed(row, process)) is not None:
                return down
            log.info("restarting deployment %s/%s (its process is gone)", row.endpoint, row.name)
            restarted = self._start(row)
            return self._update(
                restarted, state="creating", error="", pid=restarted.pid, port=restarted.port
            )

    def _crashed(
        self, row: DeploymentRow, process: subprocess.Popen[bytes]
    ) -> DeploymentRow | None:
        """Our own server died while serving: it crashed. The record says so until the
        restart delay has passed (None: restart it now), so callers see the crash instead of
        a deployment that went quietly from dead to serving again."""
        key = (row.endpoint, row.name)
        if key not in self._crashes:
            self._crashes[key] = time.monotonic()
            why = _exit_reason(process.returncode)
            log.warning("deployment %s/%s crashed (%s)", row.endpoint, row.name, why)
            delay = f"{self._crash_restart_delay:g}"
            return self._update(row, error=f"its server crashed ({why}); restart in {delay}s")
        if time.monotonic() - self._crashes[key] < self._crash_restart_delay:
            return row
        del self._crashes[key]
        return None

    def _log_path(self, row: DeploymentRow) -> Path:
        return self._ml / "deployments" / row.endpoint / f"{row.name}.log"

    def _update(self, row: DeploymentRow, **fields: Any) -> DeploymentRow:
        self._db.update_deployment(row.endpoint, row.name, **fields)
        return replace(row, **fields)

    def _record(
        self,
        row: DeploymentRow,
        started: float,
        *,
        routed: bool,
        error: bool,
        client_error: bool = False,
    ) -> None:
        self._db.count_request(
            row.endpoint,
            row.name,
            error=error,
            client_error=client_error,
            at=self._wall_clock(),
            latency_ms=(time.monotonic() - started) * 1000,
            routed=routed,
        )

    def _ready_row(self, endpoint: str, name: str, *, routed: bool) -> DeploymentRow:
        """The deployment's record once its server answers (a restart may take a while)."""
        deadline = time.monotonic() + self._ready_timeout
        while (row := self._refresh(self._row(endpoint, name))).state == "creating":
            if time.monotonic() > deadline:
                raise TransientError(f"{endpoint}/{name} is still starting")
            time.sleep(0.2)
        if row.state != "succeeded":
            raise TransientError(f"{endpoint}/{name} is {row.state}: {row.error}")
        if (endpoint, name) in self._crashes:  # a caller on Azure gets an error status too
            self._record(row, time.monotonic(), routed=routed, error=True)
            raise TransientError(f"{endpoint}/{name} is down: {row.error}")
        return row

    @staticmethod
    def _info(row: DeploymentRow) -> DeploymentInfo:
        return DeploymentInfo(
            endpoint=row.endpoint,
            name=row.name,
            model=ModelRef(row.model_name, row.model_version),
            image=row.image,
            state=cast(ProvisioningState, row.state),
            error=row.error,
        )


def _exit_reason(returncode: int | None) -> str:
    """Popen's return code: -N is "killed by signal N"."""
    if returncode is None or returncode >= 0:
        return f"exit status {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def _message(response: requests.Response) -> str:
    """The server's own explanation, bounded."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    text: str = f"{body}"
    return text[:500]
