"""Processes of the Azure ML inference server (``azmlinfsrv``), one per local deployment,
and the process helpers training jobs share (environment, stopping, liveness, failure logs).

azmlinfsrv 1.4.1 always binds 0.0.0.0 (its ``DEFAULT_HOST`` is not configurable), so a local
deployment is reachable from the network like a container port would be; we talk to it on
127.0.0.1 only.

The server runs from its own venv (``make`` builds ``.tools/azmlinfsrv`` from the pip section of
``training/environment/inference-conda.yml``, with that file's Python): it pins pydantic and
supports other Python versions than the app, so it must not share the app's venv.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from shared.adapters.project_files import REPO_ROOT

# Where `make` builds the inference server's venv (see the Makefile's AZMLINFSRV).
TOOL_AZMLINFSRV = REPO_ROOT / ".tools" / "azmlinfsrv" / "bin" / "azmlinfsrv"
AZMLINFSRV_VARIABLE = "MLOPS_AZMLINFSRV"
# Loaded by path: the server's venv does not have this project installed.
GUNICORN_CONFIG = Path(__file__).resolve().with_name("gunicorn_loopback.py")
_PROBE_TIMEOUT = 0.5
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)\b")
_INHERITED = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT"})
# How a server process shows in /proc/PID/cmdline (gunicorn may retitle it).
SERVER_MARKERS = ("azmlinfsrv", "azureml_inference_server_http", "gunicorn")


@dataclass(frozen=True)
class ServerConfig:
    """Everything one deployment's process needs."""

    entry_script: Path
    model_dir: Path
    log_path: Path
    env: Mapping[str, str]


def azmlinfsrv(environ: Mapping[str, str] | None = None, tool: Path = TOOL_AZMLINFSRV) -> Path:
    """The ``azmlinfsrv`` to run: ``MLOPS_AZMLINFSRV`` if set, else the one `make` built (``tool``),
    else the one beside this interpreter (a venv where someone installed the server by hand)."""
    configured = (os.environ if environ is None else environ).get(AZMLINFSRV_VARIABLE)
    if configured:
        return Path(configured)
    if tool.is_file():
        return tool
    return Path(sys.executable).parent / "azmlinfsrv"


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A child sees only what it needs: never the app's settings or secrets."""
    inherited = {key: value for key, value in os.environ.items() if key in _INHERITED}
    return {**inherited, **extra}


def free_port() -> int:
    """A port that is free right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(config: ServerConfig, port: int) -> subprocess.Popen[bytes]:
    """Start azmlinfsrv in its own session, so stopping it also stops its gunicorn workers."""
    config.log_path.parent.mkdir(parents=True, exist_ok=True)
    # No gunicorn control socket: every deployment would claim the same ~/.gunicorn/gunicorn.ctl.
    # The config module rebinds the server to 127.0.0.1 (azmlinfsrv hard-codes 0.0.0.0).
    gunicorn_args = f"--no-control-socket --config {shlex.quote(str(GUNICORN_CONFIG))}"
    extra = {"GUNICORN_CMD_ARGS": gunicorn_args, "PYTHONUNBUFFERED": "1"}
    env = child_env({**config.env, **extra, "AZUREML_MODEL_DIR": str(config.model_dir)})
    argv = [str(azmlinfsrv()), "--entry_script", str(config.entry_script), "--port", str(port)]
    with config.log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=config.log_path.parent,
            start_new_session=True,
        )


def is_ready(port: int) -> bool:
    """The liveness route answers 200 once the scoring script's init() has finished."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=_PROBE_TIMEOUT).status_code == 200
    except requests.RequestException:
        return False


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM (gunicorn stops its workers gracefully), then SIGKILL the whole group."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
    process.wait(timeout)


def stop_foreign(
    pid: int, markers: tuple[str, ...] = SERVER_MARKERS, timeout: float = 10.0
) -> None:
    """Stop a process group another of our processes started (we cannot wait() on it)."""
    if not pid_alive(pid, markers):
        return
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid, markers) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid, markers):
        _signal_group(pid, signal.SIGKILL)


def pid_alive(pid: int, markers: tuple[str, ...] = SERVER_MARKERS) -> bool:
    """Whether ``pid`` runs and (where /proc exists) its command line mentions one of
    ``markers``, so a recycled pid is not mistaken for ours."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and any(marker.encode() in cmdline for marker in markers)


def failure_reason(path: Path, max_chars: int = 1000) -> str:
    """Why a process failed, from its log: the root exception of the first traceback (Python
    prints the root cause first) and the last line, or else the last few lines; bounded."""
    try:
        lines = [line.strip() for line in path.read_text("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
    picked = [causes[0], lines[-1]] if causes and causes[0] != lines[-1] else lines[-3:]
    return " | ".join(picked)[-max_chars:]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
