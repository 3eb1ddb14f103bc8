"""The settings services read, as plain values: the core stays on the standard library.

Built once from the typed ``Settings`` in the composition root (``shared.settings.
service_settings``), so pydantic is validated at start-up and never imported by a use case.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSettings:
    model_name: str
    endpoint_name: str
    # Training data: the one account and container trusted as event sources.
    storage_account_url: str
    training_container: str
    allowed_extensions: tuple[str, ...]
    allowed_content_types: tuple[str, ...]
    max_blob_bytes: int
    # A burst of uploads becomes one job once its prefix is quiet (or after the cap).
    coalesce_quiet_seconds: float
    coalesce_max_seconds: float
    # Absolute floors a registered model must meet, on its split and on the golden set.
    min_accuracy: float
    min_f1: float
    min_golden_accuracy: float
    min_golden_f1: float
    # Rollout.
    smoke_min_accuracy: float
    canary_percent: int
    canary_seconds: float
    # The canary's live check (shared/domain/canary.py): bake up to the cap for enough
    # traffic; margins against the serving deployment; "roll_back" or "promote" without it.
    canary_max_seconds: float
    canary_min_requests: int
    canary_max_error_rate_excess: float
    canary_max_p95_ratio: float
    canary_max_p95_slack_ms: float
    canary_without_traffic: str
    # The live window ends this long before now: metrics arrive late (Azure Monitor), so the
    # bake and the cap both start counting only after it.
    canary_metrics_delay_seconds: float
    deploy_timeout_seconds: float
    # Serving images: registries and repositories allowed to roll forward.
    allowed_registries: tuple[str, ...]
    allowed_repositories: tuple[str, ...]
    # The manual API: per principal per minute; the backend decides the front door's check.
    api_rate_limit_per_minute: int
    backend: str
