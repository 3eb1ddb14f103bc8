"""What the Functions host refuses after the worker indexed the app (azure-functions-host
Utility.ValidateName / ValidateBinding, ScriptHost.ValidateHttpFunction / HttpRoutesConflict),
refused by the local host at start-up too; and the app's own functions pass."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import azure.functions as func
import pytest

from shared.devhost.functions_registry import Refused, index, refusals, registered
from shared.devhost.serve import timer_runners
from shared.ops.cli import main
from shared.settings import Settings
from tests.infra.test_app_settings import all_settings


def app_with(*routes: tuple[str, str | None, list[str] | None]) -> func.FunctionApp:
    """An app of HTTP functions: (function name, route, methods)."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for name, route, methods in routes:

        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        app.function_name(name)(app.route(route=route, methods=methods)(handler))
    return app


def test_the_app_passes_every_rule() -> None:
    assert not refusals(registered())


@pytest.mark.parametrize("name", ["host", "HOST", "_private", "1st", "a.b", "a" * 129, "naïve"])
def test_invalid_function_names_are_refused(name: str) -> None:
    with pytest.raises(Refused, match="is not a valid function name"):
        index(app_with((name, "r", None)))


@pytest.mark.parametrize("name", ["a", "A-b_1", "a" * 128, "hosts"])
def test_valid_function_names_pass(name: str) -> None:
    assert list(index(app_with((name, "r", None)))) == [name]


def test_a_binding_name_with_an_underscore_is_refused() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="items", trigger_arg_name="my_req")
    def items(my_req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("")

    with pytest.raises(Refused, match="binding name my_req is invalid"):
        index(app)


@pytest.mark.parametrize(
    "route",
    ["admin", "admin/users", "/Admin/x", "administrators", "runtime/webhooks/x", "Runtimes"],
)
def test_routes_in_the_host_reserved_space_are_refused(route: str) -> None:
    with pytest.raises(Refused, match="conflicts with the host's built-in routes"):
        index(app_with(("fn", route, None)))


@pytest.mark.parametrize("route", ["users/admin", "my-admin", "api/runtime"])
def test_routes_that_only_contain_admin_or_runtime_pass(route: str) -> None:
    assert index(app_with(("fn", route, None)))


def test_a_route_defaults_to_the_function_name_when_checked() -> None:
    with pytest.raises(Refused, match="conflicts with the host's built-in routes"):
        index(app_with(("admin_tools", None, None)))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("items", ["GET", "POST"]), ("items", ["POST"])),
        (("items", ["GET"]), ("/Items/", ["GET"])),  # slashes and case do not matter
        (("items", None), ("items", ["DELETE"])),  # no methods: every method
        (("items/{id}", ["GET"]), ("items/{id}", None)),
    ],
)
def test_the_same_route_with_a_method_in_common_is_refused(
    first: tuple[str, list[str] | None], second: tuple[str, list[str] | None]
) -> None:
    with pytest.raises(
        Refused, match=r"function b: route .* conflicts with the route of function a"
    ):
        index(app_with(("a", *first), ("b", *second)))


def test_the_same_route_with_other_methods_passes() -> None:
    assert set(index(app_with(("a", "items", ["GET"]), ("b", "items", ["POST"])))) == {"a", "b"}


def test_a_function_named_like_another_functions_route_conflicts_with_it() -> None:
    with pytest.raises(Refused, match="conflicts with the route of function a"):
        index(app_with(("a", "b", None), ("b", None, None)))


def test_every_refusal_is_listed_in_one_message() -> None:
    with pytest.raises(Refused) as refused:
        index(app_with(("host", "x", None), ("fn", "admin", None)))
    assert "function host:" in str(refused.value) and "function fn:" in str(refused.value)


def timer_app(schedule: str) -> dict[str, Any]:
    app = func.FunctionApp()

    @app.timer_trigger(schedule=schedule, arg_name="timer")
    def tick(timer: func.TimerRequest) -> None:
        return None

    return index(app)


@pytest.mark.parametrize("every", [None, 1.0])
def test_a_schedule_whose_setting_is_missing_stops_start_up(
    every: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azure: "'%NAME%' does not resolve to a value." and the function is not indexed. Checked
    even when --reconcile-every replaces the schedule."""
    with pytest.raises(Refused, match="function tick: '%MLOPS_NOT_SET%' does not resolve"):
        timer_runners(timer_app("%MLOPS_NOT_SET%"), Settings(), every)


def test_every_setting_a_binding_names_is_an_app_setting_in_azure() -> None:
    """The other half: in Azure the setting comes from infra, not from a Settings default."""
    for name, fn in registered().items():
        for binding in fn.get_bindings():
            for value in binding.get_dict_repr().values():
                for setting in str(value).split("%")[1::2]:
                    assert setting in all_settings(), f"{name}: %{setting}% is not set in infra"


def test_mlops_serve_refuses_in_one_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLOPS_RECONCILE_SCHEDULE", "0 0 0 * * 7")  # NCrontab: day of week 0-6
    # Should it start after all, SIGTERM stops it (serve's own handler): a failure, not a hang.
    watchdog = threading.Timer(60, os.kill, (os.getpid(), signal.SIGTERM))
    watchdog.start()
    try:
        code = main(["--home", str(tmp_path), "serve", "--port", "0"])
    finally:
        watchdog.cancel()
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "mlops serve: Azure would not index this app: function reconcile_rollouts:"
    )
    assert "day-of-week field '7'" in err and "\n" not in err
