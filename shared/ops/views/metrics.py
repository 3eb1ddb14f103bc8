"""The evaluation metrics operators see, in the order every view shows them (the training job
logs them; shared/services/model_registered.py gates on some)."""

from __future__ import annotations

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
# The report charts the four on one 0-1 scale; ROC AUC sits near 1 and would flatten them.
CHARTED = ("accuracy", "precision", "recall", "f1")
