"""Metrics: how a CV loss maps to a score, and every metric on the sealed test split."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from tools.vocabulary import higher_is_better


def loss_to_score(metric: str, loss: float) -> float:
    """A score is 1 - loss (the training function minimises 1 - score); an error is the loss."""
    return 1.0 - loss if higher_is_better(metric) else loss


def crash_cost(metric: str) -> float:
    """The loss SMAC charges for a crashed trial: worse than any sane model's."""
    return 2.0 if higher_is_better(metric) else 1e6


def classification_metrics(y_true, y_pred, y_proba=None, classes=None) -> dict:
    out = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "f1_macro": skm.f1_score(y_true, y_pred, average="macro"),
    }
    if y_proba is not None and classes is not None:
        proba = np.clip(np.asarray(y_proba, dtype=float), 1e-15, 1)
        proba = proba / proba.sum(axis=1, keepdims=True)
        out["log_loss"] = skm.log_loss(y_true, proba, labels=classes)
        present = set(np.unique(y_true))
        if len(classes) == 2:
            out["roc_auc"] = skm.roc_auc_score(y_true, proba[:, 1]) if len(present) == 2 else None
        elif present == set(classes):
            out["roc_auc"] = skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    return {k: (None if v is None else float(v)) for k, v in out.items()}


def regression_metrics(y_true, y_pred) -> dict:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
    }


def test_metrics(task: str, y_true, y_pred, y_proba=None, classes=None) -> dict:
    """Every metric of the task on the sealed split; regression and forecasting alike."""
    if task == "classification":
        return classification_metrics(y_true, y_pred, y_proba, classes)
    return regression_metrics(y_true, y_pred)
