"""The agent's vocabulary, defined once: tasks, metrics and their direction, facades,
modalities, components. Config, nodes, tools and the CLI import these names; nothing
spells the lists again.

Model families belong to task templates (`tools/templates/<name>/`), and sandbox backends
to the sandbox package (`sandbox.BACKENDS`): each list lives with what owns it.
"""

from __future__ import annotations

from sandbox import BACKENDS

TASKS = ("classification", "regression", "forecasting")

# Metrics where larger is better and 1.0 is perfect: a training function's loss is 1 - score.
SCORE_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "r2")
# Errors: the loss is the metric itself.
ERROR_METRICS = ("log_loss", "rmse", "mae")

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
REGRESSION_METRICS = ("r2", "rmse", "mae")
# A forecast is scored like a regression: every regression metric applies.
METRICS_BY_TASK = {
    "classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
    "forecasting": REGRESSION_METRICS,
}
METRICS = tuple(dict.fromkeys(CLASSIFICATION_METRICS + REGRESSION_METRICS))
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2", "forecasting": "mae"}

# SMAC facades the search can run (tools/smac_tool.py maps each to SMAC's class).
FACADES = ("hpo", "multi_fidelity", "blackbox", "random")

# What kind of data a loader returns; a task template recognises its own.
MODALITIES = ("tabular", "image", "text", "timeseries")

# What a run may trade its metric against (objectives after the first, which is the metric),
# each measured inside the sandbox by the training function and minimised:
# train_seconds: seconds of the trial's cross-validation; predict_latency: milliseconds to
# predict 1,000 rows (timed on a held-out fold); model_size: bytes of the pickled model.
OBJECTIVES = ("train_seconds", "predict_latency", "model_size")
# How deploy picks one model from the front (graph/config.py validates them, tools/pareto.py
# applies them); fastest_within and max take a value: {fastest_within: 0.005}, {max: {...}}.
SELECT_RULES = ("best", "knee", "fastest_within", "max")

# The three generated pieces of a search.
COMPONENTS = ("configspace", "train", "scenario")

__all__ = [
    "BACKENDS",
    "COMPONENTS",
    "CLASSIFICATION_METRICS",
    "DEFAULT_METRIC",
    "ERROR_METRICS",
    "FACADES",
    "METRICS",
    "METRICS_BY_TASK",
    "MODALITIES",
    "OBJECTIVES",
    "REGRESSION_METRICS",
    "SCORE_METRICS",
    "SELECT_RULES",
    "TASKS",
    "higher_is_better",
    "metric_misfit",
]


def higher_is_better(metric: str) -> bool:
    return metric in SCORE_METRICS


def metric_misfit(task: str, metric: str) -> str | None:
    """Why `metric` cannot judge a `task` (one line naming what can), or None when it fits."""
    allowed = METRICS_BY_TASK[task]
    if metric in allowed:
        return None
    return f"metric: '{metric}' does not fit a {task} task; use one of {', '.join(allowed)}"
