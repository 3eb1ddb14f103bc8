"""The timer that closes quiet data windows, follows jobs and advances rollouts."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import bootstrap
from shared.services.reconciler import reconcile

bp = func.Blueprint()
log = logging.getLogger("mlops.reconciler")


@bp.function_name("reconcile_rollouts")
@bp.timer_trigger(
    arg_name="timer", schedule="%MLOPS_RECONCILE_SCHEDULE%", run_on_startup=False, use_monitor=True
)
def reconcile_rollouts(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("reconciler is past due; catching up")
    report = bootstrap.call(reconcile)
    if report.errors:
        log.warning(
            "reconcile left %d item(s) for the next tick: %s",
            len(report.errors),
            "; ".join(report.errors)[:2000],
        )
    log.info(
        "reconciled: submitted=%s finished=%s rollouts=%s audit_shipped=%d",
        report.submitted,
        report.finished,
        report.rollouts,
        report.audit_shipped,
    )
