"""OpenTelemetry to Application Insights, configured once per process with Entra ID auth.

One exporter per record. The Functions host runs in its default mode (no ``telemetryMode``
in host.json): it writes the invocations and everything the worker forwards from the root
logger (the app's ``mlops.*`` lines) to Application Insights itself. This exporter adds the
traces and metrics of this process and the audit events (``mlops.audit``, sent as custom
events), and stops those from propagating to the worker's handler, which would send them
through the host a second time. If the host is told to export the worker's telemetry
(``telemetryMode: OpenTelemetry``, or the worker's own Azure Monitor setup through
PYTHON_ENABLE_OPENTELEMETRY / PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY), this exporter
stays off rather than export the same process twice.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from shared.adapters.project_files import REPO_ROOT
from shared.logging_setup import configure_logging, quiet_azure_sdk

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
LOGGER_NAME = "mlops.audit"  # exported here; every other app logger goes through the host
HOST_JSON = REPO_ROOT / "host.json"
# App settings with which the Python worker configures Azure Monitor itself.
WORKER_TELEMETRY_SETTINGS = (
    "PYTHON_ENABLE_OPENTELEMETRY",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
)

log = logging.getLogger("mlops.telemetry")
_lock = threading.Lock()
_configured = False


def configure_telemetry(
    connection_string: str, credential: TokenCredential, *, logger_name: str = LOGGER_NAME
) -> bool:
    """Export traces, metrics and the ``logger_name`` logs; True if this call configured
    it (configure_azure_monitor installs process-global providers: never twice).

    Our Bicep turns Application Insights local auth off, so the exporter must present an
    Entra ID token: ``credential`` is the process credential. Log records pass through
    the redacting record factory before any handler, the exporter's included."""
    global _configured
    with _lock:
        if _configured:
            return False
        configure_logging()
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=connection_string,
            credential=credential,
            logger_name=logger_name,
            enable_live_metrics=False,
        )
        quiet_azure_sdk()
        logger = logging.getLogger(logger_name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)  # the worker's root level may hide our INFO records
        logger.propagate = False  # exported here: the host must not get a second copy
        _configured = True
        return True


def configure_from_environment(
    env: Mapping[str, str] = os.environ, host_json: Path = HOST_JSON
) -> bool:
    """The function host's start-up path: telemetry only when a connection string is set
    and the host does not export the worker's telemetry itself."""
    connection_string = env.get(CONNECTION_STRING, "").strip()
    if not connection_string:
        return False
    exporter = host_exporter(env, host_json)
    if exporter:
        log.warning("in-process telemetry stays off: %s already exports it", exporter)
        return False
    from shared.adapters.azure.credential import process_credential

    return configure_telemetry(connection_string, process_credential(env.get("AZURE_CLIENT_ID")))


def host_exporter(env: Mapping[str, str], host_json: Path = HOST_JSON) -> str | None:
    """What, besides this module, would export the worker's telemetry; None when nothing."""
    try:
        host = json.loads(host_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        host = {}
    mode = host.get("telemetryMode", "") if isinstance(host, dict) else ""
    if str(mode).lower() == "opentelemetry":
        return f'{host_json.name} ("telemetryMode": "{mode}")'
    for name in WORKER_TELEMETRY_SETTINGS:
        if env.get(name, "").strip().lower() in ("1", "true", "t", "yes", "y"):  # is_true_like
            return f"the Python worker ({name})"
    return None
