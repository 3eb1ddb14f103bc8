"""``mlops serve``: the local stand-in for the Functions host, assembled and torn down.

It builds the local backend once, serves the functions ``function_app.py`` registers (HTTP,
Event Grid, timer), pumps the local Event Grid's pending deliveries (the events the local ML
platform publishes) to its own webhook over HTTP, and on SIGINT/SIGTERM stops accepting,
lets requests in flight finish, stops the timers and closes the backend (which stops the
model server processes), so nothing outlives it.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from shared import bootstrap
from shared.adapters import project_files
from shared.adapters.local import backend as local_backend
from shared.adapters.local.event_grid import LocalEventGrid
from shared.devhost.easyauth import EasyAuth
from shared.devhost.functions_registry import Refused, call, registered
from shared.devhost.host_keys import load_keys, load_signing_key
from shared.devhost.routes import route_prefix
from shared.devhost.server import HostServer, LocalHost
from shared.devhost.timer import BackgroundLoop, TimerRunner, every, schedule_of
from shared.devhost.webhook_client import pump_delivery
from shared.services.api_guard import AUTH_ENABLED
from shared.settings import Settings

log = logging.getLogger("mlops.host")

SERVED_TRIGGERS = ("httpTrigger", "eventGridTrigger", "timerTrigger")


@dataclass(frozen=True)
class HostOptions:
    host: str = "127.0.0.1"
    port: int = 7071
    reconcile_every: float | None = None  # seconds; replaces every timer's NCRONTAB
    pump_interval: float = 0.5
    drain_seconds: float = 30.0


class ServeError(Exception):
    """The host cannot start; the message says why in one line, ``hint`` what to try."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class EventPump(BackgroundLoop):
    """Delivers the local Event Grid's due events every ``interval`` seconds."""

    def __init__(
        self,
        events: LocalEventGrid,
        deliver: Callable[[str, Mapping[str, Any]], None],
        interval: float,
    ) -> None:
        self._events, self._deliver, self._interval = events, deliver, interval
        super().__init__("eventgrid-pump")

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._events.pump(self._deliver)
            except Exception:  # e.g. a locked database: the next round tries again
                log.exception("the local Event Grid pump failed")


class RunningHost:
    """Everything ``mlops serve`` starts; ``close()`` stops it all, in reverse order."""

    def __init__(self, settings: Settings, options: HostOptions) -> None:
        self._options = options
        self.backend = local_backend.build(settings)
        bootstrap.install(self.backend.deps)
        # The EasyAuth stand-in is in front of every request: say so as App Service does,
        # or the manual API refuses all (api_guard) where the environment looks like Azure.
        self._auth_before = os.environ.get(AUTH_ENABLED)
        os.environ[AUTH_ENABLED] = "True"
        try:
            functions = registered()
            _warn_unserved(functions)
            keys = load_keys(settings.home)
            local = LocalHost(
                functions,
                keys,
                EasyAuth(load_signing_key(settings.home)),
                route_prefix(project_files.REPO_ROOT / "host.json"),
            )
            self.server = _listen(options, local)
            self._timers = timer_runners(functions, settings, options.reconcile_every)
        except Refused as why:  # what Azure would not index: one line, not a traceback
            self._close_backend()
            raise ServeError(
                f"Azure would not index this app: {why}",
                "fix the function, or set the app setting it names",
            ) from None
        except BaseException:
            self._close_backend()
            raise
        self._pump = EventPump(
            self.backend.events,
            pump_delivery(self.server.url, keys.eventgrid),
            options.pump_interval,
        )
        self._serving = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="http"
        )

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self._serving.start()
        self._pump.start()
        for timer in self._timers:
            timer.start()

    def close(self) -> None:
        self._pump.stop()
        if self._serving.ident is not None:
            self.server.shutdown()
        self.server.server_close()
        if not self.server.wait_idle(self._options.drain_seconds):
            log.warning("requests still running after %ss; stopping", self._options.drain_seconds)
        for timer in self._timers:
            timer.stop()
        self._close_backend()

    def _close_backend(self) -> None:
        bootstrap.install(None)
        if self._auth_before is None:
            os.environ.pop(AUTH_ENABLED, None)
        else:
            os.environ[AUTH_ENABLED] = self._auth_before
        self.backend.close()


def serve(settings: Settings, options: HostOptions, announce: Callable[[str], None]) -> None:
    """Run the host until SIGINT or SIGTERM; ``announce(url)`` once it accepts requests."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        host = RunningHost(settings, options)
        try:
            host.start()
            announce(host.url)
            while not stop.wait(0.5):
                pass
            log.info("stopping: no new requests; waiting for those in flight")
        finally:
            host.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def timer_runners(
    functions: Mapping[str, Any], settings: Settings, every_seconds: float | None
) -> list[TimerRunner]:
    """One runner per timer function, on its NCRONTAB schedule (``%SETTING%`` resolved);
    the schedule is checked even when ``every_seconds`` replaces it, as Azure would."""
    runners = []
    for name, fn in functions.items():
        trigger = fn.get_trigger()
        if trigger.type != "timerTrigger":
            continue
        schedule = schedule_of(name, trigger.schedule, settings)
        next_fire = every(every_seconds) if every_seconds else schedule.next_after
        runners.append(
            TimerRunner(
                name,
                functools.partial(call, fn.get_user_function()),
                next_fire,
                arg_name=trigger.name,
                run_on_startup=bool(trigger.run_on_startup),
            )
        )
    return runners


def _listen(options: HostOptions, local: LocalHost) -> HostServer:
    try:
        return HostServer((options.host, options.port), local)
    except OSError as error:
        where = f"{options.host}:{options.port}"
        raise ServeError(
            f"cannot listen on {where}: {error.strerror or error}",
            "is another `mlops serve` on that port? try --port 0",
        ) from None


def _warn_unserved(functions: Mapping[str, Any]) -> None:
    for name, fn in functions.items():
        if (kind := fn.get_trigger().type) not in SERVED_TRIGGERS:
            log.warning(
                "function %s has a %s trigger, which the local host does not run", name, kind
            )
