"""The one check of a run's inputs: the data loads, the task and metric fit, the families
asked for exist for this data. The CLI runs it before a run folder exists (bad input exits
with one line and leaves nothing behind); `initialize` takes the data it loaded instead of
loading it again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tools import datasets
from tools.errors import ConfigError
from tools.profiling import column_types, infer_task, profile
from tools.templates import template_for
from tools.vocabulary import DEFAULT_METRIC, metric_misfit


@dataclass
class PreparedData:
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    task: str
    metric: str
    modality: str
    split: str  # how the test split came about, for the report
    extra: dict  # the loader's facts, e.g. a series' season length


def clean_features(X: Any) -> Any:
    """Categorical columns as plain objects with NaN for missing: what scikit-learn expects."""
    if not isinstance(X, pd.DataFrame):
        return X
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    _, categorical = column_types(X)
    for column in categorical:
        values = X[column].astype(object)
        X[column] = values.where(values.notna(), np.nan)
    return X


def check_task_and_metric(task: str, metric: str, y: np.ndarray) -> None:
    misfit = metric_misfit(task, metric)
    if misfit:
        raise ConfigError(misfit)
    if task == "classification":
        if len(np.unique(y)) < 2:
            raise ConfigError("dataset.target: the target has a single class; nothing to learn")
    elif not pd.api.types.is_numeric_dtype(pd.Series(y)):
        raise ConfigError(f"dataset.task: a {task} target must be numeric; use task: classification for labels")


def families_for(profile: dict, requested: list[str] | None) -> tuple[list[str], str]:
    """The families to search: the data's own, narrowed to those the config asks for.
    Asking only for families this data has none of is an error, not silently ignored."""
    template = template_for(profile)
    families, why = template.choose_families(profile)
    if not requested:
        return families, why
    chosen = [f for f in requested if f in families]
    if not chosen:
        raise ConfigError(
            f"optimizer.families: none of {', '.join(requested)} is offered for "
            f"this {template.name} data; choose from {', '.join(families)}"
        )
    return chosen, "families restricted in the config"


def _load_and_split(config) -> PreparedData:
    spec = config.dataset
    data = datasets.load(name=spec.name, path=spec.path, target=spec.target, test_path=spec.test_path, **spec.options)
    task = spec.task if spec.task != "auto" else infer_task(data.y, data.task_hint)
    metric = config.metric if config.metric != "auto" else DEFAULT_METRIC[task]
    check_task_and_metric(task, metric, data.y)
    X, y = clean_features(data.X), np.asarray(data.y)
    if data.has_test_split:
        split = "the data set's own test split" if spec.name else "a test file you gave"
        return PreparedData(
            X, y, clean_features(data.X_test), np.asarray(data.y_test), task, metric, data.modality, split, data.extra
        )
    stratify = None
    if task == "classification" and np.unique(y, return_counts=True)[1].min() >= 2:
        stratify = y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=spec.test_size, random_state=config.seed, stratify=stratify
    )
    how = "cut at random and stratified" if stratify is not None else "cut at random"
    split = f"{spec.test_size:.0%} of rows, {how} (seed {config.seed})"
    return PreparedData(X_train, y_train, X_test, y_test, task, metric, data.modality, split, data.extra)


# The data the last check loaded, kept for `initialize` in the same process (one entry:
# a LangGraph server runs many runs, and a data set can be large).
_checked: dict[str, PreparedData] = {}
_lock = threading.Lock()


def _key(config) -> str:
    return f"{config.dataset.model_dump_json()}|{config.metric}|{config.seed}"


def check(config) -> PreparedData:
    """Load, infer the task, check the metric and families, cut the sealed split. Raises
    ConfigError or DatasetError, in one line, on bad input."""
    data = _load_and_split(config)
    families_for(profile(data.X_train, data.y_train, data.task, data.modality), config.optimizer.families)
    with _lock:
        _checked.clear()
        _checked[_key(config)] = data
    return data


def prepare(config) -> PreparedData:
    """The checked data: what `check` loaded for this config in this process, else loaded now."""
    with _lock:
        data = _checked.pop(_key(config), None)
    return data if data is not None else check(config)


@dataclass
class ModelInputs:
    """What the run's model takes and predicts: saved as JSON by `initialize`, so predicting
    with a finished run needs no pickle on the host (a run folder given to `graph.predict`
    may come from anywhere)."""

    table: bool  # a DataFrame (tabular, text) or an array (images)
    columns: list[str]  # a table's columns, in training order
    text_columns: list[str]  # a table's non-numeric columns, read as text
    row_shape: list[int]  # an array's shape of one row
    classes: list | None  # a classifier's classes, in the order of its probabilities

    @classmethod
    def of(cls, data: PreparedData) -> ModelInputs:
        X = data.X_train
        table = isinstance(X, pd.DataFrame)
        classes = np.unique(data.y_train).tolist() if data.task == "classification" else None
        return cls(
            table=table,
            columns=[str(c) for c in X.columns] if table else [],
            text_columns=[str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])] if table else [],
            row_shape=[] if table else [int(n) for n in np.shape(X)[1:]],
            classes=classes,
        )
