"""Start and advance blue/green rollouts; one active rollout per endpoint."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.canary import Verdict
from shared.domain.rollout import Phase, Rollout, idle_colour
from shared.domain.values import DeploymentSpec
from shared.ports import (
    ConcurrencyConflict,
    NotFound,
    StateStore,
    TransientError,
)
from shared.services.canary_check import live_judgement
from shared.services.isolation import is_permanent, reason_of
from shared.services.probes import ProbeFailed, smoke_test
from shared.services.rollout_requests import Actor, RolloutConflict, RolloutPorts, RolloutRequest

log = logging.getLogger(__name__)

ROLLOUT = "rollout"
LOCK = "endpoint_lock"  # key: endpoint; value: the active rollout's id
# key: rollout id; value: who asked (a principal's id, name and roles), so every later step's
# audit record, the reconciler's included, names them as well as the actor id on the rollout.
REQUESTER = "rollout_requester"


def rollout_id(idempotency_key: str) -> str:
    return "ro-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def get_rollout(rid: str, *, state: StateStore) -> Rollout | None:
    stored = state.get(ROLLOUT, rid)
    return Rollout.from_dict(stored.value) if stored else None


def active_rollout(endpoint: str, *, state: StateStore) -> Rollout | None:
    lock = state.get(LOCK, endpoint)
    if lock is None or not lock.value.get("rollout_id"):
        return None
    current = get_rollout(str(lock.value["rollout_id"]), state=state)
    return current if current is not None and current.active else None


def start_rollout(request: RolloutRequest, ports: RolloutPorts, *, supersede: bool) -> Rollout:
    """Persist a planned rollout and take the endpoint's lock. Idempotent by key."""
    rid = rollout_id(request.idempotency_key)
    if (existing := get_rollout(rid, state=ports.state)) is not None:
        return existing
    active = active_rollout(request.endpoint, state=ports.state)
    if active is not None:
        if not supersede:
            raise RolloutConflict(active)
        by = Actor(request.actor, {**request.requester, "actor_reason": request.reason})
        try:
            _abort(active, ports, Phase.SUPERSEDED, f"superseded by {rid}", by)
        except Exception as error:
            if not is_permanent(error):
                raise
            # The old rollout cannot be undone as planned: park it, so it cannot hold the
            # endpoint against every later request.
            fail(active, ports, f"superseded by {rid}; {reason_of(error)}")
    lock = ports.state.get(LOCK, request.endpoint)  # re-read: aborting released it
    now = ports.clock.now()
    stamp = now.isoformat(timespec="seconds")
    planned = Rollout(
        id=rid,
        endpoint=request.endpoint,
        model=request.model,
        image=request.image,
        kind=request.kind,
        actor=request.actor,
        reason=request.reason,
        correlation_id=request.correlation_id,
        colour="",
        previous=None,
        previous_model=None,
        phase=Phase.PLANNED,
        phase_since=stamp,
        history=(),
    )
    # The lock's etag makes two concurrent starts on one endpoint race safely.
    ports.state.put(LOCK, request.endpoint, {"rollout_id": rid}, etag=lock.etag if lock else None)
    if request.requester:
        with suppress(ConcurrencyConflict):  # a retry after a crash here: same id, same requester
            ports.state.put(REQUESTER, rid, dict(request.requester), etag=None)
    ports.state.put(ROLLOUT, rid, planned.to_dict(), etag=None)
    _audit(ports, planned, "rollout.planned", "accepted", request.reason)
    return planned


def advance(rollout: Rollout, ports: RolloutPorts) -> Rollout:
    """Take at most one step. Never waits: a step that is not ready returns unchanged, and
    so does a step another worker took first (the timer and the handler that started the
    rollout both advance it, possibly at the same moment)."""
    if not rollout.active or _moved_on(ports, rollout):
        return rollout
    try:
        try:
            step = _STEPS[rollout.phase]
            return step(rollout, ports)
        except ProbeFailed as failed:
            return _abort(rollout, ports, Phase.ROLLED_BACK, str(failed))
    except ConcurrencyConflict as conflict:
        log.info("rollout %s: another worker stepped it first (%s)", rollout.id, conflict)
        return rollout


def advance_or_defer(rollout: Rollout, ports: RolloutPorts) -> Rollout:
    """The first step, taken by whoever started the rollout. It is persisted already, so a
    transient failure here (an endpoint still being created, throttling) is left to the
    reconciler's next tick rather than failing the event or the request that started it."""
    try:
        return advance(rollout, ports)
    except TransientError as error:
        log.info("rollout %s: next step deferred to the reconciler: %s", rollout.id, error)
        return rollout
    except Exception as error:
        if not is_permanent(error):
            raise
        try:  # retrying the event or the request cannot help: park it now, as the timer would
            return fail(rollout, ports, reason_of(error))
        except TransientError:
            return rollout  # the reconciler parks it on a later tick


def fail(rollout: Rollout, ports: RolloutPorts, reason: str, by: Actor | None = None) -> Rollout:
    """Park a rollout that met a permanent error (a model or endpoint gone, a request the
    platform refuses): put traffic back where the platform still lets us, then end it as
    failed and free the endpoint, so neither it nor the endpoint's next rollout is stuck.
    A transient error on the way raises: the reconciler tries again next tick."""
    current = get_rollout(rollout.id, state=ports.state) or rollout
    if not current.active:
        return current
    notes = [reason]
    try:
        if current.phase == Phase.PROMOTED:  # the new model already takes all traffic
            if current.previous and current.previous != current.colour:
                ports.platform.begin_delete_deployment(current.endpoint, current.previous)
            notes.append(f"{current.colour} keeps the traffic")
        elif current.colour and current.colour != current.previous:
            restore = {current.previous: 100} if current.previous else {}
            ports.platform.set_traffic(current.endpoint, restore)
            ports.platform.begin_delete_deployment(current.endpoint, current.colour)
            notes.append(f"traffic back on {current.previous or 'nothing'}")
    except Exception as error:
        if not is_permanent(error):
            raise
        notes.append(f"traffic left as it was: {reason_of(error)}")
    done = _move(current, ports, Phase.FAILED, "; ".join(notes), by)
    _release(ports, done)
    return done


def abort(rollout: Rollout, ports: RolloutPorts, reason: str, by: Actor | None = None) -> Rollout:
    """Roll back on request (operator rollback of an in-flight rollout); ``by`` is recorded
    as the actor of the records this causes. A rollout the platform will not let us undo
    (a permanent error) is parked as failed instead."""
    try:
        return _abort(rollout, ports, Phase.ROLLED_BACK, reason, by)
    except Exception as error:
        if not is_permanent(error):
            raise
        return fail(rollout, ports, f"{reason}; {reason_of(error)}", by)


def _plan(rollout: Rollout, ports: RolloutPorts) -> Rollout:
    endpoint = ports.platform.ensure_endpoint(rollout.endpoint)
    serving = endpoint.serving
    previous_model = None
    if serving is not None:
        previous_model = ports.platform.get_deployment(rollout.endpoint, serving).model
    colour = idle_colour(serving)
    ports.platform.begin_deployment(
        DeploymentSpec(rollout.endpoint, colour, rollout.model, rollout.image)
    )
    planned = replace(rollout, colour=colour, previous=serving, previous_model=previous_model)
    note = f"deploying {rollout.model} to {colour} at 0% (serving: {serving or 'none'})"
    return _move(planned, ports, Phase.DEPLOYING, note)


def _deploying(rollout: Rollout, ports: RolloutPorts) -> Rollout:
    deployment = ports.platform.get_deployment(rollout.endpoint, rollout.colour)
    if deployment.state == "failed":
        raise ProbeFailed(f"deployment {rollout.colour} failed: {deployment.error[:200]}")
    if deployment.state != "succeeded":
        if _elapsed(rollout, ports) > ports.settings.deploy_timeout_seconds:
            raise ProbeFailed(f"deployment {rollout.colour} not ready in time")
        return rollout
    return _move(rollout, ports, Phase.SMOKE_TESTING, f"{rollout.colour} provisioned")


def _smoke(rollout: Rollout, ports: RolloutPorts) -> Rollout:
    result = _smoke_test(ports, rollout.endpoint, rollout.colour)
    if rollout.previous is None:
        ports.platform.set_traffic(rollout.endpoint, {rollout.colour: 100})
        return _move(rollout, ports, Phase.PROMOTED, f"smoke test passed ({result}); 100%")
    canary = ports.settings.canary_percent
    ports.platform.set_traffic(
        rollout.endpoint, {rollout.previous: 100 - canary, rollout.colour: canary}
    )
    return _move(rollout, ports, Phase.CANARY, f"smoke test passed ({result}); canary {canary}%")


def _canary(rollout: Rollout, ports: RolloutPorts) -> Rollout:
    """Promote only if what users saw from the canary is within the margins of the serving
    deployment (when a live-traffic source is wired) and the smoke set still scores; the
    live numbers go into the audit record either way."""
    elapsed = _elapsed(rollout, ports)
    # With a live source, the window is judged as the source saw it: up to `delay` ago.
    delay = ports.settings.canary_metrics_delay_seconds if ports.traffic is not None else 0.0
    if elapsed - delay < ports.settings.canary_seconds:
        return rollout
    live = None
    if ports.traffic is not None:
        out_of_time = elapsed - delay >= ports.settings.canary_max_seconds
        # The window closes before the re-score's own requests, and `delay` before now.
        until = ports.clock.now() - timedelta(seconds=delay)
        live = live_judgement(
            rollout, ports.traffic, ports.settings, until, out_of_time=out_of_time
        )
        if live is None or live.verdict == Verdict.WAIT:
            return rollout  # keep baking: not enough traffic yet, or the source not ready
        if live.verdict == Verdict.ROLL_BACK:
            details = {"live": live.details()}
            return _abort(rollout, ports, Phase.ROLLED_BACK, live.reason, details=details)
    try:
        result = _smoke_test(ports, rollout.endpoint, rollout.colour)
    except ProbeFailed as failed:
        raise ProbeFailed(f"canary re-score: {failed}") from None
    traffic = {rollout.colour: 100}
    if rollout.previous:
        traffic[rollout.previous] = 0
    ports.platform.set_traffic(rollout.endpoint, traffic)
    note = f"canary healthy: smoke re-score {result}"
    if live is not None:
        note += f"; {live.reason}"
    extra = {"live": live.details()} if live is not None else None
    return _move(rollout, ports, Phase.PROMOTED, f"{note}; 100%", details=extra)


def _promoted(rollout: Rollout, ports: RolloutPorts, by: Actor | None = None) -> Rollout:
    note = "first deployment: nothing to remove"
    if rollout.previous and rollout.previous != rollout.colour:
        ports.platform.begin_delete_deployment(rollout.endpoint, rollout.previous)
        note = f"old deployment {rollout.previous} removed"
    done = _move(rollout, ports, Phase.COMPLETED, note, by)
    _release(ports, done)
    return done


_OUTCOMES: dict[Phase, Outcome] = {
    Phase.COMPLETED: "succeeded",
    Phase.ROLLED_BACK: "rolled_back",
    Phase.SUPERSEDED: "rolled_back",
    Phase.FAILED: "failed",
}

_STEPS = {
    Phase.PLANNED: _plan,
    Phase.DEPLOYING: _deploying,
    Phase.SMOKE_TESTING: _smoke,
    Phase.CANARY: _canary,
    Phase.PROMOTED: _promoted,
}


def _smoke_test(ports: RolloutPorts, endpoint: str, deployment: str) -> str:
    return smoke_test(
        endpoint,
        deployment,
        platform=ports.platform,
        smoke_set=ports.smoke_set,
        settings=ports.settings,
    )


def _abort(
    rollout: Rollout,
    ports: RolloutPorts,
    phase: Phase,
    reason: str,
    by: Actor | None = None,
    *,
    details: Mapping[str, Any] | None = None,
) -> Rollout:
    """Restore traffic to the deployment that was serving and delete the new one."""
    if rollout.phase == Phase.PROMOTED:
        # The new model already takes all traffic: finishing is safer than flipping back.
        return _promoted(rollout, ports, by)
    if rollout.colour and rollout.colour != rollout.previous:
        restore = {rollout.previous: 100} if rollout.previous else {}
        ports.platform.set_traffic(rollout.endpoint, restore)
        ports.platform.begin_delete_deployment(rollout.endpoint, rollout.colour)
    note = f"{reason}; traffic back on {rollout.previous or 'nothing'}"
    done = _move(rollout, ports, phase, note, by, details=details)
    _release(ports, done)
    return done


def _move(
    rollout: Rollout,
    ports: RolloutPorts,
    phase: Phase,
    note: str,
    by: Actor | None = None,
    *,
    details: Mapping[str, Any] | None = None,
) -> Rollout:
    stored = ports.state.get(ROLLOUT, rollout.id)
    if stored is None:
        raise NotFound(f"rollout {rollout.id}")
    if stored.value.get("phase") != rollout.phase.value:  # a stale copy must not step back
        raise ConcurrencyConflict(f"rollout {rollout.id} is already {stored.value.get('phase')}")
    moved = rollout.to(phase, ports.clock.now(), note)
    ports.state.put(ROLLOUT, rollout.id, moved.to_dict(), etag=stored.etag)
    outcome = _OUTCOMES.get(phase, "accepted")
    _audit(ports, moved, f"rollout.{phase.value}", outcome, note, by, details=details)
    return moved


def _release(ports: RolloutPorts, rollout: Rollout) -> None:
    lock = ports.state.get(LOCK, rollout.endpoint)
    if lock is not None and lock.value.get("rollout_id") == rollout.id:
        try:
            ports.state.put(LOCK, rollout.endpoint, {"rollout_id": ""}, etag=lock.etag)
        except ConcurrencyConflict:
            log.info("lock on %s was taken over while releasing", rollout.endpoint)


def _moved_on(ports: RolloutPorts, rollout: Rollout) -> bool:
    stored = ports.state.get(ROLLOUT, rollout.id)
    return stored is not None and stored.value.get("phase") != rollout.phase.value


def _elapsed(rollout: Rollout, ports: RolloutPorts) -> float:
    since = datetime.fromisoformat(rollout.phase_since)
    return (ports.clock.now() - since).total_seconds()


def _requester(ports: RolloutPorts, rollout: Rollout) -> Mapping[str, Any]:
    if not rollout.actor.startswith("user:"):  # only operators' rollouts store one
        return {}
    stored = ports.state.get(REQUESTER, rollout.id)
    return stored.value if stored else {}


def _audit(
    ports: RolloutPorts,
    rollout: Rollout,
    action: str,
    outcome: Outcome,
    reason: str,
    by: Actor | None = None,
    *,
    details: Mapping[str, Any] | None = None,
) -> None:
    record: dict[str, Any] = {
        "rollout_id": rollout.id,
        "kind": rollout.kind,
        "image": rollout.image,
        "requested_by": rollout.actor,
        "request_reason": rollout.reason,
    }
    record.update(by.details if by else _requester(ports, rollout))
    record.update(details or {})  # what this step's decision rested on (the live numbers)
    ports.audit.append(
        AuditEntry(
            actor=by.id if by else rollout.actor,
            action=action,
            target=f"{rollout.deployment} {rollout.model}",
            outcome=outcome,
            reason=reason,
            correlation_id=rollout.correlation_id,
            details=record,
        )
    )
