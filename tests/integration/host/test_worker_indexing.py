"""The real Python worker Azure runs for Python 3.13+ (``azure-functions-runtime``) indexes
``function_app.py`` and accepts every function, and the local host serves each with the
bindings, route, methods, auth level and schedule the worker reports to the Functions host;
what the worker refuses, the local host refuses too.

The worker runs in a subprocess (``worker_index.py``): ``get_functions()`` may be called only
once per app object. Without ``azure-functions-runtime`` these tests skip, or fail under
``make test`` (MLOPS_REQUIRE_TOOLS=1).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.devhost.functions_registry import Refused, index, registered, user_function
from shared.devhost.routes import compile_routes
from shared.devhost.serve import timer_runners
from shared.devhost.timer import schedule_of
from shared.settings import Settings
from tests.tools import REPO, missing_tool

WORKER = Path(__file__).with_name("worker_index.py")


def worker_index(app_dir: Path) -> dict[str, Any]:
    if importlib.util.find_spec("azure_functions_runtime") is None:
        missing_tool("azure-functions-runtime (the Python 3.13+ worker) is not installed")
    done = subprocess.run(
        [sys.executable, str(WORKER), str(app_dir)],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def indexed() -> dict[str, list[dict[str, Any]]]:
    result = worker_index(REPO)
    assert "error" not in result, result.get("error")
    return {item["name"]: item["bindings"] for item in result["functions"]}


def triggers(indexed: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {name: b for name, bs in indexed.items() for b in bs if b["type"] == kind}


def test_the_worker_accepts_every_function_with_the_bindings_the_local_host_uses(
    indexed: dict[str, list[dict[str, Any]]],
) -> None:
    functions = registered()
    assert set(indexed) == set(functions)
    for name, fn in functions.items():
        local = [(b.name, b.type, str(b.get_dict_repr()["direction"])) for b in fn.get_bindings()]
        assert [(b["name"], b["type"], b["direction"]) for b in indexed[name]] == local


def test_http_functions_have_the_worker_route_methods_and_auth_level(
    indexed: dict[str, list[dict[str, Any]]],
) -> None:
    routes = {route.function: route for route in compile_routes(registered(), "api")}
    http = triggers(indexed, "httpTrigger")
    assert http and set(routes) == set(http)
    for name, trigger in http.items():
        route = routes[name]
        assert route.template == str(trigger.get("route") or name).strip("/")
        methods = trigger.get("methods")
        assert route.methods == (frozenset(m.upper() for m in methods) if methods else None)
        # The host reads authLevel case-insensitively; no authLevel means "function".
        assert route.auth_level == str(trigger.get("authLevel", "function")).lower()
        assert route.arg_name == trigger["name"]


def test_timer_and_event_grid_functions_are_the_ones_the_worker_reports(
    indexed: dict[str, list[dict[str, Any]]],
) -> None:
    functions, settings = registered(), Settings()
    timers = triggers(indexed, "timerTrigger")
    assert timers and {runner.name for runner in timer_runners(functions, settings, None)} == set(
        timers
    )
    for name, trigger in timers.items():
        local = functions[name].get_trigger()
        assert local.schedule == trigger["schedule"]
        assert schedule_of(name, trigger["schedule"], settings) == schedule_of(
            name, local.schedule, settings
        )
        assert bool(local.run_on_startup) == trigger.get("runOnStartup", False)
    events = triggers(indexed, "eventGridTrigger")
    assert events
    for name in events:  # what the webhook hands an event to, by ?functionName=
        assert callable(user_function(name, "eventGridTrigger", functions))


APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="items", methods=["GET"])
{function}
"""


def load_app(source: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"app_{uuid.uuid4().hex}", source)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@pytest.mark.parametrize(
    ("function", "worker_says"),
    [
        (  # a parameter no decorator binds
            "def items(req: func.HttpRequest, extra: str) -> func.HttpResponse: ...",
            "declared in Python but not in the function definition",
        ),
        (  # a binding the function does not take
            "def items() -> func.HttpResponse: ...",
            "declared as bindings but are not present in Python",
        ),
    ],
)
def test_what_the_worker_refuses_the_local_host_refuses(
    tmp_path: Path, function: str, worker_says: str
) -> None:
    source = tmp_path / "function_app.py"
    source.write_text(textwrap.dedent(APP).format(function=function), encoding="utf-8")
    assert worker_says in worker_index(tmp_path).get("error", "")
    with pytest.raises(Refused, match="function items: "):
        index(load_app(source))
