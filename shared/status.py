"""`mlops status`: what is serving, what is in flight, what needs attention."""

from __future__ import annotations

from typing import Any

from shared.bootstrap import LocalBackend
from shared.domain.rollout import Rollout
from shared.ports import NotFound
from shared.services.data import WINDOW
from shared.services.reconciler import JOB
from shared.services.rollouts import ROLLOUT


def status_report(backend: LocalBackend) -> dict[str, Any]:
    deps = backend.deps
    settings = deps.settings
    try:
        endpoint = deps.platform.get_endpoint(settings.endpoint_name)
        serving: dict[str, Any] = {
            "name": endpoint.name,
            "traffic": dict(endpoint.traffic),
            "deployments": [
                {"name": d.name, "model": str(d.model), "image": d.image, "state": d.state}
                for d in endpoint.deployments
            ],
        }
    except NotFound:
        serving = {"name": settings.endpoint_name, "traffic": {}, "deployments": []}
    rollouts = [Rollout.from_dict(s.value) for s in deps.state.list(ROLLOUT)]
    chain = backend.audit.verify()
    return {
        "endpoint": serving,
        "models": [
            {
                "version": m.version,
                "gate": m.tags.get("gate", ""),
                "f1": m.tags.get("f1", ""),
                "accuracy": m.tags.get("accuracy", ""),
            }
            for m in deps.platform.list_models(settings.model_name)
        ],
        "active_rollouts": [r.to_dict() for r in rollouts if r.active],
        "recent_rollouts": [
            {
                "id": r.id,
                "model": str(r.model),
                "kind": r.kind,
                "phase": r.phase.value,
                "since": r.phase_since,
            }
            for r in sorted(rollouts, key=lambda r: r.phase_since)[-5:]
        ],
        "open_windows": [
            dict(w.value) for w in deps.state.list(WINDOW) if w.value.get("status") == "open"
        ],
        "running_jobs": [j.key for j in deps.state.list(JOB) if j.value.get("status") == "running"],
        "pending_events": backend.events.pending(),
        "dead_letters": [str(p) for p in backend.events.dead_letters()],
        "audit": {"records": chain.records, "chain_valid": chain.valid},
    }


def status_text(report: dict[str, Any]) -> str:
    endpoint = report["endpoint"]
    lines = [f"endpoint {endpoint['name']}  traffic {endpoint['traffic'] or 'none'}"]
    lines += [
        f"  deployment {d['name']:<6} {d['model']:<22} {d['state']:<10} {d['image'] or ''}"
        for d in endpoint["deployments"]
    ]
    lines.append("models")
    lines += [
        f"  v{m['version']:<4} gate={m['gate'] or '-':<7} accuracy={m['accuracy'] or '-'}"
        f" f1={m['f1'] or '-'}"
        for m in report["models"]
    ]
    lines.append("rollouts (latest last)")
    lines += [
        f"  {r['id']} {r['kind']:<8} {r['model']:<22} {r['phase']:<13} {r['since']}"
        for r in report["recent_rollouts"]
    ]
    active = report["active_rollouts"]
    lines.append(
        f"in flight: {len(active)} rollout(s), {len(report['open_windows'])} open "
        f"window(s), {len(report['running_jobs'])} job(s), "
        f"{report['pending_events']} pending event(s)"
    )
    lines.append(f"dead letters: {len(report['dead_letters'])}")
    audit = report["audit"]
    lines.append(
        f"audit: {audit['records']} records, chain {'valid' if audit['chain_valid'] else 'BROKEN'}"
    )
    return "\n".join(lines)
