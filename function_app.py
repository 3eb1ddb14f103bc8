"""The Azure Functions entry point: logging, the app object and its blueprints. Nothing else.

No SDK client is created here: ``shared.bootstrap`` builds adapters on first use, so a cold
start imports only what the triggers need.
"""

from __future__ import annotations

import os

import azure.functions as func

from functions import blob_created, image_pushed, job_finished, model_registered, reconciler
from functions.api import routes as api
from shared.logging_setup import configure_logging

configure_logging()
if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):  # else azure.monitor stays unloaded
    from shared.adapters.azure.telemetry import configure_from_environment

    configure_from_environment()

app = func.FunctionApp()
blueprints = (blob_created, model_registered, image_pushed, job_finished, reconciler, api)
for module in blueprints:
    app.register_functions(module.bp)
