"""OpenTelemetry to Application Insights, configured once per process with Entra ID auth."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.logging_setup import configure_logging

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
LOGGER_NAME = "mlops"  # the app's loggers (mlops.events, mlops.audit, ...) are exported

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
        logger = logging.getLogger(logger_name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)  # the worker's root level may hide our INFO records
        _configured = True
        return True


def configure_from_environment(env: Mapping[str, str] = os.environ) -> bool:
    """The function host's start-up path: telemetry only when a connection string is set."""
    connection_string = env.get(CONNECTION_STRING, "").strip()
    if not connection_string:
        return False
    from shared.adapters.azure.credential import process_credential

    return configure_telemetry(connection_string, process_credential(env.get("AZURE_CLIENT_ID")))
