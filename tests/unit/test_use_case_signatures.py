"""A use case's signature says what it touches: no service takes the whole Deps (decision 252).

The injector (shared/services/injection.py) passes each use case the ports it names; a
function that took ``Deps`` would hide which of them it uses. Those still waiting for their
conversion are listed, so the list can only shrink.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import shared.services

_ASSEMBLY = {"shared.services.deps", "shared.services.injection", "shared.services.config"}
STILL_TAKING_DEPS: frozenset[str] = frozenset(
    {
        "image_pushed.handle_image_pushed",
        "job_finished._audit",
        "job_finished._ended_job",
        "job_finished._roll_out",
        "job_finished.handle_job_finished",
        "model_registered.handle_model_registered",
        "operations._check_endpoint",
        "operations._last_completed",
        "operations.redeploy",
        "operations.rollback",
        "probes.smoke_test",
        "reconciler._advance_rollout",
        "reconciler._audit",
        "reconciler._champion",
        "reconciler._close_window",
        "reconciler._follow_job",
        "reconciler._job_request",
        "reconciler._park_job",
        "reconciler._park_rollout",
        "reconciler._park_window",
        "reconciler._ship_audit",
        "reconciler._track_job",
        "reconciler._window_closed",
        "reconciler.reconcile",
        "rollouts._abort",
        "rollouts._audit",
        "rollouts._canary",
        "rollouts._deploying",
        "rollouts._elapsed",
        "rollouts._move",
        "rollouts._moved_on",
        "rollouts._plan",
        "rollouts._promoted",
        "rollouts._release",
        "rollouts._requester",
        "rollouts._smoke",
        "rollouts.abort",
        "rollouts.active_rollout",
        "rollouts.advance",
        "rollouts.advance_or_defer",
        "rollouts.fail",
        "rollouts.get_rollout",
        "rollouts.start_rollout",
        "views._requested_by",
        "views.endpoint_view",
        "views.endpoint_views",
        "views.operation_view",
    }
)


def _takes_deps() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(shared.services.__path__, "shared.services."):
        if info.name in _ASSEMBLY:
            continue
        module = importlib.import_module(info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != info.name:
                continue  # imported from elsewhere
            annotations = inspect.get_annotations(function)
            if any("Deps" in str(annotation) for annotation in annotations.values()):
                found.add(f"{info.name.removeprefix('shared.services.')}.{name}")
    return found


def test_no_service_takes_the_whole_deps_beyond_those_still_listed() -> None:
    assert _takes_deps() <= STILL_TAKING_DEPS


def test_the_list_names_only_functions_that_still_take_it() -> None:
    assert _takes_deps() >= STILL_TAKING_DEPS
